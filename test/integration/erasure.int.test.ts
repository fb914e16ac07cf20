/**
 * Acceptance: erasure by crypto-shredding, end to end on a real local chain and Helia repository.
 *
 * A patient's records are shared with a cardiologist (key slips), escrowed for emergencies and read
 * through break-glass (an escrow-released slip), and one came through a bulk import (its key sealed
 * in the import journal). The patient erases two of them. Then no copy of their record keys is left
 * in any file of the home, in any form the home ever held it (the raw key, each HPKE-wrapped copy
 * in a key slip or in the envelope header, the journal's sealed box) and in any encoding (raw,
 * hex, base64 at any alignment, UTF-16); `record get` fails for the owner, the former grantee and
 * the emergency provider with RecordErasedError; a grant naming them is refused; the other records
 * are untouched; a second run and a run after a crash midway finish the job.
 */
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Hex, getAddress, hexToBytes } from 'viem'
import { queryAuditLog } from '../../src/audit/index.js'
import { createGrant, listGrants, openEmergency, setDelegate, setEmergencyProvider } from '../../src/consent/grants.js'
import { releasePendingKeys } from '../../src/records/releaseKeys.js'
import { authorizeProvider } from '../../src/directory/index.js'
import { eraseAccount, eraseRecords, markErased, SHREDDED_KEY_BOX } from '../../src/erasure/index.js'
import { RecordErasedError } from '../../src/errors.js'
import { importBundle, parseImportBundle } from '../../src/import/index.js'
import { issueRecordOnce } from '../../src/operations/index.js'
import { ByteReader } from '../../src/records/byteReader.js'
import { readEnvelopeHeader, readRecordKey } from '../../src/records/envelope.js'
import { documentFromFhir, getOnChainRecord, listRecords, readRecord } from '../../src/records/index.js'
import { medicalRecordAbi } from '../../src/contracts/index.js'
import { PASSPHRASE } from './stack.js'
import { formatFindings, type Needle } from './chainScan.js'
import { filesUnder, scanFiles } from './fileScan.js'
import { issueExample, openTestStack, registrar, type TestStack } from './stack.js'

const example = (file: string) => JSON.parse(readFileSync(new URL(`../../examples/fhir/${file}`, import.meta.url), 'utf8'))

