/**
 * Anchoring: the entries the chain does not hold yet (from the seq AuditAnchor expects for this
 * signer, up to `maxBatch`) go into a Merkle tree whose root, with the chain head, is sent to
 * AuditAnchor.anchor from the log's signer. `<dir>/batches.json` keeps a local record of the
 * batches (ranges, roots, heads, transactions); the chain stays the authority, and trees are rebuilt
 * from the log.
 */
import { type Hex, parseEventLogs } from 'viem'
import { toMedvaultError, writeAndWait } from '../chain/index.js'
import { auditAnchorAbi } from '../contracts/index.js'
import { InvalidInputError } from '../errors.js'
import { type AnchoredBatch, type AuditReadContext, type AuditWriteContext, anchoredBatch, anchoredBatchCount } from './chain.js'
import { type AuditEntry, GENESIS_PREV, hashAuditEntry, isAuditEntrySignedBy, parseAuditLine } from './entry.js'
import { AuditLogError } from './errors.js'
import { type LogLine, auditPaths, readJson, readLogLines, withLock, writeJsonAtomic } from './files.js'
import type { AuditLog, AuditLogSource } from './log.js'
import { auditBatchRoot } from './merkle.js'

export type AnchorPendingParameters = {
  /** Most entries in one batch (default 1024). */
  maxBatch?: number
}

export type AnchorPendingReturnType = {
  batchIndex: number
  firstSeq: number
  lastSeq: number
  root: Hex
  head: Hex
  txHash: Hex
  /** Entries still pending after this batch (anchor again if non-zero). */
  remaining: number
}

/** One line of `<dir>/batches.json`. */
export type AuditBatchRecord = {
  index: number
  firstSeq: number
  lastSeq: number
  root: Hex
  head: Hex
  /** ISO time the chain recorded. */
  anchoredAt: string
  /** The anchoring transaction, when this node sent it and recorded it. */
  txHash?: Hex
}

const ANCHOR_LOCK = { staleMs: 30_000, waitMs: 120_000, what: 'anchor' } as const
const DEFAULT_MAX_BATCH = 1024

/**
 * Anchors the next batch of not-yet-anchored entries. Before sending, checks that the log continues
 * the head anchored last and that every entry of the batch is intact, linked and signed: it never
 * anchors a damaged log. Returns undefined when nothing is pending. The signer pays the gas.
 */
export async function anchorPending(
  ctx: AuditWriteContext,
  log: Pick<AuditLog, 'dir' | 'address' | 'signer'>,
  params: AnchorPendingParameters = {},
): Promise<AnchorPendingReturnType | undefined> {
  const maxBatch = params.maxBatch ?? DEFAULT_MAX_BATCH
  if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) throw new InvalidInputError('maxBatch must be a positive integer.')
  const paths = auditPaths(log.dir)
  return withLock(paths.anchorLockTarget, ANCHOR_LOCK, async (assertHeld) => {
    const count = await anchoredBatchCount(ctx, log.address)
    const previous = count > 0 ? await anchoredBatch(ctx, log.address, count - 1) : undefined
    const firstSeq = previous ? previous.lastSeq + 1 : 0
    const { lines } = await readLogLines(paths.log)
    let prev = GENESIS_PREV
    if (previous) {
      const last = entryAt(lines, previous.lastSeq)
      if (last?.hash !== previous.head) {
        throw new AuditLogError(
          `The audit log does not continue what was anchored: entry ${previous.lastSeq} is missing or is not the anchored head.`,
          { hint: 'Run verifyAuditLog; the log was truncated, replaced or rewritten.' },
        )
      }
      prev = previous.head
    }
    const batch: AuditEntry[] = []
    const signatures = new Map<string, boolean>()
    for (let seq = firstSeq; seq < lines.length && batch.length < maxBatch; seq++) {
      const entry = entryAt(lines, seq)
      const intact =
        entry !== undefined &&
        entry.prev === prev &&
        hashAuditEntry(entry) === entry.hash &&
        (await isAuditEntrySignedBy(entry, log.address, signatures))
      if (!intact) {
        throw new AuditLogError(`Audit log entry ${seq} is damaged, out of place or not signed by the log's key; it was not anchored.`, {
          hint: 'Run verifyAuditLog.',
        })
      }
      batch.push(entry)
      prev = entry.hash
    }
    const last = batch[batch.length - 1]
    if (!last) return undefined

    const root = auditBatchRoot(batch)
    assertHeld()
    let txHash: Hex
    let batchIndex = count
    try {
      const receipt = await writeAndWait(ctx, log.signer, {
        address: ctx.deployment.audit,
        abi: auditAnchorAbi,
        functionName: 'anchor',
        args: [root, last.hash, BigInt(firstSeq), BigInt(last.seq)],
      })
      txHash = receipt.transactionHash
      const [event] = parseEventLogs({ abi: auditAnchorAbi, logs: receipt.logs, eventName: 'AuditBatchAnchored' })
      if (event) batchIndex = Number(event.args.batchIndex)
    } catch (error) {
      throw toMedvaultError(error)
    }
    const anchored: AnchoredBatch = await anchoredBatch(ctx, log.address, batchIndex)
    await recordBatch(ctx, log, { ...toRecord(anchored), txHash })
    return { batchIndex, firstSeq, lastSeq: last.seq, root, head: last.hash, txHash, remaining: Math.max(0, lines.length - last.seq - 1) }
  })
}

