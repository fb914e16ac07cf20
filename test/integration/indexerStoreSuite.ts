/**
 * The IndexStore behaviour suite: every backend (SQLite in src/indexer/sqliteIndex.test.ts,
 * PostgreSQL in test/integration/indexerPostgres.int.test.ts) must pass it unchanged.
 */
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { type Address, type Hex, getAddress, keccak256, toHex } from 'viem'
import { type Category, buildTagTable, categoryTag } from '../../src/core/index.js'
import { type IndexBatch, type IndexEvent, type IndexStore, classifyRecords, tagsOfCategory } from '../../src/indexer/index.js'

const addr = (n: number): Address => getAddress(`0x${n.toString(16).padStart(2, '0').repeat(20)}`)
const hash = (label: string): Hex => keccak256(toHex(label))

export const PATIENT = addr(0xa1)
export const OTHER_PATIENT = addr(0xa2)
export const LAB = addr(0x1a)
export const CLINIC = addr(0x1c)
export const INSURER = addr(0x15)
export const CARER = addr(0xca)

/** The patient's tag secret: the index stores tags only, and a reader with this table maps them back. */
const SECRET = new Uint8Array(32).fill(7)
const TABLE = buildTagTable(SECRET)
const tag = (category: Category, sensitivity = 0) => categoryTag(SECRET, category, sensitivity)

const T0 = 1_700_000_000n
/** Block n is mined at T0 + 10n seconds. */
const timeOf = (block: bigint) => T0 + block * 10n

const scope = {
  chainId: 31337,
  registry: addr(0xe1),
  records: addr(0xe2),
  consent: addr(0xe3),
  deployedAtBlock: '1',
}

type Body = IndexEvent extends infer E
  ? E extends IndexEvent
    ? Omit<E, 'blockNumber' | 'logIndex' | 'txHash' | 'timestamp'>
    : never
  : never

/** Events in block `block`, numbered by position. */
export function eventsAt(block: bigint, bodies: Body[]): IndexEvent[] {
  return bodies.map(
    (body, i) => ({ ...body, blockNumber: block, logIndex: i, txHash: hash(`tx ${block} ${i}`), timestamp: timeOf(block) }) as IndexEvent,
  )
}

const blockHash = (block: bigint, fork = 'a') => hash(`block ${block} ${fork}`)

/** A batch for blocks from..to following `expectedCursor`, with hashes for every event block and `to`. */
export function batch(
  from: bigint,
  to: bigint,
  events: IndexEvent[],
  options: { expectedCursor?: bigint | undefined; finalBlock?: bigint; fork?: string } = {},
): IndexBatch {
  const numbers = [...new Set([...events.map((e) => e.blockNumber), to])].sort((a, b) => (a < b ? -1 : 1))
  return {
    expectedCursor: 'expectedCursor' in options ? options.expectedCursor : from - 1n,
    fromBlock: from,
    toBlock: to,
    toHash: blockHash(to, options.fork),
    headBlock: to + 2n,
    finalBlock: options.finalBlock ?? 0n,
    blocks: numbers.map((n) => ({ block: n, hash: blockHash(n, options.fork) })),
    events,
  }
}

const issued = (
  tokenId: bigint,
  patient: Address,
  issuer: Address,
  category: Category,
  extra: Partial<{ sensitivity: number; supersedes: bigint }> = {},
) =>
  ({
    type: 'RecordIssued',
    tokenId,
    patient,
    issuer,
    commitment: hash(`commitment ${tokenId}`),
    cid: `bafkreitoken${tokenId}`,
    tag: tag(category, extra.sensitivity ?? 0),
    supersedes: extra.supersedes ?? 0n,
  }) as const

