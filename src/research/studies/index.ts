/**
 * The off-chain study flow on top of the research market: protocol documents on IPFS, the
 * patient's side of a contribution (eligibility, de-identification, sealing to the researcher,
 * join and deliver), the researcher's download, and pre-purchase counts.
 */
export {
  criteriaHash,
  criteriaOf,
  descriptionHash,
  meetsCriteria,
  protocolWithDescription,
  publishedDescription,
  storeBytes,
  studyCriteria,
  studyDescription,
} from './protocol.js'
export type { Criterion } from './protocol.js'
export { datasetCommitment, NDJSON, openDataset, sealDataset, studyPseudonymKey } from './dataset.js'
export { deliverContribution, eligibleResources, joinAndDeliver, prepareDataset } from './contribute.js'
export type { JoinStudyReturnType, PreparedDataset } from './contribute.js'
export { downloadStudy } from './download.js'
export type { StudyDownload } from './download.js'
export { eligibleCounts, SMALL_CELL } from './eligible.js'
export type { EligibleCount, EligibleCounts } from './eligible.js'
export { recordEligibility } from './eligibility.js'
export type { RecordEligibility } from './eligibility.js'