function entryAt(lines: readonly LogLine[], seq: number): AuditEntry | undefined {
  const line = lines[seq]
  if (!line) return undefined
  const parsed = parseAuditLine(line.text)
  return parsed.ok && parsed.entry.seq === seq ? parsed.entry : undefined
}

function toRecord(b: AnchoredBatch): AuditBatchRecord {
  return { index: b.index, firstSeq: b.firstSeq, lastSeq: b.lastSeq, root: b.root, head: b.head, anchoredAt: b.anchoredAt.toISOString() }
}

/** The local record of anchored batches (`<dir>/batches.json`), oldest first; empty when there is none. */
export async function readBatchRecords(dir: string): Promise<AuditBatchRecord[]> {
  const json = (await readJson(auditPaths(dir).batches)) as { batches?: AuditBatchRecord[] } | undefined
  return Array.isArray(json?.batches) ? json.batches : []
}

/** Adds `batch` to batches.json, filling in from the chain any earlier batch it lacks (a crash after sending). */
async function recordBatch(ctx: AuditReadContext, log: AuditLogSource, batch: AuditBatchRecord): Promise<void> {
  const known = new Map((await readBatchRecords(log.dir)).filter((b) => b.index < batch.index).map((b) => [b.index, b]))
  const batches: AuditBatchRecord[] = []
  for (let index = 0; index < batch.index; index++) {
    batches.push(known.get(index) ?? toRecord(await anchoredBatch(ctx, log.address, index)))
  }
  batches.push(batch)
  await writeJsonAtomic(auditPaths(log.dir).batches, { version: 1, log: log.address, batches })
}

export type AnchorStatus = {
  /** Batches anchored on chain. */
  batches: number
  /** The last anchored seq, or undefined when nothing is anchored. */
  anchoredThrough: number | undefined
  /** The seq the chain expects next. */
  nextSeq: number
  /** Entries in the log from nextSeq on. */
  pending: number
  /** Time of the oldest pending entry. */
  oldestPendingAt: Date | undefined
}

/** How far the log is anchored and what is pending; feed it to shouldAnchor. */
export async function anchorStatus(ctx: AuditReadContext, log: AuditLogSource): Promise<AnchorStatus> {
  const count = await anchoredBatchCount(ctx, log.address)
  const previous = count > 0 ? await anchoredBatch(ctx, log.address, count - 1) : undefined
  const nextSeq = previous ? previous.lastSeq + 1 : 0
  const { lines } = await readLogLines(auditPaths(log.dir).log)
  const oldest = entryAt(lines, nextSeq)
  return {
    batches: count,
    anchoredThrough: previous?.lastSeq,
    nextSeq,
    pending: Math.max(0, lines.length - nextSeq),
    oldestPendingAt: oldest ? new Date(oldest.at) : undefined,
  }
}
