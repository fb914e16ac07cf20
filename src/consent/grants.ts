import { type Account, type Address, type Hex, getAddress } from 'viem'
import type { UnlockedAccount } from '../accounts/index.js'
import { accountRetiredError, writeAndWait, writeForEvent } from '../chain/index.js'
import { consentRegistryAbi, medicalRecordAbi } from '../contracts/index.js'
import {
  type Category,
  type CategoryTag,
  type RecordsContext,
  type TagTable,
  buildTagTable,
  requiredSensitivity,
  sealTagTable,
} from '../core/index.js'
import { readerKeyOf } from '../directory/index.js'
import { AccessDeniedError, HomeError, InvalidInputError, MissingTagsError, NotFoundError } from '../errors.js'
import { commitEmergencyReason, newReasonSalt } from './emergencyReason.js'
import { type GrantTerms, PURPOSES, type Purpose, grantClasses, owedEntries, tagsForTerms } from './grantTerms.js'
import { type ChainGrant, type GrantTermsFromEvents, grantIdsOf, grantStruct, grantTermsOf, grantsOf, readGrants } from './chainGrants.js'
import { type TagReader, tagTableFor } from './tagTables.js'

export type { GrantTerms, Purpose, Scope } from './grantTerms.js'
export { PURPOSES, SCOPES, grantClasses, owedEntries, tagsForTerms } from './grantTerms.js'

export type GrantInfo = ChainGrant & {
  /**
   * The categories the tags stand for, as the viewer's tag table maps them (categories scope);
   * undefined when the viewer knows none of them (no table shared): never guessed.
   */
  categories: Category[] | undefined
  /** Sensitivity flags the mapped tags include beyond each category's own flag. */
  sensitive: number
  /** Listed tags the viewer's table does not map (none when it maps them all). */
  unknownTags: CategoryTag[]
}

/** What of an account making a grant is used: its chain key to sign, and what opens the patient's tags. */
export type GrantorKeys = Pick<UnlockedAccount, 'address' | 'chainAccount' | 'encryptionSeed' | 'tagSecret'>

type Ctx = Pick<RecordsContext, 'publicClient' | 'walletFor' | 'deployment' | 'readCache'>
type TagCtx = Pick<RecordsContext, 'publicClient' | 'deployment' | 'tagTables'>

export function parsePurpose(value: string): Purpose {
  if ((PURPOSES as readonly string[]).includes(value)) return value as Purpose
  throw new InvalidInputError(`Unknown purpose "${value}".`, { hint: `Use one of: ${PURPOSES.join(', ')}.` })
}

export type CreateGrantParameters = {
  grantor: GrantorKeys
  patient: Address
  grantee: Address
  terms: GrantTerms
  expiresAt: Date
  purpose: Purpose
}

const DELEGATE_SENSITIVE = () =>
  new AccessDeniedError('A delegate cannot share sensitive records (mental health, substance use, sexual health, genetic, restricted).', {
    hint: 'Only the patient can; ask them to make this grant.',
  })

/**
 * The tags of `patient` a grant with these terms lists on chain. The patient uses their own table;
 * a delegate holds no tag secret, so it uses the table the patient sealed to it when naming it
 * (only open classes: a delegate may never share sensitive records). A grant of "all" without
 * named sensitive kinds lists no tags (the contract covers the patient's open tags itself).
 */
export async function grantTags(
  ctx: Pick<RecordsContext, 'tagTables'>,
  params: { grantor: TagReader; patient: Address; terms: GrantTerms },
): Promise<CategoryTag[]> {
  const { terms } = params
  if (terms.scope === 'records') return []
  const sensitive = terms.sensitive ?? 0
  const own = getAddress(params.grantor.address) === getAddress(params.patient)
  if (!own && (sensitive !== 0 || (terms.scope === 'categories' && terms.categories.some((c) => requiredSensitivity(c) !== 0)))) {
    throw DELEGATE_SENSITIVE()
  }
  if (terms.scope === 'all' && sensitive === 0) return []
  const table = await grantorTable(ctx, params.grantor, params.patient)
  if (terms.scope === 'all') return tagsForTerms(table, terms)
  if (terms.categories.length === 0) throw new InvalidInputError('A grant of categories names at least one category.')
  const tags = tagsForTerms(table, terms)
  const missing = terms.categories.filter((c) => !table.some((e) => e.category === c))
  if (missing.length > 0 || tags.length === 0) {
    throw new MissingTagsError(
      `Patient ${params.patient} has not shared the tags of ${missing.join(', ') || 'these categories'} with you.`,
      {
        hint: 'Ask the patient to name you as their delegate again (`medvault delegate`), which shares the tags a delegate may grant.',
      },
    )
  }
  return tags
}