describe('Erasure (crypto-shredding)', () => {
  let stack: TestStack
  let lab: bigint // shared, escrowed, read by break-glass, erased
  let ekg: bigint // shared, kept
  let imported: bigint // bulk-imported (key in the journal), shared, erased
  let crashed: bigint // erased by a run that stops after the chain step
  let killedAdd: bigint // a `record add` killed after its mint and never run again (key in its operation journal), erased
  let killedAddRun: (checkpoint?: (point: string) => void) => ReturnType<typeof issueRecordOnce>
  const journalDir = () => join(stack.home, 'imports')
  /** Everything the home held of the erased records' keys, taken just before erasure. */
  const keyNeedles: Needle[] = []
  const erasedCids: string[] = []

  const reader = (name: string) => stack.accounts[name]!

  before(async () => {
    stack = await openTestStack({
      providers: { lab: 'Lab A', er: 'City ER' },
      others: ['patient', 'cardio', 'stranger', 'leaver', 'carer'],
    })
    const { mv } = stack
    lab = await issueExample(stack, 'glucose.json', 'lab', 'patient')
    ekg = await issueExample(stack, 'ekg.json', 'lab', 'patient')
    crashed = await issueExample(stack, 'immunization.json', 'lab', 'patient')

    // A bulk import that stops right after its batch is confirmed (a crash): its journal still keeps
    // the record key sealed to the issuer, for slips a re-run might have to write.
    await authorizeProvider(mv, reader('patient'), reader('lab').address, new Date(Date.now() + 3600_000))
    const bundle = parseImportBundle(
      Buffer.from(JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: example('glucose-corrected.json') }] })),
    )
    const crash = (point: string) => {
      if (point === 'after-confirm') throw new Error('simulated crash')
    }
    await assert.rejects(
      importBundle(mv, { issuer: reader('lab'), patient: reader('patient'), bundle, journalDir: journalDir(), checkpoint: crash }),
      /simulated crash/,
    )
    imported = (await listRecords(mv, { patient: reader('patient').address }))
      .map((r) => r.tokenId)
      .find((t) => ![lab, ekg, crashed].includes(t))!

    // A `record add` killed right after its mint was confirmed and never run again: its operation
    // journal keeps the record key sealed to the issuer, for the slips a re-run would write.
    const doc = documentFromFhir(Buffer.from(JSON.stringify({ ...example('glucose.json'), id: 'killed-add' })))
    killedAddRun = (checkpoint?: (point: string) => void) =>
      issueRecordOnce(mv, {
        issuer: reader('lab'),
        patient: reader('patient'),
        content: doc.content,
        contentType: doc.contentType,
        category: doc.category,
        sensitivity: doc.sensitivity,
        consent: { patient: reader('patient') },
        journalDir: mv.paths.operations,
        ...(checkpoint ? { checkpoint } : {}),
      })
    await assert.rejects(
      killedAddRun((point) => {
        if (point === 'after-confirm') throw new Error('simulated crash')
      }),
      /simulated crash/,
    )
    killedAdd = (await listRecords(mv, { patient: reader('patient').address }))
      .map((r) => r.tokenId)
      .find((t) => ![lab, ekg, crashed, imported].includes(t))!

    // Shared with a cardiologist (slips written by the patient's medvault) ...
    const { grantId } = await createGrant(mv, {
      grantor: reader('patient'),
      patient: reader('patient').address,
      grantee: reader('cardio').address,
      terms: { scope: 'records', tokenIds: [lab, ekg, imported, crashed] },
      expiresAt: new Date(Date.now() + 7 * 86_400_000),
      purpose: 'treatment',
    })
    assert.equal(await releasePendingKeys(mv, reader('patient'), { grantId }), 4)
    // ... and read by an emergency provider through the node's escrow (which writes it a slip).
    await setEmergencyProvider(mv, { registrar, provider: reader('er').address, allowed: true })
    await openEmergency(mv, { provider: reader('er').chainAccount, patient: reader('patient').address, reason: 'unconscious in the ER' })
    for (const token of [lab, imported]) {
      for (const name of ['patient', 'cardio', 'er']) await readRecord(mv, { tokenId: token, reader: reader(name) })
    }
  })

  after(async () => {
    await stack?.dispose()
  })

  it('before erasure: the home holds wrapped copies of the keys, and the scanner finds each of them', async () => {
    const { mv, home } = stack
    for (const tokenId of [lab, imported]) {
      const { cid } = await getOnChainRecord(mv, tokenId)
      erasedCids.push(cid.toString())
      const key = await readRecordKey(mv.store.cat(cid), reader('patient'))
      keyNeedles.push({ label: `record key of #${tokenId}`, bytes: key })
      // The patient's own wrapped copy, in the envelope header on IPFS.
      const { header } = await readEnvelopeHeader(new ByteReader(mv.store.cat(cid)))
      for (const r of header.recipients) {
        keyNeedles.push({ label: `#${tokenId} header copy for ${r.address}`, bytes: hexToBytes(r.ct as Hex) })
      }
      // Every key slip: the cardiologist's, the node's escrow, the emergency provider's.
      const holders = await mv.keySlips!.holders(tokenId)
      assert.deepEqual(
        new Set(holders),
        new Set([reader('cardio').address, mv.node.account.address, reader('er').address].map((a) => getAddress(a))),
      )
      for (const holder of holders) {
        const slip = (await mv.keySlips!.get(tokenId, holder))!
        keyNeedles.push(
          { label: `#${tokenId} slip ${holder} ct`, bytes: hexToBytes(slip.ct as Hex) },
          { label: `#${tokenId} slip ${holder} enc`, bytes: hexToBytes(slip.enc as Hex) },
        )
      }
    }
    // The import journal's sealed copy of the imported record's key.
    const journals = readdirSync(journalDir()).filter((f) => f.endsWith('.jsonl'))
    assert.equal(journals.length, 1)
    const sealed = readFileSync(join(journalDir(), journals[0]!), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((e) => e.t === 'sealed' && erasedCids.includes(e.cid))
    assert.equal(sealed.length, 1)
    keyNeedles.push({ label: `#${imported} import journal box`, bytes: hexToBytes(sealed[0].key.ct) })

    // The killed `record add`: its key, its header copies, and the box in its operation journal.
    const killed = await getOnChainRecord(mv, killedAdd)
    erasedCids.push(killed.cid.toString())
    keyNeedles.push({ label: `record key of #${killedAdd}`, bytes: await readRecordKey(mv.store.cat(killed.cid), reader('patient')) })
    for (const r of (await readEnvelopeHeader(new ByteReader(mv.store.cat(killed.cid)))).header.recipients) {
      keyNeedles.push({ label: `#${killedAdd} header copy for ${r.address}`, bytes: hexToBytes(r.ct as Hex) })
    }
    const operationBoxes = readdirSync(mv.paths.operations)
      .filter((f) => f.endsWith('.jsonl'))
      .flatMap((f) => readFileSync(join(mv.paths.operations, f), 'utf8').trim().split('\n'))
      .map((l) => JSON.parse(l))
      .filter((e) => e.t === 'sealed' && e.cid === killed.cid.toString() && e.key)
    assert.equal(operationBoxes.length, 1, "the killed run's journal keeps the record key")
    keyNeedles.push({ label: `#${killedAdd} operation journal box`, bytes: hexToBytes(operationBoxes[0].key.ct) })

    const scan = scanFiles(filesUnder(home), home, keyNeedles)
    const where = (label: RegExp, place: RegExp) =>
      assert.ok(
        scan.findings.some((f) => label.test(f.needle) && place.test(f.where)),
        `the scanner did not find ${label} in ${place}:\n${formatFindings(scan.findings)}`,
      )
    where(/slip .* ct$/, /^keyslips\.sqlite/)
    where(/header copy/, /^ipfs\/blocks\//)
    where(/import journal box/, /^imports\/.*\.jsonl$/)
    where(/operation journal box/, /^operations\/.*\.jsonl$/)
    assert.ok(
      !scan.findings.some((f) => f.needle.startsWith('record key of')),
      `a record key is stored in the clear:\n${formatFindings(scan.findings)}`,
    )
  })

  it('erases: marks on chain, destroys every slip and journal key, deletes the ciphertext', async () => {
    const { mv } = stack
    const result = await eraseRecords(mv, {
      patient: reader('patient').chainAccount,
      tokenIds: [lab, imported, killedAdd],
      importJournalDir: journalDir(),
      operationJournalDir: mv.paths.operations,
    })
    assert.equal(result.txHashes.length, 1, 'one eraseBatch transaction')
    assert.deepEqual(
      result.records.map((r) => [r.tokenId, r.alreadyMarked, r.keySlips, r.journalKeys, r.ciphertextDeleted]),
      [
        [lab, false, 3, 0, true],
        [imported, false, 3, 1, true],
        [killedAdd, false, 0, 1, true],
      ],
    )
    for (const tokenId of [lab, imported, killedAdd]) {
      const record = await getOnChainRecord(mv, tokenId)
      assert.ok(record.erasedAt instanceof Date)
      assert.equal(record.owner, getAddress(reader('patient').address), 'the token stays with the patient')
      assert.equal(await mv.store.has(record.cid), false)
      assert.deepEqual(await mv.keySlips!.holders(tokenId), [])
    }
    const journal = readdirSync(journalDir()).find((f) => f.endsWith('.jsonl'))!
    const entries = readFileSync(join(journalDir(), journal), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    assert.deepEqual(entries.find((e) => e.t === 'sealed').key, SHREDDED_KEY_BOX)
    assert.ok(
      entries.some((e) => e.t === 'confirmed'),
      "the rest of the import's history is kept",
    )
    // The killed `record add`'s journal: box destroyed, history kept; running the command again
    // finishes it without the key (no slip for an erased record).
    const operation = readdirSync(mv.paths.operations)
      .filter((f) => f.endsWith('.jsonl'))
      .map((f) => readFileSync(join(mv.paths.operations, f), 'utf8'))
      .find((text) => text.includes(erasedCids.at(-1)!))!
    const opEntries = operation
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    assert.deepEqual(opEntries.find((e) => e.t === 'sealed').key, SHREDDED_KEY_BOX)
    assert.ok(opEntries.some((e) => e.t === 'confirmed'))
    const rerun = await killedAddRun()
    assert.equal(rerun.tokenId, killedAdd)
    assert.deepEqual(await stack.mv.keySlips!.holders(killedAdd), [], 'no slip for an erased record')
  })

  it('after erasure: no copy of either key, in any encoding, in any file of the home', async (t) => {
    await stack.restart() // writes the chain state to the home, so it is scanned too
    const { home } = stack
    const files = filesUnder(home)
    const scan = scanFiles(files, home, keyNeedles)
    t.diagnostic(`scanned ${scan.files} files, ${scan.bytes} bytes, for ${keyNeedles.length} key needles`)
    assert.ok(
      files.some((f) => f.includes('/keystore') || f.includes('/accounts/')),
      'the keystore is part of the scan',
    )
    assert.ok(
      files.some((f) => f.includes('/audit/')),
      'the audit log is part of the scan',
    )
    assert.ok(
      files.some((f) => f.includes('/chain/')),
      'the chain state is part of the scan',
    )
    assert.equal(scan.findings.length, 0, `key material left after erasure:\n${formatFindings(scan.findings)}`)
  })

  it('record get fails with the erased error for the owner, the former grantee, the emergency provider and a stranger', async () => {
    for (const name of ['patient', 'cardio', 'er', 'stranger']) {
      await assert.rejects(readRecord(stack.mv, { tokenId: lab, reader: reader(name) }), (error: unknown) => {
        assert.ok(error instanceof RecordErasedError, `${name}: ${String(error)}`)
        assert.equal(error.code, 'ERASED')
        assert.match(error.message, /was erased by its patient/)
        return true
      })
    }
    const denied = await queryAuditLog(stack.mv.paths.audit, { tokenId: lab, outcome: 'denied' })
    assert.equal(denied.filter((e) => e.reason === 'erased').length, 4, 'each refusal is in the access log')
    const erasures = await queryAuditLog(stack.mv.paths.audit, { action: 'erase' })
    assert.deepEqual(
      erasures.map((e) => e.tokenId),
      [lab.toString(), imported.toString(), killedAdd.toString()],
    )
  })

  it('refuses a grant that names an erased record', async () => {
    await assert.rejects(
      createGrant(stack.mv, {
        grantor: reader('patient'),
        patient: reader('patient').address,
        grantee: reader('stranger').address,
        terms: { scope: 'records', tokenIds: [ekg, lab] },
        expiresAt: new Date(Date.now() + 86_400_000),
        purpose: 'research',
      }),
      (error: unknown) => error instanceof RecordErasedError && /can never be shared again/.test(error.message),
    )
  })

  it('leaves the other records alone: readable by the patient and the grantee', async () => {
    for (const name of ['patient', 'cardio']) {
      const { bytes } = await readRecord(stack.mv, { tokenId: ekg, reader: reader(name) })
      assert.equal(JSON.parse(bytes.toString('utf8')).resourceType, 'Observation')
    }
  })

  it('running it again changes nothing and reports nothing left', async () => {
    const again = await eraseRecords(stack.mv, {
      patient: reader('patient').chainAccount,
      tokenIds: [lab, imported],
      importJournalDir: journalDir(),
    })
    assert.equal(again.txHashes.length, 0)
    assert.deepEqual(
      again.records.map((r) => [r.alreadyMarked, r.keySlips, r.journalKeys, r.ciphertextDeleted]),
      [
        [true, 0, 0, false],
        [true, 0, 0, false],
      ],
    )
  })

  it('a run that stopped after the chain step is finished by the next: slips and ciphertext go then', async () => {
    const { mv } = stack
    await markErased(mv, { patient: reader('patient').chainAccount, tokenIds: [crashed] }) // the crash: nothing off chain done
    const { cid } = await getOnChainRecord(mv, crashed)
    assert.equal(await mv.store.has(cid), true)
    // Meanwhile, nobody can read it: the chain already says erased.
    await assert.rejects(readRecord(mv, { tokenId: crashed, reader: reader('cardio') }), RecordErasedError)
    const result = await eraseRecords(mv, { patient: reader('patient').chainAccount, tokenIds: [crashed], importJournalDir: journalDir() })
    assert.equal(result.txHashes.length, 0)
    assert.deepEqual(
      result.records.map((r) => [r.alreadyMarked, r.keySlips > 0, r.ciphertextDeleted]),
      [[true, true, true]],
    )
    assert.equal(await mv.store.has(cid), false)
  })

  it('refuses to erase a record of someone else, before changing anything', async () => {
    await assert.rejects(
      eraseRecords(stack.mv, { patient: reader('stranger').chainAccount, tokenIds: [ekg] }),
      (error: unknown) => error instanceof Error && /cannot erase it/.test(error.message),
    )
    assert.equal((await getOnChainRecord(stack.mv, ekg)).erasedAt, undefined)
  })

  it("erases a whole account: every record, then grants, providers' authorisations and delegates; keys last", async () => {
    const { mv } = stack
    const leaver = reader('leaver')
    const first = await issueExample(stack, 'glucose.json', 'lab', 'leaver')
    const second = await issueExample(stack, 'ekg.json', 'lab', 'leaver')
    await createGrant(mv, {
      grantor: leaver,
      patient: leaver.address,
      grantee: reader('cardio').address,
      terms: { scope: 'all' },
      expiresAt: new Date(Date.now() + 86_400_000),
      purpose: 'treatment',
    })
    await authorizeProvider(mv, leaver, reader('lab').address, new Date(Date.now() + 86_400_000))
    await setDelegate(mv, { patient: leaver, delegate: reader('carer').address, enabled: true })

    const result = await eraseAccount(mv, { patient: leaver.chainAccount, importJournalDir: journalDir() })
    assert.deepEqual(
      result.records.map((r) => r.tokenId),
      [first, second],
    )
    assert.equal(result.grantsRevoked.length, 1)
    assert.deepEqual(result.authorizationsEnded, [getAddress(reader('lab').address)])
    assert.deepEqual(result.delegatesRemoved, [getAddress(reader('carer').address)])
    assert.ok((await listRecords(mv, { patient: leaver.address })).every((r) => r.erasedAt))
    assert.ok((await listGrants(mv, leaver.address)).every((g) => !g.active))
    const until = await mv.publicClient.readContract({
      address: mv.deployment.records,
      abi: medicalRecordAbi,
      functionName: 'authorizationOf',
      args: [leaver.address, reader('lab').address],
    })
    assert.equal(until, 0n)

    const again = await eraseAccount(mv, { patient: leaver.chainAccount, importJournalDir: journalDir() })
    assert.deepEqual([again.txHashes, again.grantsRevoked, again.authorizationsEnded, again.delegatesRemoved], [[], [], [], []])

    assert.equal(mv.keystore.remove('leaver'), true)
    await assert.rejects(mv.keystore.unlock('leaver', PASSPHRASE), /no account named "leaver"/)
    assert.equal(mv.keystore.remove('leaver'), false)
  })
})
