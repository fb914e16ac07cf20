import type { Address, Hex } from 'viem'
import type { Deployment } from '../chain/index.js'
import type { GrantInfo, Purpose, Scope } from '../consent/index.js'
import type { CategoryTag } from '../core/index.js'

/**
 * A record token as the index holds it: the on-chain fields only, never content. Its category is
 * not among them: only the patient's blinded tag for it, which a reader maps back with the tag
 * table the patient shared (see `classifyRecords`).
 */
export type IndexedRecord = {
  tokenId: bigint
  /** The current owner (the patient). */
  patient: Address
  issuer: Address
  /** The patient's tag for the record's category and sensitivity (core/categoryTags.ts). */
  tag: CategoryTag
  issuedAt: Date
  /** The ciphertext's content address (CIDv1, from the on-chain codec and digest). */
  cid: string
  commitment: Hex
  /** The record this one amends, if any. */
  supersedes: bigint | undefined
  /** The record that amends this one, if any. */
  supersededBy: bigint | undefined
  /** When the patient erased it (its keys and ciphertext destroyed), if they did. */
  erasedAt: Date | undefined
  blockNumber: bigint
  logIndex: number
  txHash: Hex
}

/**
 * A consent grant as the index holds it: the chain's grant (the patient's tags it lists, never
 * categories), with who signed it and revoked it, and where. `grantClasses` maps the tags back.
 */
export type IndexedGrant = Omit<GrantInfo, 'active' | 'categories' | 'sensitive' | 'unknownTags'> & {
  /** Who signed the grant: the patient or their delegate. */
  grantor: Address
  revokedBy: Address | undefined
  blockNumber: bigint
  txHash: Hex
}

export type ProviderStatus = 'active' | 'suspended' | 'removed'

export type IndexedProvider = {
  address: Address
  name: string
  encryptionKey: Hex
  status: ProviderStatus
  registeredAt: Date
  /** Flagged by the registrar for emergency (break-glass) access. */
  emergency: boolean
  blockNumber: bigint
  /** The block of the last change (profile or status). */
  updatedBlock: bigint
}

export type IndexedDelegate = { patient: Address; delegate: Address; addedAt: Date; blockNumber: bigint }

export type IndexedEmergencyAccess = {
  patient: Address
  provider: Address
  openedAt: Date
  until: Date
  /** keccak256 of the stated reason; the text stays in the off-chain audit log. */
  reasonHash: Hex
  blockNumber: bigint
  txHash: Hex
}

/** A patient with at least one active grant to a grantee. */
export type SharingPatient = { patient: Address; grants: number; latestExpiry: Date }

export type RecordFilter = {
  /**
   * Only records with one of these tags: a category, as the tags of its classes in the viewer's
   * table of the patient (`tagsOfCategory`). An empty list matches nothing.
   */
  tags?: readonly CategoryTag[]
  /** Issued at or after. */
  issuedFrom?: Date
  /** Issued at or before. */
  issuedTo?: Date
  issuer?: Address
  /** Include records that were amended (default: only the newest version of each). */
  includeSuperseded?: boolean
  /** Include records the patient erased (default: no; nothing can open them). */
  includeErased?: boolean
}

export type IndexStatus = {
  kind: 'sqlite' | 'postgres'
  /** Where the index lives: a file path, or the PostgreSQL URL without its password. */
  location: string
  /** The last block indexed, undefined before the first sync. */
  lastBlock: bigint | undefined
  lastBlockHash: Hex | undefined
  /** The chain head seen by the last sync, and how far behind it the index was. */
  headBlock: bigint | undefined
  lag: bigint | undefined
  /** Blocks at or below this are taken as final (head − confirmations at the last sync). */
  finalBlock: bigint | undefined
  syncedAt: Date | undefined
  counts: { records: number; grants: number; providers: number }
}

/** Which deployment an index belongs to; an index of another one is discarded. */
export type IndexScope = Pick<Deployment, 'chainId' | 'registry' | 'records' | 'consent' | 'deployedAtBlock'>

export type IndexCursor = { block: bigint; hash: Hex }

type EventBase = {
  blockNumber: bigint
  logIndex: number
  txHash: Hex
  /** Block time, Unix seconds. */
  timestamp: bigint
}

