/**
 * Against a real anvil with AuditAnchor deployed: anchoring in batches, verification with the
 * chain (changed, reordered, dropped, forged, rewritten by the key holder), receipts, and
 * anchoring while appends run.
 */
import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  type Account,
  type Address,
  createPublicClient,
  createTestClient,
  createWalletClient,
  defineChain,
  getAddress,
  http,
  parseEther,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { type EmbeddedChain, startAnvil } from '../chain/anvil.js'
import { auditAnchorAbi, auditAnchorBytecode } from '../contracts/index.js'
import { ChainError, NotFoundError } from '../errors.js'
import { anchorPending, anchorStatus, readBatchRecords } from './anchor.js'
import { type AuditWriteContext, anchoredBatches } from './chain.js'
import { type AuditEntry, signAuditEntry } from './entry.js'
import { AuditLogError } from './errors.js'
import { type AuditLog, openAuditLog } from './log.js'
import { auditBatchRoot } from './merkle.js'
import { shouldAnchor } from './policy.js'
import { type AuditReceipt, receiptFor, verifyReceipt } from './receipt.js'
import { type AuditProblemKind, verifyAuditLog } from './verify.js'

const DEV_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
const root = mkdtempSync(join(tmpdir(), 'medvault-audit-anchor-'))
let node: EmbeddedChain
let ctx: AuditWriteContext
let fund: (address: Address) => Promise<void>

const actor = privateKeyToAccount(generatePrivateKey()).address
const patient = privateKeyToAccount(generatePrivateKey()).address

before(async () => {
  node = await startAnvil()
  const chain = defineChain({
    id: node.chainId,
    name: 'anvil',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [node.rpcUrl] } },
  })
  const transport = http(node.rpcUrl)
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 50 })
  const walletFor = (account: Account) => createWalletClient({ chain, transport, account, pollingInterval: 50 })
  const hash = await walletFor(privateKeyToAccount(DEV_KEY)).deployContract({ abi: auditAnchorAbi, bytecode: auditAnchorBytecode })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  assert.ok(receipt.contractAddress)
  ctx = { publicClient, walletFor, deployment: { audit: receipt.contractAddress } }
  const testClient = createTestClient({ chain, transport, mode: 'anvil' })
  fund = (address) => testClient.setBalance({ address, value: parseEther('10') })
})

after(async () => {
  await node?.stop()
  rmSync(root, { recursive: true, force: true })
})

let dirs = 0
async function newLog(): Promise<AuditLog> {
  const signer = privateKeyToAccount(generatePrivateKey())
  await fund(signer.address)
  return openAuditLog({ dir: join(root, `log-${dirs++}`), signer, sync: false })
}

async function appendMany(log: AuditLog, n: number): Promise<AuditEntry[]> {
  const out: AuditEntry[] = []
  for (let i = 0; i < n; i++) {
    out.push(
      await log.append({
        actor,
        action: i % 3 === 0 ? 'key-release' : 'read',
        tokenId: BigInt(100 + i),
        patient,
        outcome: i % 4 === 0 ? 'denied' : 'allowed',
        ...(i % 4 === 0 ? { reason: 'ACCESS_DENIED' } : { purpose: 'treatment' }),
      }),
    )
  }
  return out
}

