/** Bulk import of a patient's history from a FHIR Bundle: parse, seal, mint in batches, resume after a crash. */
export { importBundle } from './importBundle.js'
export { DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE } from './importTypes.js'
export { importKey } from './beginImport.js'
export type {
  ImportBundleParameters,
  ImportBundleReturnType,
  ImportCheckpoint,
  ImportIssuer,
  ImportProgress,
  ImportedBatch,
} from './importTypes.js'
export { IMPORT_BUNDLE_TYPES, bundleEntriesError, parseImportBundle, safeResourceType } from './parseBundle.js'
export type { ImportBundleType, ImportEntry, ParsedImportBundle, SkippedEntry } from './parseBundle.js'
export { syntheticPatientBundle } from './syntheticBundle.js'
export type { SyntheticBundleParameters } from './syntheticBundle.js'
export { importJournalPath, openImportJournal } from './journal.js'
export type { ImportJournal, JournalEntry } from './journal.js'
export { replayJournal } from './importState.js'
export type { BatchState, ImportState, ItemState } from './importState.js'
export { faultCheckpoint } from './faults.js'
export { journalKeyOf, openJournalKey, sealJournalKey } from './journalKeys.js'
export type { JournalKeyBox } from './journalKeys.js'
