import { type Address, type Hex, getAddress } from 'viem'
import { PURPOSES, type Purpose, SCOPES, type Scope } from '../../consent/index.js'
import type { CategoryTag } from '../../core/index.js'
import type { IndexedDelegate, IndexedEmergencyAccess, IndexedGrant, IndexedProvider, IndexedRecord, ProviderStatus } from '../types.js'
import type { SqlRow } from './driver.js'
import { big, dateOf, num, optionalBig, optionalDate } from './values.js'

/** Row → API object mappers, shared by both backends. */

const address = (v: unknown): Address => getAddress(String(v))
const hex = (v: unknown): Hex => String(v) as Hex

export function recordFromRow(r: SqlRow): IndexedRecord {
  return {
    tokenId: big(r.token_id),
    patient: address(r.patient),
    issuer: address(r.issuer),
    tag: String(r.tag) as CategoryTag,
    issuedAt: dateOf(r.issued_at),
    cid: String(r.cid),
    commitment: hex(r.commitment),
    supersedes: optionalBig(r.supersedes),
    supersededBy: optionalBig(r.superseded_by),
    erasedAt: optionalDate(r.erased_at),
    blockNumber: big(r.block_number),
    logIndex: num(r.log_index),
    txHash: hex(r.tx_hash),
  }
}

export function grantFromRow(r: SqlRow, tokenIds: bigint[]): IndexedGrant {
  return {
    grantId: big(r.grant_id),
    patient: address(r.patient),
    grantee: address(r.grantee),
    grantor: address(r.grantor),
    scope: (SCOPES as readonly string[]).includes(String(r.scope)) ? (r.scope as Scope) : 'records',
    tokenIds,
    tags: String(r.tags ?? '')
      .split(',')
      .filter((t) => t.length > 0) as CategoryTag[],
    purpose: (PURPOSES as readonly string[]).includes(String(r.purpose)) ? (r.purpose as Purpose) : 'other',
    createdAt: dateOf(r.created_at),
    expiresAt: dateOf(r.expires_at),
    revokedAt: optionalDate(r.revoked_at),
    revokedBy: r.revoked_by === null || r.revoked_by === undefined ? undefined : address(r.revoked_by),
    blockNumber: big(r.block_number),
    txHash: hex(r.tx_hash),
  }
}

export function providerFromRow(r: SqlRow): IndexedProvider {
  return {
    address: address(r.address),
    name: String(r.name),
    encryptionKey: hex(r.encryption_key),
    status: String(r.status) as ProviderStatus,
    registeredAt: dateOf(r.registered_at),
    emergency: r.allowed !== null && r.allowed !== undefined && num(r.allowed) === 1,
    blockNumber: big(r.block_number),
    updatedBlock: big(r.updated_block),
  }
}

export function delegateFromRow(r: SqlRow): IndexedDelegate {
  return { patient: address(r.patient), delegate: address(r.delegate), addedAt: dateOf(r.added_at), blockNumber: big(r.block_number) }
}

export function emergencyFromRow(r: SqlRow): IndexedEmergencyAccess {
  return {
    patient: address(r.patient),
    provider: address(r.provider),
    openedAt: dateOf(r.opened_at),
    until: dateOf(r.open_until),
    reasonHash: hex(r.reason_hash),
    blockNumber: big(r.block_number),
    txHash: hex(r.tx_hash),
  }
}
