/**
 * Grants as the chain has them. ConsentRegistry keeps one slot per grant, the hash of its terms
 * (issue 22: a grant costs one new slot); the terms are in its GrantCreated event, moves in
 * GrantMoved, revocations in GrantRevoked. So grants are found in the logs and judged by the
 * contract: every call about a grant passes its terms back, and the contract checks them against
 * the hash, so a wrong or forged log can only make a grant look inactive, never cover more.
 */
import { type Address, getAddress } from 'viem'
import { consentRegistryAbi } from '../contracts/index.js'
import type { CategoryTag, RecordsContext } from '../core/index.js'
import { InvalidInputError } from '../errors.js'
import { PURPOSES, type Purpose, SCOPES, type Scope, grantStruct } from './grantTerms.js'

export { type GrantStruct, grantStruct } from './grantTerms.js'

type ReadCtx = Pick<RecordsContext, 'publicClient' | 'deployment'>

/** A grant's terms and state, from the events and the contract. */
export type ChainGrant = {
  grantId: bigint
  /** The patient now: the successor once a recovery's {moveGrants} took it over. */
  patient: Address
  grantee: Address
  scope: Scope
  /** Records scope: the records named. */
  tokenIds: bigint[]
  /** The patient's tags the grant lists (categories scope; for "all", the sensitive classes named besides the open ones). */
  tags: CategoryTag[]
  purpose: Purpose
  createdAt: Date
  expiresAt: Date
  revokedAt: Date | undefined
  active: boolean
}

const events = (ctx: ReadCtx, toBlock: bigint | undefined) =>
  ({
    address: ctx.deployment.consent,
    abi: consentRegistryAbi,
    fromBlock: BigInt(ctx.deployment.deployedAtBlock),
    toBlock: toBlock ?? 'latest',
    strict: true,
  }) as const

/**
 * The ids of the grants `patient` gave (to `grantee` only, if given), and of those a recovery
 * moved to `patient` (whoever their grantee: GrantMoved does not name it), oldest first.
 */
export async function grantIdsOf(
  ctx: ReadCtx,
  patient: Address,
  options: { grantee?: Address; toBlock?: bigint | undefined } = {},
): Promise<bigint[]> {
  const { grantee, toBlock } = options
  const [created, moved] = await Promise.all([
    ctx.publicClient.getContractEvents({
      ...events(ctx, toBlock),
      eventName: 'GrantCreated',
      args: { patient: getAddress(patient), ...(grantee ? { grantee: getAddress(grantee) } : {}) },
    }),
    ctx.publicClient.getContractEvents({ ...events(ctx, toBlock), eventName: 'GrantMoved', args: { to: getAddress(patient) } }),
  ])
  return [...new Set([...created, ...moved].map((l) => l.args.grantId))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
}

/** A grant's terms as its events give them, where they were logged, and whether a revocation is logged. */
export type GrantTermsFromEvents = Omit<ChainGrant, 'createdAt' | 'revokedAt' | 'active'> & {
  createdIn: bigint
  revokedIn: bigint | undefined
}

/**
 * The terms of the grants with these ids, from their events alone: no call to the contract, no
 * block read. What an access decision needs before it asks the contract about each grant
 * (`canAccessWith`). Throws InvalidInputError for an id no grant has.
 */
export async function grantTermsOf(ctx: ReadCtx, ids: readonly bigint[], toBlock?: bigint): Promise<GrantTermsFromEvents[]> {
  if (ids.length === 0) return []
  const byId = { grantId: [...ids] }
  const [created, moved, revoked] = await Promise.all([
    ctx.publicClient.getContractEvents({ ...events(ctx, toBlock), eventName: 'GrantCreated', args: byId }),
    ctx.publicClient.getContractEvents({ ...events(ctx, toBlock), eventName: 'GrantMoved', args: byId }),
    ctx.publicClient.getContractEvents({ ...events(ctx, toBlock), eventName: 'GrantRevoked', args: byId }),
  ])
  const creations = new Map(created.map((l) => [l.args.grantId, l]))
  // Logs come in chain order, so the last move of a grant names its patient now.
  const patients = new Map(moved.map((l) => [l.args.grantId, getAddress(l.args.to)]))
  const revocations = new Map(revoked.map((l) => [l.args.grantId, l.blockNumber]))
  return ids.map((grantId) => {
    const log = creations.get(grantId)
    if (!log) throw new InvalidInputError(`There is no grant #${grantId}.`, { hint: 'List grants with `medvault grants --patient P`.' })
    const a = log.args
    return {
      grantId,
      patient: patients.get(grantId) ?? getAddress(a.patient),
      grantee: getAddress(a.grantee),
      scope: SCOPES[a.scope] ?? 'records',
      tokenIds: [...a.tokenIds],
      tags: a.tags.map((t) => t.toLowerCase() as CategoryTag),
      purpose: PURPOSES[a.purpose] ?? 'other',
      expiresAt: new Date(a.expiresAt * 1000),
      createdIn: log.blockNumber,
      revokedIn: revocations.get(grantId),
    }
  })
}

/**
 * The grants with these ids, terms from their events, times from their blocks and state from the
 * contract (`isActive` with the terms). Throws InvalidInputError for an id no grant has.
 */
export async function readGrants(ctx: ReadCtx, ids: readonly bigint[], toBlock?: bigint): Promise<ChainGrant[]> {
  const terms = await grantTermsOf(ctx, ids, toBlock)
  const times = blockTimes(ctx)
  return Promise.all(
    terms.map(async ({ createdIn, revokedIn, ...g }): Promise<ChainGrant> => {
      const [createdAt, revokedAt, active] = await Promise.all([
        times(createdIn),
        revokedIn === undefined ? undefined : times(revokedIn),
        ctx.publicClient.readContract({
          address: ctx.deployment.consent,
          abi: consentRegistryAbi,
          functionName: 'isActive',
          args: [g.grantId, grantStruct(g)],
          ...(toBlock === undefined ? {} : { blockNumber: toBlock }),
        }),
      ])
      return { ...g, createdAt, revokedAt, active }
    }),
  )
}

/** The grants `patient` holds now (given, or taken over by recovery), oldest first, with their state. */
export async function grantsOf(ctx: ReadCtx, patient: Address, toBlock?: bigint): Promise<ChainGrant[]> {
  const grants = await readGrants(ctx, await grantIdsOf(ctx, patient, { toBlock }), toBlock)
  return grants.filter((g) => g.patient === getAddress(patient))
}

/** Block times, each block asked for once. */
function blockTimes(ctx: ReadCtx) {
  const seen = new Map<bigint, Promise<Date>>()
  return (blockNumber: bigint): Promise<Date> => {
    let time = seen.get(blockNumber)
    if (!time) {
      time = ctx.publicClient.getBlock({ blockNumber }).then((b) => new Date(Number(b.timestamp) * 1000))
      seen.set(blockNumber, time)
    }
    return time
  }
}
