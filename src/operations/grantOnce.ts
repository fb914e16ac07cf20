import { type Address, type Hex, getAddress } from 'viem'
import {
  type GrantTerms,
  type GrantorKeys,
  type Purpose,
  getGrant,
  grantCallArgs,
  prepareGrant,
  shareGrantedTags,
} from '../consent/index.js'
import { consentRegistryAbi } from '../contracts/index.js'
import { InvalidInputError } from '../errors.js'
import type { RecordsContext } from '../records/index.js'
import { callOnce } from './callOnce.js'
import { type OnceOptions, type OnceOutcome, onceOptions } from './submitOnce.js'
import type { OperationBegin } from './operationJournal.js'

export type GrantOnceParameters = OnceOptions & {
  /** The patient, or a delegate the patient named (its keys: a grant by category needs the patient's tags). */
  grantor: GrantorKeys
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
  // The tags and the grantee's key are checked before anything is journaled or sent.
  const { tags: granted, readerPublicKey } = await prepareGrant(ctx, params)
  const [terms] = grantCallArgs({ ...params, tags: granted, expiresAt: new Date(0) })
  const { patient, grantee, scope, tokenIds, tags, purpose } = terms
  const expiryOf = (begin: OperationBegin) => Number(begin.params.expiresAt)
  const done = await callOnce(ctx, {
    op: 'grant',
    keyParts: [
      patient,
      grantee,
      scope,
      tokenIds.map(String).join(','),
      tags.join(','),
      purpose,
      fixedExpiry === undefined ? params.durationSeconds! : `at:${fixedExpiry}`,
    ],
    sender: params.grantor.chainAccount,
    contract: ctx.deployment.consent,
    abi: consentRegistryAbi,
    // A duration runs from when the operation first begins, on the later of the chain's clock and the wall clock.
    params: (latest) => ({
      patient,
      grantee,
      scope,
      tokenIds: tokenIds.map(String),
      tags: [...tags],
      purpose,
      expiresAt: fixedExpiry ?? Math.max(Math.floor(Date.now() / 1000), Number(latest.timestamp)) + params.durationSeconds!,
    }),
    call: (begin) => ({
      functionName: 'grant',
      args: [{ ...terms, expiresAt: expiryOf(begin) }],
    }),
    effect: {
      eventName: 'GrantCreated',
      filter: () => ({ patient, grantee }),
      // The tags are compared as a set (the contract keeps the order sent, but a rerun sorts alike); the exact expiry too.
      match: ({ args: a }, begin) =>
        String(a.grantor).toLowerCase() === grantor.toLowerCase() &&
        a.scope === scope &&
        ((a.tokenIds as readonly bigint[] | undefined) ?? []).map(String).join() === tokenIds.map(String).join() &&
        ((a.tags as readonly Hex[] | undefined) ?? []).map((t) => t.toLowerCase()).join() === tags.join() &&
        a.expiresAt === expiryOf(begin) &&
        a.purpose === purpose
          ? (a.grantId as bigint)
          : undefined,
    },
    // A grant revoked or expired since: the same command now makes a new one.
    stillDone: async (grantId) => (await getGrant(ctx, grantId).catch(() => undefined))?.active === true,
    // The grantee's tag table first (it may list what it was given), then the keys; both are idempotent.
    after: async (grantId) => {
      if (readerPublicKey) await shareGrantedTags(ctx, { grantor: params.grantor, patient, grantee, readerPublicKey })
      return params.releaseKeys ? params.releaseKeys(grantId) : 0
    },
    ...onceOptions(params),
  })
  return { grantId: done.id, txHash: done.txHash, keysReleased: done.afterCount, outcome: done.outcome, journal: done.journal }
}
