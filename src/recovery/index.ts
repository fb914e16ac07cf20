export {
  ACCOUNT_MOVE_POINTS,
  type AccountMovePoint,
  type MoveAccountParameters,
  type MoveAccountReturnType,
  accountMoveFault,
  moveAccount,
} from './moveAccount.js'
export { rebuildSecrets, recoverAccount, rotateAccount } from './recoverAccount.js'
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
export { createFileRecoveryStore, type RecoverySetup, type RecoveryStore } from './recoveryStore.js'
export { releasePaperShare, releaseShare, type ReleaseShareReturnType } from './releaseShare.js'
export { type GuardianSpec, setupRecovery, type SetupRecoveryParameters, type SetupRecoveryReturnType } from './setupRecovery.js'
export {
  decodePaperSheet,
  encodePaperSheet,
  openRecoverySecret,
  openShare,
  type PaperSheet,
  recoverySecret,
  sealShare,
  type ShareBox,
} from './shareFormat.js'
