/**
 * Acceptance: no PII on chain.
 *
 * In a fresh home (real anvil, real Helia), a provider issues several FHIR records full of a
 * patient's distinctive identifiers, by per-record consent, by standing authorisation and as an
 * amendment. Then everything the chain holds from that run (every account's storage and code, anvil's
 * record of blocks, transactions and call traces, every block's transactions, every receipt, every
 * log) is searched for each identifier in UTF-8, UTF-16LE/BE, base64 (any alignment), hex text and
 * hashed forms, in any case. Nothing may match. A positive control on the same chain, after the
 * snapshot, proves the scanner finds a name that really is put on chain.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Hex, getAddress, keccak256, toHex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import type { Bundle, DocumentReference, Immunization, Observation, Resource } from '@medplum/fhirtypes'
import { categoryTag } from '../../src/core/index.js'
import { EMBEDDED_DEV_KEY } from '../../src/chain/embedded.js'
import {
  type DocumentInput,
  type Medvault,
  type UnlockedAccount,
  authorizeProvider,
  categoryCode,
  createAccount,
  documentFromFhir,
  getOnChainRecord,
  issueRecord,
  openMedvault,
  readRecord,
  registerProvider,
} from '../../src/index.js'
import {
  type ChainSnapshot,
  type Finding,
  type Needle,
  base64Fragments,
  collectChain,
  formatFindings,
  hexHaystack,
  patternsFor,
  scanHex,
  scanSnapshot,
  scanText,
} from './chainScan.js'

// ------------------------------------------------------------------------------------------ the patient

const NAME = 'Zebulon Quixotepants-Vardimore'
const GIVEN = 'Zebulon'
const FAMILY = 'Quixotepants-Vardimore'
const BIRTH_DATE = '1937-03-14'
const MRN = 'MRN-884422-ZQX'
const PHONE = '+1-555-013-7788'
const ADDRESS_LINE = '42 Wobblecrest Lane'
const NOTE = 'patient reports Qwertyuiophobia'

const IDENTIFIERS: Needle[] = [
  { label: 'full name', value: NAME },
  { label: 'given name', value: GIVEN },
  { label: 'surname', value: FAMILY },
  { label: 'surname part 1', value: 'Quixotepants' },
  { label: 'surname part 2', value: 'Vardimore' },
  { label: 'birth date', value: BIRTH_DATE },
  { label: 'birth date without dashes', value: '19370314' },
  { label: 'birth date d/m/y', value: '14/03/1937' },
  { label: 'birth date m/d/y', value: '03/14/1937' },
  // 1937-03-14T00:00Z = -1035158400 s, as a two's-complement int256 word.
  {
    label: 'birth date as int256 unix seconds',
    bytes: Buffer.from(BigInt.asUintN(256, -1035158400n).toString(16).padStart(64, '0'), 'hex'),
  },
  { label: 'MRN', value: MRN },
  { label: 'MRN digits', value: '884422' },
  { label: 'MRN without prefix', value: '884422-ZQX' },
  { label: 'phone', value: PHONE },
  { label: 'phone national', value: '555-013-7788' },
  { label: 'phone digits', value: '15550137788' },
  { label: 'phone national digits', value: '5550137788' },
  { label: 'address line', value: ADDRESS_LINE },
  { label: 'street name', value: 'Wobblecrest' },
  { label: 'free-text note', value: NOTE },
  { label: 'note term', value: 'Qwertyuiophobia' },
]

const PASSPHRASE = 'correct-horse-battery'
const LOINC = 'http://loinc.org'
const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category'
const subject = { reference: 'Patient/zq1', display: NAME }

const glucose = (value: number, status: Observation['status']): Observation => ({
  resourceType: 'Observation',
  status,
  category: [{ coding: [{ system: OBS_CATEGORY, code: 'laboratory' }] }],
  code: { coding: [{ system: LOINC, code: '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma' }] },
  subject,
  effectiveDateTime: '2026-11-20T08:30:00Z',
  valueQuantity: { value, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  note: [{ text: `${NAME} (${MRN}, born ${BIRTH_DATE}): ${NOTE}.` }],
})

const immunization: Immunization = {
  resourceType: 'Immunization',
  status: 'completed',
  vaccineCode: {
    coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208', display: 'COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose' }],
  },
  patient: subject,
  occurrenceDateTime: '2026-10-02',
  lotNumber: 'EW0150',
  note: [{ text: `Called ${PHONE} to confirm; lives at ${ADDRESS_LINE}.` }],
}

const noteText = `Consult note for ${NAME}, DOB ${BIRTH_DATE}, ${MRN}.\nThe ${NOTE} since childhood; reachable at ${PHONE}.\n`
const consultNote: DocumentReference = {
  resourceType: 'DocumentReference',
  status: 'current',
  meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'PSY' }] },
  type: { coding: [{ system: LOINC, code: '11488-4', display: 'Consult note' }] },
  subject,
  date: '2026-11-18T16:00:00Z',
  content: [{ attachment: { contentType: 'text/plain', data: Buffer.from(noteText, 'utf8').toString('base64') } }],
}

const bundle: Bundle = {
  resourceType: 'Bundle',
  type: 'collection',
  entry: [
    {
      fullUrl: 'urn:uuid:7d3f6a52-3c1e-4a8e-9d55-1f1c0e6b2a01',
      resource: {
        resourceType: 'Patient',
        id: 'zq1',
        identifier: [{ system: 'urn:oid:2.16.840.1.113883.19.5', value: MRN }],
        name: [{ use: 'official', family: FAMILY, given: [GIVEN], text: NAME }],
        birthDate: BIRTH_DATE,
        telecom: [{ system: 'phone', value: PHONE, use: 'home' }],
        address: [{ line: [ADDRESS_LINE], city: 'Springfield', postalCode: '99999', country: 'US' }],
      },
    },
    {
      fullUrl: 'urn:uuid:7d3f6a52-3c1e-4a8e-9d55-1f1c0e6b2a02',
      resource: {
        ...glucose(101, 'final'),
        subject: { reference: 'urn:uuid:7d3f6a52-3c1e-4a8e-9d55-1f1c0e6b2a01', display: NAME },
      },
    },
  ],
}

const heartRate: Observation = {
  resourceType: 'Observation',
  status: 'final',
  category: [{ coding: [{ system: OBS_CATEGORY, code: 'vital-signs' }] }],
  code: { coding: [{ system: LOINC, code: '8867-4', display: 'Heart rate' }] },
  subject,
  valueQuantity: { value: 72, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
  note: [{ text: `${NOTE}; ${NAME} seen at home, ${ADDRESS_LINE}.` }],
}

const fhir = (resource: Resource): DocumentInput => documentFromFhir(JSON.stringify(resource))

type Issued = { label: string; tokenId: bigint; doc: DocumentInput; supersedes: bigint }

// ------------------------------------------------------------------------------------------ the run

describe('No PII on chain', () => {
  let home: string
  let mv: Medvault
  let provider: UnlockedAccount
  let patient: UnlockedAccount
  const issued: Issued[] = []
  /** The chain as the medvault run left it, taken before any control transaction. */
  let snapshot: ChainSnapshot
  let scanMillis = 0
  let runMillis = 0

  before(async () => {
    const started = Date.now()
    home = mkdtempSync(join(tmpdir(), 'medvault-nopii-'))
    mv = await openMedvault({ home })
    await createAccount(mv, 'clinic', PASSPHRASE)
    await createAccount(mv, 'patient', PASSPHRASE)
    provider = await mv.keystore.unlock('clinic', PASSPHRASE)
    patient = await mv.keystore.unlock('patient', PASSPHRASE)
    // The CLI's registrar on the embedded chain (src/cli/session.ts registrarAccount).
    const registrar = privateKeyToAccount(EMBEDDED_DEV_KEY)
    await registerProvider(mv, registrar, {
      provider: provider.address,
      name: 'Northside Family Clinic',
      encryptionKey: provider.encryptionPublicKey,
    })

    const issue = async (label: string, resource: Resource, consent: 'signature' | 'standing', supersedes = 0n) => {
      const doc = fhir(resource)
      const { tokenId } = await issueRecord(mv, {
        issuer: provider,
        patient,
        content: doc.content,
        contentType: doc.contentType,
        category: doc.category,
        sensitivity: doc.sensitivity,
        consent: consent === 'standing' ? { standing: true } : { patient },
        ...(supersedes ? { supersedes } : {}),
      })
      issued.push({ label, tokenId, doc, supersedes })
      return tokenId
    }

    const first = await issue('Observation (glucose)', glucose(112, 'final'), 'signature')
    await issue('Immunization', immunization, 'signature')
    await issue('DocumentReference (consult note, PSY)', consultNote, 'signature')
    await issue('Bundle (Patient + Observation)', bundle, 'signature')
    await authorizeProvider(mv, patient, provider.address, new Date(Date.now() + 24 * 3600 * 1000))
    await issue('Observation (heart rate), standing authorisation', heartRate, 'standing')
    await issue('Observation (glucose, corrected), amendment', glucose(92, 'corrected'), 'signature', first)
    runMillis = Date.now() - started

    const scanStarted = Date.now()
    snapshot = await collectChain(mv.rpcUrl)
    scanMillis = Date.now() - scanStarted
  })

  after(async () => {
    await mv?.close()
    if (home) rmSync(home, { recursive: true, force: true })
  })

  it('issued every record, and each reads back whole for the patient', async () => {
    assert.equal(issued.length, 6)
    const reader = { address: patient.address, encryptionSeed: patient.encryptionSeed }
    for (const record of issued) {
      const { record: onChain, meta, bytes } = await readRecord(mv, { tokenId: record.tokenId, reader })
      const expected = Buffer.from((record.doc.content as { bytes: Uint8Array }).bytes)
      assert.ok(bytes.equals(expected), `${record.label}: the document read back differs from the one issued`)
      assert.equal(onChain.owner, getAddress(patient.address), record.label)
      assert.equal(onChain.issuer, getAddress(provider.address), record.label)
      // The chain holds the patient's tag of the class; the category itself is the issuer's signed word inside.
      assert.equal(meta.category, categoryCode(record.doc.category), record.label)
      assert.equal(onChain.tag, categoryTag(patient.tagSecret, record.doc.category, meta.sensitivity), record.label)
      assert.equal(onChain.supersedes, record.supersedes, record.label)
      assert.equal(meta.contentType, 'application/fhir+json', record.label)
      // The identifiers really went through the system (so their absence on chain means something).
      assert.ok(
        bytes.toString('utf8').includes(NAME) || bytes.toString('utf8').includes(Buffer.from(noteText).toString('base64')),
        record.label,
      )
    }
    const bundleRead = await readRecord(mv, { tokenId: issued[3]!.tokenId, reader })
    const patientResource = (JSON.parse(bundleRead.bytes.toString('utf8')) as Bundle).entry?.[0]?.resource
    assert.deepEqual(
      patientResource && 'birthDate' in patientResource ? [patientResource.birthDate, patientResource.identifier?.[0]?.value] : [],
      [BIRTH_DATE, MRN],
    )
    const noteRead = await readRecord(mv, { tokenId: issued[2]!.tokenId, reader })
    const attachment = (JSON.parse(noteRead.bytes.toString('utf8')) as DocumentReference).content[0]?.attachment.data ?? ''
    assert.equal(Buffer.from(attachment, 'base64').toString('utf8'), noteText)

    const original = await getOnChainRecord(mv, issued[0]!.tokenId)
    assert.equal(original.supersededBy, issued[5]!.tokenId, 'the amendment is linked on chain')

    // The blobs on IPFS are ciphertext: no identifier in them either.
    const blobs = []
    for (const record of issued) {
      const { cid } = await getOnChainRecord(mv, record.tokenId)
      const parts: Uint8Array[] = []
      for await (const part of mv.store.cat(cid)) parts.push(part)
      blobs.push(hexHaystack(`IPFS blob of record #${record.tokenId}`, Buffer.concat(parts).toString('hex')))
    }
    const inBlobs = scanHex(blobs, patternsFor(IDENTIFIERS), IDENTIFIERS)
    assert.equal(inBlobs.length, 0, `identifiers in the stored ciphertext:\n${formatFindings(inBlobs)}`)
  })

  it('puts no identifier on chain in any encoding: storage, code, events, calldata, receipts, traces', (t) => {
    const c = snapshot.counts
    // deploy 2 + publish keys 2 + register 1 + authorise 1 + mint 5 + amend 1 = 12 transactions, one per block.
    assert.ok(
      c.transactions >= 12 && c.receipts === c.transactions && c.blocks > c.transactions,
      `the scan saw too little: ${JSON.stringify(c)}`,
    )
    assert.ok(
      c.dumpTransactions >= 12 && c.dumpBlocks >= c.blocks && c.logs >= 12 && c.storageSlots >= 20,
      `the state dump saw too little: ${JSON.stringify(c)}`,
    )
    const started = Date.now()
    const findings = scanSnapshot(snapshot, IDENTIFIERS)
    const matchMillis = Date.now() - started
    t.diagnostic(
      `scanned blocks 0..${snapshot.toBlock}: ${c.blocks} blocks, ${c.transactions} transactions, ${c.receipts} receipts, ` +
        `${c.logs} logs, ${c.accounts} accounts, ${c.storageSlots} storage slots, ${c.codeBytes} bytes of code, ` +
        `${c.dumpJsonBytes} bytes of state-dump JSON (${c.dumpBlocks} blocks, ${c.dumpTransactions} transactions with traces), ${c.hexHaystacks} hex fields (${c.hexBytes} bytes); ` +
        `${patternsFor(IDENTIFIERS).length} patterns; run ${runMillis} ms, collect ${scanMillis} ms, match ${matchMillis} ms`,
    )
    assert.equal(findings.length, 0, `identifiers found on chain:\n${formatFindings(findings)}`)
  })

  it('puts no unsalted content digest, salt or attestation on chain', async () => {
    const reader = { address: patient.address, encryptionSeed: patient.encryptionSeed }
    const secrets: Needle[] = []
    for (const record of issued) {
      const bytes = (record.doc.content as { bytes: Uint8Array }).bytes
      const { meta } = await readRecord(mv, { tokenId: record.tokenId, reader })
      assert.equal(meta.sha256, `0x${createHash('sha256').update(bytes).digest('hex')}`)
      secrets.push(
        { label: `sha256 of record #${record.tokenId}`, bytes: Buffer.from(meta.sha256.slice(2), 'hex') },
        { label: `keccak256 of record #${record.tokenId}`, bytes: Buffer.from(keccak256(bytes).slice(2), 'hex') },
        { label: `salt of record #${record.tokenId}`, bytes: Buffer.from(meta.salt.slice(2), 'hex') },
        { label: `issuer attestation of record #${record.tokenId}`, bytes: Buffer.from(meta.attestation.slice(2), 'hex') },
      )
    }
    const findings = scanSnapshot(snapshot, secrets)
    assert.equal(findings.length, 0, `record secrets found on chain:\n${formatFindings(findings)}`)
  })

  it('positive control: the scanner finds a name that is put on chain (calldata, event, storage)', async (t) => {
    assert.ok(snapshot, 'the main snapshot was taken first')
    const fromBlock = snapshot.toBlock + 1n
    const funded = privateKeyToAccount(EMBEDDED_DEV_KEY)

    // 1. A plain transfer whose calldata is the UTF-8 name.
    const wallet = mv.walletFor(funded)
    const hash = await wallet.sendTransaction({ to: provider.address, value: 1n, data: toHex(NAME) })
    const transfer = await mv.publicClient.waitForTransactionReceipt({ hash })
    // 2. A provider registered under a name holding the patient's: a string ABI argument, an event and
    //    a long Solidity string spread over two storage slots (the name crosses the 32-byte boundary).
    const leakyName = `Ward of ${NAME}`
    assert.ok(leakyName.length > 32 && leakyName.indexOf(NAME) < 32 && leakyName.length <= 64)
    const registrar = privateKeyToAccount(EMBEDDED_DEV_KEY)
    const bogus = privateKeyToAccount(generatePrivateKey()).address
    await registerProvider(mv, registrar, { provider: bogus, name: leakyName, encryptionKey: toHex(randomBytes(32)) as Hex })

    const control = await collectChain(mv.rpcUrl, { fromBlock })
    assert.ok(transfer.blockNumber > snapshot.toBlock, 'the control is outside the main scan')
    const findings = scanSnapshot(control, [{ label: 'full name', value: NAME }])
    t.diagnostic(`control: ${findings.length} findings in blocks ${fromBlock}..${control.toBlock}`)
    const found = (test: (f: Finding) => boolean, what: string) =>
      assert.ok(findings.some(test), `the scanner missed the name in ${what}; it found:\n${formatFindings(findings)}`)

    found(
      (f) => f.where === `block ${transfer.blockNumber}.transactions[0].input` && f.encoding === 'UTF-8 as-is' && f.byteOffset === 0,
      'the transfer calldata',
    )
    found(
      (f) => /^block \d+\.transactions\[0\]\.input$/.test(f.where) && f.where !== `block ${transfer.blockNumber}.transactions[0].input`,
      'the register calldata',
    )
    found((f) => /^eth_getLogs\[\d+\]\.data$/.test(f.where) && f.encoding === 'UTF-8 as-is', 'the ProviderRegistered event')
    found((f) => /^receipt of block \d+ tx 0\.logs\[\d+\]\.data$/.test(f.where), 'the receipt logs')
    found(
      (f) => f.where === `storage of ${mv.deployment.registry.toLowerCase()} (all slots in order)` && f.encoding === 'UTF-8 as-is',
      'the registry storage',
    )
    found((f) => f.where.startsWith('anvil_dumpState.transactions') && f.where.endsWith('.data'), "anvil's call traces")
  })

  it('scanner self-check: each encoding is recognised, random bytes are not', () => {
    const patterns = patternsFor(IDENTIFIERS)
    const inNoise = (bytes: Uint8Array, at = 37) => Buffer.concat([randomBytes(at), bytes, randomBytes(41)]).toString('hex')
    const expectFound = (label: string, encodingPart: string, hex: string) => {
      const findings = scanHex([{ where: 'sample', hex }], patterns, IDENTIFIERS)
      assert.ok(
        findings.some((f) => f.needle === label && f.encoding.includes(encodingPart)),
        `"${label}" as ${encodingPart} was not recognised; found:\n${formatFindings(findings)}`,
      )
    }
    // Encoded here with Buffer directly, not through the scanner's own encoders.
    expectFound('full name', 'UTF-8 as-is', inNoise(Buffer.from(NAME)))
    expectFound('full name', 'UTF-8 lowercase', inNoise(Buffer.from(NAME.toLowerCase())))
    expectFound('full name', 'UTF-8 UPPERCASE', inNoise(Buffer.from(NAME.toUpperCase())))
    expectFound('surname', 'bytes as text, any case', inNoise(Buffer.from('qUIXOTEPANTS-vARDIMORE')))
    expectFound('full name', 'UTF-16LE as-is', inNoise(Buffer.from(NAME, 'utf16le')))
    expectFound('full name', 'UTF-16BE as-is', inNoise(Buffer.from(NAME, 'utf16le').swap16()))
    expectFound('full name', 'keccak256(UTF-8 as-is)', inNoise(Buffer.from(keccak256(Buffer.from(NAME)).slice(2), 'hex')))
    expectFound('MRN', 'sha256(UTF-8 as-is)', inNoise(createHash('sha256').update(MRN).digest()))
    expectFound('full name', 'hex text of UTF-8 as-is', inNoise(Buffer.from(Buffer.from(NAME).toString('hex'))))
    for (const prefix of ['', 'a', 'ab', 'abc']) {
      const base64 = Buffer.from(`${prefix}${noteText}`).toString('base64')
      expectFound('free-text note', 'base64(UTF-8 as-is)', inNoise(Buffer.from(base64)))
      expectFound('birth date', 'base64(UTF-8 as-is)', inNoise(Buffer.from(base64)))
      expectFound('MRN', 'base64(UTF-8 as-is)', inNoise(Buffer.from(base64, 'utf16le')))
      const text = scanText([{ where: 'sample text', text: `{"x":"${base64}"}` }], IDENTIFIERS)
      assert.ok(
        text.some((f) => f.needle === 'note term' && f.encoding.startsWith('base64 text')),
        `base64 text with prefix "${prefix}" missed`,
      )
    }
    // A number as an ABI word after a selector, and a date inside a JSON text.
    const word = Buffer.from(19370314n.toString(16).padStart(64, '0'), 'hex')
    expectFound('birth date without dashes', 'uint256 word', Buffer.concat([randomBytes(4), randomBytes(32), word]).toString('hex'))
    const text = scanText(
      [{ where: 'sample text', text: `{"dob":"${BIRTH_DATE.toUpperCase()}","n":"${NAME.toLowerCase()}"}` }],
      IDENTIFIERS,
    )
    assert.ok(text.some((f) => f.needle === 'birth date') && text.some((f) => f.needle === 'full name'))

    // No false alarms on 1 MB of random bytes, or on the fragments being too short to mean anything.
    const noise = scanHex([{ where: 'noise', hex: randomBytes(1 << 20).toString('hex') }], patterns, IDENTIFIERS)
    assert.equal(noise.length, 0, `false alarms in random bytes:\n${formatFindings(noise)}`)
    assert.ok(base64Fragments(Buffer.from('884422')).every((f) => f.length >= 6))
  })
})