/** Blocks 1..10: two providers, three records, two grants, a delegate, an emergency window. */
export function history(): IndexBatch {
  return batch(
    1n,
    10n,
    [
      ...eventsAt(2n, [
        { type: 'ProviderRegistered', provider: LAB, name: 'Lab A', encryptionKey: hash('lab key') },
        { type: 'ProviderRegistered', provider: CLINIC, name: 'Clinic B', encryptionKey: hash('clinic key') },
        { type: 'EmergencyProviderSet', provider: CLINIC, allowed: true },
      ]),
      ...eventsAt(3n, [issued(1n, PATIENT, LAB, 'laboratory'), issued(2n, PATIENT, CLINIC, 'clinical-note')]),
      ...eventsAt(4n, [issued(3n, PATIENT, LAB, 'mental-health', { sensitivity: 1 }), issued(4n, OTHER_PATIENT, LAB, 'laboratory')]),
      ...eventsAt(5n, [
        {
          type: 'GrantCreated',
          grantId: 1n,
          patient: PATIENT,
          grantee: INSURER,
          grantor: PATIENT,
          scope: 'records',
          tokenIds: [2n, 1n],
          tags: [],
          expiresAt: timeOf(5n) + 1000n,
          purpose: 'payment',
        },
        {
          type: 'GrantCreated',
          grantId: 2n,
          patient: PATIENT,
          grantee: CLINIC,
          grantor: PATIENT,
          scope: 'categories',
          tokenIds: [],
          tags: [tag('laboratory')],
          expiresAt: timeOf(5n) + 500n,
          purpose: 'treatment',
        },
        { type: 'DelegateAdded', patient: PATIENT, delegate: CARER },
      ]),
      ...eventsAt(6n, [
        {
          type: 'GrantCreated',
          grantId: 3n,
          patient: OTHER_PATIENT,
          grantee: INSURER,
          grantor: OTHER_PATIENT,
          scope: 'all',
          tokenIds: [],
          tags: [tag('genetic', 8)],
          expiresAt: timeOf(6n) + 3000n,
          purpose: 'research',
        },
        { type: 'EmergencyAccessOpened', patient: PATIENT, provider: CLINIC, until: timeOf(6n) + 86_400n, reasonHash: hash('reason') },
      ]),
    ],
    { expectedCursor: undefined },
  )
}

/** Blocks 11..20 on top of `history()`: an amendment, a revocation, a recovery transfer, provider and delegate changes. */
export function changes(options: { fork?: string; finalBlock?: bigint } = {}): IndexBatch {
  return batch(
    11n,
    20n,
    [
      ...eventsAt(12n, [
        issued(5n, PATIENT, LAB, 'laboratory', { supersedes: 1n }),
        { type: 'RecordAmended', tokenId: 1n, supersededBy: 5n },
        { type: 'GrantRevoked', grantId: 1n, revokedBy: PATIENT },
      ]),
      ...eventsAt(13n, [
        { type: 'ProviderStatusChanged', provider: LAB, status: 'suspended' },
        { type: 'ProviderProfileUpdated', provider: CLINIC, name: 'Clinic B North', encryptionKey: hash('clinic key 2') },
        { type: 'EmergencyProviderSet', provider: CLINIC, allowed: false },
        { type: 'DelegateRemoved', patient: PATIENT, delegate: CARER },
        { type: 'RecordTransferred', tokenId: 4n, from: OTHER_PATIENT, to: PATIENT },
      ]),
      ...eventsAt(14n, [{ type: 'ProviderStatusChanged', provider: LAB, status: 'active' }]),
    ],
    options,
  )
}

/** Everything the store answers, for comparing two states. */
export async function snapshot(store: IndexStore, patients: readonly Address[] = [PATIENT, OTHER_PATIENT]) {
  return {
    records: await Promise.all(patients.map((p) => store.recordsOf(p, { includeSuperseded: true }))),
    grants: await Promise.all(patients.map((p) => store.grantsOf(p))),
    delegates: await Promise.all(patients.map((p) => store.delegatesOf(p))),
    emergencies: await Promise.all(patients.map((p) => store.emergenciesOf(p))),
    providers: await store.providers(),
    counts: (await store.status()).counts,
  }
}

