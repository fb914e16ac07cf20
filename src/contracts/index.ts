export {
  baselineRecordAbi,
  baselineRecordBytecode,
  medicalRecordAbi,
  medicalRecordBytecode,
  providerRegistryAbi,
  providerRegistryBytecode,
} from './artifacts/index.js'
