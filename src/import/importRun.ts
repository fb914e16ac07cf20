/**
 * One run of an import: the state every step of it reads and changes (the journal and its replayed
 * state, the record keys held until their slips are written, the counters), in one object that
 * each step module takes as its first argument, and the small helpers they share.
 */
import { type Address, type Hex, getAddress } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { requireTag } from '../consent/index.js'
import type { CategoryTag } from '../core/index.js'
import { ImportJournalError } from '../errors.js'
import { type RecordsContext, categoryCode, fullSensitivity } from '../records/index.js'
import type { ImportState } from './importState.js'
import type { ImportBundleParameters, ImportCheckpoint, ImportedBatch } from './importTypes.js'
import { journalKeyOf } from './journalKeys.js'
import type { BeginEntry, ImportJournal, SealedEntry } from './journal.js'

export type ImportRun = {
  ctx: RecordsContext
  /** The caller's parameters, with the bundle linked to the patient. */
  params: ImportBundleParameters
  journal: ImportJournal
  state: ImportState
  begin: BeginEntry
  batchSize: number
  patient: Address
  issuer: LocalAccount
  issuerAddress: Address
  receiptTimeoutMs: number
  /** Records the bundle holds. */
  total: number
  /** Record keys of the entries sealed in this run, each zeroed and dropped once its slips are written. */
  recordKeys: Map<number, Uint8Array>
  /** Opens the record keys the journal keeps (see journalKeys.ts); zeroed when the run ends. */
  journalKey: Uint8Array
  /**
   * The patient's tags of the bundle's classes, per `category/sensitivity` (code and full flags),
   * from the table the patient shared with the issuer: read once per class per run, by {@link loadImportTags}.
   */
  tags: Map<string, CategoryTag>
  /** The grantees of new records, per tag, looked up once per run. */
  grantees: Map<string, Promise<readonly Address[]>>
  /** Grantees' encryption keys, looked up once per run. */
  granteeKeys: Map<Address, Hex | undefined>
  /** Batches confirmed in this run, in the order they were. */
  confirmedBatches: ImportedBatch[]
  counts: { sealed: number; submitted: number; recovered: number; beforeSend: number; afterSubmit: number; afterConfirm: number }
  /** Entries confirmed by earlier runs and found on chain by this one. */
  alreadyImported: number
}

/** A run over a journal already begun; every journaled entry must be an entry of this bundle, with the same content. */
export function createImportRun(
  ctx: RecordsContext,
  params: ImportBundleParameters,
  run: Pick<ImportRun, 'journal' | 'state' | 'begin' | 'batchSize' | 'patient'>,
): ImportRun {
  const entries = new Map(params.bundle.entries.map((e) => [e.index, e]))
  for (const [i, item] of run.state.items) {
    if (entries.get(i)?.digest.toLowerCase() !== item.sealed.digest.toLowerCase()) {
      throw new ImportJournalError(`The import journal ${run.journal.path} does not match the bundle (entry ${i}).`)
    }
  }
  const issuer = params.issuer.chainAccount
  return {
    ...run,
    ctx,
    params,
    issuer,
    issuerAddress: getAddress(issuer.address),
    receiptTimeoutMs: params.receiptTimeoutMs ?? 300_000,
    total: params.bundle.entries.length,
    recordKeys: new Map(),
    journalKey: journalKeyOf(params.issuer.encryptionSeed),
    tags: new Map(),
    grantees: new Map(),
    granteeKeys: new Map(),
    confirmedBatches: [],
    counts: { sealed: 0, submitted: 0, recovered: 0, beforeSend: 0, afterSubmit: 0, afterConfirm: 0 },
    alreadyImported: 0,
  }
}

const classKey = (category: number, sensitivity: number) => `${category}/${sensitivity}`

/**
 * Reads the patient's tag of every class the bundle holds (one `requireTag` per class) from the
 * table the patient shared with the issuer when they authorised it; MissingTagsError, before
 * anything is sealed or sent, when they never did. Called before the first step that builds a mint
 * request; a second call reads nothing.
 */
export async function loadImportTags(run: ImportRun): Promise<void> {
  const issuer = run.params.issuer
  const reader = { address: run.issuerAddress, encryptionSeed: issuer.encryptionSeed, tagSecret: issuer.tagSecret }
  for (const entry of run.params.bundle.entries) {
    const category = categoryCode(entry.category)
    const sensitivity = fullSensitivity(entry.category, entry.sensitivity)
    const key = classKey(category, sensitivity)
    if (!run.tags.has(key)) run.tags.set(key, await requireTag(run.ctx, { patient: run.patient, reader, category, sensitivity }))
  }
}

/** The tag of a sealed entry's class (see {@link loadImportTags}). */
export function tagOfSealed(run: ImportRun, sealed: Pick<SealedEntry, 'category' | 'sensitivity'>): CategoryTag {
  const tag = run.tags.get(classKey(sealed.category, sealed.sensitivity))
  if (!tag) throw new ImportJournalError(`The import journal ${run.journal.path} holds a record of a class the bundle does not have.`)
  return tag
}

export function sealedOf(run: ImportRun, i: number): SealedEntry {
  return run.state.items.get(i)!.sealed
}

export function confirmedCount(run: ImportRun): number {
  return [...run.state.items.values()].filter((item) => item.status === 'confirmed').length
}

export function gasUsedOf(run: ImportRun): bigint {
  return run.confirmedBatches.reduce((sum, b) => sum + b.gasUsed, 0n)
}

export function reportProgress(run: ImportRun): void {
  run.params.onProgress?.({
    total: run.total,
    alreadyImported: run.alreadyImported,
    confirmed: confirmedCount(run),
    sealed: run.counts.sealed,
    submitted: run.counts.submitted,
    batches: run.confirmedBatches.length,
    gasUsed: gasUsedOf(run),
  })
}

export function checkpoint(run: ImportRun, point: ImportCheckpoint, count: number): void {
  run.params.checkpoint?.(point, count)
}

/** Zeroes the record keys still held (entries not confirmed when the run stopped) and the journal key. */
export function disposeImportRun(run: ImportRun): void {
  for (const key of run.recordKeys.values()) key.fill(0)
  run.recordKeys.clear()
  run.journalKey.fill(0)
}
