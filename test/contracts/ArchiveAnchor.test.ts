import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Account, type Address, getAddress, getContract, type Hex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { type ArchivedRecord, archiveIdOf, archiveTree, leafValue } from '../../src/archive/leaf.js'
import { archiveAnchorAbi } from '../../src/contracts/index.js'
import {
  type Deployed,
  type Env,
  expectEvent,
  expectRevert,
  randomBytes32,
  registerProvider,
  startEnv,
  UNDER_COVERAGE,
  ZERO_BYTES32,
} from './fixture.js'

const RAW = 0x55

describe('ArchiveAnchor', () => {
  let env: Env
  let d: Deployed
  let lab: PrivateKeyAccount
  let clinic: PrivateKeyAccount
  let stranger: PrivateKeyAccount
  before(async () => {
    env = await startEnv()
    d = await env.deploy()
    lab = await registerProvider(env, d, 'Lab A')
    clinic = await registerProvider(env, d, 'Clinic B')
    stranger = await env.newAccount()
  })
  after(async () => {
    await env?.stop()
  })

  const archiveAs = (account: Account) =>
    getContract({
      address: getAddress(d.archive!),
      abi: archiveAnchorAbi,
      client: { public: env.publicClient, wallet: env.wallet(account) },
    })

  /** `n` records issued by `issuer` to a few patients, sealed a minute ago. */
  async function records(issuer: Address, n: number): Promise<ArchivedRecord[]> {
    const issuedAt = Number(await env.latestTimestamp()) - 60
    const patients = [await env.newAccount(), await env.newAccount(), await env.newAccount()]
    return Array.from({ length: n }, (_, i) => ({
      patient: patients[i % patients.length]!.address,
      commitment: randomBytes32(),
      cidDigest: randomBytes32(),
      cidCodec: RAW,
      issuer,
      issuedAt,
      category: i % 5,
      sensitivity: 0,
    }))
  }

  /** `issuer` anchors a tree over `recs`; returns the tree, the archive id and the receipt. */
  async function anchor(issuer: Account, recs: ArchivedRecord[]) {
    const tree = archiveTree(recs)
    const root = tree.root as Hex
    const manifest = randomBytes32()
    const receipt = await env.mined(archiveAs(issuer).write.anchor([root, recs.length, manifest, RAW]))
    const archiveId = archiveIdOf(issuer.address!, root)
    return { tree, root, manifest, receipt, archiveId }
  }

  const proofOf = (tree: ReturnType<typeof archiveTree>, i: number) => tree.getProof(i) as Hex[]

  describe('anchoring', () => {
    it('an active provider anchors a root in one transaction: ArchiveAnchored(id, issuer, root, count, manifest, codec), archiveOf holds it', async () => {
      const recs = await records(lab.address, 5)
      const { root, manifest, receipt, archiveId } = await anchor(lab, recs)
      const event = expectEvent(receipt, archiveAnchorAbi, d.archive!, 'ArchiveAnchored')
      assert.deepEqual(event, { archiveId, issuer: lab.address, root, count: 5, manifestDigest: manifest, manifestCodec: RAW })
      assert.equal(await archiveAs(lab).read.archiveIdOf([lab.address, root]), archiveId)
      const stored = await archiveAs(lab).read.archiveOf([archiveId])
      assert.deepEqual(stored, {
        root,
        manifestDigest: manifest,
        issuer: lab.address,
        count: 5,
        anchoredAt: Number(await env.timestampOf(receipt)),
        manifestCodec: RAW,
        revokedAt: 0,
      })
    })

    it('refuses an unregistered account (ArchiveAnchorInactiveIssuer)', async () => {
      await expectRevert(archiveAs(stranger).write.anchor([randomBytes32(), 1, randomBytes32(), RAW]), 'ArchiveAnchorInactiveIssuer', [
        stranger.address,
      ])
    })

    it('refuses a suspended provider, and a removed one (ArchiveAnchorInactiveIssuer)', async () => {
      const suspended = await registerProvider(env, d, 'Suspended Lab')
      await env.mined(d.registry.write.suspend([suspended.address]))
      await expectRevert(archiveAs(suspended).write.anchor([randomBytes32(), 1, randomBytes32(), RAW]), 'ArchiveAnchorInactiveIssuer', [
        suspended.address,
      ])
      const removed = await registerProvider(env, d, 'Removed Lab')
      await env.mined(d.registry.write.remove([removed.address]))
      await expectRevert(archiveAs(removed).write.anchor([randomBytes32(), 1, randomBytes32(), RAW]), 'ArchiveAnchorInactiveIssuer', [
        removed.address,
      ])
    })

    it('refuses a zero root, a zero manifest digest and an empty archive (ArchiveAnchorInvalidArchive)', async () => {
      const c = archiveAs(lab)
      await expectRevert(c.write.anchor([ZERO_BYTES32, 1, randomBytes32(), RAW]), 'ArchiveAnchorInvalidArchive')
      await expectRevert(c.write.anchor([randomBytes32(), 1, ZERO_BYTES32, RAW]), 'ArchiveAnchorInvalidArchive')
      await expectRevert(c.write.anchor([randomBytes32(), 0, randomBytes32(), RAW]), 'ArchiveAnchorInvalidArchive')
    })

    it('refuses the same root twice from one issuer; another provider anchoring that root gets its own id', async () => {
      const recs = await records(lab.address, 2)
      const { root, archiveId } = await anchor(lab, recs)
      await expectRevert(archiveAs(lab).write.anchor([root, 2, randomBytes32(), RAW]), 'ArchiveAnchorAlreadyAnchored', [archiveId])
      const other = await env.mined(archiveAs(clinic).write.anchor([root, 2, randomBytes32(), RAW]))
      const event = expectEvent(other, archiveAnchorAbi, d.archive!, 'ArchiveAnchored')
      assert.equal(event.archiveId, archiveIdOf(clinic.address, root))
      assert.notEqual(event.archiveId, archiveId)
      // The leaves name the lab: under the clinic's archive they prove nothing.
      const tree = archiveTree(recs)
      assert.equal(await archiveAs(lab).read.verifyRecord([event.archiveId as Hex, recs[0]!, proofOf(tree, 0)]), false)
      assert.equal(await archiveAs(lab).read.verifyRecord([archiveId, recs[0]!, proofOf(tree, 0)]), true)
    })

    it('costs the same whatever the number of leaves (no per-record storage)', async () => {
      const small = await anchor(lab, await records(lab.address, 1))
      const large = await anchor(lab, await records(lab.address, 1000))
      // Calldata differs only in the count's bytes; storage writes are the same three slots.
      assert.ok(
        Math.abs(Number(small.receipt.gasUsed - large.receipt.gasUsed)) < 100,
        `${small.receipt.gasUsed} vs ${large.receipt.gasUsed}`,
      )
      if (!UNDER_COVERAGE) assert.ok(large.receipt.gasUsed < 110_000n, `anchor used ${large.receipt.gasUsed} gas`)
    })
  })

  describe('verification', () => {
    let recs: ArchivedRecord[]
    let tree: ReturnType<typeof archiveTree>
    let archiveId: Hex
    before(async () => {
      recs = await records(lab.address, 7)
      ;({ tree, archiveId } = await anchor(lab, recs))
    })

    it('leafOf is the StandardMerkleTree leaf hash', async () => {
      for (const [i, r] of recs.entries()) assert.equal(await archiveAs(lab).read.leafOf([r]), tree.leafHash(leafValue(recs[i]!)))
    })

    it('verifyRecord is true for every record with its proof', async () => {
      for (const [i, r] of recs.entries()) assert.equal(await archiveAs(stranger).read.verifyRecord([archiveId, r, proofOf(tree, i)]), true)
    })

    it('verifyRecord is false for a tampered leaf: each field changed in turn', async () => {
      const c = archiveAs(stranger)
      const r = recs[3]!
      const proof = proofOf(tree, 3)
      const tampered: ArchivedRecord[] = [
        { ...r, patient: stranger.address },
        { ...r, commitment: randomBytes32() },
        { ...r, cidDigest: randomBytes32() },
        { ...r, cidCodec: 0x70 },
        { ...r, issuedAt: r.issuedAt - 1 },
        { ...r, category: (r.category + 1) % 10 },
        { ...r, sensitivity: 16 },
        { ...r, issuer: clinic.address },
      ]
      for (const t of tampered) assert.equal(await c.read.verifyRecord([archiveId, t, proof]), false, JSON.stringify(t))
    })

    it('verifyRecord is false for a tampered proof: a sibling changed, one dropped, one added, another leaf’s proof', async () => {
      const c = archiveAs(stranger)
      const proof = proofOf(tree, 2)
      assert.ok(proof.length >= 2)
      assert.equal(await c.read.verifyRecord([archiveId, recs[2]!, [randomBytes32(), ...proof.slice(1)]]), false)
      assert.equal(await c.read.verifyRecord([archiveId, recs[2]!, proof.slice(1)]), false)
      assert.equal(await c.read.verifyRecord([archiveId, recs[2]!, [...proof, randomBytes32()]]), false)
      assert.equal(await c.read.verifyRecord([archiveId, recs[2]!, proofOf(tree, 5)]), false)
      assert.equal(await c.read.verifyRecord([archiveId, recs[2]!, []]), false)
    })

    it('verifyRecord is false against another archive and an unknown id', async () => {
      const other = await anchor(lab, await records(lab.address, 4))
      const c = archiveAs(stranger)
      assert.equal(await c.read.verifyRecord([other.archiveId, recs[0]!, proofOf(tree, 0)]), false)
      assert.equal(await c.read.verifyRecord([randomBytes32(), recs[0]!, proofOf(tree, 0)]), false)
    })

    it('verifyRecord is false for a leaf dated after the anchoring, even one the root holds', async () => {
      const late = (await records(lab.address, 3)).map((r) => ({ ...r, issuedAt: r.issuedAt + 3600 }))
      const a = await anchor(lab, late)
      assert.equal(await archiveAs(stranger).read.verifyRecord([a.archiveId, late[0]!, proofOf(a.tree, 0)]), false)
    })

    it('verifyRecords checks a multiproof: true for a subset, false when one leaf is tampered or the archive is unknown', async () => {
      const c = archiveAs(stranger)
      const multi = tree.getMultiProof([0, 3, 6])
      const leaves = multi.leaves.map((v) => recs.find((r) => leafValue(r)[1] === v[1])!)
      const proof = multi.proof as Hex[]
      assert.equal(await c.read.verifyRecords([archiveId, leaves, proof, multi.proofFlags]), true)
      const tampered = leaves.map((r, i) => (i === 1 ? { ...r, commitment: randomBytes32() } : r))
      assert.equal(await c.read.verifyRecords([archiveId, tampered, proof, multi.proofFlags]), false)
      assert.equal(await c.read.verifyRecords([randomBytes32(), leaves, proof, multi.proofFlags]), false)
      assert.equal(await c.read.verifyRecords([archiveId, [], [], []]), false)
    })

    it('records stay valid when the issuer is suspended after anchoring', async () => {
      const later = await registerProvider(env, d, 'Later Suspended')
      const recs2 = await records(later.address, 3)
      const a = await anchor(later, recs2)
      await env.mined(d.registry.write.suspend([later.address]))
      assert.equal(await archiveAs(stranger).read.verifyRecord([a.archiveId, recs2[1]!, proofOf(a.tree, 1)]), true)
    })
  })

  describe('revocation', () => {
    it('by its issuer: ArchiveRevoked(id, issuer), revokedAt set, and none of its records verifies any more', async () => {
      const recs = await records(lab.address, 3)
      const a = await anchor(lab, recs)
      assert.equal(await archiveAs(stranger).read.verifyRecord([a.archiveId, recs[0]!, proofOf(a.tree, 0)]), true)
      const receipt = await env.mined(archiveAs(lab).write.revoke([a.archiveId]))
      assert.deepEqual(expectEvent(receipt, archiveAnchorAbi, d.archive!, 'ArchiveRevoked'), {
        archiveId: a.archiveId,
        revokedBy: lab.address,
      })
      const stored = await archiveAs(lab).read.archiveOf([a.archiveId])
      assert.equal(stored.revokedAt, Number(await env.timestampOf(receipt)))
      for (const i of [0, 1, 2]) {
        assert.equal(await archiveAs(stranger).read.verifyRecord([a.archiveId, recs[i]!, proofOf(a.tree, i)]), false)
      }
      const multi = a.tree.getMultiProof([0, 1])
      const leaves = multi.leaves.map((v) => recs.find((r) => leafValue(r)[1] === v[1])!)
      assert.equal(await archiveAs(stranger).read.verifyRecords([a.archiveId, leaves, multi.proof as Hex[], multi.proofFlags]), false)
    })

    it('by the registrar: ArchiveRevoked(id, registrar)', async () => {
      const recs = await records(clinic.address, 2)
      const a = await anchor(clinic, recs)
      const receipt = await env.mined(archiveAs(env.admin).write.revoke([a.archiveId]))
      assert.deepEqual(expectEvent(receipt, archiveAnchorAbi, d.archive!, 'ArchiveRevoked'), {
        archiveId: a.archiveId,
        revokedBy: env.admin.address,
      })
      assert.equal(await archiveAs(stranger).read.verifyRecord([a.archiveId, recs[0]!, proofOf(a.tree, 0)]), false)
    })

    it('by a suspended issuer still works (it may always withdraw its own archive)', async () => {
      const p = await registerProvider(env, d, 'Withdrawing Lab')
      const a = await anchor(p, await records(p.address, 2))
      await env.mined(d.registry.write.suspend([p.address]))
      await env.mined(archiveAs(p).write.revoke([a.archiveId]))
      assert.notEqual((await archiveAs(p).read.archiveOf([a.archiveId])).revokedAt, 0)
    })

    it('refuses anyone else, another provider included (ArchiveAnchorNotAllowed)', async () => {
      const a = await anchor(lab, await records(lab.address, 2))
      await expectRevert(archiveAs(stranger).write.revoke([a.archiveId]), 'ArchiveAnchorNotAllowed', [a.archiveId, stranger.address])
      await expectRevert(archiveAs(clinic).write.revoke([a.archiveId]), 'ArchiveAnchorNotAllowed', [a.archiveId, clinic.address])
      assert.equal((await archiveAs(lab).read.archiveOf([a.archiveId])).revokedAt, 0)
    })

    it('refuses an unknown archive (ArchiveAnchorUnknownArchive) and a second revocation (ArchiveAnchorAlreadyRevoked)', async () => {
      const unknown = randomBytes32()
      await expectRevert(archiveAs(env.admin).write.revoke([unknown]), 'ArchiveAnchorUnknownArchive', [unknown])
      const a = await anchor(lab, await records(lab.address, 2))
      const receipt = await env.mined(archiveAs(lab).write.revoke([a.archiveId]))
      const at = Number(await env.timestampOf(receipt))
      await expectRevert(archiveAs(env.admin).write.revoke([a.archiveId]), 'ArchiveAnchorAlreadyRevoked', [a.archiveId, at])
    })
  })
})