/**
 * Refuses a grant or revocation for a retired account (its records moved by a recovery or
 * rotation). The contract no longer spends a call on this, since such a grant covers nothing (the
 * account owns no record); the person gets the reason instead of an inert grant.
 */
export async function requireNotRetired(ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>, patient: Address): Promise<void> {
  const successor = await ctx.publicClient.readContract({
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    functionName: 'successorOf',
    args: [getAddress(patient)],
  })
  if (!/^0x0{40}$/.test(successor)) throw accountRetiredError(getAddress(patient), getAddress(successor))
}

/** The grantor's view of the patient's tags: the whole table for the patient, the shared one for a delegate. */
async function grantorTable(ctx: Pick<RecordsContext, 'tagTables'>, grantor: TagReader, patient: Address): Promise<TagTable> {
  const table = await tagTableFor(ctx, { patient, reader: grantor })
  if (!table) {
    throw new MissingTagsError(
      `Patient ${patient} has not shared their category tags with ${grantor.address}, so it cannot grant by category.`,
      {
        hint: 'Ask the patient to name you as their delegate again (`medvault delegate`), which shares the tags a delegate may grant.',
      },
    )
  }
  return getAddress(grantor.address) === getAddress(patient) ? table : table.filter((e) => e.sensitivity === 0)
}

/** The argument of `ConsentRegistry.grant` (its `Grant` struct) for these terms and the tags {@link grantTags} gave for them. */
export function grantCallArgs(params: Omit<CreateGrantParameters, 'grantor'> & { tags: readonly CategoryTag[] }) {
  const { terms } = params
  return [
    grantStruct({
      patient: getAddress(params.patient),
      grantee: getAddress(params.grantee),
      scope: terms.scope,
      tokenIds: terms.scope === 'records' ? terms.tokenIds : [],
      tags: terms.scope === 'records' ? [] : [...params.tags].sort(),
      // The chain keeps whole seconds: what is signed is what the events will say.
      expiresAt: new Date(Math.floor(params.expiresAt.getTime() / 1000) * 1000),
      purpose: params.purpose,
    }),
  ] as const
}

/**
 * Checks what a grant needs before anything is sent: its tags, and for a grant by category or of
 * "all", somewhere to keep the grantee's tag table and the grantee's key to seal it to (a grantee
 * without one could never list what it was given). Returns the tags and that key.
 */
export async function prepareGrant(
  ctx: TagCtx,
  params: Omit<CreateGrantParameters, 'expiresAt' | 'purpose'>,
): Promise<{ tags: CategoryTag[]; readerPublicKey: Hex | undefined }> {
  await requireNotRetired(ctx, params.patient)
  const tags = await grantTags(ctx, { grantor: params.grantor, patient: params.patient, terms: params.terms })
  if (params.terms.scope === 'records') return { tags, readerPublicKey: undefined }
  if (!ctx.tagTables) {
    throw new HomeError('This medvault keeps no tag tables, so a grant by category cannot share its tags with the grantee.', {
      hint: 'Open the home with `openMedvault`, which keeps them under <home>/tag-tables.',
    })
  }
  const readerPublicKey = await readerKeyOf(ctx, params.grantee)
  if (!readerPublicKey) {
    throw new NotFoundError(
      `${getAddress(params.grantee)} has no published encryption key, so it could not be told which records the grant covers.`,
      {
        hint: 'The grantee publishes its key first (`medvault account publish NAME`); or share listed records with --record.',
      },
    )
  }
  return { tags, readerPublicKey }
}

