export { assembleHistory } from './assembleHistory.js'
export type { AssembleHistoryParameters, AssembleHistoryReturnType, HistoryEntry, HistoryFailure } from './assembleHistory.js'
export { historyBundle, patientResource, recordResource, VERIFIED_TAG } from './historyBundle.js'
