/** Single operations made crash-safe and idempotent with a write-ahead journal: record add and amend, grant. */
export { issueRecordOnce } from './issueRecordOnce.js'
export type { IssueRecordOnceParameters, IssueRecordOnceReturnType } from './issueRecordOnce.js'
export { grantOnce } from './grantOnce.js'
export type { GrantOnceParameters, GrantOnceReturnType } from './grantOnce.js'
export { OPERATIONS, openOperationJournal, operationJournalPath, operationKey, replayOperation } from './operationJournal.js'
export type { Operation, OperationEntry, OperationJournal, OperationState } from './operationJournal.js'
export type { OperationPoint } from './submitOnce.js'
export { OPERATION_POINTS, operationFault } from './faults.js'