describe('anchorPending', () => {
  it('anchors pending entries in contiguous batches and keeps a local record', async () => {
    const log = await newLog()
    assert.equal(await anchorPending(ctx, log), undefined, 'nothing to anchor in an empty log')
    const entries = await appendMany(log, 10)
    const status = await anchorStatus(ctx, log)
    assert.deepEqual(status, { batches: 0, anchoredThrough: undefined, nextSeq: 0, pending: 10, oldestPendingAt: new Date(entries[0]!.at) })
    assert.equal(shouldAnchor(status, { batchSize: 8, intervalSeconds: 3600 }), true)

    const first = await anchorPending(ctx, log, { maxBatch: 6 })
    assert.ok(first)
    assert.deepEqual(
      { ...first, txHash: undefined },
      {
        batchIndex: 0,
        firstSeq: 0,
        lastSeq: 5,
        root: auditBatchRoot(entries.slice(0, 6)),
        head: entries[5]!.hash,
        txHash: undefined,
        remaining: 4,
      },
    )
    const second = await anchorPending(ctx, log, { maxBatch: 6 })
    assert.ok(second)
    assert.deepEqual([second.batchIndex, second.firstSeq, second.lastSeq, second.remaining], [1, 6, 9, 0])
    assert.equal(await anchorPending(ctx, log), undefined)

    const onChain = await anchoredBatches(ctx, log.address)
    assert.deepEqual(
      onChain.map((b) => [b.index, b.firstSeq, b.lastSeq, b.root, b.head]),
      [
        [0, 0, 5, first.root, first.head],
        [1, 6, 9, second.root, second.head],
      ],
    )
    const records = await readBatchRecords(log.dir)
    assert.deepEqual(
      records.map((r) => [r.index, r.firstSeq, r.lastSeq, r.root, r.head, r.txHash]),
      [
        [0, 0, 5, first.root, first.head, first.txHash],
        [1, 6, 9, second.root, second.head, second.txHash],
      ],
    )
    const after = await anchorStatus(ctx, log)
    assert.deepEqual([after.batches, after.anchoredThrough, after.nextSeq, after.pending], [2, 9, 10, 0])
  })

  it('refuses to anchor a damaged pending entry, or a log that does not continue the anchored head', async () => {
    const log = await newLog()
    await appendMany(log, 4)
    await anchorPending(ctx, log)
    await appendMany(log, 3)
    const file = join(log.dir, 'log.jsonl')
    const good = readFileSync(file, 'utf8')
    const lines = good.trimEnd().split('\n')
    lines[5] = lines[5]!.replace('"treatment"', '"research"')
    writeFileSync(file, `${lines.join('\n')}\n`)
    await assert.rejects(anchorPending(ctx, log), /entry 5 is damaged/)

    // Started afresh (e.g. the log was deleted): the chain expects entry 4 after head 3.
    writeFileSync(file, '')
    const fresh = await openAuditLog({ dir: log.dir, signer: log.signer, sync: false })
    await appendMany(fresh, 6)
    await assert.rejects(anchorPending(ctx, fresh), AuditLogError)
    assert.equal((await anchoredBatches(ctx, log.address)).length, 1)
  })

  it('reports a chain refusal as a ChainError', async () => {
    const log = await openAuditLog({ dir: join(root, 'unfunded'), signer: privateKeyToAccount(generatePrivateKey()), sync: false })
    await appendMany(log, 1)
    await assert.rejects(anchorPending(ctx, log), ChainError)
  })

  it('anchors while appends run, and the result verifies', async () => {
    const log = await newLog()
    // One after another: a burst would be written as one group commit before any anchoring could start.
    const appends = (async () => {
      for (let i = 0; i < 60; i++) await log.append({ actor, action: 'read', tokenId: BigInt(i), outcome: 'allowed' })
    })()
    let done = false
    void appends.then(() => {
      done = true
    })
    let anchoredDuringAppends = 0
    while (!done) {
      if ((await anchorPending(ctx, log, { maxBatch: 10 })) && !done) anchoredDuringAppends++
    }
    await appends
    assert.ok(anchoredDuringAppends > 0, 'some batches were anchored while appends ran')
    while (await anchorPending(ctx, log, { maxBatch: 25 })) {
      // drain
    }
    const result = await verifyAuditLog(ctx, { dir: log.dir, signerAddress: log.address })
    assert.deepEqual(result.problems, [])
    assert.equal(result.entries, 60)
    assert.equal(result.anchoredThrough, 59)
    assert.ok(result.batches >= 3)
  })
})

