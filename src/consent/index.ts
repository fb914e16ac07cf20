/** Consent on chain: grants, delegates, emergency access, key slips and the node's key escrow. */
export { createFileKeySlipStore, unwrapKeySlip, wrapKeySlip } from './keySlips.js'
export type { EmergencyAccess, GrantInfo, GrantTerms, Purpose, Scope } from './grants.js'
export {
  canAccess,
  canAccessNow,
  createGrant,
  getGrant,
  grantCallArgs,
  listEmergencies,
  listGrants,
  openEmergency,
  parsePurpose,
  PURPOSES,
  revokeGrant,
  SCOPES,
  setDelegate,
  setEmergencyProvider,
} from './grants.js'
export { createKeyReleaseService } from './keyRelease.js'
export type { TagReader } from './tagTables.js'
export { createFileTagTableStore, requireTag, shareTagTable, sharedTagTable, tagTableFor } from './tagTables.js'
export { commitEmergencyReason, newReasonSalt } from './emergencyReason.js'
export type { EmergencyReasonEntry } from './emergencyReasons.js'
export { emergencyReasonEntrySchema, emergencyReasonsInvolving, emergencyReasonsOf, saveEmergencyReason } from './emergencyReasons.js'
