import { type Account, type Address, type Hex, getAddress } from 'viem'
import { writeAndWait, writeForEvent } from '../chain/index.js'
import { consentRegistryAbi } from '../contracts/index.js'
import { InvalidInputError } from '../errors.js'
import { commitEmergencyReason, newReasonSalt } from './emergencyReason.js'
import { type Category, categoryCode } from '../core/index.js'
import type { RecordsContext } from '../core/index.js'

export const PURPOSES = ['treatment', 'payment', 'research', 'emergency', 'other'] as const
export type Purpose = (typeof PURPOSES)[number]
export const SCOPES = ['records', 'categories', 'all'] as const
export type Scope = (typeof SCOPES)[number]

export type GrantTerms =
  | { scope: 'records'; tokenIds: bigint[] }
  | { scope: 'categories'; categories: Category[]; sensitive?: number }
  | { scope: 'all'; sensitive?: number }

export type GrantInfo = {
  grantId: bigint
  patient: Address
  grantee: Address
  scope: Scope
  categories: number
  sensitive: number
  purpose: Purpose
  createdAt: Date
  expiresAt: Date
  revokedAt: Date | undefined
  active: boolean
}

type Ctx = Pick<RecordsContext, 'publicClient' | 'walletFor' | 'deployment' | 'readCache'>

export function parsePurpose(value: string): Purpose {
  if ((PURPOSES as readonly string[]).includes(value)) return value as Purpose
  throw new InvalidInputError(`Unknown purpose "${value}".`, { hint: `Use one of: ${PURPOSES.join(', ')}.` })
}

export type CreateGrantParameters = {
  grantor: Account
  patient: Address
  grantee: Address
  terms: GrantTerms
  expiresAt: Date
  purpose: Purpose
}

/** The arguments of `ConsentRegistry.grant` for these terms. */
export function grantCallArgs(params: Omit<CreateGrantParameters, 'grantor'>) {
  const { terms } = params
  const scope = SCOPES.indexOf(terms.scope)
  const tokenIds = terms.scope === 'records' ? terms.tokenIds : []
  const categories = terms.scope === 'categories' ? terms.categories.reduce((mask, c) => mask | (1 << categoryCode(c)), 0) : 0
  const sensitive = terms.scope === 'records' ? 0 : (terms.sensitive ?? 0)
  const expiresAt = Math.floor(params.expiresAt.getTime() / 1000)
  return [
    getAddress(params.patient),
    getAddress(params.grantee),
    scope,
    tokenIds,
    categories,
    sensitive,
    expiresAt,
    PURPOSES.indexOf(params.purpose),
  ] as const
}

/** Creates a grant on chain as the patient or their delegate. Returns the grant id. */
export async function createGrant(ctx: Ctx, params: CreateGrantParameters): Promise<{ grantId: bigint; txHash: Hex }> {
  const { event: created, receipt } = await writeForEvent(
    ctx,
    params.grantor,
    { address: ctx.deployment.consent, abi: consentRegistryAbi, functionName: 'grant', args: grantCallArgs(params) },
    'GrantCreated',
  )
  return { grantId: created.args.grantId, txHash: receipt.transactionHash }
}

/** Ends a grant; `canAccess` is false for it from the next block on. */
export async function revokeGrant(ctx: Ctx, params: { grantor: Account; grantId: bigint }): Promise<Hex> {
  const receipt = await writeAndWait(ctx, params.grantor, {
    address: ctx.deployment.consent,
    abi: consentRegistryAbi,
    functionName: 'revoke',
    args: [params.grantId],
  })
  return receipt.transactionHash
}

export async function setDelegate(ctx: Ctx, params: { patient: Account; delegate: Address; enabled: boolean }): Promise<Hex> {
  if (params.enabled && (getAddress(params.delegate) === getAddress(params.patient.address) || /^0x0{40}$/.test(params.delegate))) {
    throw new InvalidInputError(
      'A delegate must be another person: you cannot name your own account (or the zero address) as your delegate.',
      {
        hint: 'Name the account of the guardian or carer who should share records for you.',
      },
    )
  }
  const receipt = await writeAndWait(ctx, params.patient, {
    address: ctx.deployment.consent,
    abi: consentRegistryAbi,
    functionName: params.enabled ? 'addDelegate' : 'removeDelegate',
    args: [getAddress(params.delegate)],
  })
  return receipt.transactionHash
}

export async function setEmergencyProvider(ctx: Ctx, params: { registrar: Account; provider: Address; allowed: boolean }): Promise<Hex> {
  const receipt = await writeAndWait(ctx, params.registrar, {
    address: ctx.deployment.consent,
    abi: consentRegistryAbi,
    functionName: 'setEmergencyProvider',
    args: [getAddress(params.provider), params.allowed],
  })
  return receipt.transactionHash
}

/**
 * Opens a break-glass window as an emergency provider. The reason stays off chain; only a salted
 * commitment to it goes on chain (see emergencyReason.ts). Keep the returned salt with the
 * provider's log entry: it lets the patient check the reason, and without it the chain proves nothing.
 */
