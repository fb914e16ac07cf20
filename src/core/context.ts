import type { Account, Address, Chain, Hex, PublicClient, Transport, WalletClient } from 'viem'
import type { Deployment } from '../chain/index.js'
import type { KeySlip, KeySlipStore } from './keySlipFormat.js'
import type { BlobStore } from '../storage/index.js'

/** One attempt to reach a record, allowed or denied, for the audit trail. Never content. */
export type AccessAttempt = {
  actor: Address
  action: 'read' | 'verify' | 'key-release' | 'erase'
  tokenId: bigint
  patient?: Address
  outcome: 'allowed' | 'denied'
  /** A short machine-readable code, e.g. `no-grant`, `owner`, `grant`, `emergency`. */
  reason?: string
  purpose?: string
}

export interface AccessRecorder {
  record(attempt: AccessAttempt): Promise<void>
}

/** What a chain operation needs: a client to read with, a wallet per account, the deployed contracts. */
export type ChainContext = Pick<RecordsContext, 'publicClient' | 'walletFor' | 'deployment'>

/** The emergency key escrow of a medvault node (consent/keyRelease.ts makes one). */
export interface KeyReleaseService {
  /** The escrow identity issuers wrap non-sensitive record keys to. */
  escrow: { address: Address; publicKey: Hex }
  /** Re-wraps an escrowed key to `requester` if the chain allows them to read the record now. */
  release(params: { tokenId: bigint; cid: string; requester: Address }): Promise<KeySlip | undefined>
}

/** What record operations need: a chain to read and write, the deployed contracts, a blob store. */
export type RecordsContext = {
  publicClient: PublicClient<Transport, Chain>
  walletFor(account: Account): WalletClient<Transport, Chain, Account>
  deployment: Deployment
  store: BlobStore
  /** Where grantees' wrapped record keys live; without it only owners can read. */
  keySlips?: KeySlipStore
  /** Receives every access attempt, allowed or denied. */
  audit?: AccessRecorder
  /** The emergency key escrow of this medvault node. */
  keyRelease?: KeyReleaseService
  /** Remembers records whose issuer signature and registry status checked out (a long-running server's). */
  verified?: VerifiedRecords
}

/**
 * Checks that cannot change once passed: a record's token, commitment and the issuer's signature
 * over them are immutable, and so is the registry's history of the issuer at the issue time. The
 * key names all of them, so another envelope or attestation for the same token is checked afresh.
 * Access and the content commitment are still checked on every read.
 */
export interface VerifiedRecords {
  has(key: string): boolean
  add(key: string): void
}

/** A bounded set of verified-record keys, oldest forgotten first. */
export function verifiedRecords(capacity = 100_000): VerifiedRecords {
  const keys = new Set<string>()
  return {
    has: (key) => keys.has(key),
    add(key) {
      keys.add(key)
      if (keys.size > capacity) keys.delete(keys.values().next().value!)
    },
  }
}

export type Progress = { stage: 'hashing' | 'encrypting' | 'storing' | 'minting' | 'fetching' | 'verifying'; bytes?: number }
export type OnProgress = (progress: Progress) => void
