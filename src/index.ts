/** medvault's public API: everything the CLI, the server and the web app build on. */
export * from './errors.js'
export * from './records/index.js'
export * from './crypto/index.js'
export * from './storage/index.js'
export * from './accounts/index.js'
export * from './directory/index.js'
export * from './fhir/index.js'
export { createChainClients, deployContracts, startAnvil, toMedvaultError } from './chain/index.js'
export type { ChainClients, Deployment, EmbeddedChain, StartAnvilParameters } from './chain/index.js'
export { createAccount, homePaths, initHome, openMedvault, resolveHome } from './home/index.js'
export type { Config, Medvault, OpenMedvaultParameters } from './home/index.js'
export * from './history/index.js'
export * from './research/index.js'
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
export type { IndexedGrant, IndexedRecord, Indexer, IndexStatus, IndexStore, RecordFilter } from './indexer/index.js'
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