/** Creates a grant on chain as the patient or their delegate, then shares the granted tags with the grantee. Returns the grant id. */
export async function createGrant(
  ctx: Ctx & Pick<RecordsContext, 'tagTables'>,
  params: CreateGrantParameters,
): Promise<{ grantId: bigint; txHash: Hex }> {
  const { tags, readerPublicKey } = await prepareGrant(ctx, params)
  const { event: created, receipt } = await writeForEvent(
    ctx,
    params.grantor.chainAccount,
    { address: ctx.deployment.consent, abi: consentRegistryAbi, functionName: 'grant', args: grantCallArgs({ ...params, tags }) },
    'GrantCreated',
  )
  if (readerPublicKey)
    await shareGrantedTags(ctx, { grantor: params.grantor, patient: params.patient, grantee: params.grantee, readerPublicKey })
  return { grantId: created.args.grantId, txHash: receipt.transactionHash }
}

/**
 * Seals to `grantee` the part of the patient's tag table its active grants cover, so it can list
 * and search the records by category (core/categoryTags.ts): every class of the categories its
 * category grants name (as `shareTagTable` with categories does), the open classes and the named
 * sensitive ones for an "all" grant. A newer table replaces the older, so this seals the union of
 * all its grants, never only the newest: and the whole table to a provider the patient authorised
 * or that issued one of their records, which was given the whole table then.
 *
 * A delegate seals only what the patient shared with it (open classes), and only where the grantee
 * has no table yet: it cannot see what the patient shared, and must not replace more with less.
 */
export async function shareGrantedTags(
  ctx: TagCtx,
  params: { grantor: TagReader; patient: Address; grantee: Address; readerPublicKey: Hex },
): Promise<number> {
  const store = ctx.tagTables
  if (!store) return 0
  const patient = getAddress(params.patient)
  const grantee = getAddress(params.grantee)
  const own = getAddress(params.grantor.address) === patient
  if (!own && (await store.get(patient, grantee))) return 0
  const table = await grantorTable(ctx, params.grantor, patient)
  const entries = await tagsOwedTo(ctx, { table, patient, reader: grantee, own })
  if (entries.length === 0) return 0
  await store.put(patient, grantee, await sealTagTable(entries, { patient, reader: grantee, readerPublicKey: params.readerPublicKey }))
  return entries.length
}

/** Whether the patient authorised `provider` or accepted a record from it: both seal the whole table to it. */
async function wasGivenWholeTable(ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>, patient: Address, provider: Address) {
  const authorised = await ctx.publicClient.readContract({
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    functionName: 'authorizationOf',
    args: [patient, provider],
  })
  if (authorised > 0n) return true
  const issued = await ctx.publicClient.getContractEvents({
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    eventName: 'RecordIssued',
    args: { patient, issuer: provider },
    fromBlock: BigInt(ctx.deployment.deployedAtBlock),
    toBlock: 'latest',
  })
  return issued.length > 0
}

/**
 * Seals the patient's open classes to a delegate they name: what a delegate may grant (never a
 * sensitive record), so it can turn categories into the patient's tags. Nothing else of the
 * patient's tags reaches it.
 */
export async function shareDelegateTags(
  ctx: TagCtx,
  params: { patient: Pick<UnlockedAccount, 'address' | 'tagSecret'>; delegate: Address },
): Promise<void> {
  if (!ctx.tagTables) {
    throw new HomeError('This medvault keeps no tag tables, so the patient cannot share their category tags with a delegate.', {
      hint: 'Open the home with `openMedvault`, which keeps them under <home>/tag-tables.',
    })
  }
  const delegate = getAddress(params.delegate)
  const readerPublicKey = await readerKeyOf(ctx, delegate)
  if (!readerPublicKey) {
    throw new NotFoundError(`${delegate} has no published encryption key, so your category tags cannot be shared with it.`, {
      hint: 'The delegate publishes its key first (`medvault account publish NAME`).',
    })
  }
  const patient = getAddress(params.patient.address)
  const entries = await tagsOwedTo(ctx, { table: buildTagTable(params.patient.tagSecret), patient, reader: delegate, own: true })
  await ctx.tagTables.put(patient, delegate, await sealTagTable(entries, { patient, reader: delegate, readerPublicKey }))
}

