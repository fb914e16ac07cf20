/** Transactions signed with an explicit nonce and journaled before they are sent. */
export type { ChainContext, SignedOutcome, SignedTx } from './signedTransactions.js'
export { sendSigned, settleSigned, signContractCall, signedKnown } from './signedTransactions.js'
export { faultPoint } from './faults.js'
export type { AppendJournal } from './appendJournal.js'
export { openAppendJournal } from './appendJournal.js'
export type { Checkpoint } from './faults.js'
export {
  addressField,
  confirmedFields,
  droppedReason,
  hexField,
  sealedFields,
  submittedFields,
  uintField,
  withoutKeys,
} from './entryFields.js'
export type { FoldJournalParameters } from './foldJournal.js'
export { foldJournal } from './foldJournal.js'
export type { JournalKind, JournalKindParameters } from './journalKind.js'
export { defineJournal } from './journalKind.js'
