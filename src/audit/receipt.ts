/**
 * Receipts: proof that one entry is in the log as anchored. A receipt carries the entry, the batch
 * index, the batch root and the Merkle proof; anyone with chain access can check it against
 * AuditAnchor without the rest of the log. Receipts are plain JSON (no bigints).
 */
import { type Address, type Hex, getAddress, isAddress } from 'viem'
import { NotFoundError } from '../errors.js'
import { type AuditReadContext, anchoredBatch, anchoredBatchCount, findAnchoredBatch } from './chain.js'
import { type AuditEntry, hashAuditEntry, isAuditEntrySignedBy, parseAuditLine } from './entry.js'
import { AuditLogError } from './errors.js'
import { auditPaths, readLogLines } from './files.js'
import type { AuditLogSource } from './log.js'
import { auditBatchTree, verifyAuditLeaf } from './merkle.js'

export type AuditReceipt = {
  /** The log: the account that signs and anchors it. */
  log: Address
  entry: AuditEntry
  batchIndex: number
  firstSeq: number
  lastSeq: number
  root: Hex
  proof: Hex[]
}

export type ReceiptCheck = {
  id: 'entry' | 'signature' | 'proof' | 'anchor'
  ok: boolean
  message: string
}

export type VerifyReceiptReturnType = {
  ok: boolean
  checks: ReceiptCheck[]
  /** When the chain recorded the batch, if the anchor check got that far. */
  anchoredAt: Date | undefined
}

/**
 * A receipt for entry `seq`. Throws NotFoundError when the entry is not anchored yet, and
 * AuditLogError when the local log no longer gives the anchored root.
 */
export async function receiptFor(ctx: AuditReadContext, log: AuditLogSource, seq: number): Promise<AuditReceipt> {
  const batch = await findAnchoredBatch(ctx, log.address, seq)
  if (!batch) {
    throw new NotFoundError(`Audit log entry ${seq} is not anchored yet.`, { hint: 'Anchor the pending entries (anchorPending) first.' })
  }
  const { lines } = await readLogLines(auditPaths(log.dir).log)
  const entries: AuditEntry[] = []
  for (let s = batch.firstSeq; s <= batch.lastSeq; s++) {
    const line = lines[s]
    const parsed = line ? parseAuditLine(line.text) : undefined
    if (!parsed?.ok || parsed.entry.seq !== s) {
      throw new AuditLogError(`Audit log entry ${s} (anchored in batch ${batch.index}) is missing or damaged.`, {
        hint: 'Run verifyAuditLog.',
      })
    }
    entries.push(parsed.entry)
  }
  const tree = auditBatchTree(entries)
  if (tree.root !== batch.root) {
    throw new AuditLogError(`The audit log no longer matches batch ${batch.index} anchored on chain.`, { hint: 'Run verifyAuditLog.' })
  }
  const index = seq - batch.firstSeq
  return {
    log: getAddress(log.address),
    entry: entries[index]!,
    batchIndex: batch.index,
    firstSeq: batch.firstSeq,
    lastSeq: batch.lastSeq,
    root: batch.root,
    proof: tree.getProof(index) as Hex[],
  }
}

/**
 * Checks a receipt: the entry's fields give its hash, the log's key signed it (the entry, or its
 * burst through the entry's own proof), the proof puts
 * `[seq, hash]` under the root, and that root is the one AuditAnchor holds for this log and batch
 * (which covers the entry's seq). Pass `signerAddress` to insist on a particular log, not just the
 * one the receipt names.
 */
export async function verifyReceipt(
  ctx: AuditReadContext,
  receipt: AuditReceipt,
  params: { signerAddress?: Address } = {},
): Promise<VerifyReceiptReturnType> {
  const checks: ReceiptCheck[] = []
  let anchoredAt: Date | undefined
  const done = (): VerifyReceiptReturnType => ({ ok: checks.every((c) => c.ok), checks, anchoredAt })
  const entry = receipt.entry
  const seq = entry?.seq

  const parsed = parseAuditLine(JSON.stringify(entry ?? null))
  if (!parsed.ok) {
    checks.push({ id: 'entry', ok: false, message: `The receipt's entry is malformed: ${parsed.error}.` })
    return done()
  }
  const hashOk = hashAuditEntry(parsed.entry) === parsed.entry.hash
  checks.push({
    id: 'entry',
    ok: hashOk,
    message: hashOk ? `Entry ${seq}'s fields give its hash.` : `Entry ${seq} was changed: its fields no longer match its hash.`,
  })

  const expected = params.signerAddress
  if (typeof receipt.log !== 'string' || !isAddress(receipt.log, { strict: false })) {
    checks.push({ id: 'signature', ok: false, message: "The receipt does not name its log's address." })
    return done()
  }
  if (expected && expected.toLowerCase() !== receipt.log.toLowerCase()) {
    checks.push({ id: 'signature', ok: false, message: `The receipt is for log ${receipt.log}, not ${expected}.` })
  } else {
    const sigOk = await isAuditEntrySignedBy(parsed.entry, receipt.log)
    checks.push({
      id: 'signature',
      ok: sigOk,
      message: sigOk
        ? `Entry ${seq} is signed by the log's key ${receipt.log}.`
        : `Entry ${seq} is not signed by the log's key ${receipt.log}.`,
    })
  }

  const proofOk = Array.isArray(receipt.proof) && verifyAuditLeaf(receipt.root, { seq: entry.seq, hash: entry.hash }, receipt.proof)
  checks.push({
    id: 'proof',
    ok: proofOk,
    message: proofOk
      ? `The Merkle proof puts entry ${seq} under root ${receipt.root}.`
      : `The Merkle proof does not put entry ${seq} under the root.`,
  })

  const count = await anchoredBatchCount(ctx, receipt.log)
  if (!Number.isSafeInteger(receipt.batchIndex) || receipt.batchIndex < 0 || receipt.batchIndex >= count) {
    checks.push({ id: 'anchor', ok: false, message: `Log ${receipt.log} has no batch ${receipt.batchIndex} on chain.` })
    return done()
  }
  const batch = await anchoredBatch(ctx, receipt.log, receipt.batchIndex)
  anchoredAt = batch.anchoredAt
  const covers = batch.firstSeq <= entry.seq && entry.seq <= batch.lastSeq
  const anchorOk = batch.root === receipt.root && covers
  checks.push({
    id: 'anchor',
    ok: anchorOk,
    message: anchorOk
      ? `Batch ${batch.index} (entries ${batch.firstSeq}..${batch.lastSeq}) was anchored with this root at ${batch.anchoredAt.toISOString()}.`
      : batch.root !== receipt.root
        ? `The root is not the one anchored on chain for batch ${batch.index}.`
        : `Batch ${batch.index} covers entries ${batch.firstSeq}..${batch.lastSeq}, not entry ${seq}.`,
  })
  return done()
}
