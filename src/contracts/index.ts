export {
  archiveAnchorAbi,
  archiveAnchorBytecode,
  auditAnchorAbi,
  auditAnchorBytecode,
  consentRegistryAbi,
  consentRegistryBytecode,
  baselineRecordAbi,
  baselineRecordBytecode,
  medicalRecordAbi,
  medicalRecordBytecode,
  providerRegistryAbi,
  providerRegistryBytecode,
} from './artifacts/index.js'
