import { type Address, type Hex, getAddress } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { consentRegistryAbi } from '../contracts/index.js'
import { InvalidInputError } from '../errors.js'
import type { RecordsContext } from '../records/index.js'
import { callOnce } from './callOnce.js'
import { type OnceOptions, type OnceOutcome, onceOptions } from './submitOnce.js'

export type DelegateOnceParameters = OnceOptions & {
  patient: LocalAccount
  delegate: Address
  /** true: name the delegate; false: remove them. */
  enabled: boolean
}

export type DelegateOnceReturnType = OnceOutcome & {
  txHash: Hex
}

/**
 * Names or removes a delegate exactly once, crash-safe (see callOnce): run again after a crash, the
 * same command waits for the transaction it sent; run again once done, it reports it done while
 * the chain still says so.
 */
export async function delegateOnce(ctx: RecordsContext, params: DelegateOnceParameters): Promise<DelegateOnceReturnType> {
  const patient = getAddress(params.patient.address)
  const delegate = getAddress(params.delegate)
  if (params.enabled && (delegate === patient || /^0x0{40}$/.test(delegate))) {
    throw new InvalidInputError(
      'A delegate must be another person: you cannot name your own account (or the zero address) as your delegate.',
      {
        hint: 'Name the account of the guardian or carer who should share records for you.',
      },
    )
  }
  const eventName = params.enabled ? 'DelegateAdded' : 'DelegateRemoved'
  const done = await callOnce(ctx, {
    op: 'delegate',
    keyParts: [delegate, params.enabled ? 'add' : 'remove'],
    sender: params.patient,
    contract: ctx.deployment.consent,
    abi: consentRegistryAbi,
    params: () => ({ delegate, enabled: params.enabled ? 'add' : 'remove' }),
    call: () => ({ functionName: params.enabled ? 'addDelegate' : 'removeDelegate', args: [delegate] }),
    effect: {
      eventName,
      filter: () => ({ patient, delegate }),
      // Nothing is numbered here: the journal's id is 1 for "done".
      match: (event) =>
        getAddress(String(event.args.patient)) === patient && getAddress(String(event.args.delegate)) === delegate ? 1n : undefined,
    },
    stillDone: async () =>
      (await ctx.publicClient.readContract({
        address: ctx.deployment.consent,
        abi: consentRegistryAbi,
        functionName: 'isDelegate',
        args: [patient, delegate],
      })) === params.enabled,
    ...onceOptions(params),
  })
  return { txHash: done.txHash, outcome: done.outcome, journal: done.journal }
}
