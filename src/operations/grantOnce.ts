import { type Address, type Hex, getAddress } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { type GrantTerms, type Purpose, getGrant, grantCallArgs } from '../consent/index.js'
import { consentRegistryAbi } from '../contracts/index.js'
import { InvalidInputError } from '../errors.js'
import type { RecordsContext } from '../records/index.js'
import { callOnce } from './callOnce.js'
import { type OnceOptions, type OnceOutcome, onceOptions } from './submitOnce.js'
import type { OperationBegin } from './operationJournal.js'

export type GrantOnceParameters = OnceOptions & {
  /** The patient, or a delegate the patient named. */
  grantor: LocalAccount
  patient: Address
  grantee: Address
  terms: GrantTerms
  /**
   * How long the grant lasts, from when the operation first begins (the CLI's `--for`); or,
   * instead, `expiresAt`: the exact end (the REST API's), part of the idempotency key then.
   */
  durationSeconds?: number
  expiresAt?: Date
  purpose: Purpose
  /** Wraps the covered records' keys to the grantee (the patient's own key; a delegate has none): the step after the grant. */
  releaseKeys?: (grantId: bigint) => Promise<number>
}

export type GrantOnceReturnType = OnceOutcome & {
  grantId: bigint
  txHash: Hex
  /** Key slips written by this run. */
  keysReleased: number
}

/**
 * Grants access exactly once, crash-safe: the grant transaction and the key slips of the records
 * it covers, each journaled before it has effects. The idempotency key covers the grantor, the
 * patient, the grantee, the terms, the purpose and the duration (not the clock): the same command
 * run again after a crash finishes it with the expiry it began with, and run again while that
 * grant is active returns it instead of making a second one. Once it is revoked or expired, the
 * same command makes a new grant.
 */
export async function grantOnce(ctx: RecordsContext, params: GrantOnceParameters): Promise<GrantOnceReturnType> {
  const grantor = getAddress(params.grantor.address)
  if ((params.durationSeconds === undefined) === (params.expiresAt === undefined)) {
    throw new InvalidInputError('A grant needs either a duration or an expiry time, not both.')
  }
  const fixedExpiry = params.expiresAt ? Math.floor(params.expiresAt.getTime() / 1000) : undefined
  const [patient, grantee, scope, tokenIds, categories, sensitive, , purpose] = grantCallArgs({ ...params, expiresAt: new Date(0) })
  const expiryOf = (begin: OperationBegin) => Number(begin.params.expiresAt)
  const done = await callOnce(ctx, {
    op: 'grant',
    keyParts: [
      patient,
      grantee,
      scope,
      tokenIds.map(String).join(','),
      categories,
      sensitive,
      purpose,
      fixedExpiry === undefined ? params.durationSeconds! : `at:${fixedExpiry}`,
    ],
    sender: params.grantor,
    contract: ctx.deployment.consent,
    abi: consentRegistryAbi,
    // A duration runs from when the operation first begins, on the later of the chain's clock and the wall clock.
    params: (latest) => ({
      patient,
      grantee,
      scope,
      tokenIds: tokenIds.map(String),
      categories,
      sensitive,
      purpose,
      expiresAt: fixedExpiry ?? Math.max(Math.floor(Date.now() / 1000), Number(latest.timestamp)) + params.durationSeconds!,
    }),
    call: (begin) => ({
      functionName: 'grant',
      args: [patient, grantee, scope, tokenIds, categories, sensitive, expiryOf(begin), purpose],
    }),
    effect: {
      eventName: 'GrantCreated',
      filter: () => ({ patient, grantee }),
      // The contract normalises categories and sensitivity in its event (a records grant covers all
      // sensitivity flags of the named records), so those are not compared; the exact expiry is.
      match: ({ args: a }, begin) =>
        String(a.grantor).toLowerCase() === grantor.toLowerCase() &&
        a.scope === scope &&
        ((a.tokenIds as readonly bigint[] | undefined) ?? []).map(String).join() === tokenIds.map(String).join() &&
        a.expiresAt === expiryOf(begin) &&
        a.purpose === purpose
          ? (a.grantId as bigint)
          : undefined,
    },
    // A grant revoked or expired since: the same command now makes a new one.
    stillDone: async (grantId) => (await getGrant(ctx, grantId).catch(() => undefined))?.active === true,
    after: async (grantId) => (params.releaseKeys ? params.releaseKeys(grantId) : 0),
    ...onceOptions(params),
  })
  return { grantId: done.id, txHash: done.txHash, keysReleased: done.afterCount, outcome: done.outcome, journal: done.journal }
}
