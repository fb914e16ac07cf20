import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Account, getAddress, getContract, type Hex, type TransactionReceipt } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { auditAnchorAbi } from '../../src/contracts/index.js'
import { bytes32, type Deployed, type Env, expectEvent, expectRevert, randomBytes32, startEnv, ZERO_BYTES32 } from './fixture.js'

const UINT64_MAX = 2n ** 64n - 1n

describe('AuditAnchor', () => {
  let env: Env
  before(async () => {
    env = await startEnv()
  })
  after(async () => {
    await env?.stop()
  })

  function auditAs(d: Deployed, account: Account) {
    return getContract({
      address: getAddress(d.audit),
      abi: auditAnchorAbi,
      client: { public: env.publicClient, wallet: env.wallet(account) },
    })
  }

  /** `log` anchors a batch; returns the receipt, the decoded event and the batch fields. */
  async function anchor(
    d: Deployed,
    log: Account,
    firstSeq: bigint,
    lastSeq: bigint,
    root: Hex = randomBytes32(),
    head: Hex = randomBytes32(),
  ) {
    const receipt: TransactionReceipt = await env.mined(auditAs(d, log).write.anchor([root, head, firstSeq, lastSeq]))
    const event = expectEvent(receipt, auditAnchorAbi, d.audit, 'AuditBatchAnchored')
    return { receipt, event, root, head }
  }

  describe('a fresh log', () => {
    let d: Deployed
    let log: PrivateKeyAccount
    before(async () => {
      d = await env.deploy()
      log = await env.newAccount()
    })

    it('has no batches; batchAt(0) panics with an out-of-bounds index (0x32)', async () => {
      const c = auditAs(d, log)
      assert.equal(await c.read.batchCount([log.address]), 0n)
      await expectRevert(c.read.batchAt([log.address, 0n]), 'Panic', [0x32n])
    })

    it('refuses a first batch that does not start at 0 (AuditAnchorNotContiguous(0, firstSeq))', async () => {
      const c = auditAs(d, log)
      await expectRevert(c.write.anchor([randomBytes32(), randomBytes32(), 1n, 5n]), 'AuditAnchorNotContiguous', [0n, 1n])
      await expectRevert(c.write.anchor([randomBytes32(), randomBytes32(), UINT64_MAX, UINT64_MAX]), 'AuditAnchorNotContiguous', [
        0n,
        UINT64_MAX,
      ])
      assert.equal(await c.read.batchCount([log.address]), 0n)
    })

    it('returns the new batch index (0 for the first batch)', async () => {
      const { result } = await env.publicClient.simulateContract({
        address: getAddress(d.audit),
        abi: auditAnchorAbi,
        functionName: 'anchor',
        args: [bytes32(1), bytes32(2), 0n, 0n],
        account: log.address,
      })
      assert.equal(result, 0n)
    })
  })

  describe('contiguity', () => {
    let d: Deployed
    let log: PrivateKeyAccount
    let first: Awaited<ReturnType<typeof anchor>>

    before(async () => {
      d = await env.deploy()
      log = await env.newAccount()
      first = await anchor(d, log, 0n, 9n)
    })

    it('anchors entries 0..9 and emits AuditBatchAnchored with the log, index, root, head and range', () => {
      assert.deepEqual(first.event, {
        log: log.address,
        batchIndex: 0n,
        root: first.root,
        head: first.head,
        firstSeq: 0n,
        lastSeq: 9n,
      })
    })

    it('stores the batch (batchCount, batchAt with anchoredAt = the block time)', async () => {
      const c = auditAs(d, log)
      assert.equal(await c.read.batchCount([log.address]), 1n)
      assert.deepEqual(await c.read.batchAt([log.address, 0n]), {
        root: first.root,
        head: first.head,
        firstSeq: 0n,
        lastSeq: 9n,
        anchoredAt: Number(await env.timestampOf(first.receipt)),
      })
    })

    it('refuses an overlap, a gap or a restart (AuditAnchorNotContiguous(10, firstSeq))', async () => {
      const c = auditAs(d, log)
      for (const [firstSeq, lastSeq] of [
        [9n, 12n],
        [5n, 20n],
        [11n, 12n],
        [0n, 3n],
        [0n, 9n],
      ] as const) {
        await expectRevert(c.write.anchor([randomBytes32(), randomBytes32(), firstSeq, lastSeq]), 'AuditAnchorNotContiguous', [
          10n,
          firstSeq,
        ])
      }
      assert.equal(await c.read.batchCount([log.address]), 1n)
    })

    it('accepts the next batch at lastSeq + 1, including a one-entry batch', async () => {
      const second = await anchor(d, log, 10n, 10n)
      assert.equal(second.event.batchIndex, 1n)
      assert.equal(second.event.firstSeq, 10n)
      assert.equal(second.event.lastSeq, 10n)
      const third = await anchor(d, log, 11n, 1000n)
      assert.equal(third.event.batchIndex, 2n)
      const c = auditAs(d, log)
      assert.equal(await c.read.batchCount([log.address]), 3n)
      const stored = await c.read.batchAt([log.address, 2n])
      assert.deepEqual([stored.root, stored.head, stored.firstSeq, stored.lastSeq], [third.root, third.head, 11n, 1000n])
      // Earlier batches are untouched.
      assert.equal((await c.read.batchAt([log.address, 0n])).root, first.root)
      assert.equal((await c.read.batchAt([log.address, 1n])).root, second.root)
      await expectRevert(c.read.batchAt([log.address, 3n]), 'Panic', [0x32n])
    })

    it('batches anchored later carry later anchoredAt times', async () => {
      await env.advance(3600)
      const later = await anchor(d, log, 1001n, 1001n)
      const c = auditAs(d, log)
      const prev = await c.read.batchAt([log.address, 2n])
      const last = await c.read.batchAt([log.address, 3n])
      assert.equal(last.anchoredAt, Number(await env.timestampOf(later.receipt)))
      assert.ok(last.anchoredAt >= prev.anchoredAt + 3600)
    })
  })

  describe('invalid batches', () => {
    let d: Deployed
    let log: PrivateKeyAccount
    before(async () => {
      d = await env.deploy()
      log = await env.newAccount()
    })

    it('refuses a zero root (AuditAnchorInvalidBatch), before checking contiguity', async () => {
      const c = auditAs(d, log)
      await expectRevert(c.write.anchor([ZERO_BYTES32, randomBytes32(), 0n, 0n]), 'AuditAnchorInvalidBatch')
      await expectRevert(c.write.anchor([ZERO_BYTES32, randomBytes32(), 7n, 9n]), 'AuditAnchorInvalidBatch')
    })

    it('refuses lastSeq < firstSeq (AuditAnchorInvalidBatch)', async () => {
      const c = auditAs(d, log)
      await expectRevert(c.write.anchor([randomBytes32(), randomBytes32(), 1n, 0n]), 'AuditAnchorInvalidBatch')
      await expectRevert(c.write.anchor([randomBytes32(), randomBytes32(), UINT64_MAX, 0n]), 'AuditAnchorInvalidBatch')
      await anchor(d, log, 0n, 4n)
      await expectRevert(c.write.anchor([randomBytes32(), randomBytes32(), 5n, 4n]), 'AuditAnchorInvalidBatch')
    })

    it('a refused batch changes nothing', async () => {
      const c = auditAs(d, log)
      assert.equal(await c.read.batchCount([log.address]), 1n)
      assert.equal((await c.read.batchAt([log.address, 0n])).lastSeq, 4n)
      const next = await anchor(d, log, 5n, 6n)
      assert.equal(next.event.batchIndex, 1n)
    })
  })

  describe('one log per signer', () => {
    let d: Deployed
    let nodeA: PrivateKeyAccount
    let nodeB: PrivateKeyAccount
    let a0: Awaited<ReturnType<typeof anchor>>

    before(async () => {
      d = await env.deploy()
      nodeA = await env.newAccount()
      nodeB = await env.newAccount()
      a0 = await anchor(d, nodeA, 0n, 99n)
    })

    it('a second signer starts its own log at 0, whatever the first has anchored', async () => {
      const c = auditAs(d, nodeB)
      await expectRevert(c.write.anchor([randomBytes32(), randomBytes32(), 100n, 120n]), 'AuditAnchorNotContiguous', [0n, 100n])
      const b0 = await anchor(d, nodeB, 0n, 4n)
      assert.deepEqual(b0.event, { log: nodeB.address, batchIndex: 0n, root: b0.root, head: b0.head, firstSeq: 0n, lastSeq: 4n })
    })

    it('keeps the two logs apart (batchCount, batchAt, next expected sequence)', async () => {
      const c = auditAs(d, nodeA)
      assert.equal(await c.read.batchCount([nodeA.address]), 1n)
      assert.equal(await c.read.batchCount([nodeB.address]), 1n)
      assert.equal((await c.read.batchAt([nodeA.address, 0n])).root, a0.root)
      assert.equal((await c.read.batchAt([nodeA.address, 0n])).lastSeq, 99n)
      assert.equal((await c.read.batchAt([nodeB.address, 0n])).lastSeq, 4n)
      // Each log continues from its own last entry.
      await expectRevert(auditAs(d, nodeB).write.anchor([randomBytes32(), randomBytes32(), 100n, 101n]), 'AuditAnchorNotContiguous', [
        5n,
        100n,
      ])
      await expectRevert(auditAs(d, nodeA).write.anchor([randomBytes32(), randomBytes32(), 5n, 6n]), 'AuditAnchorNotContiguous', [100n, 5n])
      const a1 = await anchor(d, nodeA, 100n, 150n)
      const b1 = await anchor(d, nodeB, 5n, 5n)
      assert.equal(a1.event.log, nodeA.address)
      assert.equal(a1.event.batchIndex, 1n)
      assert.equal(b1.event.log, nodeB.address)
      assert.equal(b1.event.batchIndex, 1n)
    })

    it('nobody can anchor into another signer’s log: the caller is always the log', async () => {
      const intruder = await env.newAccount()
      // Continuing nodeA's sequence from another account starts (and fails to start) the intruder's own log.
      await expectRevert(auditAs(d, intruder).write.anchor([randomBytes32(), randomBytes32(), 151n, 160n]), 'AuditAnchorNotContiguous', [
        0n,
        151n,
      ])
      const own = await anchor(d, intruder, 0n, 0n)
      assert.equal(own.event.log, intruder.address)
      assert.equal(await auditAs(d, intruder).read.batchCount([nodeA.address]), 2n)
      assert.equal((await auditAs(d, intruder).read.batchAt([nodeA.address, 1n])).lastSeq, 150n)
    })

    it('an account with no log has no batches', async () => {
      const nobody = await env.newAccount()
      assert.equal(await auditAs(d, nobody).read.batchCount([nobody.address]), 0n)
    })
  })
})
