/**
 * Bulk import on a real anvil chain and on-disk IPFS repository: a generated 1,000-resource
 * patient Bundle becomes exactly 1,000 records; then crashes at every step of the journal, in the
 * library (a stop at a named point, a nonce taken by another transaction, a chain restored from
 * an older state) and in the real CLI (SIGKILL at a named point and at random moments), each
 * followed by a re-run that must leave every resource a record exactly once.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Address, type Hex, type PublicClient, createPublicClient, createTestClient, getAddress, http } from 'viem'
import { createGrant } from '../../src/consent/grants.js'
import { medicalRecordAbi } from '../../src/contracts/index.js'
import { authorizeProvider } from '../../src/directory/index.js'
import { MalformedBundleError, StandingAuthorizationError } from '../../src/errors.js'
import {
  type ImportBundleReturnType,
  type ImportCheckpoint,
  type JournalEntry,
  type ParsedImportBundle,
  importBundle,
  parseImportBundle,
  replayJournal,
  syntheticPatientBundle,
} from '../../src/import/index.js'
import { categoryTag } from '../../src/core/index.js'
import { FHIR_JSON, openRecord, requiredSensitivity } from '../../src/records/index.js'
import { BIN, medvault, startMedvault } from './cli.js'
import { type TestStack, openTestStack } from './stack.js'

const generated = (resources: number, seed: number) =>
  new TextEncoder().encode(JSON.stringify(syntheticPatientBundle({ resources, seed, sensitiveShare: 0.03 })))

function readJournal(path: string): JournalEntry[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as JournalEntry)
}

type Issued = { tokenId: bigint; commitment: Hex; tag: Hex }

async function issuedTo(
  client: Pick<PublicClient, 'getContractEvents' | 'readContract'>,
  records: Address,
  fromBlock: bigint,
  patient: Address,
  issuer: Address,
): Promise<Issued[]> {
  const logs = await client.getContractEvents({
    address: records,
    abi: medicalRecordAbi,
    eventName: 'RecordIssued',
    args: { patient, issuer },
    fromBlock,
    toBlock: 'latest',
  })
  // The event says nothing about care, only the patient's blinded tag, which the token holds too.
  return Promise.all(
    logs.map(async (l) => {
      const [, tag] = await client.readContract({
        address: records,
        abi: medicalRecordAbi,
        functionName: 'accessInfo',
        args: [l.args.tokenId!],
      })
      assert.equal(tag, l.args.tag, `token ${l.args.tokenId} holds the tag its event named`)
      return { tokenId: l.args.tokenId!, commitment: l.args.commitment!.toLowerCase() as Hex, tag }
    }),
  )
}

/**
 * The chain holds exactly one record per bundle entry, and it is the one the journal names: as
 * many RecordIssued events as entries (a duplicate, sealed afresh, would carry a new commitment
 * and show up in the count), each commitment the journal's for one entry, with its token. Each
 * token's tag is the patient's tag of its entry's class: exactly, given the patient's tag secret;
 * without it, one tag per class and no tag for two classes.
 */
function assertExactlyOnce(issued: Issued[], bundle: ParsedImportBundle, journalPath: string, tagSecret?: Uint8Array): Map<number, bigint> {
  assert.equal(issued.length, bundle.entries.length, `records on chain: ${issued.length}, bundle entries: ${bundle.entries.length}`)
  const state = replayJournal(readJournal(journalPath))
  const byCommitment = new Map(issued.map((r) => [r.commitment, r]))
  assert.equal(byCommitment.size, issued.length, 'no commitment twice')
  const tokens = new Map<number, bigint>()
  const tagOfClass = new Map<string, Hex>()
  for (const entry of bundle.entries) {
    const item = state.items.get(entry.index)
    assert.equal(item?.status, 'confirmed', `entry ${entry.index} is ${item?.status}`)
    const onChain = byCommitment.get(item.sealed.commitment.toLowerCase() as Hex)
    assert.ok(onChain, `entry ${entry.index}'s record is on chain`)
    assert.equal(onChain.tokenId, item.status === 'confirmed' ? item.tokenId : -1n)
    const sensitivity = entry.sensitivity | requiredSensitivity(entry.category)
    const cls = `${entry.category}/${sensitivity}`
    if (tagSecret) assert.equal(onChain.tag, categoryTag(tagSecret, entry.category, sensitivity), `entry ${entry.index}'s tag`)
    assert.equal(tagOfClass.get(cls) ?? onChain.tag, onChain.tag, `one tag for ${cls}`)
    tagOfClass.set(cls, onChain.tag)
    tokens.set(entry.index, onChain.tokenId)
  }
  assert.equal(new Set(tagOfClass.values()).size, tagOfClass.size, 'no tag for two classes')
  assert.equal(new Set(tokens.values()).size, bundle.entries.length, 'one token per entry')
  return tokens
}