/**
 * The classes of `table` a reader is owed: the whole table for a provider the patient authorised
 * or accepted a record from (`own` only: what the patient shared then); else the union of what its
 * active grants cover (every class of a category grant's categories, the open and listed classes
 * of an "all" grant), and the open classes for a delegate of the patient.
 */
async function tagsOwedTo(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  params: { table: TagTable; patient: Address; reader: Address; own: boolean },
): Promise<TagTable> {
  const { table, patient, reader } = params
  if (params.own && (await wasGivenWholeTable(ctx, patient, reader))) return table
  const grants = (await grantsOf(ctx, patient)).filter((g) => g.grantee === reader)
  const delegate = await ctx.publicClient.readContract({
    address: ctx.deployment.consent,
    abi: consentRegistryAbi,
    functionName: 'isDelegate',
    args: [patient, reader],
  })
  return owedEntries(table, grants, { delegate })
}

/** Ends a grant; nothing is covered by it from the next block on. Its terms are read from its events first (the contract keeps their hash). */
export async function revokeGrant(ctx: Ctx, params: { grantor: Account; grantId: bigint }): Promise<Hex> {
  // Terms only: the contract checks them against its hash, so no state or block time is read first.
  const [grant] = await grantTermsOf(ctx, [params.grantId])
  await requireNotRetired(ctx, grant!.patient)
  const receipt = await writeAndWait(ctx, params.grantor, {
    address: ctx.deployment.consent,
    abi: consentRegistryAbi,
    functionName: 'revoke',
    args: [params.grantId, grantStruct(grant!)],
  })
  return receipt.transactionHash
}

/**
 * Names or removes a delegate. Naming one also seals the patient's open classes to it (see
 * {@link shareDelegateTags}), so naming needs the patient's tag secret; removing needs only the key.
 */
