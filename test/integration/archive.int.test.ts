/**
 * Archive onboarding on a real anvil chain and on-disk Helia repository: a 1,000-record archive
 * for four patients is sealed, anchored in one transaction and proved record by record (proof
 * against the on-chain root, decryption by the patient, the issuer's signature and the content
 * commitment); tampered proofs, another reader and a revoked archive fail. Then the real CLI:
 * `medvault archive anchor` and `medvault archive verify`.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Hex, getAddress } from 'viem'
import {
  type ArchiveProof,
  type OnboardArchiveReturnType,
  type ParsedArchiveBundle,
  getArchive,
  onboardArchive,
  parseArchiveBundle,
  parseArchiveProof,
  revokeArchive,
  syntheticArchiveBundle,
  verifyArchivedRecord,
} from '../../src/archive/index.js'
import { authorizeProvider } from '../../src/directory/index.js'
import { MalformedBundleError, NotAProviderError } from '../../src/errors.js'
import { issueRecord } from '../../src/records/index.js'
import { medvault } from './cli.js'
import { type TestStack, openTestStack, registrar } from './stack.js'

const N = 1000
const PATIENTS = ['p0', 'p1', 'p2', 'p3']

async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!)
    }),
  )
}

function median(values: bigint[]): bigint {
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return sorted[sorted.length >> 1]!
}

describe('archive onboarding: 1,000 records in one anchoring transaction', () => {
  let stack: TestStack
  let parsed: ParsedArchiveBundle
  let result: OnboardArchiveReturnType
  let outDir: string
  const proofOf = (i: number): ArchiveProof => parseArchiveProof(readFileSync(result.records[i]!.proofFile))

  before(async () => {
    stack = await openTestStack({ providers: { lab: 'Lab A' }, others: PATIENTS })
    outDir = join(stack.home, 'archive-out')
    const bundle = syntheticArchiveBundle({
      patients: PATIENTS.map((p) => stack.accounts[p]!.address),
      resourcesPerPatient: N / PATIENTS.length,
      chainId: stack.mv.deployment.chainId,
      seed: 7,
      sensitiveShare: 0.03,
    })
    parsed = parseArchiveBundle(new TextEncoder().encode(JSON.stringify(bundle)), { chainId: stack.mv.deployment.chainId })
  })
  after(async () => {
    await stack?.dispose()
  })

  it('parses a several-patient Bundle: one entry per resource, each for the patient its subject names', () => {
    assert.equal(parsed.entries.length, N)
    assert.deepEqual(
      parsed.patients,
      PATIENTS.map((p) => stack.accounts[p]!.address),
    )
    for (const p of parsed.patients) assert.equal(parsed.entries.filter((e) => e.patient === p).length, N / PATIENTS.length)
    assert.equal(parsed.skipped.filter((s) => s.reason === 'patient').length, PATIENTS.length)
  })

  it('refuses a Bundle whose Patient names no account, or names one on another chain, before anything is stored', () => {
    const bundle = syntheticArchiveBundle({ patients: [stack.accounts.p0!.address], resourcesPerPatient: 3, chainId: 1 })
    assert.throws(
      () => parseArchiveBundle(new TextEncoder().encode(JSON.stringify(bundle)), { chainId: stack.mv.deployment.chainId }),
      (e: unknown) => e instanceof MalformedBundleError && /entry\[0\] \(Patient\): no identifier/.test(e.message),
    )
  })

  it('refuses an unregistered issuer before sealing anything (NotAProviderError), leaving no proofs behind', async () => {
    const out = join(stack.home, 'refused')
    await assert.rejects(
      onboardArchive(stack.mv, { issuer: stack.accounts.p0!.chainAccount, entries: parsed.entries.slice(0, 3), outDir: out }),
      NotAProviderError,
    )
    assert.throws(() => readdirSync(out))
  })

  it(`seals ${N} records in parallel and anchors them for at most 10% of a single mint's gas per record`, async () => {
    const stages = new Set<string>()
    let lastSealed = 0
    const started = performance.now()
    result = await onboardArchive(stack.mv, {
      issuer: stack.accounts.lab!.chainAccount,
      entries: parsed.entries,
      outDir,
      onProgress: (p) => {
        stages.add(p.stage)
        assert.ok(p.sealed >= lastSealed, 'progress never goes back')
        lastSealed = p.sealed
      },
    })
    const seconds = (performance.now() - started) / 1000
    assert.deepEqual([...stages], ['sealing', 'anchoring', 'done'])
    assert.equal(result.count, N)
    assert.equal(result.patients, PATIENTS.length)
    assert.equal(result.records.length, N)
    const archive = await getArchive(stack.mv, result.archiveId)
    assert.equal(archive?.root, result.root)
    assert.equal(archive?.count, N)
    assert.equal(archive?.issuer, stack.accounts.lab!.address)

    // A single mint measured as bench/gas.ts does: the median of mints 2..5 to one patient.
    const patient = stack.accounts.p0!
    await authorizeProvider(stack.mv, patient, stack.accounts.lab!.address, new Date(Date.now() + 3_600_000))
    const mints: bigint[] = []
    for (let i = 0; i < 5; i++) {
      const issued = await issueRecord(stack.mv, {
        issuer: stack.accounts.lab!,
        patient,
        content: { bytes: parsed.entries[i]!.content },
        contentType: 'application/fhir+json',
        category: parsed.entries[i]!.category,
        consent: { standing: true },
      })
      mints.push(issued.gasUsed)
    }
    const mint = median(mints.slice(1))
    const perRecord = Number(result.gasUsed) / N
    console.log(
      `archive of ${N}: anchor ${result.gasUsed} gas, ${perRecord.toFixed(1)} per record (${((100 * perRecord) / Number(mint)).toFixed(3)}% of a ${mint}-gas mint); sealed in ${result.sealSeconds.toFixed(1)} s, ${seconds.toFixed(1)} s in all`,
    )
    assert.ok(perRecord <= Number(mint) / 10, `${perRecord} gas per record vs a ${mint}-gas mint`)
  })

  it(`every one of the ${N} records verifies: proof against the root, decryption by its patient, signature, commitment`, async () => {
    const byAddress = new Map(PATIENTS.map((p) => [stack.accounts[p]!.address, stack.accounts[p]!]))
    const contentOf = new Map(parsed.entries.map((e) => [e.index, e.content]))
    const cache = new Map<string, Promise<unknown>>()
    let verified = 0
    const started = performance.now()
    await pool(result.records, 8, async ({ proofFile, patient }) => {
      const proof = parseArchiveProof(readFileSync(proofFile))
      assert.equal(proof.record.patient, patient)
      const reader = byAddress.get(getAddress(patient))!
      const r = await verifyArchivedRecord(stack.mv, { proof, reader, returnContent: true, cache })
      assert.ok(r.valid, JSON.stringify(r.checks.filter((c) => !c.ok)))
      assert.deepEqual(
        r.checks.map((c) => c.id),
        ['archive', 'proof', 'issuer', 'ciphertext', 'issuer-signature', 'commitment'],
      )
      assert.ok(r.content && Buffer.from(r.content).equals(contentOf.get(proof.entry)!), `entry ${proof.entry} content`)
      verified++
    })
    assert.equal(verified, N)
    console.log(`verified ${N} archived records in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  })

  it('anyone verifies a record without decrypting it: archive, proof, issuer, ciphertext', async () => {
    const r = await verifyArchivedRecord(stack.mv, { proof: proofOf(0) })
    assert.ok(r.valid)
    assert.deepEqual(
      r.checks.map((c) => c.id),
      ['archive', 'proof', 'issuer', 'ciphertext'],
    )
    assert.equal(r.issuerName, 'Lab A')
  })

  it('a tampered record fails: a changed leaf field, a changed proof hash, another record’s CID, another archive id', async () => {
    const proof = proofOf(10)
    const other = proofOf(11)
    const failing = async (tampered: ArchiveProof, check: string) => {
      const r = await verifyArchivedRecord(stack.mv, { proof: tampered, reader: stack.accounts[PATIENTS[0]!]! })
      assert.equal(r.valid, false)
      assert.equal(r.checks.find((c) => !c.ok)?.id, check, JSON.stringify(r.checks))
    }
    await failing({ ...proof, record: { ...proof.record, category: (proof.record.category + 1) % 10 } }, 'proof')
    await failing({ ...proof, record: { ...proof.record, commitment: other.record.commitment } }, 'proof')
    await failing({ ...proof, record: { ...proof.record, cidDigest: other.record.cidDigest } }, 'proof')
    await failing({ ...proof, record: { ...proof.record, patient: stack.accounts.lab!.address } }, 'proof')
    await failing({ ...proof, proof: [`0x${'ab'.repeat(32)}` as Hex, ...proof.proof.slice(1)] }, 'proof')
    await failing({ ...proof, archiveId: `0x${'cd'.repeat(32)}` }, 'archive')
    await failing({ ...proof, chainId: proof.chainId + 1 }, 'archive')
  })

  it('a reader other than the patient cannot decrypt (access), and a proof file that is not one is refused', async () => {
    const proof = proofOf(20)
    const stranger = PATIENTS.map((p) => stack.accounts[p]!).find((a) => a.address !== proof.record.patient)!
    const r = await verifyArchivedRecord(stack.mv, { proof, reader: stranger })
    assert.equal(r.valid, false)
    assert.equal(r.checks.find((c) => !c.ok)?.id, 'access')
    assert.throws(() => parseArchiveProof('{"format":"medvault-archive-proof-v1"}'), /check chainId/)
  })

  it('once the registrar revokes the archive, none of its records verifies', async () => {
    await revokeArchive(stack.mv, registrar, result.archiveId)
    for (const i of [0, 500, 999]) {
      const r = await verifyArchivedRecord(stack.mv, { proof: proofOf(i) })
      assert.equal(r.valid, false)
      assert.equal(r.checks[0]?.id, 'archive')
      assert.match(r.checks[0]!.message, /revoked/)
    }
  })
})

describe('medvault archive anchor and archive verify (the real CLI)', () => {
  const home = mkdtempSync(join(tmpdir(), 'medvault-archive-cli-'))
  const work = mkdtempSync(join(tmpdir(), 'medvault-archive-cli-out-'))
  const mv = (...args: string[]) => medvault(home, args)
  const addresses: Record<string, string> = {}
  after(() => {
    rmSync(home, { recursive: true, force: true })
    rmSync(work, { recursive: true, force: true })
  })

  before(async () => {
    for (const name of ['lab', 'alice', 'bob']) {
      const r = await mv('account', 'create', name, '--json')
      assert.equal(r.code, 0, r.stderr)
      addresses[name] = r.json.account.address
    }
    const reg = await mv('provider', 'register', 'lab', '--name', 'Lab A', '--json')
    assert.equal(reg.code, 0, reg.stderr)
  })

  const writeBundle = (name: string, seed: number) => {
    const file = join(work, name)
    const bundle = syntheticArchiveBundle({
      patients: [addresses.alice as Hex, addresses.bob as Hex],
      resourcesPerPatient: 3,
      chainId: 31337,
      seed,
    })
    writeFileSync(file, JSON.stringify(bundle))
    return file
  }

  it('anchors a two-patient archive (--json): 6 records, one transaction, a proof file per record', async () => {
    const r = await mv('archive', 'anchor', writeBundle('a.json', 1), '--as', 'lab', '--out', join(work, 'a'), '--json')
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json.records, 6)
    assert.equal(r.json.patients, 2)
    assert.match(r.json.archiveId, /^0x[0-9a-f]{64}$/)
    assert.ok(r.json.gasPerRecord > 0 && r.json.gasPerRecord < 25_000, String(r.json.gasPerRecord))
    assert.equal(r.json.proofs.length, 6)
    assert.equal(r.stderr, '', 'no progress output with --json')

    const alices = r.json.proofs.filter((p: { patient: string }) => p.patient === addresses.alice)
    assert.equal(alices.length, 3)
    const proofFile = alices[0].proofFile as string

    const anyone = await mv('archive', 'verify', proofFile, '--json')
    assert.equal(anyone.code, 0, anyone.stdout + anyone.stderr)
    assert.equal(anyone.json.valid, true)
    assert.deepEqual(
      anyone.json.checks.map((c: { id: string }) => c.id),
      ['archive', 'proof', 'issuer', 'ciphertext'],
    )

    const patient = await mv('archive', 'verify', proofFile, '--as', 'alice')
    assert.equal(patient.code, 0, patient.stdout + patient.stderr)
    assert.match(patient.stdout, /VALID/)
    assert.match(patient.stdout, /✓ The content matches the leaf's commitment/)

    const other = await mv('archive', 'verify', proofFile, '--as', 'bob', '--json')
    assert.equal(other.code, 4)
    assert.equal(other.json.checks.find((c: { ok: boolean }) => !c.ok).id, 'access')

    const tampered = JSON.parse(readFileSync(proofFile, 'utf8'))
    tampered.record.category = (tampered.record.category + 1) % 10
    const tamperedFile = join(work, 'tampered.json')
    writeFileSync(tamperedFile, JSON.stringify(tampered))
    const bad = await mv('archive', 'verify', tamperedFile)
    assert.equal(bad.code, 4)
    assert.match(bad.stdout, /NOT VALID/)
    assert.match(bad.stdout, /✗ The record is not part of this archive/)

    const revoke = await mv('archive', 'revoke', r.json.archiveId, '--as', 'lab', '--json')
    assert.equal(revoke.code, 0, revoke.stdout + revoke.stderr)
    const revoked = await mv('archive', 'verify', proofFile, '--json')
    assert.equal(revoked.code, 4)
    assert.match(revoked.json.checks[0].message, /revoked/)
  })

  it('shows progress on stderr and a summary without --json; proofs default to <home>/archives/<id>', async () => {
    const r = await mv('archive', 'anchor', writeBundle('b.json', 2), '--as', 'lab')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Anchored archive 0x[0-9a-f]{64}: 6 records for 2 patients, issued by lab\./)
    assert.match(r.stderr, /archive: 6\/6 records sealed \(100%\)/)
    assert.match(r.stderr, /anchoring their root in one transaction/)
    const id = /Anchored archive (0x[0-9a-f]{64})/.exec(r.stdout)![1]!
    const proofs = readdirSync(join(home, 'archives', id, 'proofs', getAddress(addresses.alice!)))
    assert.equal(proofs.length, 3)
  })

  it('refuses a non-provider (exit 3, access denied) and a missing file (exit 5)', async () => {
    const r = await mv('archive', 'anchor', writeBundle('c.json', 3), '--as', 'alice', '--out', join(work, 'c'))
    assert.equal(r.code, 3, r.stderr)
    assert.match(r.stderr, /not an active provider/)
    const missing = await mv('archive', 'verify', join(work, 'nope.json'))
    assert.equal(missing.code, 5)
  })
})
