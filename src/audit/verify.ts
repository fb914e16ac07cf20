/**
 * Verifying a whole audit log: every line parses and its hash recomputes ('changed'), is signed by
 * the log's key, itself or through its burst's proof and signature ('bad-signature'), sits in seq order ('reordered'), no seq is missing up to the
 * newest entry or the newest anchored one ('dropped'), each entry's prev is its predecessor's hash
 * and no seq appears twice ('broken-chain'), and each batch anchored on chain has the Merkle root
 * ('root-mismatch') and head ('head-mismatch') the log gives. Each tampering is reported once, under
 * the kind that explains it, not again as the knock-on failures it causes.
 */
import type { Address } from 'viem'
import { type AnchoredBatch, type AuditReadContext, anchoredBatches } from './chain.js'
import { type AuditFrame, GENESIS_PREV, hashAuditEntry, isAuditEntrySignedBy, parseAuditLine } from './entry.js'
import { auditPaths, readLogLines } from './files.js'
import { auditBatchRoot } from './merkle.js'

export type AuditProblemKind = 'changed' | 'reordered' | 'dropped' | 'bad-signature' | 'root-mismatch' | 'head-mismatch' | 'broken-chain'

export type AuditProblem = {
  /** The entry concerned (the first of a range of dropped entries; the first of a batch for a root mismatch). */
  seq: number
  kind: AuditProblemKind
  /** Names sequence numbers, lines and batches, never entry content. */
  message: string
  /** 1-based line of the log file, when the problem is on a line. */
  line?: number
}

export type VerifyAuditLogReturnType = {
  ok: boolean
  /** Lines in the log (complete ones). */
  entries: number
  /** The last seq anchored on chain; undefined when nothing is anchored (or the chain was not consulted). */
  anchoredThrough: number | undefined
  /** Batches anchored on chain. */
  batches: number
  problems: AuditProblem[]
}

export type VerifyAuditLogParameters = {
  dir: string
  /** The account that signs (and anchors) this log. */
  signerAddress: Address
}

type Located = AuditFrame & { line: number }

/** Verifies the log in `dir` and every batch of it anchored on chain. */
export async function verifyAuditLog(ctx: AuditReadContext, params: VerifyAuditLogParameters): Promise<VerifyAuditLogReturnType> {
  const batches = await anchoredBatches(ctx, params.signerAddress)
  return check(params, batches)
}

/**
 * Verifies the log in `dir` without the chain: hashes, signatures, order and links. It cannot see
 * entries dropped from the end, nor a rewrite by the key holder; only verifyAuditLog can.
 */
export async function verifyAuditLogLocally(params: VerifyAuditLogParameters): Promise<VerifyAuditLogReturnType> {
  return check(params, undefined)
}

