/** The indexer: the contracts' events in a database (SQLite or PostgreSQL) for fast listing and search. */
export type { ClassifiedRecord } from './classify.js'
export { classifyRecord, classifyRecords, tagsOfCategory } from './classify.js'
export { createIndexer } from './createIndexer.js'
export type { Indexer, IndexerContext, IndexerOptions, SyncProgress, SyncResult } from './createIndexer.js'
export { IndexError } from './errors.js'
export { openIndexStore } from './openIndexStore.js'
export { openPostgresIndex, redactUrl } from './postgresIndex.js'
export { openSqliteIndex } from './sqliteIndex.js'
export type {
  IndexBatch,
  IndexCursor,
  IndexEvent,
  IndexScope,
  IndexStatus,
  IndexStore,
  IndexedDelegate,
  IndexedEmergencyAccess,
  IndexedGrant,
  IndexedProvider,
  IndexedRecord,
  ProviderStatus,
  RecordFilter,
  SharingPatient,
} from './types.js'
