import type { Hex } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { consentRegistryAbi } from '../contracts/index.js'
import type { RecordsContext } from '../records/index.js'
import { callOnce } from './callOnce.js'
import type { OperationPoint } from './submitOnce.js'

export type RevokeOnceParameters = {
  /** The patient, or a delegate the patient named. */
  grantor: LocalAccount
  grantId: bigint
  /** Where operation journals live (`<home>/operations`). */
  journalDir: string
  checkpoint?: (point: OperationPoint, count: number) => void
  receiptTimeoutMs?: number
}

export type RevokeOnceReturnType = {
  txHash: Hex
  /** `new`: revoked by this run; `resumed`: finished what a stopped run began; `done-before`: a run of this command revoked it already. */
  outcome: 'new' | 'resumed' | 'done-before'
  journal: string
}

/**
 * Revokes a grant exactly once, crash-safe: the revocation transaction is journaled before it
 * leaves the process, so the same command run again after a crash waits for that transaction (or
 * finds the revocation on chain) instead of sending a second one that the chain would refuse
 * ("already ended"), and run again after it completed reports it done.
 */
export async function revokeOnce(ctx: RecordsContext, params: RevokeOnceParameters): Promise<RevokeOnceReturnType> {
  const { grantId } = params
  const done = await callOnce(ctx, {
    op: 'revoke',
    keyParts: [grantId],
    sender: params.grantor,
    contract: ctx.deployment.consent,
    abi: consentRegistryAbi,
    params: () => ({ grantId: grantId.toString() }),
    call: () => ({ functionName: 'revoke', args: [grantId] }),
    effect: {
      eventName: 'GrantRevoked',
      filter: () => ({ grantId }),
      match: (event) => (event.args.grantId === grantId ? grantId : undefined),
    },
    journalDir: params.journalDir,
    checkpoint: params.checkpoint,
    receiptTimeoutMs: params.receiptTimeoutMs,
  })
  return { txHash: done.txHash, outcome: done.outcome, journal: done.journal }
}
