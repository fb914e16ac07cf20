/**
 * The production contracts' typed ABIs and bytecode. Test helpers (reentrant receivers and tokens,
 * a test stablecoin) and the benchmark's baseline mint are in `./testing.js`, so nothing shipped
 * can deploy them by mistake.
 */
export {
  archiveAnchorAbi,
  archiveAnchorBytecode,
  auditAnchorAbi,
  auditAnchorBytecode,
  consentRegistryAbi,
  consentRegistryBytecode,
  medicalRecordAbi,
  medicalRecordBytecode,
  providerRegistryAbi,
  providerRegistryBytecode,
  researchMarketAbi,
  researchMarketBytecode,
} from './artifacts/index.js'