describe('verifyAuditLog against the chain', () => {
  let log: AuditLog
  let entries: AuditEntry[]
  let copies = 0

  before(async () => {
    log = await newLog()
    entries = await appendMany(log, 10)
    await anchorPending(ctx, log, { maxBatch: 6 }) // entries 0..5
    await anchorPending(ctx, log) // entries 6..9
    entries.push(...(await appendMany(log, 2))) // 10, 11 stay pending
  })

  function tampered(edit: (lines: Record<string, unknown>[]) => (Record<string, unknown> | AuditEntry)[]): string {
    const dir = join(root, `copy-${copies++}`)
    cpSync(log.dir, dir, { recursive: true })
    const file = join(dir, 'log.jsonl')
    const lines = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    const edited = edit(lines)
    writeFileSync(file, edited.length > 0 ? `${edited.map((l) => JSON.stringify(l)).join('\n')}\n` : '')
    return dir
  }

  async function problemsOf(dir: string): Promise<[AuditProblemKind, number][]> {
    const result = await verifyAuditLog(ctx, { dir, signerAddress: log.address })
    assert.equal(result.ok, result.problems.length === 0)
    return result.problems.map((p) => [p.kind, p.seq])
  }

  it('passes the intact log', async () => {
    const result = await verifyAuditLog(ctx, { dir: log.dir, signerAddress: log.address })
    assert.deepEqual(result, { ok: true, entries: 12, anchoredThrough: 9, batches: 2, problems: [] })
  })

  it('detects a changed entry, whatever the field', async () => {
    const changes: Record<string, unknown> = {
      at: '2020-01-01T00:00:00.000Z',
      actor: patient,
      action: 'emergency',
      tokenId: '1',
      patient: actor,
      purpose: undefined,
      outcome: 'denied',
      reason: 'ok',
    }
    for (const [field, value] of Object.entries(changes)) {
      const dir = tampered((lines) => lines.map((l) => (l.seq === 2 ? { ...l, [field]: value } : l)))
      assert.deepEqual(await problemsOf(dir), [['changed', 2]], field)
    }
    const seq = await problemsOf(tampered((lines) => lines.map((l) => (l.seq === 7 ? { ...l, seq: 8 } : l))))
    assert.ok(seq.some(([kind, s]) => kind === 'changed' && s === 8))
    assert.ok(seq.some(([kind, s]) => kind === 'dropped' && s === 7))
  })

  it('detects two swapped entries', async () => {
    const within = tampered((lines) => lines.map((l, i) => (i === 1 ? lines[4]! : i === 4 ? lines[1]! : l)))
    assert.deepEqual(await problemsOf(within), [
      ['reordered', 1],
      ['reordered', 4],
    ])
    const across = tampered((lines) => lines.map((l, i) => (i === 3 ? lines[8]! : i === 8 ? lines[3]! : l)))
    assert.deepEqual(await problemsOf(across), [
      ['reordered', 3],
      ['reordered', 8],
    ])
  })

  it('detects a dropped entry in the middle and at the end of an anchored range', async () => {
    assert.deepEqual(await problemsOf(tampered((lines) => lines.filter((l) => l.seq !== 3))), [['dropped', 3]])
    // Entry 5 ends batch 0.
    assert.deepEqual(await problemsOf(tampered((lines) => lines.filter((l) => l.seq !== 5))), [['dropped', 5]])
    // Entry 9 ends batch 1, and nothing after it remains: only the chain knows it existed.
    const tail = await verifyAuditLog(ctx, { dir: tampered((lines) => lines.slice(0, 9)), signerAddress: log.address })
    assert.deepEqual(
      tail.problems.map((p) => [p.kind, p.seq]),
      [['dropped', 9]],
    )
    assert.match(tail.problems[0]!.message, /anchored on chain, but the log ends before/)
    const all = await verifyAuditLog(ctx, { dir: tampered(() => []), signerAddress: log.address })
    assert.deepEqual(
      all.problems.map((p) => [p.kind, p.seq, p.message]),
      [['dropped', 0, 'Entries 0..9 are missing from the log (anchored on chain, but the log ends before).']],
    )
  })

  it('detects a forged signature', async () => {
    const forger = privateKeyToAccount(generatePrivateKey())
    const sig = await forger.signMessage({ message: { raw: entries[4]!.hash } })
    assert.deepEqual(await problemsOf(tampered((lines) => lines.map((l) => (l.seq === 4 ? { ...l, sig } : l)))), [['bad-signature', 4]])
  })

  it('detects a rewrite by the key holder through the anchored roots and heads', async () => {
    const rewritten: AuditEntry[] = entries.slice(0, 3)
    for (const e of entries.slice(3)) {
      rewritten.push(await signAuditEntry(log.signer, { ...e, outcome: 'allowed', prev: rewritten[rewritten.length - 1]!.hash }))
    }
    assert.deepEqual(await problemsOf(tampered(() => rewritten)), [
      ['root-mismatch', 0],
      ['head-mismatch', 5],
      ['root-mismatch', 6],
      ['head-mismatch', 9],
    ])
    // Rewriting only pending entries is invisible until they are anchored; anchored ones are fixed.
    const pendingOnly = [...entries.slice(0, 10)]
    for (const e of entries.slice(10)) {
      pendingOnly.push(await signAuditEntry(log.signer, { ...e, outcome: 'denied', prev: pendingOnly[pendingOnly.length - 1]!.hash }))
    }
    assert.deepEqual(await problemsOf(tampered(() => pendingOnly)), [])
  })
})

