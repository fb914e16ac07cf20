import { type Address, type Hex, decodeEventLog, getAddress } from 'viem'
import { PURPOSES, SCOPES } from '../consent/index.js'
import { consentRegistryAbi, medicalRecordAbi, providerRegistryAbi } from '../contracts/index.js'
import { cidFromChain } from '../records/index.js'
import type { IndexEvent, IndexScope } from './types.js'

export type RawLog = {
  address: Address
  topics: [Hex, ...Hex[]] | []
  data: Hex
  blockNumber: bigint | null
  logIndex: number | null
  transactionHash: Hex | null
}

type Base = { blockNumber: bigint; logIndex: number; txHash: Hex; timestamp: bigint }

/**
 * Decodes the medvault contracts' logs into index events, in chain order. Logs of other
 * contracts, and events the index does not keep (Locked, EncryptionKeySet, roles…), are skipped.
 *
 * @param timestamps - block number → block time (Unix seconds) for every block with a log.
 */
export function decodeLogs(
  deployment: Pick<IndexScope, 'records' | 'consent' | 'registry'>,
  logs: readonly RawLog[],
  timestamps: ReadonlyMap<bigint, bigint>,
): IndexEvent[] {
  const sorted = [...logs].sort((a, b) =>
    a.blockNumber === b.blockNumber ? a.logIndex! - b.logIndex! : a.blockNumber! < b.blockNumber! ? -1 : 1,
  )
  const events: IndexEvent[] = []
  for (const log of sorted) {
    const timestamp = timestamps.get(log.blockNumber!)
    if (timestamp === undefined) throw new Error(`No timestamp for block ${log.blockNumber}.`)
    const base: Base = { blockNumber: log.blockNumber!, logIndex: log.logIndex!, txHash: log.transactionHash!, timestamp }
    const from = getAddress(log.address)
    const event =
      from === getAddress(deployment.records)
        ? recordEvent(log, base)
        : from === getAddress(deployment.consent)
          ? consentEvent(log, base)
          : from === getAddress(deployment.registry)
            ? registryEvent(log, base)
            : undefined
    if (event) events.push(event)
  }
  return events
}

/** Undefined for an event the ABI does not describe. */
function tryDecode<T>(decode: () => T): T | undefined {
  try {
    return decode()
  } catch {
    return undefined
  }
}

function recordEvent(log: RawLog, base: Base): IndexEvent | undefined {
  const decoded = tryDecode(() => decodeEventLog({ abi: medicalRecordAbi, data: log.data, topics: log.topics }))
  if (!decoded) return undefined
  switch (decoded.eventName) {
    case 'RecordIssued': {
      const a = decoded.args
      return {
        ...base,
        type: 'RecordIssued',
        tokenId: a.tokenId,
        patient: getAddress(a.patient),
        issuer: getAddress(a.issuer),
        commitment: a.commitment,
        cid: cidFromChain(a.cidCodec, a.cidDigest).toString(),
        tag: a.tag.toLowerCase() as Hex,
        supersedes: a.supersedes,
      }
    }
    case 'RecordAmended':
      return { ...base, type: 'RecordAmended', tokenId: decoded.args.tokenId, supersededBy: decoded.args.supersededBy }
    case 'RecordErased':
      return { ...base, type: 'RecordErased', tokenId: decoded.args.tokenId }
    case 'Transfer':
      return {
        ...base,
        type: 'RecordTransferred',
        tokenId: decoded.args.id,
        from: getAddress(decoded.args.from),
        to: getAddress(decoded.args.to),
      }
    default:
      return undefined
  }
}

function consentEvent(log: RawLog, base: Base): IndexEvent | undefined {
  const decoded = tryDecode(() => decodeEventLog({ abi: consentRegistryAbi, data: log.data, topics: log.topics }))
  if (!decoded) return undefined
  switch (decoded.eventName) {
    case 'GrantCreated': {
      const a = decoded.args
      return {
        ...base,
        type: 'GrantCreated',
        grantId: a.grantId,
        patient: getAddress(a.patient),
        grantee: getAddress(a.grantee),
        grantor: getAddress(a.grantor),
        scope: SCOPES[a.scope] ?? 'records',
        tokenIds: a.tokenIds,
        tags: a.tags.map((t) => t.toLowerCase() as Hex),
        expiresAt: BigInt(a.expiresAt),
        purpose: PURPOSES[a.purpose] ?? 'other',
      }
    }
    case 'GrantRevoked':
      return { ...base, type: 'GrantRevoked', grantId: decoded.args.grantId, revokedBy: getAddress(decoded.args.revokedBy) }
    case 'GrantMoved':
      return {
        ...base,
        type: 'GrantMoved',
        grantId: decoded.args.grantId,
        from: getAddress(decoded.args.from),
        to: getAddress(decoded.args.to),
      }
    case 'DelegateAdded':
    case 'DelegateRemoved':
      return { ...base, type: decoded.eventName, patient: getAddress(decoded.args.patient), delegate: getAddress(decoded.args.delegate) }
    case 'EmergencyProviderSet':
      return { ...base, type: 'EmergencyProviderSet', provider: getAddress(decoded.args.provider), allowed: decoded.args.allowed }
    case 'EmergencyAccessOpened':
      return {
        ...base,
        type: 'EmergencyAccessOpened',
        patient: getAddress(decoded.args.patient),
        provider: getAddress(decoded.args.provider),
        until: BigInt(decoded.args.until),
        reasonHash: decoded.args.reasonHash,
      }
    default:
      return undefined
  }
}

function registryEvent(log: RawLog, base: Base): IndexEvent | undefined {
  const decoded = tryDecode(() => decodeEventLog({ abi: providerRegistryAbi, data: log.data, topics: log.topics }))
  if (!decoded) return undefined
  const provider = (a: { provider: Address }) => getAddress(a.provider)
  switch (decoded.eventName) {
    case 'ProviderRegistered':
    case 'ProviderProfileUpdated':
      return {
        ...base,
        type: decoded.eventName,
        provider: provider(decoded.args),
        name: decoded.args.name,
        encryptionKey: decoded.args.encryptionKey,
      }
    case 'ProviderSuspended':
      return { ...base, type: 'ProviderStatusChanged', provider: provider(decoded.args), status: 'suspended' }
    case 'ProviderReinstated':
      return { ...base, type: 'ProviderStatusChanged', provider: provider(decoded.args), status: 'active' }
    case 'ProviderRemoved':
      return { ...base, type: 'ProviderStatusChanged', provider: provider(decoded.args), status: 'removed' }
    default:
      return undefined
  }
}
