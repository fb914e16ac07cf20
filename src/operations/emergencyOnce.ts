import { type Address, type Hex, getAddress } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { chainTime } from '../chain/index.js'
import { commitEmergencyReason, newReasonSalt } from '../consent/index.js'
import { consentRegistryAbi } from '../contracts/index.js'
import type { RecordsContext } from '../records/index.js'
import { callOnce } from './callOnce.js'
import { type OnceOptions, type OnceOutcome, onceOptions } from './submitOnce.js'

export type EmergencyOnceParameters = OnceOptions & {
  provider: LocalAccount
  patient: Address
  /** Why; only a salted commitment to it goes on chain (the salt is journaled, so a re-run commits to the same). */
  reason: string
}

export type EmergencyOnceReturnType = OnceOutcome & {
  until: Date
  reasonHash: Hex
  reasonSalt: Hex
  txHash: Hex
}

/**
 * Opens a break-glass window exactly once, crash-safe (see callOnce). The reason's salt is made
 * and journaled before the transaction, so a run that resumes commits to the same reason hash and
 * finds its window on chain by it.
 */
export async function emergencyOnce(ctx: RecordsContext, params: EmergencyOnceParameters): Promise<EmergencyOnceReturnType> {
  const patient = getAddress(params.patient)
  const reasonOf = (salt: Hex) => commitEmergencyReason(params.reason, salt)
  const done = await callOnce(ctx, {
    op: 'emergency',
    // The reason is in the key as part of what was asked; the key is a digest, the reason is not stored.
    keyParts: [patient, params.reason],
    sender: params.provider,
    contract: ctx.deployment.consent,
    abi: consentRegistryAbi,
    params: () => {
      const reasonSalt = newReasonSalt()
      return { patient, reasonSalt, reasonHash: reasonOf(reasonSalt) }
    },
    call: (begin) => ({ functionName: 'openEmergency', args: [patient, begin.params.reasonHash] }),
    effect: {
      eventName: 'EmergencyAccessOpened',
      filter: () => ({ patient, provider: getAddress(params.provider.address) }),
      // The id journaled is the window's end (seconds).
      match: (event, begin) => (event.args.reasonHash === begin.params.reasonHash ? BigInt(event.args.until as number) : undefined),
    },
    stillDone: async (until) => until * 1000n > BigInt((await chainTime(ctx.publicClient)).getTime()),
    ...onceOptions(params),
  })
  return {
    until: new Date(Number(done.id) * 1000),
    reasonHash: done.begin.params.reasonHash as Hex,
    reasonSalt: done.begin.params.reasonSalt as Hex,
    txHash: done.txHash,
    outcome: done.outcome,
    journal: done.journal,
  }
}