describe('receipts', () => {
  let log: AuditLog

  before(async () => {
    log = await newLog()
    await appendMany(log, 7)
    await anchorPending(ctx, log, { maxBatch: 4 }) // 0..3
    await anchorPending(ctx, log) // 4..6
    await appendMany(log, 1) // 7 pending
  })

  it('proves anchored entries against the chain, also after a JSON round trip', async () => {
    for (const seq of [0, 2, 3, 4, 6]) {
      const receipt = await receiptFor(ctx, log, seq)
      assert.equal(receipt.entry.seq, seq)
      assert.equal(receipt.batchIndex, seq < 4 ? 0 : 1)
      const result = await verifyReceipt(ctx, JSON.parse(JSON.stringify(receipt)) as AuditReceipt, { signerAddress: log.address })
      assert.deepEqual(
        result.checks.map((c) => [c.id, c.ok]),
        [
          ['entry', true],
          ['signature', true],
          ['proof', true],
          ['anchor', true],
        ],
      )
      assert.equal(result.ok, true)
      assert.ok(result.anchoredAt instanceof Date)
    }
  })

  it('fails a receipt with a tweaked entry, proof, root, batch or log', async () => {
    const receipt = await receiptFor(ctx, log, 2)
    const failing = async (r: AuditReceipt, params: { signerAddress?: Address } = {}) => {
      const result = await verifyReceipt(ctx, r, params)
      assert.equal(result.ok, false)
      return result.checks.filter((c) => !c.ok).map((c) => c.id)
    }
    const flipped = receipt.entry.outcome === 'allowed' ? 'denied' : 'allowed'
    assert.deepEqual(await failing({ ...receipt, entry: { ...receipt.entry, outcome: flipped } }), ['entry'])
    assert.deepEqual(await failing({ ...receipt, entry: { ...receipt.entry, tokenId: '999' } }), ['entry'])
    // Re-hashed after the change: the signature and the proof no longer hold.
    const forged = await signAuditEntry(privateKeyToAccount(generatePrivateKey()), { ...receipt.entry, outcome: flipped })
    assert.deepEqual(await failing({ ...receipt, entry: forged }), ['signature', 'proof'])
    // Re-signed by the key holder: only the anchored root gives it away.
    const resigned = await signAuditEntry(log.signer, { ...receipt.entry, outcome: flipped })
    assert.deepEqual(await failing({ ...receipt, entry: resigned }), ['proof'])
    const other = await receiptFor(ctx, log, 5)
    assert.deepEqual(await failing({ ...receipt, proof: other.proof }), ['proof'])
    assert.deepEqual(await failing({ ...receipt, proof: [] }), ['proof'])
    // A self-consistent receipt built on the other batch's root, and a wrong batch for the right root.
    assert.deepEqual(await failing({ ...receipt, batchIndex: 1 }), ['anchor'])
    assert.deepEqual(await failing({ ...receipt, batchIndex: 7 }), ['anchor'])
    assert.deepEqual(await failing(receipt, { signerAddress: actor }), ['signature'])
    assert.deepEqual(await failing({ ...receipt, log: getAddress(actor) }), ['signature', 'anchor'])
    assert.deepEqual(await failing({ ...receipt, log: 'nobody' as Address }), ['signature'])
  })

  it('proves an entry of a burst signed once, with its own Merkle proof to the burst', async () => {
    const burstLog = await newLog()
    const burst = await Promise.all(
      Array.from({ length: 6 }, (_, i) => burstLog.append({ actor, action: 'read', tokenId: BigInt(i + 1), patient, outcome: 'allowed' })),
    )
    assert.ok(new Set(burst.map((e) => e.sig)).size < burst.length)
    await anchorPending(ctx, burstLog)
    const receipt = await receiptFor(ctx, burstLog, 3)
    assert.ok(receipt.entry.proof && receipt.entry.proof.length > 0)
    const result = await verifyReceipt(ctx, JSON.parse(JSON.stringify(receipt)) as AuditReceipt, { signerAddress: burstLog.address })
    assert.deepEqual(
      result.checks.filter((c) => !c.ok),
      [],
    )
    // Another entry's burst proof in this entry: the signature no longer covers it.
    const neighbour = await receiptFor(ctx, burstLog, 4)
    const swapped = await verifyReceipt(ctx, { ...receipt, entry: { ...receipt.entry, proof: neighbour.entry.proof! } })
    assert.deepEqual(
      swapped.checks.filter((c) => !c.ok).map((c) => c.id),
      ['signature'],
    )
  })

  it('has no receipt for a pending entry, nor from a log that no longer matches its anchor', async () => {
    await assert.rejects(receiptFor(ctx, log, 7), NotFoundError)
    await assert.rejects(receiptFor(ctx, log, 70), NotFoundError)
    const dir = join(root, 'receipt-copy')
    cpSync(log.dir, dir, { recursive: true })
    const file = join(dir, 'log.jsonl')
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n')
    const e = JSON.parse(lines[1]!) as AuditEntry
    lines[1] = JSON.stringify(await signAuditEntry(log.signer, { ...e, at: '2020-01-01T00:00:00.000Z' }))
    writeFileSync(file, `${lines.join('\n')}\n`)
    await assert.rejects(receiptFor(ctx, { dir, address: log.address }, 0), /no longer matches batch 0/)
  })
})
