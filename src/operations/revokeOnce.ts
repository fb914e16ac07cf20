import type { Hex } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { grantStruct, grantTermsOf, requireNotRetired } from '../consent/index.js'
import { consentRegistryAbi } from '../contracts/index.js'
import type { RecordsContext } from '../records/index.js'
import { callOnce } from './callOnce.js'
import { type OnceOptions, type OnceOutcome, onceOptions } from './submitOnce.js'

export type RevokeOnceParameters = OnceOptions & {
  /** The patient, or a delegate the patient named. */
  grantor: LocalAccount
  grantId: bigint
}

export type RevokeOnceReturnType = OnceOutcome & {
  txHash: Hex
}

/**
 * Revokes a grant exactly once, crash-safe: the revocation transaction is journaled before it
 * leaves the process, so the same command run again after a crash waits for that transaction (or
 * finds the revocation on chain) instead of sending a second one that the chain would refuse
 * ("already ended"), and run again after it completed reports it done.
 */
export async function revokeOnce(ctx: RecordsContext, params: RevokeOnceParameters): Promise<RevokeOnceReturnType> {
  const { grantId } = params
  // The contract keeps the hash of a grant's terms; the call passes the terms, read from its events.
  const [grant] = await grantTermsOf(ctx, [grantId])
  await requireNotRetired(ctx, grant!.patient)
  const terms = grantStruct(grant!)
  const done = await callOnce(ctx, {
    op: 'revoke',
    keyParts: [grantId],
    sender: params.grantor,
    contract: ctx.deployment.consent,
    abi: consentRegistryAbi,
    params: () => ({ grantId: grantId.toString() }),
    call: () => ({ functionName: 'revoke', args: [grantId, terms] }),
    effect: {
      eventName: 'GrantRevoked',
      filter: () => ({ grantId }),
      match: (event) => (event.args.grantId === grantId ? grantId : undefined),
    },
    ...onceOptions(params),
  })
  return { txHash: done.txHash, outcome: done.outcome, journal: done.journal }
}