export async function setDelegate(
  ctx: Ctx & Pick<RecordsContext, 'tagTables'>,
  params:
    | { patient: Account; delegate: Address; enabled: false }
    | { patient: Pick<UnlockedAccount, 'address' | 'chainAccount' | 'tagSecret'>; delegate: Address; enabled: true },
): Promise<Hex> {
  const account = params.enabled ? params.patient.chainAccount : params.patient
  if (params.enabled && (getAddress(params.delegate) === getAddress(account.address) || /^0x0{40}$/.test(params.delegate))) {
    throw new InvalidInputError(
      'A delegate must be another person: you cannot name your own account (or the zero address) as your delegate.',
      {
        hint: 'Name the account of the guardian or carer who should share records for you.',
      },
    )
  }
  const receipt = await writeAndWait(ctx, account, {
    address: ctx.deployment.consent,
    abi: consentRegistryAbi,
    functionName: params.enabled ? 'addDelegate' : 'removeDelegate',
    args: [getAddress(params.delegate)],
  })
  if (params.enabled) await shareDelegateTags(ctx, { patient: params.patient, delegate: params.delegate })
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

/** The grants `reader` may hold from `owner` at a block: where to look for one that covers a record. */
type GrantLookup = (owner: Address, reader: Address, blockNumber: bigint | undefined) => Promise<readonly GrantTermsFromEvents[]>

/**
 * Whether `reader` may read `tokenId` now (or at `blockNumber`), per the chain: its owner, an open
 * break-glass window, or one of the reader's grants from the owner, each judged by the contract
 * (`canAccessWith` checks the grant's terms against its hash, its expiry and what it covers).
 */
export function canAccess(
  ctx: Pick<Ctx, 'publicClient' | 'deployment'>,
  reader: Address,
  tokenId: bigint,
  at: { blockNumber?: bigint } = {},
): Promise<boolean> {
  return decideAccess(ctx, reader, tokenId, at.blockNumber, (owner, r, blockNumber) => grantsBetween(ctx, owner, r, blockNumber))
}

async function decideAccess(
  ctx: Pick<Ctx, 'publicClient' | 'deployment'>,
  reader: Address,
  tokenId: bigint,
  blockNumber: bigint | undefined,
  lookup: GrantLookup,
): Promise<boolean> {
  const block = blockNumber === undefined ? {} : { blockNumber }
  const consent = { address: ctx.deployment.consent, abi: consentRegistryAbi, ...block } as const
  const [owner, , erased] = await ctx.publicClient.readContract({
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    functionName: 'accessInfo',
    args: [tokenId],
    ...block,
  })
  if (/^0x0{40}$/.test(owner) || erased) return false
  if (getAddress(owner) === getAddress(reader)) return true
  const grants = await lookup(getAddress(owner), getAddress(reader), blockNumber)
  // Without a grant, only a break-glass window can let the reader in.
  if (grants.length === 0)
    return ctx.publicClient.readContract({ ...consent, functionName: 'canAccess', args: [getAddress(reader), tokenId] })
  for (const g of grants) {
    const allowed = await ctx.publicClient.readContract({
      ...consent,
      functionName: 'canAccessWith',
      args: [getAddress(reader), tokenId, g.grantId, grantStruct(g)],
    })
    if (allowed) return true
  }
  return false
}

/**
 * `reader`'s grants from `owner` that no logged revocation ended, from the events up to
 * `blockNumber`: no contract call or block read here, since the contract judges each candidate
 * (`canAccessWith`: terms against the hash, expiry, coverage).
 */
async function grantsBetween(
  ctx: Pick<Ctx, 'publicClient' | 'deployment'>,
  owner: Address,
  reader: Address,
  blockNumber: bigint | undefined,
): Promise<GrantTermsFromEvents[]> {
  const ids = await grantIdsOf(ctx, owner, { grantee: reader, toBlock: blockNumber })
  const terms = await grantTermsOf(ctx, ids, blockNumber)
  return terms.filter((g) => g.revokedIn === undefined && g.patient === owner && g.grantee === reader)
}

/**
 * Whether `reader` may read `tokenId` per the chain's head block. With a read cache, asked once
 * per head block, and the reader's grants from the owner read once per head block for all its
 * records: a revocation (or an expiry on chain time) bites from the first block that has it.
 */
export async function canAccessNow(
  ctx: Pick<Ctx, 'publicClient' | 'deployment' | 'readCache'>,
  reader: Address,
  tokenId: bigint,
): Promise<boolean> {
  const cache = ctx.readCache
  if (!cache) return canAccess(ctx, reader, tokenId)
  const head = await cache.head()
  const lookup: GrantLookup = (owner, r) =>
    cache.atBlock(head, `grants:${owner.toLowerCase()}:${r.toLowerCase()}`, (blockNumber) => grantsBetween(ctx, owner, r, blockNumber))
  return cache.atBlock(head, `access:${reader.toLowerCase()}:${tokenId}`, (blockNumber) =>
    decideAccess(ctx, reader, tokenId, blockNumber, lookup),
  )
}

/**
 * Every grant a patient gave or took over by recovery, oldest first, with its state now (not those
 * a successor took over). With `viewer`, category tags are mapped back with the viewer's table.
 */
export async function listGrants(
  ctx: Pick<Ctx, 'publicClient' | 'deployment'> & Pick<RecordsContext, 'tagTables'>,
  patient: Address,
  viewer?: TagReader,
): Promise<GrantInfo[]> {
  const grants = await grantsOf(ctx, patient)
  const table = viewer ? await tagTableFor(ctx, { patient, reader: viewer }) : undefined
  return grants.map((g) => ({ ...g, ...grantClasses(g, table) }))
}

/** One grant; with `viewer`, its tags mapped back with the viewer's table of the grant's patient. */
export async function getGrant(
  ctx: Pick<Ctx, 'publicClient' | 'deployment'> & Pick<RecordsContext, 'tagTables'>,
  grantId: bigint,
  viewer?: TagReader,
): Promise<GrantInfo> {
  const [g] = await readGrants(ctx, [grantId])
  const table = viewer ? await tagTableFor(ctx, { patient: g!.patient, reader: viewer }) : undefined
  return { ...g!, ...grantClasses(g!, table) }
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
