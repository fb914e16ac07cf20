import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Hex, bytesToHex } from 'viem'
import { medicalRecordAbi } from '../../src/contracts/index.js'
import { computeCommitment, randomSalt } from '../../src/crypto/index.js'
import { tagTableFor } from '../../src/consent/tagTables.js'
import { buildTagTable, categoryTag } from '../../src/core/index.js'
import { setProviderStatus } from '../../src/directory/index.js'
import { toMedvaultError } from '../../src/chain/errors.js'
import { AccessDeniedError, NotAProviderError, TamperedRecordError } from '../../src/errors.js'
import { canonicalFhirBytes, parseFhirResource } from '../../src/fhir/index.js'
import {
  type RecordMeta,
  categoryCode,
  documentFromFhir,
  getOnChainRecord,
  issueRecord,
  listRecords,
  readRecord,
  sealEnvelope,
  signAttestation,
  signMintConsent,
  verifyRecord,
} from '../../src/records/index.js'
import { type TestStack, openTestStack } from './stack.js'

const glucose = readFileSync(new URL('../../examples/fhir/glucose.json', import.meta.url))
const immunization = readFileSync(new URL('../../examples/fhir/immunization.json', import.meta.url))

function blockFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? blockFiles(join(dir, e.name)) : e.name.endsWith('.data') ? [join(dir, e.name)] : [],
  )
}