async function check(params: VerifyAuditLogParameters, batches: AnchoredBatch[] | undefined): Promise<VerifyAuditLogReturnType> {
  const { lines, torn } = await readLogLines(auditPaths(params.dir).log)
  const problems: AuditProblem[] = []
  const bySeq = new Map<number, Located>()
  /** Seqs of lines too damaged to read; reported as changed, so not again as dropped. */
  const unreadable = new Set<number>()
  const order: Located[] = []
  let lastSeq = -1
  /** Burst signatures already recovered: one recovery per burst, not per entry. */
  const signatures = new Map<string, boolean>()

  for (const { line, text } of lines) {
    const parsed = parseAuditLine(text)
    let frame: AuditFrame
    if (parsed.ok) {
      frame = parsed.entry
      if (hashAuditEntry(parsed.entry) !== parsed.entry.hash) {
        problems.push({
          seq: frame.seq,
          kind: 'changed',
          line,
          message: `Entry ${frame.seq} (line ${line}) was changed: its fields no longer match its hash.`,
        })
      }
    } else if (parsed.frame) {
      frame = parsed.frame
      problems.push({ seq: frame.seq, kind: 'changed', line, message: `Entry ${frame.seq} (line ${line}) was changed: ${parsed.error}.` })
    } else {
      const seq = lastSeq + 1
      unreadable.add(seq)
      problems.push({ seq, kind: 'changed', line, message: `Line ${line} (about entry ${seq}) is damaged: ${parsed.error}.` })
      lastSeq = seq
      continue
    }
    lastSeq = frame.seq
    if (!(await isAuditEntrySignedBy(frame, params.signerAddress, signatures))) {
      problems.push({
        seq: frame.seq,
        kind: 'bad-signature',
        line,
        message: `Entry ${frame.seq} (line ${line}) is not signed by the log's key ${params.signerAddress}.`,
      })
    }
    const seen = bySeq.get(frame.seq)
    if (seen) {
      problems.push({
        seq: frame.seq,
        kind: 'broken-chain',
        line,
        message: `Entry ${frame.seq} appears twice (lines ${seen.line} and ${line}): the chain forks.`,
      })
      continue
    }
    const located = { seq: frame.seq, prev: frame.prev, hash: frame.hash, sig: frame.sig, line }
    bySeq.set(frame.seq, located)
    order.push(located)
  }
  if (torn !== undefined) {
    const seq = lastSeq + 1
    unreadable.add(seq)
    problems.push({
      seq,
      kind: 'changed',
      line: lines.length + 1,
      message: `The log ends with an incomplete line (about entry ${seq}): a crash during a write, an append in progress, or tampering.`,
    })
  }

  // Order: entries outside the longest run already in seq order are the ones moved.
  const inOrder = new Set(longestIncreasingRun(order.map((e) => e.seq)))
  for (const e of order) {
    if (!inOrder.has(e.seq)) {
      problems.push({ seq: e.seq, kind: 'reordered', line: e.line, message: `Entry ${e.seq} (line ${e.line}) is out of order.` })
    }
  }

  // Gaps, up to the newest entry in the file or the newest anchored on chain, whichever is later.
  const anchoredThrough = batches && batches.length > 0 ? batches[batches.length - 1]!.lastSeq : undefined
  let newest = lastSeq
  for (const seq of bySeq.keys()) newest = Math.max(newest, seq)
  for (const seq of unreadable) newest = Math.max(newest, seq)
  const upTo = Math.max(newest, anchoredThrough ?? -1)
  let gapStart: number | undefined
  for (let seq = 0; seq <= upTo + 1; seq++) {
    const present = seq > upTo || bySeq.has(seq) || unreadable.has(seq)
    if (!present && gapStart === undefined) gapStart = seq
    if (present && gapStart !== undefined) {
      const last = seq - 1
      const what = gapStart === last ? `Entry ${gapStart} is` : `Entries ${gapStart}..${last} are`
      const where = gapStart > newest ? ' (anchored on chain, but the log ends before)' : ''
      problems.push({ seq: gapStart, kind: 'dropped', message: `${what} missing from the log${where}.` })
      gapStart = undefined
    }
  }

  // Links, where both ends are present.
  for (const e of [...bySeq.values()].sort((a, b) => a.seq - b.seq)) {
    if (e.seq === 0) {
      if (e.prev !== GENESIS_PREV) {
        problems.push({ seq: 0, kind: 'broken-chain', line: e.line, message: 'Entry 0 does not start the chain: its prev is not zero.' })
      }
      continue
    }
    const before = bySeq.get(e.seq - 1)
    if (before && before.hash !== e.prev) {
      problems.push({
        seq: e.seq,
        kind: 'broken-chain',
        line: e.line,
        message: `Entry ${e.seq} (line ${e.line}) does not link to entry ${e.seq - 1}: its prev is not that entry's hash.`,
      })
    }
  }

  // Anchors: each batch's root over the log's [seq, hash] leaves, and its head.
  for (const batch of batches ?? []) {
    const leaves: Located[] = []
    for (let seq = batch.firstSeq; seq <= batch.lastSeq; seq++) {
      const e = bySeq.get(seq)
      if (e) leaves.push(e)
    }
    // A batch with missing or unreadable entries cannot be recomputed; those are reported already.
    if (leaves.length !== batch.lastSeq - batch.firstSeq + 1) continue
    const range = `entries ${batch.firstSeq}..${batch.lastSeq}`
    if (auditBatchRoot(leaves) !== batch.root) {
      problems.push({
        seq: batch.firstSeq,
        kind: 'root-mismatch',
        message: `Batch ${batch.index} (${range}): the log's Merkle root is not the one anchored on chain, so an entry was rewritten.`,
      })
    }
    const head = leaves[leaves.length - 1]!
    if (head.hash !== batch.head) {
      problems.push({
        seq: batch.lastSeq,
        kind: 'head-mismatch',
        line: head.line,
        message: `Batch ${batch.index} (${range}): entry ${batch.lastSeq}'s hash is not the head anchored on chain.`,
      })
    }
  }

  problems.sort((a, b) => a.seq - b.seq)
  return { ok: problems.length === 0, entries: lines.length, anchoredThrough, batches: batches?.length ?? 0, problems }
}

/** One longest strictly increasing subsequence of `values` (O(n log n)). */
function longestIncreasingRun(values: readonly number[]): number[] {
  const tails: number[] = [] // tails[k]: index of the smallest tail of a run of length k + 1
  const previous: number[] = new Array(values.length).fill(-1)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    let lo = 0
    let hi = tails.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (values[tails[mid]!]! < v) lo = mid + 1
      else hi = mid
    }
    if (lo > 0) previous[i] = tails[lo - 1]!
    tails[lo] = i
  }
  const run: number[] = []
  for (let i = tails.length > 0 ? tails[tails.length - 1]! : -1; i >= 0; i = previous[i]!) run.push(values[i]!)
  return run.reverse()
}
