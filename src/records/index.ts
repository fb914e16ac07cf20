export { mintConsentTypes, recordAttestationTypes, recordsDomain } from '../core/index.js'
export type { RecordAttestation } from '../core/index.js'
export {
  CATEGORIES,
  SENSITIVE_CATEGORIES,
  Sensitivity,
  categoryCode,
  categoryName,
  parseCategory,
  requiredSensitivity,
  sensitivityNames,
} from '../core/index.js'
export type { Category, SensitivityName } from '../core/index.js'
export { verifiedRecords } from '../core/index.js'
export type {
  AccessAttempt,
  AccessRecorder,
  CachedContent,
  HeadBlock,
  OnProgress,
  Progress,
  ReadCache,
  RecordsContext,
  VerifiedRecords,
} from '../core/index.js'
export { openEnvelope, readEnvelopeHeader, sealEnvelope } from './envelope.js'
export { recordMetaSchema } from './envelopeFormat.js'
export type { EnvelopeHeader, Recipient, RecordMeta } from './envelope.js'
export { issueRecord } from './issueRecord.js'
export {
  NO_TAG,
  checkStandingAuthorisation,
  fullSensitivity,
  issueTerms,
  mintCall,
  mintConsent,
  mintRequestFor,
  preflightMint,
  sealForIssue,
  shareTagsWithIssuer,
  signMintConsent,
  tagForIssue,
} from './issuePipeline.js'
export type { IssueInput, IssueTerms } from './issuePipeline.js'
export type { IssueRecordParameters, IssueRecordReturnType, IssuerAccount, PatientConsent, PatientSigner } from './issueRecord.js'
export { commitContent, sealRecord, signAttestation } from './sealRecord.js'
export type { ContentCommitment, MintRequest, RecordContent, SealRecordParameters, SealRecordReturnType } from './sealRecord.js'
export { granteesForNewRecord, newRecordSlips, writeNewRecordSlips } from './writeNewRecordSlips.js'
export type { WriteNewRecordSlipsParameters } from './writeNewRecordSlips.js'
export { listRecords } from './listRecords.js'
export type { RecordSummary } from './listRecords.js'
export { cidFromChain, currentRecord, getOnChainRecord } from './onChainRecord.js'
export { createReadCache } from './readCache.js'
export { createAttestationPool } from './attestationPool.js'
export type { AttestationPool, CreateAttestationPoolParameters } from './attestationPool.js'
export type { CreateReadCacheParameters } from './readCache.js'
// Kept here for callers that read a record's issuer with it; it lives with the registry.
export { getProvider } from '../directory/index.js'
export type { ProviderInfo } from '../directory/index.js'
export type { OnChainRecord } from './onChainRecord.js'
export { checkIssuerStatus, checkReadAccess, openRecord, readRecord } from './openRecord.js'
export type { OpenRecordReturnType, RecordReader } from './openRecord.js'
export { verifyRecord } from './verifyRecord.js'
export { checkReason, ciphertextCheck, failedReadCheck } from './verifyChecks.js'
export type { Check } from './verifyChecks.js'
export type { VerificationCheck, VerifyRecordReturnType } from './verifyRecord.js'
export { documentFromFhir, documentFromFile, FHIR_JSON } from './documentInput.js'
export type { DocumentInput } from './documentInput.js'
export { ByteReader } from './byteReader.js'
export { isAttestationBy } from './checkAttestation.js'
export { releasePendingKeys } from './releaseKeys.js'
export { ownerRecordKey } from './ownerRecordKey.js'
