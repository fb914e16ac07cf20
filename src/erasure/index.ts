/** Erasure by crypto-shredding (GDPR art. 17): mark on chain, destroy every wrapped key, delete the ciphertext. */
export { eraseAccount } from './eraseAccount.js'
export type { EraseAccountParameters, EraseAccountReturnType } from './eraseAccount.js'
export { eraseRecords } from './eraseRecords.js'
export type { ErasedRecord, EraseRecordsParameters, EraseRecordsReturnType, ErasureStep } from './eraseRecords.js'
export { MAX_ERASE_BATCH, markErased } from './markErased.js'
export type { MarkErasedParameters } from './markErased.js'
export { SHREDDED_KEY_BOX, shredJournalKeys } from './shredJournalKeys.js'
export type { ShredJournalKeysReturnType } from './shredJournalKeys.js'
