/** What an import takes, reports while it runs, and returns (`importBundle`). */
import type { Hex } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import type { Recipient } from '../records/index.js'
import type { ParsedImportBundle, SkippedEntry } from './parseBundle.js'

/** Most records in one `mintBatch` (MedicalRecord.MAX_BATCH_SIZE). */
export const MAX_BATCH_SIZE = 100
export const DEFAULT_BATCH_SIZE = 50

/** The issuing provider: signs and pays; its encryption seed keeps the record keys in the journal readable only to it. */
/**
 * The importing provider's keys: the chain key signs the batches; the encryption seed keeps record
 * keys in the journal for it alone and opens the tag table the patient shared with it (with the
 * tag secret, that is what reading tags takes: consent/tagTables.ts).
 */
export type ImportIssuer = { chainAccount: LocalAccount; encryptionSeed: Uint8Array; tagSecret: Uint8Array }

/**
 * Named points of an import, for fault injection in crash tests (`MEDVAULT_FAULT=import:after-submit:3`):
 * after an entry is sealed and journaled, after a batch is journaled but before it is sent, after
 * it is sent, after its confirmation is journaled. `count` is how many times the point was reached.
 */
export type ImportCheckpoint = 'after-seal' | 'before-send' | 'after-submit' | 'after-confirm'

export type ImportProgress = {
  /** Records the bundle holds. */
  total: number
  /** Confirmed before this run (skipped). */
  alreadyImported: number
  /** Confirmed in total, including `alreadyImported`. */
  confirmed: number
  /** Sealed and stored in this run. */
  sealed: number
  /** Sent in this run (records). */
  submitted: number
  /** Batches confirmed in this run. */
  batches: number
  gasUsed: bigint
}

export type ImportBundleParameters = {
  issuer: ImportIssuer
  patient: Recipient
  bundle: ParsedImportBundle
  /** Where journals live (`<home>/imports`). */
  journalDir: string
  /** Records per mintBatch, 1..100 (default 50). */
  batchSize?: number
  /** Batches sent and not yet confirmed at once (default 4). */
  maxInFlight?: number
  /** Entries sealed at once (default 4). */
  sealConcurrency?: number
  /** How long to wait for a batch to be mined (default 5 minutes). */
  receiptTimeoutMs?: number
  onProgress?: (progress: ImportProgress) => void
  checkpoint?: (point: ImportCheckpoint, count: number) => void
}

export type ImportedBatch = { batch: number; records: number; gasUsed: bigint; txHash: Hex }

export type ImportBundleReturnType = {
  /** The journal file. */
  journal: string
  /** Records the bundle holds. */
  total: number
  /** Records confirmed in this run, `recovered` included. */
  imported: number
  /** Records in flight when an earlier run stopped, found minted on chain in this run. */
  recovered: number
  /** Records imported by an earlier run (checked on chain) and skipped. */
  alreadyImported: number
  /** Bundle entries that are not records (the Patient). */
  skipped: SkippedEntry[]
  /** Batches confirmed in this run, in batch (and nonce, so chain) order. */
  batches: ImportedBatch[]
  gasUsed: bigint
  seconds: number
  /** `imported / seconds`. */
  recordsPerSecond: number
  /** Every record of the bundle, by entry position. */
  records: { entry: number; tokenId: bigint }[]
}