describe('bulk import on a real chain', () => {
  let s: TestStack
  const mv = () => s.mv
  const a = (name: string) => s.accounts[name]!
  const journalDir = () => join(s.home, 'imports')
  const authorize = (patient: string) => authorizeProvider(mv(), a(patient), a('lab-a').address, new Date(Date.now() + 30 * 86_400_000))
  const run = (
    patient: string,
    bundle: ParsedImportBundle,
    extra: { batchSize?: number; checkpoint?: (p: ImportCheckpoint, n: number) => void } = {},
  ) => importBundle(mv(), { issuer: a('lab-a'), patient: a(patient), bundle, journalDir: journalDir(), ...extra })
  const onChain = (patient: string) =>
    issuedTo(mv().publicClient, mv().deployment.records, BigInt(mv().deployment.deployedAtBlock), a(patient).address, a('lab-a').address)

  before(async () => {
    s = await openTestStack({ providers: { 'lab-a': 'Lab A' }, others: ['alice', 'bob', 'carol', 'p1', 'p2', 'p3', 'p4', 'p5'] })
    for (const patient of ['alice', 'p1', 'p2', 'p3', 'p4', 'p5']) await authorize(patient)
    // Bob may read alice's lab results: the import must give him their keys, as record add does.
    await createGrant(mv(), {
      grantor: a('alice'),
      patient: a('alice').address,
      grantee: a('bob').address,
      terms: { scope: 'categories', categories: ['laboratory'] },
      expiresAt: new Date(Date.now() + 86_400_000),
      purpose: 'treatment',
    })
  })
  after(async () => {
    await s?.dispose()
  })

  describe('a generated 1,000-resource patient Bundle', () => {
    let bundle: ParsedImportBundle
    let result: ImportBundleReturnType
    let lastBefore: bigint
    let tokens: Map<number, bigint>

    before(async () => {
      bundle = parseImportBundle(generated(1000, 1000), { patient: a('alice').address })
      lastBefore = await mv().publicClient.readContract({
        address: mv().deployment.records,
        abi: medicalRecordAbi,
        functionName: 'lastTokenId',
      })
      result = await run('alice', bundle)
    })

    it('imports every resource, the Patient skipped, in batches of 50', () => {
      assert.equal(result.total, 1000)
      assert.equal(result.imported, 1000)
      assert.equal(result.alreadyImported, 0)
      assert.equal(result.recovered, 0)
      assert.deepEqual(result.skipped, [{ index: 0, resourceType: 'Patient', reason: 'patient' }])
      assert.equal(result.batches.length, 20)
      assert.ok(result.batches.every((b) => b.records === 50))
      // In chain order, whatever order their receipts came in (the gas bench reads batch 1 as the one that pays for new slots).
      const numbers = result.batches.map((b) => b.batch)
      assert.deepEqual(
        numbers,
        [...numbers].sort((a, b) => a - b),
      )
      assert.equal(
        result.gasUsed,
        result.batches.reduce((sum, b) => sum + b.gasUsed, 0n),
      )
      assert.ok(result.recordsPerSecond > 0)
    })

    it('makes every resource exactly one record, owned by the patient', async () => {
      tokens = assertExactlyOnce(await onChain('alice'), bundle, result.journal, a('alice').tagSecret)
      const last = await mv().publicClient.readContract({
        address: mv().deployment.records,
        abi: medicalRecordAbi,
        functionName: 'lastTokenId',
      })
      assert.equal(last, lastBefore + 1000n)
      assert.deepEqual(
        result.records.map((r) => [r.entry, r.tokenId]),
        bundle.entries.map((e) => [e.index, tokens.get(e.index)]),
      )
      assert.equal(
        await mv().publicClient.readContract({
          address: mv().deployment.records,
          abi: medicalRecordAbi,
          functionName: 'balanceOf',
          args: [a('alice').address],
        }),
        1000n,
      )
    })

    it('costs less gas per record than single mints under a standing authorisation', () => {
      const perRecord = result.gasUsed / 1000n
      assert.ok(perRecord < 120_000n, `${perRecord} gas per record`)
    })

    it('records open, decrypt and verify for the patient, byte for byte', async () => {
      const sensitive = bundle.entries.filter((e) => e.sensitivity !== 0)
      assert.ok(sensitive.length > 0, 'the bundle has sensitive records')
      const sample = [...sensitive, ...bundle.entries.filter((_, i) => i % 40 === 0)]
      for (const entry of sample) {
        const opened = await openRecord(mv(), { tokenId: tokens.get(entry.index)!, reader: a('alice') })
        const parts: Uint8Array[] = []
        for await (const part of opened.content) parts.push(part)
        assert.deepEqual(new Uint8Array(Buffer.concat(parts)), entry.content, `entry ${entry.index}`)
        assert.equal(opened.meta.contentType, FHIR_JSON)
        assert.equal(opened.record.owner, a('alice').address)
        assert.equal(opened.record.issuer, a('lab-a').address)
        assert.ok(opened.meta.fields, 'FHIR records carry field commitments for selective disclosure')
      }
    })

    it('writes the key slips record add writes: covering grants, and the escrow for non-sensitive records only', async () => {
      const escrow = mv().keyRelease!.escrow.address
      for (const entry of bundle.entries) {
        const tokenId = tokens.get(entry.index)!
        const holders = new Set(await mv().keySlips!.holders(tokenId))
        assert.equal(holders.has(escrow), entry.sensitivity === 0, `escrow slip for entry ${entry.index}`)
        assert.equal(holders.has(a('bob').address), entry.category === 'laboratory', `bob's slip for entry ${entry.index}`)
      }
      const lab = bundle.entries.find((e) => e.category === 'laboratory')!
      const opened = await openRecord(mv(), { tokenId: tokens.get(lab.index)!, reader: a('bob') })
      const parts: Uint8Array[] = []
      for await (const part of opened.content) parts.push(part)
      assert.deepEqual(new Uint8Array(Buffer.concat(parts)), lab.content)
    })

    it('keeps no record key in the journal once the import is complete', () => {
      const sealed = readJournal(result.journal).filter((e) => e.t === 'sealed')
      assert.equal(sealed.length, 1000)
      assert.ok(sealed.every((e) => e.t === 'sealed' && e.key === undefined))
    })

    it('a second run of the same import mints nothing', async () => {
      const again = await run('alice', bundle)
      assert.equal(again.imported, 0)
      assert.equal(again.alreadyImported, 1000)
      assert.equal(again.batches.length, 0)
      assert.equal((await onChain('alice')).length, 1000)
      assert.deepEqual(again.records, result.records)
    })
  })

  it('refuses without the standing authorisation, before sealing or minting anything', async () => {
    const bundle = parseImportBundle(generated(20, 1))
    await assert.rejects(
      run('carol', bundle),
      (e: unknown) => e instanceof StandingAuthorizationError && e.code === 'NO_STANDING_AUTHORIZATION',
    )
    assert.equal((await onChain('carol')).length, 0)
    // The journal was begun but holds no sealed entry: nothing was stored for carol.
    const journals = readdirSync(journalDir()).filter((f) => f.endsWith('.jsonl'))
    const carols = journals
      .map((f) => readJournal(join(journalDir(), f)))
      .filter((j) => j[0]?.t === 'begin' && j[0].patient === a('carol').address)
    assert.equal(carols.length, 1)
    assert.deepEqual(
      carols[0]!.map((e) => e.t),
      ['begin'],
    )
  })

  it('refuses a malformed bundle before touching the chain', () => {
    assert.throws(
      () => parseImportBundle(new TextEncoder().encode('{"resourceType":"Bundle","type":"document","entry":[]}')),
      MalformedBundleError,
    )
  })

  describe('crash recovery: a run stopped at a named point, then run again', () => {
    class Crash extends Error {}
    const crashAt = (point: ImportCheckpoint, n: number) => (p: ImportCheckpoint, count: number) => {
      if (p === point && count === n) throw new Crash(`${p}:${n}`)
    }

    async function crashThenResume(
      patient: string,
      seed: number,
      point: ImportCheckpoint,
      n: number,
      between?: (journal: string) => Promise<void>,
    ) {
      const bundle = parseImportBundle(generated(60, seed))
      await assert.rejects(run(patient, bundle, { batchSize: 10, checkpoint: crashAt(point, n) }), Crash)
      const journal = readdirSync(journalDir())
        .map((f) => join(journalDir(), f))
        .find(
          (f) =>
            f.endsWith('.jsonl') &&
            readJournal(f)[0]?.t === 'begin' &&
            (readJournal(f)[0] as { patient: string }).patient === a(patient).address,
        )!
      await between?.(journal)
      const resumed = await run(patient, bundle, { batchSize: 10 })
      assertExactlyOnce(await onChain(patient), bundle, resumed.journal, a(patient).tagSecret)
      return { bundle, resumed, journal: readJournal(resumed.journal) }
    }

    it('after sealing, before anything is sent: the sealed entries are minted, nothing twice', async () => {
      // Sealed 25 with batches of 10: two batches went out before the stop.
      const { resumed } = await crashThenResume('p1', 1, 'after-seal', 25)
      assert.equal(resumed.alreadyImported + resumed.recovered, 20)
      assert.equal(resumed.imported, 40)
    })

    it('a batch journaled but never sent is sent again under its nonce', async () => {
      const { resumed, journal } = await crashThenResume('p2', 2, 'before-send', 3)
      const batch3 = journal.filter((e) => e.t === 'submitted' && e.batch === 3)
      assert.equal(batch3.length, 2, 'batch 3 was signed twice, with one nonce')
      assert.equal(new Set(batch3.map((e) => (e as { nonce: number }).nonce)).size, 1)
      assert.equal(resumed.recovered, 10)
    })

    it('a batch sent whose receipt was never read is confirmed from its receipt', async () => {
      const { resumed, journal } = await crashThenResume('p3', 3, 'after-submit', 2)
      assert.equal(journal.filter((e) => e.t === 'submitted' && e.batch === 2).length, 1, 'not sent again')
      assert.ok(resumed.recovered >= 10)
    })

    it('a batch whose nonce another transaction took is minted again in a new batch, once', async () => {
      const { journal } = await crashThenResume('p4', 4, 'before-send', 2, async (path) => {
        const lost = readJournal(path).find((e) => e.t === 'submitted' && e.batch === 2) as { nonce: number }
        // The provider's account is used elsewhere meanwhile: its next transaction takes the batch's nonce.
        const hash = await mv()
          .walletFor(a('lab-a').chainAccount)
          .sendTransaction({ to: a('lab-a').address, value: 0n, nonce: lost.nonce })
        await mv().publicClient.waitForTransactionReceipt({ hash })
      })
      assert.ok(journal.some((e) => e.t === 'dropped' && e.batch === 2 && e.reason === 'replaced'))
    })

    it('a chain restored from an older state: confirmed batches no longer on chain are re-sent under their nonces', async () => {
      const test = createTestClient({ mode: 'anvil', chain: mv().chain, transport: http(mv().rpcUrl) })
      const bundle = parseImportBundle(generated(40, 5), { patient: a('p5').address })
      const snapshot = await test.snapshot()
      const first = await run('p5', bundle, { batchSize: 10 })
      assert.equal((await onChain('p5')).length, 40)
      await test.revert({ id: snapshot })
      assert.equal((await onChain('p5')).length, 0, 'the chain lost the import')
      const resumed = await run('p5', bundle, { batchSize: 10 })
      assert.equal(resumed.alreadyImported, 0)
      assert.equal(resumed.recovered, 40)
      const tokens = assertExactlyOnce(await onChain('p5'), bundle, resumed.journal, a('p5').tagSecret)
      assert.deepEqual(
        first.records.map((r) => r.tokenId),
        bundle.entries.map((e) => tokens.get(e.index)),
        'the same transactions, so the same tokens',
      )
      assert.equal(readJournal(resumed.journal).filter((e) => e.t === 'reopened').length, 4)
      const entry = bundle.entries[7]!
      const opened = await openRecord(mv(), { tokenId: tokens.get(entry.index)!, reader: a('p5') })
      const parts: Uint8Array[] = []
      for await (const part of opened.content) parts.push(part)
      assert.deepEqual(new Uint8Array(Buffer.concat(parts)), entry.content)
    })
  })
})

