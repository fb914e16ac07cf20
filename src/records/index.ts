export { mintConsentTypes, recordAttestationTypes, recordsDomain } from './attestation.js'
export type { RecordAttestation } from './attestation.js'
export {
  CATEGORIES,
  SENSITIVE_CATEGORIES,
  Sensitivity,
  categoryCode,
  categoryName,
  parseCategory,
  requiredSensitivity,
  sensitivityNames,
} from './categories.js'
export type { Category, SensitivityName } from './categories.js'
export { verifiedRecords } from './context.js'
export type { AccessAttempt, AccessRecorder, OnProgress, Progress, RecordsContext, VerifiedRecords } from './context.js'
export { openEnvelope, readEnvelopeHeader, sealEnvelope } from './envelope.js'
export { recordMetaSchema } from './envelopeFormat.js'
export type { EnvelopeHeader, Recipient, RecordMeta } from './envelope.js'
export { issueRecord, signMintConsent } from './issueRecord.js'
export type { IssueRecordParameters, IssueRecordReturnType, PatientConsent } from './issueRecord.js'
export { commitContent, sealRecord, signAttestation } from './sealRecord.js'
export type { ContentCommitment, MintRequest, RecordContent, SealRecordParameters, SealRecordReturnType } from './sealRecord.js'
export { granteesForNewRecord, writeNewRecordSlips } from './writeNewRecordSlips.js'
export type { WriteNewRecordSlipsParameters } from './writeNewRecordSlips.js'
export { listRecords } from './listRecords.js'
export type { RecordSummary } from './listRecords.js'
export { cidFromChain, getOnChainRecord, getProvider } from './onChainRecord.js'
export type { OnChainRecord, ProviderInfo } from './onChainRecord.js'
export { openRecord, readRecord } from './openRecord.js'
export type { OpenRecordReturnType, RecordReader } from './openRecord.js'
export { verifyRecord } from './verifyRecord.js'
export type { VerificationCheck, VerifyRecordReturnType } from './verifyRecord.js'
export { FHIR_JSON, documentFromFhir, documentFromFile } from './documentInput.js'
export type { DocumentInput } from './documentInput.js'
