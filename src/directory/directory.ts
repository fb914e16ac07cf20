import { type Account, type Address, type Hex, getAddress } from 'viem'
import { writeAndWait } from '../chain/index.js'
import { medicalRecordAbi, providerRegistryAbi } from '../contracts/index.js'
import type { RecordsContext } from '../core/index.js'

type Ctx = Pick<RecordsContext, 'publicClient' | 'walletFor' | 'deployment'>

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

/** The patient lets `provider` issue records to them without a per-record signature until `until`. */
export function authorizeProvider(ctx: Ctx, patient: Account, provider: Address, until: Date) {
  return writeAndWait(ctx, patient, {
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    functionName: 'authorizeProvider',
    args: [getAddress(provider), BigInt(Math.floor(until.getTime() / 1000))],
  }).then((r) => r.transactionHash)
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
