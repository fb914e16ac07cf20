/** medvault's public API: everything the CLI, the server and the web app build on. */
export * from './errors.js'
export * from './records/index.js'
export * from './crypto/index.js'
export * from './storage/index.js'
export * from './accounts/index.js'
export * from './directory/index.js'
export * from './fhir/index.js'
export { startAnvil } from './chain/anvil.js'
export type { EmbeddedChain, StartAnvilParameters } from './chain/anvil.js'
export { createChainClients } from './chain/clients.js'
export type { ChainClients } from './chain/clients.js'
export { deployContracts } from './chain/deploy.js'
export type { Deployment } from './chain/deploy.js'
export { toMedvaultError } from './chain/errors.js'
export { openMedvault, initHome } from './home/openMedvault.js'
export type { Medvault, OpenMedvaultParameters } from './home/openMedvault.js'
export { createAccount } from './home/createAccount.js'
export { resolveHome, homePaths } from './home/config.js'
export type { Config } from './home/config.js'
export * from './history/index.js'
export * from './research/market/index.js'
export { importBundle, parseImportBundle, syntheticPatientBundle } from './import/index.js'
export type {
  ImportBundleParameters,
  ImportBundleReturnType,
  ImportEntry,
  ImportIssuer,
  ImportProgress,
  ParsedImportBundle,
  SkippedEntry,
} from './import/index.js'
export * from './archive/index.js'
export * from './server/index.js'
export {
  createIndexer,
  IndexError,
  openIndexStore,
  openPostgresIndex,
  openSqliteIndex,
} from './indexer/index.js'
export type { Indexer, IndexStore, IndexedGrant, IndexedRecord, IndexStatus, RecordFilter } from './indexer/index.js'
export * from './research/deid/index.js'
export {
  createFileRecoveryStore,
  getRecoveryState,
  moveAccount,
  recoverAccount,
  releasePaperShare,
  releaseShare,
  rotateAccount,
  setupRecovery,
} from './recovery/index.js'
export type { GuardianSpec, MoveAccountReturnType, RecoveryState, RecoveryStore, SetupRecoveryReturnType } from './recovery/index.js'
export * from './research/studies/index.js'
