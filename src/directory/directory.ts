import { type Account, type Address, type Hex, getAddress } from 'viem'
import type { UnlockedAccount } from '../accounts/index.js'
import { writeAndWait } from '../chain/index.js'

import { consentRegistryAbi, medicalRecordAbi, providerRegistryAbi } from '../contracts/index.js'
import { type CategoryTag, type RecordsContext, buildTagTable, openTags, shareTagTable } from '../core/index.js'
import { HomeError, NotFoundError } from '../errors.js'

type Ctx = Pick<RecordsContext, 'publicClient' | 'walletFor' | 'deployment'>

/** What of a patient's keys sharing their tags takes: their address, chain key and tag secret. */
export type PatientKeys = Pick<UnlockedAccount, 'address' | 'chainAccount' | 'tagSecret'>

export type ProviderInfo = {
  address: Address
  name: string
  status: 'unregistered' | 'active' | 'suspended' | 'removed'
  encryptionKey: Hex
  registeredAt: Date | undefined
}

const STATUS = ['unregistered', 'active', 'suspended', 'removed'] as const

export async function getProvider(ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>, address: Address): Promise<ProviderInfo> {
  const p = await ctx.publicClient.readContract({
    address: ctx.deployment.registry,
    abi: providerRegistryAbi,
    functionName: 'providerOf',
    args: [address],
  })
  return {
    address: getAddress(address),
    name: p.name,
    status: STATUS[p.status] ?? 'unregistered',
    encryptionKey: p.encryptionKey,
    registeredAt: p.registeredAt > 0n ? new Date(Number(p.registeredAt) * 1000) : undefined,
  }
}

/** Adds an accredited provider (registrar only). */
export function registerProvider(ctx: Ctx, registrar: Account, params: { provider: Address; name: string; encryptionKey: Hex }) {
  return writeAndWait(ctx, registrar, {
    address: ctx.deployment.registry,
    abi: providerRegistryAbi,
    functionName: 'register',
    args: [params.provider, params.name, params.encryptionKey],
  }).then((r) => r.transactionHash)
}

/** Suspends, reinstates or removes a provider (registrar only). */
export function setProviderStatus(ctx: Ctx, registrar: Account, provider: Address, action: 'suspend' | 'reinstate' | 'remove') {
  return writeAndWait(ctx, registrar, {
    address: ctx.deployment.registry,
    abi: providerRegistryAbi,
    functionName: action,
    args: [provider],
  }).then((r) => r.transactionHash)
}

/** Every provider ever registered, in registration order. */
export async function listProviders(ctx: Pick<Ctx, 'publicClient' | 'deployment'>): Promise<ProviderInfo[]> {
  const read = { address: ctx.deployment.registry, abi: providerRegistryAbi } as const
  const count = await ctx.publicClient.readContract({ ...read, functionName: 'providerCount' })
  const addresses = await Promise.all(
    Array.from({ length: Number(count) }, (_, i) =>
      ctx.publicClient.readContract({ ...read, functionName: 'providerAt', args: [BigInt(i)] }),
    ),
  )
  return Promise.all(addresses.map((a) => getProvider(ctx, a)))
}

/**
 * The patient lets `provider` issue records to them without a per-record signature until `until`,
 * and seals their whole tag table to the provider (consent/tagTables.ts): a provider that issues
 * on its own needs the tag of whatever category it issues. The provider's encryption key is
 * looked up first, so a provider that cannot be given the tags is refused before anything is
 * sent. The table is shared once the chain took the authorisation (a refused one shares nothing);
 * a crash in between leaves the provider unable to issue, and running it again completes it.
 */