export function describeIndexStore(name: string, open: () => Promise<IndexStore>) {
  describe(`IndexStore behaviour: ${name}`, () => {
    let store: IndexStore
    before(async () => {
      store = await open()
    })
    after(async () => {
      await store?.close()
    })
    beforeEach(async () => {
      await store.reset()
      await store.pruneNonces(new Date(8.64e15))
    })

    it('starts empty', async () => {
      const status = await store.status()
      assert.equal(status.kind, store.kind)
      assert.equal(status.lastBlock, undefined)
      assert.equal(status.lag, undefined)
      assert.deepEqual(status.counts, { records: 0, grants: 0, providers: 0 })
      assert.equal(await store.cursor(), undefined)
      assert.deepEqual(await store.recordsOf(PATIENT), [])
    })

    it('indexes records and answers record queries with filters', async () => {
      assert.equal(await store.applyBatch(history()), true)
      const all = await store.recordsOf(PATIENT)
      assert.deepEqual(
        all.map((r) => r.tokenId),
        [1n, 2n, 3n],
      )
      const first = all[0]!
      assert.equal(first.patient, PATIENT)
      assert.equal(first.issuer, LAB)
      // The index holds the tag only; the patient's table names it.
      assert.equal(first.tag, tag('laboratory'))
      assert.equal('category' in first, false)
      assert.deepEqual(first.issuedAt, new Date(Number(timeOf(3n)) * 1000))
      assert.equal(first.cid, 'bafkreitoken1')
      assert.equal(first.commitment, hash('commitment 1'))
      assert.equal(first.supersedes, undefined)
      assert.equal(first.supersededBy, undefined)
      assert.equal(first.blockNumber, 3n)
      assert.equal(first.logIndex, 0)
      assert.equal(first.txHash, hash('tx 3 0'))
      const named = classifyRecords(all, TABLE)
      assert.equal(named[0]!.category, 'laboratory')
      assert.equal(named[2]!.category, 'mental-health')
      assert.equal(named[2]!.sensitivity, 1)
      // A reader without the patient's table sees "unknown", never a guess.
      assert.deepEqual(
        classifyRecords(all, undefined).map((r) => [r.category, r.sensitivity]),
        [
          ['unknown', undefined],
          ['unknown', undefined],
          ['unknown', undefined],
        ],
      )
      assert.equal(classifyRecords(all, buildTagTable(new Uint8Array(32).fill(8)))[0]!.category, 'unknown')

      const ids = async (filter: Parameters<IndexStore['recordsOf']>[1]) => (await store.recordsOf(PATIENT, filter)).map((r) => r.tokenId)
      assert.deepEqual(await ids({ tags: tagsOfCategory(TABLE, 'laboratory') }), [1n])
      assert.deepEqual(await ids({ tags: tagsOfCategory(TABLE, 'clinical-note') }), [2n])
      assert.deepEqual(await ids({ tags: tagsOfCategory(TABLE, 'mental-health') }), [3n])
      // No table: no tags to filter by, and nothing matches (not everything).
      assert.deepEqual(await ids({ tags: tagsOfCategory(undefined, 'laboratory') }), [])
      assert.deepEqual(await ids({ tags: [tag('laboratory').toUpperCase().replace('0X', '0x') as Hex] }), [1n])
      assert.deepEqual(await ids({ issuer: CLINIC }), [2n])
      assert.deepEqual(await ids({ issuedFrom: new Date(Number(timeOf(4n)) * 1000) }), [3n])
      assert.deepEqual(await ids({ issuedTo: new Date(Number(timeOf(3n)) * 1000) }), [1n, 2n])
      assert.deepEqual(
        await ids({ issuedFrom: new Date(Number(timeOf(3n)) * 1000), issuedTo: new Date(Number(timeOf(3n)) * 1000 + 999) }),
        [1n, 2n],
      )
      assert.deepEqual(await ids({ tags: tagsOfCategory(TABLE, 'laboratory'), issuer: CLINIC }), [])
      assert.deepEqual(
        (await store.recordsOf(OTHER_PATIENT)).map((r) => r.tokenId),
        [4n],
      )
      // Addresses are matched whatever their case.
      assert.equal((await store.recordsOf(PATIENT.toLowerCase() as Address)).length, 3)

      assert.deepEqual(await store.record(2n), all[1])
      assert.equal(await store.record(99n), undefined)
    })

    it('indexes grants: by patient, by grantee, active at a time, and patients sharing with a grantee', async () => {
      await store.applyBatch(history())
      const grants = await store.grantsOf(PATIENT)
      assert.deepEqual(
        grants.map((g) => g.grantId),
        [1n, 2n],
      )
      const g1 = grants[0]!
      assert.equal(g1.grantee, INSURER)
      assert.equal(g1.grantor, PATIENT)
      assert.equal(g1.scope, 'records')
      assert.deepEqual(g1.tokenIds, [1n, 2n])
      assert.equal(g1.purpose, 'payment')
      assert.deepEqual(g1.tags, [])
      assert.deepEqual(g1.createdAt, new Date(Number(timeOf(5n)) * 1000))
      assert.deepEqual(g1.expiresAt, new Date(Number(timeOf(5n) + 1000n) * 1000))
      assert.equal(g1.revokedAt, undefined)
      assert.equal(g1.revokedBy, undefined)
      assert.equal(grants[1]!.scope, 'categories')
      assert.deepEqual(grants[1]!.tags, [tag('laboratory')])
      assert.deepEqual(grants[1]!.tokenIds, [])

      const at = (seconds: bigint) => new Date(Number(seconds) * 1000)
      assert.deepEqual(
        (await store.grantsTo(INSURER)).map((g) => g.grantId),
        [1n, 3n],
      )
      assert.deepEqual(
        (await store.grantsTo(INSURER, { activeAt: at(timeOf(6n) + 10n) })).map((g) => g.grantId),
        [1n, 3n],
      )
      // Grant 1 ends at timeOf(5) + 1000 (exclusive); grant 3 does not exist before block 6.
      assert.deepEqual(
        (await store.grantsTo(INSURER, { activeAt: at(timeOf(5n) + 1000n) })).map((g) => g.grantId),
        [3n],
      )
      assert.deepEqual(
        (await store.grantsTo(INSURER, { activeAt: at(timeOf(5n)) })).map((g) => g.grantId),
        [1n],
      )

      const sharing = await store.patientsSharingWith(INSURER, at(timeOf(6n) + 1n))
      assert.deepEqual(
        sharing,
        [
          { patient: PATIENT, grants: 1, latestExpiry: at(timeOf(5n) + 1000n) },
          { patient: OTHER_PATIENT, grants: 1, latestExpiry: at(timeOf(6n) + 3000n) },
        ].sort((a, b) => (a.patient < b.patient ? -1 : 1)),
      )
      assert.deepEqual(await store.patientsSharingWith(INSURER, at(timeOf(6n) + 5000n)), [])
      assert.deepEqual(
        (await store.patientsSharingWith(CLINIC, at(timeOf(5n) + 1n))).map((p) => p.patient),
        [PATIENT],
      )
    })

    it('indexes providers, delegates and emergency windows', async () => {
      await store.applyBatch(history())
      const providers = await store.providers()
      assert.deepEqual(
        providers.map((p) => [p.address, p.name, p.status, p.emergency]),
        [
          [LAB, 'Lab A', 'active', false],
          [CLINIC, 'Clinic B', 'active', true],
        ],
      )
      assert.deepEqual(providers[0]!.registeredAt, new Date(Number(timeOf(2n)) * 1000))
      assert.equal(providers[0]!.encryptionKey, hash('lab key'))
      assert.deepEqual(
        (await store.delegatesOf(PATIENT)).map((d) => d.delegate),
        [CARER],
      )
      const [window] = await store.emergenciesOf(PATIENT)
      assert.equal(window?.provider, CLINIC)
      assert.deepEqual(window?.until, new Date(Number(timeOf(6n) + 86_400n) * 1000))
      assert.equal(window?.reasonHash, hash('reason'))
    })

    it('applies later changes: amendment, revocation, transfer, provider status and profile, delegate removal', async () => {
      await store.applyBatch(history())
      assert.equal(await store.applyBatch(changes()), true)
      assert.deepEqual(
        (await store.recordsOf(PATIENT)).map((r) => r.tokenId),
        [2n, 3n, 4n, 5n],
      )
      assert.deepEqual(
        (await store.recordsOf(PATIENT, { includeSuperseded: true })).map((r) => [r.tokenId, r.supersedes, r.supersededBy]),
        [
          [1n, undefined, 5n],
          [2n, undefined, undefined],
          [3n, undefined, undefined],
          [4n, undefined, undefined],
          [5n, 1n, undefined],
        ],
      )
      assert.deepEqual(await store.recordsOf(OTHER_PATIENT), [])
      const [g1] = await store.grantsOf(PATIENT)
      assert.deepEqual(g1?.revokedAt, new Date(Number(timeOf(12n)) * 1000))
      assert.equal(g1?.revokedBy, PATIENT)
      assert.deepEqual(
        (await store.grantsTo(INSURER, { activeAt: new Date(Number(timeOf(12n)) * 1000) })).map((g) => g.grantId),
        [3n],
      )
      assert.deepEqual(
        (await store.providers()).map((p) => [p.name, p.status, p.emergency, p.updatedBlock]),
        [
          ['Lab A', 'active', false, 14n],
          ['Clinic B North', 'active', false, 13n],
        ],
      )
      assert.deepEqual(await store.delegatesOf(PATIENT), [])
      const status = await store.status()
      assert.equal(status.lastBlock, 20n)
      assert.equal(status.lastBlockHash, blockHash(20n))
      assert.equal(status.headBlock, 22n)
      assert.equal(status.lag, 2n)
      assert.deepEqual(status.counts, { records: 5, grants: 3, providers: 2 })
    })

    it('refuses a batch that does not follow the cursor, and writes nothing of it', async () => {
      assert.equal(await store.applyBatch(changes()), false)
      assert.equal(await store.cursor(), undefined)
      await store.applyBatch(history())
      assert.equal(await store.applyBatch(history()), false)
      assert.equal(await store.applyBatch({ ...changes(), expectedCursor: 9n }), false)
      assert.deepEqual(await store.cursor(), { block: 10n, hash: blockHash(10n) })
      assert.equal((await store.status()).counts.records, 4)
    })

    it('writes a batch all or nothing: a failing event leaves no row and no cursor behind', async () => {
      const bad = batch(
        1n,
        10n,
        [
          ...eventsAt(3n, [issued(1n, PATIENT, LAB, 'laboratory')]),
          // Token ids are uint64 on chain; a larger one cannot be stored.
          ...eventsAt(4n, [issued(2n ** 70n, PATIENT, LAB, 'laboratory')]),
        ],
        { expectedCursor: undefined },
      )
      await assert.rejects(store.applyBatch(bad), (error: Error) => error.name === 'IndexError')
      assert.equal(await store.cursor(), undefined)
      assert.equal(await store.record(1n), undefined)
      assert.deepEqual((await store.status()).counts, { records: 0, grants: 0, providers: 0 })
      assert.equal(await store.applyBatch(history()), true)
    })

    it('rolls back every change above a block exactly (reorg), then takes a different fork', async () => {
      await store.applyBatch(history())
      const before = await snapshot(store)
      await store.applyBatch(changes())
      assert.notDeepEqual(await snapshot(store), before)
      assert.deepEqual(
        (await store.recentBlocks()).map((b) => b.block),
        [20n, 14n, 13n, 12n, 10n, 6n, 5n, 4n, 3n, 2n],
      )

      await store.rollbackTo(10n)
      assert.deepEqual(await snapshot(store), before)
      assert.deepEqual(await store.cursor(), { block: 10n, hash: blockHash(10n) })
      assert.deepEqual(
        (await store.recentBlocks()).map((b) => b.block),
        [10n, 6n, 5n, 4n, 3n, 2n],
      )

      // A different fork of blocks 11..20: only a new record.
      const fork = batch(11n, 20n, eventsAt(11n, [issued(5n, OTHER_PATIENT, CLINIC, 'immunization')]), { fork: 'b' })
      assert.equal(await store.applyBatch(fork), true)
      assert.equal((await store.record(5n))?.patient, OTHER_PATIENT)
      assert.equal((await store.record(1n))?.supersededBy, undefined)
      assert.equal((await store.providers())[0]?.status, 'active')
      assert.equal((await store.delegatesOf(PATIENT)).length, 1)
      assert.equal((await store.grantsOf(PATIENT))[0]?.revokedAt, undefined)
      assert.deepEqual(await store.cursor(), { block: 20n, hash: blockHash(20n, 'b') })
    })

    it('rolls back into the middle of a batch', async () => {
      await store.applyBatch(history())
      await store.applyBatch(changes())
      await store.rollbackTo(12n)
      assert.equal((await store.record(1n))?.supersededBy, 5n)
      assert.equal((await store.providers())[0]?.status, 'active')
      assert.equal((await store.providers())[0]?.updatedBlock, 2n)
      assert.equal((await store.providers())[1]?.name, 'Clinic B')
      assert.equal((await store.record(4n))?.patient, OTHER_PATIENT)
      assert.deepEqual(await store.cursor(), { block: 12n, hash: blockHash(12n) })
      await assert.rejects(store.rollbackTo(11n), /not among the index's stored blocks/)
    })

    it('keeps no undo entries or old hashes for final blocks, but keeps the newest final hash as an anchor', async () => {
      await store.applyBatch(history())
      await store.applyBatch(changes({ finalBlock: 13n }))
      assert.deepEqual(
        (await store.recentBlocks()).map((b) => b.block),
        [20n, 14n, 13n],
      )
      assert.equal((await store.status()).finalBlock, 13n)
      // Above the final block, changes can still be undone.
      await store.rollbackTo(13n)
      assert.equal((await store.providers())[0]?.status, 'suspended')
      assert.deepEqual(await store.cursor(), { block: 13n, hash: blockHash(13n) })
    })

    it('empties on reset and when bound to another deployment, but keeps nonces', async () => {
      assert.equal(await store.bindScope(scope), false)
      assert.equal(await store.bindScope(scope), false)
      await store.applyBatch(history())
      await store.putNonce('kept', new Date(Date.now() + 60_000))
      assert.equal(await store.bindScope(scope), false)
      assert.equal((await store.status()).counts.records, 4)
      assert.equal(await store.bindScope({ ...scope, records: addr(0xe9) }), true)
      assert.deepEqual((await store.status()).counts, { records: 0, grants: 0, providers: 0 })
      assert.equal(await store.cursor(), undefined)
      await store.applyBatch(history())
      await store.reset()
      assert.equal(await store.cursor(), undefined)
      assert.deepEqual(await store.recentBlocks(), [])
      assert.equal(await store.bindScope({ ...scope, records: addr(0xe9) }), false, 'a reset index still belongs to its deployment')
      assert.equal(await store.consumeNonce('kept', new Date()), true)
    })

    it('survives a restart', async () => {
      await store.applyBatch(history())
      const before = await snapshot(store)
      const again = await open()
      try {
        assert.deepEqual(await snapshot(again), before)
        assert.deepEqual(await again.cursor(), { block: 10n, hash: blockHash(10n) })
      } finally {
        await again.close()
      }
    })

    it('uses a nonce once, never after it expires, and prunes expired ones', async () => {
      const now = new Date()
      await store.putNonce('n1', new Date(now.getTime() + 60_000))
      await store.putNonce('n2', new Date(now.getTime() - 1))
      await store.putNonce('n3', new Date(now.getTime() + 1000))
      await assert.rejects(store.putNonce('n1', new Date(now.getTime() + 60_000)), /already in use/)
      assert.equal(await store.consumeNonce('n1', now), true)
      assert.equal(await store.consumeNonce('n1', now), false)
      assert.equal(await store.consumeNonce('n2', now), false)
      assert.equal(await store.consumeNonce('unknown', now), false)
      assert.equal(await store.consumeNonce('n3', new Date(now.getTime() + 1000)), false, 'expired at its expiry time')
      assert.equal(await store.pruneNonces(new Date(now.getTime() + 2000)), 2)
      assert.equal(await store.pruneNonces(new Date(now.getTime() + 2000)), 0)
      await assert.rejects(store.putNonce('', now), /1 to 256 characters/)
    })

    it('gives a nonce to exactly one of many concurrent callers, across connections', async () => {
      const others = await Promise.all([open(), open()])
      try {
        const stores = [store, ...others]
        for (let round = 0; round < 5; round++) {
          const nonce = `race-${round}`
          await store.putNonce(nonce, new Date(Date.now() + 60_000))
          const results = await Promise.all(
            Array.from({ length: 30 }, (_, i) => stores[i % stores.length]!.consumeNonce(nonce, new Date())),
          )
          assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${results.filter(Boolean).length} callers got the nonce`)
        }
      } finally {
        await Promise.all(others.map((o) => o.close()))
      }
    })
  })
}
