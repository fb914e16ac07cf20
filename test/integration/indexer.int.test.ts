/**
 * The indexer on a real anvil chain, into SQLite and PostgreSQL side by side: what it indexes must
 * match what the chain says, a deleted index rebuilds to the same rows, and reorgs (anvil
 * evm_snapshot / evm_revert, then different transactions) leave no orphaned rows.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createTestClient, http } from 'viem'
import {
  type GrantInfo,
  createGrant,
  listEmergencies,
  listGrants,
  openEmergency,
  revokeGrant,
  setDelegate,
  setEmergencyProvider,
} from '../../src/consent/grants.js'
import { listProviders, setProviderStatus } from '../../src/directory/index.js'
import { medicalRecordAbi } from '../../src/contracts/index.js'
import { buildTagTable } from '../../src/core/index.js'
import {
  type IndexStore,
  type Indexer,
  classifyRecord,
  createIndexer,
  openPostgresIndex,
  openSqliteIndex,
  tagsOfCategory,
} from '../../src/indexer/index.js'
import { documentFromFhir, issueRecord, listRecords } from '../../src/records/index.js'
import { snapshot } from './indexerStoreSuite.js'
import { type TestPostgres, skipPostgres, startPostgres } from './postgres.js'
import { type TestStack, issueExample, openTestStack, registrar } from './stack.js'

type Backend = { name: string; store: IndexStore; indexer: Indexer; reopen(): Promise<IndexStore> }

describe('indexer on a real chain (SQLite and PostgreSQL)', () => {
  let s: TestStack
  let pg: TestPostgres | undefined
  const dir = mkdtempSync(join(tmpdir(), 'medvault-indexer-'))
  const backends: Backend[] = []
  const a = (name: string) => s.accounts[name]!
  const mv = () => s.mv
  const patients = () => [a('alice').address, a('bob').address]
  const testClient = () => createTestClient({ mode: 'anvil', chain: mv().chain, transport: http(mv().rpcUrl) })
  /** Reverts the chain to a snapshot (nonces follow by themselves: see src/chain/transactions.ts). */
  async function revert(id: Parameters<ReturnType<typeof testClient>['revert']>[0]['id']) {
    await testClient().revert({ id })
  }
  const head = () => mv().publicClient.getBlockNumber({ cacheTime: 0 })
  const chainNow = async () => Number((await mv().publicClient.getBlock()).timestamp)
  const grantIds: bigint[] = []
  const tokens: Record<string, bigint> = {}

  const indexerFor = (store: IndexStore, options: Parameters<typeof createIndexer>[2] = {}) =>
    createIndexer({ publicClient: mv().publicClient, deployment: mv().deployment }, store, options)

  async function syncAll() {
    return Promise.all(backends.map((b) => b.indexer.sync()))
  }

  async function grant(from: string, to: string, terms: Parameters<typeof createGrant>[1]['terms'], seconds = 3600) {
    const { grantId } = await createGrant(mv(), {
      grantor: a(from),
      patient: a(from).address,
      grantee: a(to).address,
      terms,
      expiresAt: new Date(((await chainNow()) + seconds) * 1000),
      purpose: 'treatment',
    })
    return grantId
  }

  async function amend(tokenId: bigint, file: string) {
    const doc = documentFromFhir(readFileSync(new URL(`../../examples/fhir/${file}`, import.meta.url)))
    const { tokenId: amended } = await issueRecord(mv(), {
      issuer: a('lab'),
      patient: a('alice'),
      content: doc.content,
      contentType: doc.contentType,
      category: doc.category,
      sensitivity: doc.sensitivity,
      consent: { patient: a('alice') },
      supersedes: tokenId,
    })
    return amended
  }

  /** The index says what the chain says: records, grants, providers, delegates, emergency windows. */
  async function assertMatchesChain(store: IndexStore, label: string) {
    for (const patient of patients()) {
      const chain = await listRecords(mv(), { patient })
      const indexed = await store.recordsOf(patient, { includeSuperseded: true })
      assert.deepEqual(
        indexed.map((r) => ({
          tokenId: r.tokenId,
          owner: r.patient,
          commitment: r.commitment,
          cid: r.cid,
          issuer: r.issuer,
          issuedAt: r.issuedAt.getTime(),
          tag: r.tag,
          supersedes: r.supersedes ?? 0n,
          supersededBy: r.supersededBy ?? 0n,
        })),
        chain.map((r) => ({
          tokenId: r.tokenId,
          owner: r.owner,
          commitment: r.commitment,
          cid: r.cid.toString(),
          issuer: r.issuer,
          issuedAt: r.issuedAt.getTime(),
          tag: r.tag.toLowerCase(),
          supersedes: r.supersedes,
          supersededBy: r.supersededBy,
        })),
        `${label}: records of ${patient}`,
      )
      const chainGrants = await listGrants(mv(), patient)
      const terms = (g: Omit<GrantInfo, 'active' | 'categories' | 'sensitive' | 'unknownTags'>) => ({
        grantId: g.grantId,
        patient: g.patient,
        grantee: g.grantee,
        scope: g.scope,
        tokenIds: g.tokenIds,
        tags: g.tags,
        purpose: g.purpose,
        createdAt: g.createdAt.getTime(),
        expiresAt: g.expiresAt.getTime(),
        revokedAt: g.revokedAt?.getTime(),
      })
      assert.deepEqual((await store.grantsOf(patient)).map(terms), chainGrants.map(terms), `${label}: grants of ${patient}`)
      assert.deepEqual(
        (await store.emergenciesOf(patient)).map((e) => [e.provider, e.until.getTime(), e.reasonHash]),
        (await listEmergencies(mv(), patient)).map((e) => [e.provider, e.until.getTime(), e.reasonHash]),
        `${label}: emergency windows of ${patient}`,
      )
    }
    assert.deepEqual(
      (await store.providers()).map((p) => [p.address, p.name, p.status, p.encryptionKey]),
      (await listProviders(mv())).map((p) => [p.address, p.name, p.status, p.encryptionKey]),
      `${label}: providers`,
    )
    const status = await store.status()
    assert.equal(status.lastBlock, await head(), `${label}: indexed up to the head`)
  }

  before(async () => {
    s = await openTestStack({ providers: { lab: 'Lab A', clinic: 'Clinic B' }, others: ['alice', 'bob', 'insurer'] })
    const sqlitePath = join(dir, 'index.sqlite')
    const sqlite = await openSqliteIndex(sqlitePath)
    backends.push({ name: 'SQLite', store: sqlite, indexer: indexerFor(sqlite), reopen: () => openSqliteIndex(sqlitePath) })
    if (!skipPostgres) {
      pg = await startPostgres()
      const url = pg.url
      const postgres = await openPostgresIndex(url)
      backends.push({ name: 'PostgreSQL', store: postgres, indexer: indexerFor(postgres), reopen: () => openPostgresIndex(url) })
    }
  })

  after(async () => {
    for (const b of backends) {
      await b.indexer.stop()
      await b.store.close()
    }
    await pg?.stop()
    await s?.dispose()
    rmSync(dir, { recursive: true, force: true })
  })

  it('indexes records, amendments, grants, revocations, providers, delegates and break-glass as the chain has them', async () => {
    tokens.glucose = await issueExample(s, 'glucose.json', 'lab', 'alice')
    tokens.ekg = await issueExample(s, 'ekg.json', 'clinic', 'alice')
    tokens.therapy = await issueExample(s, 'therapy-note.json', 'clinic', 'alice')
    tokens.immunization = await issueExample(s, 'immunization.json', 'lab', 'bob')
    tokens.corrected = await amend(tokens.glucose, 'glucose-corrected.json')
    grantIds.push(await grant('alice', 'insurer', { scope: 'records', tokenIds: [tokens.ekg, tokens.corrected] }))
    grantIds.push(await grant('alice', 'clinic', { scope: 'categories', categories: ['laboratory'] }, 7200))
    grantIds.push(await grant('bob', 'insurer', { scope: 'all' }))
    await revokeGrant(mv(), { grantor: a('alice').chainAccount, grantId: grantIds[0]! })
    await setDelegate(mv(), { patient: a('alice'), delegate: a('bob').address, enabled: true })
    await setEmergencyProvider(mv(), { registrar, provider: a('clinic').address, allowed: true })
    await openEmergency(mv(), { provider: a('clinic').chainAccount, patient: a('bob').address, reason: 'unconscious in A&E' })

    const headBlock = await head()
    for (const [i, result] of (await syncAll()).entries()) {
      const { name, store } = backends[i]!
      assert.equal(result.lastBlock, headBlock, name)
      assert.equal(result.headBlock, headBlock, name)
      assert.ok(result.events >= 20, `${name}: ${result.events} events`)
      assert.equal(result.reorg, undefined, name)
      await assertMatchesChain(store, name)

      const alice = a('alice').address
      const aliceTable = buildTagTable(a('alice').tagSecret)
      assert.deepEqual(
        (await store.recordsOf(alice)).map((r) => r.tokenId),
        [tokens.ekg, tokens.therapy, tokens.corrected],
        `${name}: superseded records left out by default`,
      )
      assert.deepEqual(
        (await store.recordsOf(alice, { tags: tagsOfCategory(aliceTable, 'laboratory'), includeSuperseded: true })).map((r) => r.tokenId),
        [tokens.glucose, tokens.corrected],
      )
      assert.deepEqual(
        (await store.recordsOf(alice, { issuer: a('clinic').address })).map((r) => r.tokenId),
        [tokens.ekg, tokens.therapy],
      )
      // The index holds tags: the patient's table names them, and a reader without it sees "unknown".
      const therapy = classifyRecord((await store.record(tokens.therapy!))!, aliceTable)
      assert.equal(therapy.category, 'mental-health')
      assert.notEqual(therapy.sensitivity, 0)
      assert.equal(classifyRecord((await store.record(tokens.therapy!))!, undefined).category, 'unknown')
      assert.deepEqual(await store.recordsOf(alice, { tags: tagsOfCategory(undefined, 'laboratory') }), [])
      const [revoked, active] = await store.grantsOf(alice)
      assert.deepEqual(
        revoked?.tokenIds,
        [tokens.ekg, tokens.corrected].sort((x, y) => (x! < y! ? -1 : 1)),
      )
      assert.equal(revoked?.revokedBy, alice)
      assert.equal(active?.revokedAt, undefined)
      const now = new Date((await chainNow()) * 1000)
      assert.deepEqual(
        (await store.grantsTo(a('insurer').address, { activeAt: now })).map((g) => g.grantId),
        [grantIds[2]],
      )
      assert.deepEqual(
        (await store.patientsSharingWith(a('insurer').address, now)).map((p) => p.patient),
        [a('bob').address],
      )
      assert.deepEqual(
        (await store.patientsSharingWith(a('clinic').address, now)).map((p) => [p.patient, p.latestExpiry.getTime()]),
        [[alice, active!.expiresAt.getTime()]],
      )
      assert.deepEqual(
        (await store.delegatesOf(alice)).map((d) => d.delegate),
        [a('bob').address],
      )
      assert.deepEqual(
        (await store.providers()).map((p) => [p.name, p.emergency]),
        [
          ['Lab A', false],
          ['Clinic B', true],
        ],
      )
    }
    // Nothing new: a second sync writes nothing.
    for (const result of await syncAll()) assert.equal(result.events, 0)
  })

  it('rebuilds the same rows from the chain after the index is deleted, showing progress', async () => {
    for (const backend of backends) {
      const before = await snapshot(backend.store, patients())
      let rebuilt: IndexStore
      if (backend.name === 'SQLite') {
        const path = join(dir, 'rebuilt.sqlite')
        rebuilt = await openSqliteIndex(path)
        await rebuilt.close()
        rmSync(path)
        rebuilt = await openSqliteIndex(path)
      } else {
        rebuilt = await openPostgresIndex(pg!.createDatabase('rebuilt'))
      }
      try {
        const progress: bigint[] = []
        const result = await indexerFor(rebuilt, { batchBlocks: 7, onProgress: (p) => progress.push(p.lastBlock) }).sync()
        assert.deepEqual(await snapshot(rebuilt, patients()), before, backend.name)
        assert.equal(result.lastBlock, (await backend.store.status()).lastBlock)
        assert.ok(progress.length >= 3, `${backend.name}: ${progress.length} ranges`)
        assert.deepEqual(
          progress,
          [...progress].sort((x, y) => (x < y ? -1 : 1)),
        )
        assert.equal(progress.at(-1), result.lastBlock)
      } finally {
        await rebuilt.close()
      }
    }

    // The same store emptied and synced again, as `medvault index rebuild` does.
    const [first] = backends
    const before = await snapshot(first!.store, patients())
    await first!.store.reset()
    await first!.indexer.sync()
    assert.deepEqual(await snapshot(first!.store, patients()), before)
  })

  it('after a reorg, drops the orphaned rows, restores what they changed and indexes the new fork', async () => {
    const test = testClient()
    const forkPoint = await head()
    await syncAll()
    const id = await test.snapshot()

    // Fork A: a record for bob, a new grant, a revocation, a suspension.
    const orphan = await issueExample(s, 'glucose.json', 'lab', 'bob')
    const orphanGrant = await grant('bob', 'clinic', { scope: 'records', tokenIds: [orphan] })
    await revokeGrant(mv(), { grantor: a('alice').chainAccount, grantId: grantIds[1]! })
    await setProviderStatus(mv(), registrar, a('clinic').address, 'suspend')
    await setDelegate(mv(), { patient: a('alice').chainAccount, delegate: a('bob').address, enabled: false })
    for (const b of backends) {
      await b.indexer.sync()
      assert.equal((await b.store.record(orphan))?.patient, a('bob').address)
      assert.equal((await b.store.providers())[1]?.status, 'suspended')
      assert.notEqual((await b.store.grantsOf(a('alice').address))[1]?.revokedAt, undefined)
      assert.deepEqual(await b.store.delegatesOf(a('alice').address), [])
    }

    // Fork B from the same point: the same token id goes to alice from the clinic.
    await revert(id)
    assert.equal(await head(), forkPoint)
    const replacement = await issueExample(s, 'ekg.json', 'clinic', 'alice')
    assert.equal(replacement, orphan, 'anvil reuses the token id on the new fork')
    await test.mine({ blocks: 6 })

    for (const b of backends) {
      const result = await b.indexer.sync()
      assert.deepEqual(result.reorg, { rolledBackTo: forkPoint, rebuilt: false }, b.name)
      const record = await b.store.record(replacement)
      assert.equal(record?.patient, a('alice').address, b.name)
      assert.equal(record?.issuer, a('clinic').address)
      assert.equal((await b.store.grantsOf(a('bob').address)).find((g) => g.grantId === orphanGrant)?.tokenIds.length ?? 0, 0)
      assert.equal((await b.store.grantsOf(a('alice').address))[1]?.revokedAt, undefined)
      assert.equal((await b.store.providers())[1]?.status, 'active')
      assert.deepEqual(
        (await b.store.delegatesOf(a('alice').address)).map((d) => d.delegate),
        [a('bob').address],
      )
      await assertMatchesChain(b.store, `${b.name} after the reorg`)
    }
    // And the result is what a fresh index of the new fork holds.
    const fresh = await openSqliteIndex(join(dir, 'fresh-after-reorg.sqlite'))
    try {
      await indexerFor(fresh).sync()
      for (const b of backends) assert.deepEqual(await snapshot(b.store, patients()), await snapshot(fresh, patients()), b.name)
    } finally {
      await fresh.close()
    }
  })

  it('rebuilds from the deployment block after a reorg deeper than its confirmations', async () => {
    const test = testClient()
    const store = await openSqliteIndex(join(dir, 'shallow.sqlite'))
    const indexer = indexerFor(store, { confirmations: 1 })
    try {
      await indexer.sync()
      const id = await test.snapshot()
      await issueExample(s, 'immunization.json', 'lab', 'alice')
      await grant('alice', 'insurer', { scope: 'all' })
      await test.mine({ blocks: 3 })
      assert.equal((await indexer.sync()).reorg, undefined)
      await revert(id)
      const other = await issueExample(s, 'glucose.json', 'clinic', 'bob')
      await test.mine({ blocks: 5 })
      const result = await indexer.sync()
      assert.deepEqual(result.reorg, { rolledBackTo: undefined, rebuilt: true })
      assert.equal((await store.record(other))?.patient, a('bob').address)
      await assertMatchesChain(store, 'rebuilt after a deep reorg')
    } finally {
      await indexer.stop()
      await store.close()
    }
  })

  it('follows the chain in the background between start() and stop(), and survives a restart', async () => {
    for (const b of backends) b.indexer.start()
    const tokenId = await issueExample(s, 'immunization.json', 'lab', 'bob')
    const deadline = Date.now() + 20_000
    for (const b of backends) {
      while (!(await b.store.record(tokenId)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
      assert.equal((await b.store.record(tokenId))?.patient, a('bob').address, `${b.name} picked up the new record`)
      await b.indexer.stop()
    }
    // A restarted process reopens the same index and carries on from its cursor.
    for (const b of backends) {
      const reopened = await b.reopen()
      try {
        assert.deepEqual(await reopened.cursor(), await b.store.cursor())
        const result = await indexerFor(reopened).sync()
        assert.equal(result.reorg, undefined)
        await assertMatchesChain(reopened, `${b.name} reopened`)
      } finally {
        await reopened.close()
      }
    }
  })

  it('gives a Sign-In with Ethereum nonce to exactly one of many concurrent callers', async () => {
    for (const b of backends) {
      const second = await b.reopen()
      try {
        for (let round = 0; round < 3; round++) {
          const nonce = `${b.name}-${round}-${Math.random().toString(36).slice(2)}`
          await b.store.putNonce(nonce, new Date(Date.now() + 60_000))
          const results = await Promise.all(
            Array.from({ length: 40 }, (_, i) => (i % 2 ? second : b.store).consumeNonce(nonce, new Date())),
          )
          assert.equal(results.filter(Boolean).length, 1, `${b.name}: one winner`)
        }
        await b.store.putNonce(`${b.name}-expired`, new Date(Date.now() - 1000))
        assert.equal(await second.consumeNonce(`${b.name}-expired`, new Date()), false)
      } finally {
        await second.close()
      }
    }
  })

  it('leaves a record the patient erased out of listings, and says when it was erased', async () => {
    const tokenId = await issueExample(s, 'immunization.json', 'lab', 'alice')
    const hash = await mv()
      .walletFor(a('alice').chainAccount)
      .writeContract({ address: mv().deployment.records, abi: medicalRecordAbi, functionName: 'erase', args: [tokenId] })
    await mv().publicClient.waitForTransactionReceipt({ hash })
    await syncAll()
    for (const b of backends) {
      const listed = await b.store.recordsOf(a('alice').address, { includeSuperseded: true })
      assert.ok(!listed.some((r) => r.tokenId === tokenId), `${b.name}: erased record not listed`)
      const all = await b.store.recordsOf(a('alice').address, { includeSuperseded: true, includeErased: true })
      assert.ok(all.find((r) => r.tokenId === tokenId)?.erasedAt instanceof Date, `${b.name}: erasure time kept`)
    }
  })
})