/** A contract event, decoded into what the index stores. */
export type IndexEvent = EventBase &
  (
    | {
        type: 'RecordIssued'
        tokenId: bigint
        patient: Address
        issuer: Address
        commitment: Hex
        cid: string
        tag: CategoryTag
        supersedes: bigint
      }
    | { type: 'RecordAmended'; tokenId: bigint; supersededBy: bigint }
    | { type: 'RecordErased'; tokenId: bigint }
    | { type: 'RecordTransferred'; tokenId: bigint; from: Address; to: Address }
    | {
        type: 'GrantCreated'
        grantId: bigint
        patient: Address
        grantee: Address
        grantor: Address
        scope: Scope
        tokenIds: readonly bigint[]
        tags: readonly CategoryTag[]
        expiresAt: bigint
        purpose: Purpose
      }
    | { type: 'GrantRevoked'; grantId: bigint; revokedBy: Address }
    | { type: 'GrantMoved'; grantId: bigint; from: Address; to: Address }
    | { type: 'DelegateAdded' | 'DelegateRemoved'; patient: Address; delegate: Address }
    | { type: 'EmergencyProviderSet'; provider: Address; allowed: boolean }
    | { type: 'EmergencyAccessOpened'; patient: Address; provider: Address; until: bigint; reasonHash: Hex }
    | { type: 'ProviderRegistered' | 'ProviderProfileUpdated'; provider: Address; name: string; encryptionKey: Hex }
    | { type: 'ProviderStatusChanged'; provider: Address; status: ProviderStatus }
  )

/** One block range read from the chain, written in one transaction together with the cursor. */
export type IndexBatch = {
  /** The cursor the batch follows (undefined: the index is empty); the write is refused if it moved. */
  expectedCursor: bigint | undefined
  fromBlock: bigint
  toBlock: bigint
  toHash: Hex
  headBlock: bigint
  /** Blocks at or below this are final: their changes need no undo entries. */
  finalBlock: bigint
  /** Hashes to keep for reorg detection: every block with an event, and `toBlock`. */
  blocks: IndexCursor[]
  events: IndexEvent[]
}

/**
 * The index database: what the chain says, arranged for fast queries. Never the source of truth:
 * it can be deleted and rebuilt from the chain. Two implementations: `openSqliteIndex` and
 * `openPostgresIndex`.
 */
export interface IndexStore {
  readonly kind: 'sqlite' | 'postgres'

  /** A patient's records, in issue order. */
  recordsOf(patient: Address, filter?: RecordFilter): Promise<IndexedRecord[]>
  record(tokenId: bigint): Promise<IndexedRecord | undefined>
  /** Every grant a patient gave (or a delegate gave for them), oldest first. */
  grantsOf(patient: Address): Promise<IndexedGrant[]>
  /** Grants to a grantee, oldest first; with `activeAt`, only those active then. */
  grantsTo(grantee: Address, options?: { activeAt?: Date }): Promise<IndexedGrant[]>
  /** Patients with an active grant to `grantee` at `now`, with their latest expiry. */
  patientsSharingWith(grantee: Address, now: Date): Promise<SharingPatient[]>
  /** A patient's current delegates. */
  delegatesOf(patient: Address): Promise<IndexedDelegate[]>
  /** Break-glass windows opened on a patient, newest first. */
  emergenciesOf(patient: Address): Promise<IndexedEmergencyAccess[]>
  /** Every provider ever registered, in registration order. */
  providers(): Promise<IndexedProvider[]>
  status(): Promise<IndexStatus>

  /** Stores a fresh Sign-In with Ethereum nonce. Throws if it is already stored. */
  putNonce(nonce: string, expiresAt: Date): Promise<void>
  /** Uses a nonce up: true exactly once, for one caller, and only before it expires. */
  consumeNonce(nonce: string, now: Date): Promise<boolean>
  /** Deletes expired nonces; returns how many. */
  pruneNonces(now: Date): Promise<number>

  /** Binds the index to a deployment; an index of another deployment is emptied. True if it was. */
  bindScope(scope: IndexScope): Promise<boolean>
  cursor(): Promise<IndexCursor | undefined>
  /** Stored block hashes, newest first. */
  recentBlocks(): Promise<IndexCursor[]>
  /** Writes a batch and moves the cursor, all or nothing. False (nothing written) if the cursor is not `batch.expectedCursor`. */
  applyBatch(batch: IndexBatch): Promise<boolean>
  /** Undoes everything above `block` (a stored block), after a reorg. */
  rollbackTo(block: bigint): Promise<void>
  /** Empties the index for a rebuild; it stays bound to its deployment, and nonces stay. */
  reset(): Promise<void>
  close(): Promise<void>
}
