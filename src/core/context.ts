import type { Account, Address, Chain, Hex, PublicClient, Transport, WalletClient } from 'viem'
import type { Deployment } from '../chain/index.js'
import type { KeySlip, KeySlipStore } from './keySlipFormat.js'
import type { TagTableStore } from './categoryTags.js'
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
  /** Patients' tag tables sealed to their readers (consent/tagTables.ts); without it a reader knows only its own tags. */
  tagTables?: TagTableStore
  /** Receives every access attempt, allowed or denied. */
  audit?: AccessRecorder
  /** The emergency key escrow of this medvault node. */
  keyRelease?: KeyReleaseService
  /** Remembers records whose issuer signature and registry status checked out (a long-running server's). */
  verified?: VerifiedRecords
  /** A long-running server's read cache (records/readCache.ts): chain answers per head block, verified content per token. */
  readCache?: ReadCache
  /** Checks issuers' attestations off the main thread (records/attestationPool.ts); without it, on the caller's thread. */
  attestations?: AttestationChecker
}

/**
 * Answers `isAttestationBy` (records/checkAttestation.ts) somewhere else, e.g. in worker threads:
 * the same answer for the same arguments, only not on the caller's thread.
 */
export type AttestationChecker = {
  isAttestationBy(deployment: Pick<Deployment, 'chainId' | 'records'>, message: object, signature: Hex, issuer: Address): Promise<boolean>
}

/** A block the chain had as its head: answers read at it hold until the next block. */
export type HeadBlock = { number: bigint; hash: Hex }

/** What a read cache keeps of a verified, decrypted record: never written anywhere but memory. */
export type CachedContent<S = unknown> = { meta: unknown; bytes: Buffer; summary: S | undefined }

/**
 * Caches what reads ask again and again, never past the block that could change it. Chain answers
 * (a record's owner, amendment and erasure; a consent decision) are kept for one head block and
 * read at that block; a record's verified, decrypted content is kept by token (it is fixed once
 * minted) for the readers who opened it, and dropped when the record is erased.
 */
export interface ReadCache {
  /** A head block the chain had at or after the moment of the call (a pinned cache: its pinned head). */
  head(): Promise<HeadBlock>
  /** The same cache, with `head()` answering `head`: one request sees one block throughout. */
  pin(head: HeadBlock): ReadCache
  /**
   * `load(block)` once per head block and key. With `token`, the answer depends only on that record's
   * events (transfer, amendment, erasure) and carries over to a next block that has none of them;
   * without it, it is forgotten when the head moves on.
   */
  atBlock<T>(head: HeadBlock, key: string, load: (blockNumber: bigint) => Promise<T>, token?: bigint): Promise<T>
  /** The content `reader` opened before, if `version` (the record's immutable fields) still matches. */
  content(tokenId: bigint, reader: Address, version: string): CachedContent | undefined
  putContent(tokenId: bigint, reader: Address, version: string, content: Omit<CachedContent, 'summary'>): void
  /** Drops a record's content (it was erased). */
  forget(tokenId: bigint): void
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
