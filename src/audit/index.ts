/** The audit trail: a signed, hash-chained access log, anchored in Merkle batches on chain. */
export { anchorPending, anchorStatus, readBatchRecords } from './anchor.js'
export type { AnchorPendingParameters, AnchorPendingReturnType, AnchorStatus, AuditBatchRecord } from './anchor.js'
export { anchoredBatch, anchoredBatchCount, anchoredBatches, findAnchoredBatch } from './chain.js'
export type { AnchoredBatch, AuditReadContext, AuditWriteContext } from './chain.js'
export {
  AUDIT_ACTIONS,
  AUDIT_BURST_MAX,
  AUDIT_BURST_TAG,
  AUDIT_ENTRY_TAG,
  AUDIT_OUTCOMES,
  GENESIS_PREV,
  auditBurstDigest,
  auditBurstRoot,
  auditEntryBody,
  hashAuditEntry,
  isAuditEntrySignedBy,
  isAuditSignatureBy,
  parseAuditLine,
  signAuditBurst,
  signAuditEntry,
} from './entry.js'
export type { AuditAction, AuditEntry, AuditEntryBody, AuditEvent, AuditOutcome } from './entry.js'
export { AuditLogError } from './errors.js'
export { openAuditLog } from './log.js'
export type { AuditLog, AuditLogSource, OpenAuditLogParameters } from './log.js'
export { AUDIT_LEAF_ENCODING, auditBatchRoot, auditBatchTree, verifyAuditLeaf } from './merkle.js'
export { shouldAnchor } from './policy.js'
export type { AnchorPolicy, AnchorState } from './policy.js'
export { filterAuditEntries, queryAuditLog, readAuditLog } from './query.js'
export type { AuditQuery } from './query.js'
export { receiptFor, verifyReceipt } from './receipt.js'
export type { AuditReceipt, ReceiptCheck, VerifyReceiptReturnType } from './receipt.js'
export { verifyAuditLog, verifyAuditLogLocally } from './verify.js'
export type { AuditProblem, AuditProblemKind, VerifyAuditLogParameters, VerifyAuditLogReturnType } from './verify.js'