export async function openEmergency(
  ctx: Ctx,
  params: { provider: Account; patient: Address; reason: string; reasonSalt?: Hex },
): Promise<{ until: Date; reasonHash: Hex; reasonSalt: Hex; txHash: Hex }> {
  const reasonSalt = params.reasonSalt ?? newReasonSalt()
  const reasonHash = commitEmergencyReason(params.reason, reasonSalt)
  const { event: opened, receipt } = await writeForEvent(
    ctx,
    params.provider,
    {
      address: ctx.deployment.consent,
      abi: consentRegistryAbi,
      functionName: 'openEmergency',
      args: [getAddress(params.patient), reasonHash],
    },
    'EmergencyAccessOpened',
  )
  return { until: new Date(Number(opened.args.until) * 1000), reasonHash, reasonSalt, txHash: receipt.transactionHash }
}

/** Whether `reader` may read `tokenId` now (or at `blockNumber`), per the chain. */
export function canAccess(
  ctx: Pick<Ctx, 'publicClient' | 'deployment'>,
  reader: Address,
  tokenId: bigint,
  at: { blockNumber?: bigint } = {},
): Promise<boolean> {
  return ctx.publicClient.readContract({
    address: ctx.deployment.consent,
    abi: consentRegistryAbi,
    functionName: 'canAccess',
    args: [getAddress(reader), tokenId],
    ...(at.blockNumber === undefined ? {} : { blockNumber: at.blockNumber }),
  })
}

/**
 * Whether `reader` may read `tokenId` per the chain's head block. With a read cache, asked once
 * per head block: a revocation (or an expiry on chain time) bites from the first block that has it.
 */
export async function canAccessNow(
  ctx: Pick<Ctx, 'publicClient' | 'deployment' | 'readCache'>,
  reader: Address,
  tokenId: bigint,
): Promise<boolean> {
  const cache = ctx.readCache
  if (!cache) return canAccess(ctx, reader, tokenId)
  const head = await cache.head()
  return cache.atBlock(head, `access:${reader.toLowerCase()}:${tokenId}`, (blockNumber) => canAccess(ctx, reader, tokenId, { blockNumber }))
}

/** Every grant a patient gave or took over by recovery, oldest first, with its state now (not those a successor took over). */
export async function listGrants(ctx: Pick<Ctx, 'publicClient' | 'deployment'>, patient: Address): Promise<GrantInfo[]> {
  const read = { address: ctx.deployment.consent, abi: consentRegistryAbi } as const
  const ids = await ctx.publicClient.readContract({ ...read, functionName: 'grantsOf', args: [getAddress(patient)] })
  const grants = await Promise.all(ids.map((id) => getGrant(ctx, id)))
  return grants.filter((g) => g.patient === getAddress(patient))
}

export async function getGrant(ctx: Pick<Ctx, 'publicClient' | 'deployment'>, grantId: bigint): Promise<GrantInfo> {
  const read = { address: ctx.deployment.consent, abi: consentRegistryAbi } as const
  const [g, active] = await Promise.all([
    ctx.publicClient.readContract({ ...read, functionName: 'grantOf', args: [grantId] }),
    ctx.publicClient.readContract({ ...read, functionName: 'isActive', args: [grantId] }),
  ])
  if (/^0x0+$/.test(g.patient))
    throw new InvalidInputError(`There is no grant #${grantId}.`, { hint: 'List grants with `medvault grants --patient P`.' })
  return {
    grantId,
    patient: getAddress(g.patient),
    grantee: getAddress(g.grantee),
    scope: SCOPES[g.scope] ?? 'records',
    categories: g.categories,
    sensitive: g.sensitive,
    purpose: PURPOSES[g.purpose] ?? 'other',
    createdAt: new Date(Number(g.createdAt) * 1000),
    expiresAt: new Date(Number(g.expiresAt) * 1000),
    revokedAt: g.revokedAt > 0 ? new Date(Number(g.revokedAt) * 1000) : undefined,
    active,
  }
}

export type EmergencyAccess = { provider: Address; openedAt: Date; until: Date; reasonHash: Hex; txHash: Hex; open: boolean }

/** Every break-glass window opened on a patient, newest first. */
export async function listEmergencies(ctx: Pick<Ctx, 'publicClient' | 'deployment'>, patient: Address): Promise<EmergencyAccess[]> {
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.deployment.consent,
    abi: consentRegistryAbi,
    eventName: 'EmergencyAccessOpened',
    args: { patient: getAddress(patient) },
    fromBlock: BigInt(ctx.deployment.deployedAtBlock),
    toBlock: 'latest',
  })
  const now = Number((await ctx.publicClient.getBlock()).timestamp)
  return logs
    .map((log) => {
      const until = Number(log.args.until)
      return {
        provider: getAddress(log.args.provider!),
        openedAt: new Date((until - 24 * 3600) * 1000),
        until: new Date(until * 1000),
        reasonHash: log.args.reasonHash!,
        txHash: log.transactionHash,
        open: until > now,
      }
    })
    .reverse()
}
