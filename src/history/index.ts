export { assembleHistory } from './assembleHistory.js'
export type { AssembleHistoryParameters, AssembleHistoryReturnType, HistoryEntry, HistoryFailure } from './assembleHistory.js'
export { VERIFIED_TAG, historyBundle, patientResource, recordResource } from './historyBundle.js'