describe('records on a real chain and a real on-disk IPFS repository', () => {
  let s: TestStack
  const mv = () => s.mv
  /** Records issued through the normal path (and never tampered with for good). */
  const honest: bigint[] = []

  async function issue(bytes: Uint8Array, issuer = 'lab-a', patient = 'alice') {
    const doc = documentFromFhir(bytes)
    const result = await issueRecord(mv(), {
      issuer: s.accounts[issuer]!,
      patient: s.accounts[patient]!,
      content: doc.content,
      contentType: doc.contentType,
      category: doc.category,
      sensitivity: doc.sensitivity,
      consent: { patient: s.accounts[patient]! },
    })
    if (patient === 'alice') honest.push(result.tokenId)
    return result
  }

  /**
   * Issues a record step by step, the way a dishonest provider could: `attestedBy` signs the
   * attestation, `minter` mints, and the token may point at a foreign ciphertext (`cidOverride`).
   */
  async function issueCrafted(opts: {
    attestedBy: string
    minter: string
    cidOverride?: { code: number; digest: Uint8Array }
    /** The tag minted, when not the one attested (a provider relabelling a record on chain). */
    mintTag?: Hex
  }) {
    const patient = s.accounts.alice!
    const content = canonicalFhirBytes(parseFhirResource(immunization))
    const salt = randomSalt()
    const sha = createHash('sha256').update(content).digest()
    const commitment = computeCommitment(salt, sha)
    const category = categoryCode('immunization')
    const tag = categoryTag(patient.tagSecret, 'immunization', 0)
    const attestation = await signAttestation(mv(), s.accounts[opts.attestedBy]!.chainAccount, {
      patient: patient.address,
      commitment,
      category,
      sensitivity: 0,
      tag,
      supersedes: 0n,
    })
    const meta: RecordMeta = {
      v: 1,
      contentType: 'application/fhir+json',
      size: content.length,
      sha256: bytesToHex(sha),
      salt: bytesToHex(salt),
      patient: patient.address,
      issuer: s.accounts[opts.minter]!.address,
      category,
      sensitivity: 0,
      tag,
      supersedes: '0',
      attestation,
    }
    const cid = await mv().store.add(
      await sealEnvelope({
        meta,
        content: (async function* () {
          yield content
        })(),
        recipients: [patient],
      }),
    )
    const target = opts.cidOverride ?? { code: cid.code, digest: cid.multihash.digest }
    const minter = s.accounts[opts.minter]!.chainAccount
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 600)
    const mintTag = opts.mintTag ?? tag
    const consent = await signMintConsent(mv(), {
      patient: patient.chainAccount,
      provider: minter.address,
      commitment,
      tag: mintTag,
      deadline,
    })
    const hash = await mv()
      .walletFor(minter)
      .writeContract({
        address: mv().deployment.records,
        abi: medicalRecordAbi,
        functionName: 'mint',
        args: [
          { patient: patient.address, commitment, cidDigest: bytesToHex(target.digest), cidCodec: target.code, tag: mintTag },
          deadline,
          consent,
        ],
      })
    await mv().publicClient.waitForTransactionReceipt({ hash })
    return await mv().publicClient.readContract({ address: mv().deployment.records, abi: medicalRecordAbi, functionName: 'lastTokenId' })
  }

  before(async () => {
    s = await openTestStack({ providers: { 'lab-a': 'Lab A', 'lab-b': 'Lab B' }, others: ['alice', 'bob', 'mallory'] })
  })
  after(() => s.dispose())

  it('round trip: a FHIR Observation reads back identical (canonical form) for the patient', async () => {
    const { tokenId, cid } = await issue(glucose)
    const { bytes, meta, record } = await readRecord(mv(), { tokenId, reader: s.accounts.alice! })
    assert.deepEqual(bytes, Buffer.from(canonicalFhirBytes(parseFhirResource(glucose))))
    assert.deepEqual(JSON.parse(bytes.toString()), JSON.parse(glucose.toString()))
    assert.equal(meta.contentType, 'application/fhir+json')
    // The chain holds Alice's tag of the class; the category is the issuer's signed word inside.
    assert.equal(meta.category, categoryCode('laboratory'))
    assert.equal(meta.tag, record.tag)
    assert.equal(record.tag, categoryTag(s.accounts.alice!.tagSecret, 'laboratory', 0))
    assert.equal(record.owner, s.accounts.alice!.address)
    assert.equal(record.issuer, s.accounts['lab-a']!.address)
    assert.equal(record.cid.toString(), cid.toString())
    const verdict = await verifyRecord(mv(), { tokenId, reader: s.accounts.alice!, file: bytes })
    assert.equal(verdict.valid, true, JSON.stringify(verdict.checks))
    assert.deepEqual(
      verdict.checks.map((c) => c.id),
      ['token', 'issuer', 'ciphertext', 'issuer-signature', 'commitment', 'file'],
    )
  })

  it('refuses another account, including the issuing provider, before fetching anything', async () => {
    const { tokenId } = await issue(glucose)
    for (const other of ['bob', 'lab-a']) {
      await assert.rejects(readRecord(mv(), { tokenId, reader: s.accounts[other]! }), AccessDeniedError)
    }
  })

  it("lists a patient's records with issuer names, and amendment keeps the old version readable", async () => {
    const first = await issue(immunization, 'lab-b')
    const doc = documentFromFhir(readFileSync(new URL('../../examples/fhir/glucose-corrected.json', import.meta.url)))
    const amended = await issueRecord(mv(), {
      issuer: s.accounts['lab-b']!,
      patient: s.accounts.alice!,
      content: doc.content,
      contentType: doc.contentType,
      category: doc.category,
      consent: { patient: s.accounts.alice! },
      supersedes: first.tokenId,
    })
    const old = await getOnChainRecord(mv(), first.tokenId)
    assert.equal(old.supersededBy, amended.tokenId)
    assert.equal((await getOnChainRecord(mv(), amended.tokenId)).supersedes, first.tokenId)
    assert.ok((await readRecord(mv(), { tokenId: first.tokenId, reader: s.accounts.alice! })).bytes.length > 0)
    const list = await listRecords(mv(), { patient: s.accounts.alice!.address, viewer: s.accounts.alice! })
    const names = new Map(list.map((r) => [r.tokenId, r.issuerName]))
    assert.equal(names.get(first.tokenId), 'Lab B')
    assert.equal(list.find((r) => r.tokenId === first.tokenId)?.supersededBy, amended.tokenId)
    // Categories come from the viewer's table of Alice's tags: her own, the one her consent gave
    // Lab B, none for Bob (or for no viewer): never guessed.
    const categoriesFor = async (viewer?: string) =>
      new Map(
        (await listRecords(mv(), { patient: s.accounts.alice!.address, viewer: viewer ? s.accounts[viewer] : undefined })).map((r) => [
          r.tokenId,
          r.category,
        ]),
      )
    assert.equal(list.find((r) => r.tokenId === first.tokenId)?.category, 'immunization')
    assert.equal(list.find((r) => r.tokenId === amended.tokenId)?.category, 'laboratory')
    assert.equal((await categoriesFor('lab-b')).get(first.tokenId), 'immunization')
    assert.deepEqual(new Set((await categoriesFor('bob')).values()), new Set(['unknown']))
    assert.deepEqual(new Set((await categoriesFor()).values()), new Set(['unknown']))
  })

  it("a consented issue shares the patient's tags with the issuer, a refused one shares nothing", async () => {
    const alice = s.accounts.alice!
    const shared = await tagTableFor(mv(), { patient: alice.address, reader: s.accounts['lab-a']! })
    assert.deepEqual(shared, buildTagTable(alice.tagSecret))
    // Mallory is no provider: the dry run refuses her before anything is shared (or stored).
    await assert.rejects(issue(glucose, 'mallory'), NotAProviderError)
    assert.equal(await tagTableFor(mv(), { patient: alice.address, reader: s.accounts.mallory! }), undefined)
  })

  it('detects a token minted with another tag than the one the issuer attested (a relabelled record)', async () => {
    const alice = s.accounts.alice!
    const tokenId = await issueCrafted({ attestedBy: 'lab-a', minter: 'lab-a', mintTag: categoryTag(alice.tagSecret, 'laboratory', 0) })
    await assert.rejects(readRecord(mv(), { tokenId, reader: alice }), (e: unknown) => {
      assert.ok(e instanceof TamperedRecordError)
      assert.match(e.message, /does not belong to record/)
      return true
    })
    const verdict = await verifyRecord(mv(), { tokenId, reader: alice })
    assert.equal(verdict.valid, false)
  })

  it('detects one flipped ciphertext byte on disk', async () => {
    const { tokenId, cid } = await issue(glucose)
    const file = blockFiles(join(s.home, 'ipfs', 'blocks')).find((f) =>
      createHash('sha256').update(readFileSync(f)).digest().equals(cid.multihash.digest),
    )
    assert.ok(file, "the record's block is on disk")
    const original = readFileSync(file)
    const tampered = Buffer.from(original)
    tampered[tampered.length - 20]! ^= 0x01
    writeFileSync(file, tampered)
    try {
      await assert.rejects(readRecord(mv(), { tokenId, reader: s.accounts.alice! }), TamperedRecordError)
      const verdict = await verifyRecord(mv(), { tokenId })
      assert.equal(verdict.valid, false)
      assert.equal(verdict.checks.find((c) => c.id === 'ciphertext')?.ok, false)
    } finally {
      writeFileSync(file, original)
    }
    assert.ok(await readRecord(mv(), { tokenId, reader: s.accounts.alice! }))
  })

  it("detects a token whose CID was swapped for another record's ciphertext", async () => {
    const victim = await issue(glucose)
    const tokenId = await issueCrafted({
      attestedBy: 'lab-a',
      minter: 'lab-a',
      cidOverride: { code: victim.cid.code, digest: victim.cid.multihash.digest },
    })
    await assert.rejects(readRecord(mv(), { tokenId, reader: s.accounts.alice! }), TamperedRecordError)
    const verdict = await verifyRecord(mv(), { tokenId, reader: s.accounts.alice! })
    assert.equal(verdict.valid, false)
  })

  it('detects a forged issuer signature (attested by one provider, minted by another)', async () => {
    const honest = await issueCrafted({ attestedBy: 'lab-a', minter: 'lab-a' })
    assert.ok(await readRecord(mv(), { tokenId: honest, reader: s.accounts.alice! }), 'the crafted path itself is sound')
    const forged = await issueCrafted({ attestedBy: 'lab-a', minter: 'lab-b' })
    await assert.rejects(readRecord(mv(), { tokenId: forged, reader: s.accounts.alice! }), (e: unknown) => {
      assert.ok(e instanceof TamperedRecordError)
      assert.match(e.message, /issuer signature/)
      return true
    })
    const byStranger = await issueCrafted({ attestedBy: 'mallory', minter: 'lab-b' })
    await assert.rejects(readRecord(mv(), { tokenId: byStranger, reader: s.accounts.alice! }), TamperedRecordError)
  })

  it('refuses records from an unknown or a suspended provider, storing nothing', async () => {
    const before = blockFiles(join(s.home, 'ipfs', 'blocks')).length
    await assert.rejects(issue(glucose, 'mallory'), NotAProviderError)
    await setProviderStatus(mv(), (await import('./stack.js')).registrar, s.accounts['lab-b']!.address, 'suspend')
    try {
      await assert.rejects(issue(glucose, 'lab-b'), NotAProviderError)
    } finally {
      await setProviderStatus(mv(), (await import('./stack.js')).registrar, s.accounts['lab-b']!.address, 'reinstate')
    }
    assert.equal(blockFiles(join(s.home, 'ipfs', 'blocks')).length, before, 'no ciphertext left behind')
  })

  it("refuses a mint without the patient's consent, and allows it under a standing authorisation", async () => {
    const doc = documentFromFhir(glucose)
    const params = {
      issuer: s.accounts['lab-a']!,
      patient: s.accounts.bob!,
      content: doc.content,
      contentType: doc.contentType,
      category: doc.category,
      consent: { standing: true } as const,
    }
    // Without an authorisation Lab A was never given Bob's tags either: refused before the chain is asked.
    await assert.rejects(issueRecord(mv(), params), AccessDeniedError)
    const { authorizeProvider } = await import('../../src/directory/index.js')
    await authorizeProvider(mv(), s.accounts.bob!, s.accounts['lab-a']!.address, new Date(Date.now() + 86_400_000))
    const { tokenId } = await issueRecord(mv(), params)
    assert.equal((await readRecord(mv(), { tokenId, reader: s.accounts.bob! })).record.owner, s.accounts.bob!.address)
  })

  it('refuses a replayed consent signature', async () => {
    const patient = s.accounts.alice!
    const lab = s.accounts['lab-a']!.chainAccount
    const commitment = `0x${'ab'.repeat(32)}` as Hex
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 600)
    const consent = await signMintConsent(mv(), {
      patient: patient.chainAccount,
      provider: lab.address,
      commitment,
      tag: categoryTag(patient.tagSecret, 'laboratory', 0),
      deadline,
    })
    const request = {
      patient: patient.address,
      commitment,
      cidDigest: `0x${'cd'.repeat(32)}` as Hex,
      cidCodec: 0x55,
      tag: categoryTag(patient.tagSecret, 'laboratory', 0),
    }
    const send = () =>
      mv()
        .walletFor(lab)
        .writeContract({
          address: mv().deployment.records,
          abi: medicalRecordAbi,
          functionName: 'mint',
          args: [request, deadline, consent],
        })
    await mv().publicClient.waitForTransactionReceipt({ hash: await send() })
    await assert.rejects(
      send().catch((e) => Promise.reject(toMedvaultError(e))),
      AccessDeniedError,
    )
  })

  it('restart: every record still reads and verifies after the chain and IPFS node stop and start', async () => {
    const { tokenId } = await issue(immunization, 'lab-a')
    const before = await listRecords(mv(), { patient: s.accounts.alice!.address })
    await s.restart()
    const afterList = await listRecords(mv(), { patient: s.accounts.alice!.address })
    assert.deepEqual(
      afterList.map((r) => r.tokenId),
      before.map((r) => r.tokenId),
    )
    assert.ok(honest.includes(tokenId) && honest.length >= 6)
    for (const id of honest) {
      const verdict = await verifyRecord(mv(), { tokenId: id, reader: s.accounts.alice! })
      assert.equal(verdict.valid, true, `record #${id}: ${JSON.stringify(verdict.checks)}`)
      assert.ok((await readRecord(mv(), { tokenId: id, reader: s.accounts.alice! })).bytes.length > 0)
    }
    assert.ok(statSync(join(s.home, 'chain', 'state.json')).size > 0)
  })
})