describe('the import CLI, killed and run again', () => {
  const home = mkdtempSync(join(tmpdir(), 'medvault-import-cli-'))
  const work = mkdtempSync(join(tmpdir(), 'medvault-import-files-'))
  const mv = (...args: string[]) => medvault(home, args)
  let stop: (() => Promise<number>) | undefined
  let client: PublicClient
  let deployment: { records: Address; deployedAtBlock: string }
  const addresses: Record<string, Address> = {}
  const children = new Set<ChildProcess>()

  const bundleFile = (name: string, resources: number, seed: number) => {
    const path = join(work, `${name}.json`)
    writeFileSync(path, generated(resources, seed))
    return { path, bundle: parseImportBundle(readFileSync(path)) }
  }
  const onChain = () => issuedTo(client, deployment.records, BigInt(deployment.deployedAtBlock), addresses.alice!, addresses['lab-a']!)
  let imported = 0

  /** The import run to completion, then the chain checked: exactly the records of every bundle imported so far. */
  async function finish(path: string, bundle: ParsedImportBundle) {
    const done = await mv('import', path, '--patient', 'alice', '--as', 'lab-a', '--batch-size', '10', '--json')
    assert.equal(done.code, 0, done.stderr || done.stdout)
    assert.equal(done.json.total, bundle.entries.length)
    assert.equal(done.json.imported + done.json.alreadyImported, bundle.entries.length)
    imported += bundle.entries.length
    const issued = await onChain()
    assert.equal(issued.length, imported, 'no record twice across all imports')
    const mine = new Set([...replayJournal(readJournal(done.json.journal)).items.values()].map((i) => i.sealed.commitment.toLowerCase()))
    assertExactlyOnce(
      issued.filter((r) => mine.has(r.commitment)),
      bundle,
      done.json.journal,
    )
    return done
  }

  /** Starts the import and SIGKILLs it once its journal has `lines` lines. */
  function killWhenJournalHas(path: string, lines: number): Promise<{ signal: string | null; lines: number }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'import', path, '--patient', 'alice', '--as', 'lab-a', '--batch-size', '10'], {
        env: { ...process.env, MEDVAULT_HOME: home, MEDVAULT_PASSPHRASE: 'correct-horse-battery' },
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      children.add(child)
      let stderr = ''
      child.stderr?.on('data', (d) => (stderr += d))
      const dir = join(home, 'imports')
      const digest = parseImportBundle(readFileSync(path)).bundleDigest
      let seen = 0
      const timer = setInterval(() => {
        if (!existsSync(dir)) return
        // This bundle's journal: the one whose begin line names its digest.
        const counts = readdirSync(dir)
          .filter((f) => f.endsWith('.jsonl'))
          .map((f) => readFileSync(join(dir, f), 'utf8'))
          .filter((text) => text.includes(`"bundle":"${digest}"`))
          .map((text) => text.split('\n').length - 1)
        seen = Math.max(0, ...counts)
        if (seen >= lines) child.kill('SIGKILL')
      }, 5)
      child.on('exit', (code, signal) => {
        clearInterval(timer)
        children.delete(child)
        if (signal === 'SIGKILL') resolve({ signal, lines: seen })
        else reject(new Error(`the import ended (${code}) before it was killed at ${lines} journal lines:\n${stderr}`))
      })
    })
  }

  before(async () => {
    const server = await startMedvault(home)
    stop = server.stop
    for (const name of ['lab-a', 'alice']) {
      const r = await mv('account', 'create', name, '--json')
      assert.equal(r.code, 0, r.stderr)
      addresses[name] = getAddress(r.json.account.address)
    }
    assert.equal((await mv('provider', 'register', 'lab-a', '--name', 'Lab A')).code, 0)
    const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'))
    const runInfo = JSON.parse(readFileSync(join(home, 'run.json'), 'utf8'))
    deployment = config.deployment
    client = createPublicClient({ transport: http(runInfo.rpcUrl) }) as PublicClient
  })
  after(async () => {
    for (const child of children) child.kill('SIGKILL')
    await stop?.()
    rmSync(home, { recursive: true, force: true })
    rmSync(work, { recursive: true, force: true })
  })

  it('without the standing authorisation, tells the patient to run provider authorize', async () => {
    const { path } = bundleFile('unauthorised', 5, 90)
    const r = await mv('import', path, '--patient', 'alice', '--as', 'lab-a')
    assert.equal(r.code, 3)
    assert.match(r.stderr, /alice has not authorised lab-a/)
    assert.match(r.stderr, /medvault provider authorize lab-a --as alice/)
    const authorized = await mv('provider', 'authorize', 'lab-a', '--as', 'alice')
    assert.equal(authorized.code, 0, authorized.stderr)
  })

  it('refuses a malformed bundle with exit 2 and the entry at fault', async () => {
    const path = join(work, 'bad.json')
    writeFileSync(
      path,
      JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Observation' } }] }),
    )
    const r = await mv('import', path, '--patient', 'alice', '--as', 'lab-a', '--json')
    assert.equal(r.code, 2)
    assert.equal(r.json.error.code, 'MALFORMED_BUNDLE')
    assert.match(r.json.error.message, /entry\[0\]: .*Observation.status/)
    assert.equal((await mv('import', join(work, 'missing.json'), '--patient', 'alice', '--as', 'lab-a')).code, 5)
    assert.equal((await mv('import', path, '--patient', 'alice', '--as', 'lab-a', '--batch-size', '101')).code, 2)
  })

  it('prints progress lines and a summary when not at a terminal', async () => {
    const { path, bundle } = bundleFile('plain', 40, 91)
    const r = await mv('import', path, '--patient', 'alice', '--as', 'lab-a', '--batch-size', '20')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /Skipping entry 0 \(Patient\)/)
    assert.match(r.stderr, /import: 40\/40 records \(100%\)/)
    assert.match(r.stdout, /Imported 40 records for alice, issued by lab-a\./)
    assert.match(r.stdout, /batches {5}2 \(up to 20 records each\)/)
    assert.match(r.stdout, /gas {9}[\d,]+ \([\d,]+ per record\)/)
    assert.match(r.stdout, /records\/s/)
    imported += bundle.entries.length
  })

  for (const fault of ['import:after-submit:3', 'import:before-send:2', 'import:after-seal:35']) {
    it(`killed by MEDVAULT_FAULT=${fault}, then run again: each resource a record exactly once`, async () => {
      const { path, bundle } = bundleFile(fault.replaceAll(':', '-'), 100, 100 + imported)
      const killed = await medvault(home, ['import', path, '--patient', 'alice', '--as', 'lab-a', '--batch-size', '10', '--json'], {
        MEDVAULT_FAULT: fault,
      })
      assert.equal(killed.code, -1, `killed by SIGKILL, not exited: ${killed.stderr}`)
      assert.equal(killed.stdout, '', 'no summary from a killed run')
      const done = await finish(path, bundle)
      assert.ok(done.json.alreadyImported + done.json.recovered > 0, 'some batches were minted before the kill')
    })
  }

  it('killed at random moments (watching its journal grow), twice, then run again: each resource a record exactly once', async (t) => {
    const { path, bundle } = bundleFile('random', 100, 7)
    // 1 begin + 100 sealed + 10 submitted + 10 confirmed lines in a run without faults.
    const first = 15 + Math.floor(Math.random() * 80)
    const killed = await killWhenJournalHas(path, first)
    assert.ok(killed.lines >= first)
    t.diagnostic(`first run killed at ${killed.lines} journal lines`)
    const second = killed.lines + 3 + Math.floor(Math.random() * 20)
    await killWhenJournalHas(path, second).catch((error: unknown) => {
      // The second run may finish before reaching its line count: that is fine too.
      if (!/ended \(0\)/.test(String(error))) throw error
    })
    t.diagnostic(`second run killed at ${second} journal lines (or finished first)`)
    await finish(path, bundle)
  })
})
