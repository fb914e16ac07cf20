/**
 * The research market on chain (ResearchMarket.sol): researchers post studies with an escrowed
 * budget, patients join with their records and are credited when they deliver a de-identified
 * dataset, and everyone withdraws what they are owed. The rules are in docs/research.md.
 */
export { marketAddress, NATIVE_ASSET } from './context.js'
export type { MarketContext, MarketReadContext } from './context.js'
export { categoriesOf, categoryMask, closeStudy, getStudy, listStudies, postStudy } from './studies.js'
export type { ListStudiesParameters, PostStudyParameters, PostStudyReturnType, Study, StudyState } from './studies.js'
export { deliver, getContribution, joinStudy, listContributions, listDeliveries, withdrawContribution } from './contributions.js'
export type { Contribution, ContributionStatus, Delivery } from './contributions.js'
export { earnings, withdraw } from './payments.js'
export type { Earnings } from './payments.js'
export { approveResearcher, isResearcher, revokeResearcher, setResearcher } from './researchers.js'