export async function authorizeProvider(
  ctx: Ctx & Pick<RecordsContext, 'tagTables'>,
  patient: PatientKeys,
  provider: Address,
  until: Date,
): Promise<Hex> {
  if (!ctx.tagTables) {
    throw new HomeError('This medvault keeps no tag tables, so the patient cannot share their category tags with a provider.', {
      hint: 'Open the home with `openMedvault`, which keeps them under <home>/tag-tables.',
    })
  }
  const readerPublicKey = await readerKeyOf(ctx, provider)
  if (!readerPublicKey) {
    throw new NotFoundError(`${getAddress(provider)} has no published encryption key, so your category tags cannot be shared with it.`, {
      hint: 'The provider publishes its key first (`medvault account publish NAME`), or the registrar registers it with one.',
    })
  }
  const { transactionHash } = await writeAndWait(ctx, patient.chainAccount, {
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    functionName: 'authorizeProvider',
    args: [getAddress(provider), BigInt(Math.floor(until.getTime() / 1000))],
  })
  await shareTagTable(ctx.tagTables, {
    patient: patient.address,
    tagSecret: patient.tagSecret,
    reader: getAddress(provider),
    readerPublicKey,
  })
  return transactionHash
}

/**
 * The key a reader's tag tables and key slips are sealed to: the one it published itself
 * (MedicalRecord.encryptionKeyOf), else, for a provider, the one its registration holds.
 */
export async function readerKeyOf(ctx: Pick<Ctx, 'publicClient' | 'deployment'>, reader: Address): Promise<Hex | undefined> {
  const own = await encryptionKeyOf(ctx, reader)
  if (own) return own
  const registered = (await getProvider(ctx, reader)).encryptionKey
  return /^0x0*$/.test(registered) ? undefined : registered
}

/**
 * Publishes the patient's open tags (the tags of their classes with no sensitivity flag) on
 * chain, so that "all" grants and break-glass windows can cover their non-sensitive records
 * (ConsentRegistry.setOpenTags). `closed`: tags to mark not open in the same transaction (those of
 * a tag secret the account no longer uses). Asks the chain first and sends only what is missing,
 * so running it again sends nothing; returns the transaction, or undefined when none was needed.
 */
export async function publishOpenTags(
  ctx: Ctx,
  patient: PatientKeys,
  options: { closed?: readonly CategoryTag[] } = {},
): Promise<Hex | undefined> {
  const wanted = openTags(buildTagTable(patient.tagSecret))
  const stale = (options.closed ?? []).filter((tag) => !wanted.includes(tag))
  const isOpen = (tag: CategoryTag) =>
    ctx.publicClient.readContract({
      address: ctx.deployment.consent,
      abi: consentRegistryAbi,
      functionName: 'isOpenTag',
      args: [patient.address, tag],
    })
  const [wantedOpen, staleOpen] = await Promise.all([Promise.all(wanted.map(isOpen)), Promise.all(stale.map(isOpen))])
  const opened = wanted.filter((_, i) => !wantedOpen[i])
  const closed = stale.filter((_, i) => staleOpen[i])
  if (opened.length === 0 && closed.length === 0) return undefined
  const { transactionHash } = await writeAndWait(ctx, patient.chainAccount, {
    address: ctx.deployment.consent,
    abi: consentRegistryAbi,
    functionName: 'setOpenTags',
    args: [opened, closed],
  })
  return transactionHash
}

export function revokeProvider(ctx: Ctx, patient: Account, provider: Address) {
  return writeAndWait(ctx, patient, {
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    functionName: 'revokeProvider',
    args: [getAddress(provider)],
  }).then((r) => r.transactionHash)
}

/** Publishes an account's X25519 key on chain so providers can seal records to it by address alone. */
export function publishEncryptionKey(ctx: Ctx, account: Account, key: Hex) {
  return writeAndWait(ctx, account, {
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    functionName: 'setEncryptionKey',
    args: [key],
  }).then((r) => r.transactionHash)
}

export async function encryptionKeyOf(ctx: Pick<Ctx, 'publicClient' | 'deployment'>, account: Address): Promise<Hex | undefined> {
  const key = await ctx.publicClient.readContract({
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    functionName: 'encryptionKeyOf',
    args: [account],
  })
  return /^0x0+$/.test(key) ? undefined : key
}
