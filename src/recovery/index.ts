export {
  ACCOUNT_MOVE_POINTS,
  type AccountMovePoint,
  type MoveAccountParameters,
  type MoveAccountReturnType,
  accountMoveFault,
  moveAccount,
} from './moveAccount.js'
export { rebuildSeed, recoverAccount, rotateAccount } from './recoverAccount.js'
export {
  MOVE_BATCH,
  type RecoveryState,
  approvalsFor,
  approveRecovery,
  approveRecoveryBySig,
  cancelRecovery,
  getRecoveryState,
  moveGrants,
  moveTokens,
  setGuardians,
} from './recoveryChain.js'
export { type RecoverySetup, type RecoveryStore, createFileRecoveryStore } from './recoveryStore.js'
export { type ReleaseShareReturnType, releasePaperShare, releaseShare } from './releaseShare.js'
export { type GuardianSpec, type SetupRecoveryParameters, type SetupRecoveryReturnType, setupRecovery } from './setupRecovery.js'
export { type PaperSheet, type ShareBox, decodePaperSheet, encodePaperSheet, openShare, sealShare } from './shareFormat.js'
