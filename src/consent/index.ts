/** Consent on chain: grants, delegates, emergency access, key slips and the node's key escrow. */
export { type ClosableKeySlipStore, type KeySlip, openKeySlipStore, readSlipsFor, unwrapKeySlip, wrapKeySlip } from './keySlips.js'
export type { EmergencyAccess, GrantInfo, GrantorKeys, GrantTerms, Purpose, Scope } from './grants.js'
export {
  canAccess,
  canAccessNow,
  createGrant,
  getGrant,
  grantCallArgs,
  grantClasses,
  grantTags,
  listEmergencies,
  listGrants,
  owedEntries,
  openEmergency,
  parsePurpose,
  prepareGrant,
  requireNotRetired,
  PURPOSES,
  revokeGrant,
  SCOPES,
  setDelegate,
  shareDelegateTags,
  shareGrantedTags,
  setEmergencyProvider,
} from './grants.js'
export type { ChainGrant, GrantStruct } from './chainGrants.js'
export { grantIdsOf, grantStruct, grantTermsOf, grantsOf, readGrants } from './chainGrants.js'
export { createKeyReleaseService } from './keyRelease.js'
export type { SealedTagTable, TagReader } from './tagTables.js'
export { createFileTagTableStore, requireTag, shareTagTable, sharedTagTable, tagTableFor, tagTablesInvolving } from './tagTables.js'
export { commitEmergencyReason, newReasonSalt } from './emergencyReason.js'
export type { EmergencyReasonEntry } from './emergencyReasons.js'
export { emergencyReasonEntrySchema, emergencyReasonsInvolving, emergencyReasonsOf, saveEmergencyReason } from './emergencyReasons.js'
