import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { bytesToHex } from 'viem'
import { buildTagTable, categoryTag, classOf, deriveTagSecret } from '../core/index.js'
import { encryptionKeyPairFromSeed, generateEncryptionSeed } from '../crypto/index.js'
import { WrongKeyError } from '../errors.js'
import { createFileTagTableStore, shareTagTable, sharedTagTable, tagTableFor, tagTablesInvolving } from './tagTables.js'

const patient = '0x1111111111111111111111111111111111111111'
const reader = '0x2222222222222222222222222222222222222222'
const other = '0x3333333333333333333333333333333333333333'

describe('sealed tag tables', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medvault-tags-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it("let the reader, and no one else, map the patient's tags back to categories", async () => {
    const store = createFileTagTableStore(dir)
    const patientSeed = generateEncryptionSeed()
    const readerSeed = generateEncryptionSeed()
    const readerPublicKey = bytesToHex((await encryptionKeyPairFromSeed(readerSeed)).publicKey)
    await shareTagTable(store, { patient, tagSecret: deriveTagSecret(patientSeed), reader, readerPublicKey })
    const table = await sharedTagTable(store, { patient, reader, readerSeed })
    assert.ok(table)
    const tag = categoryTag(deriveTagSecret(patientSeed), 'mental-health', 1)
    assert.deepEqual(classOf(table, tag), { category: 'mental-health', sensitivity: 1 })
    // Another reader's seed opens nothing, and a table is not found under another pair.
    await assert.rejects(sharedTagTable(store, { patient, reader, readerSeed: generateEncryptionSeed() }), WrongKeyError)
    assert.equal(await sharedTagTable(store, { patient, reader: other, readerSeed }), undefined)
    // What the home keeps holds no tag in clear.
    const file = join(dir, readdirSync(dir)[0]!, readdirSync(join(dir, readdirSync(dir)[0]!))[0]!)
    assert.equal(bytesToHex(readFileSync(file)).includes(tag.slice(2)), false)
  })

  it('replace an older table: a grant naming fewer categories shares fewer', async () => {
    const store = createFileTagTableStore(dir)
    const patientSeed = generateEncryptionSeed()
    const readerSeed = generateEncryptionSeed()
    const readerPublicKey = bytesToHex((await encryptionKeyPairFromSeed(readerSeed)).publicKey)
    await shareTagTable(store, {
      patient: other,
      tagSecret: deriveTagSecret(patientSeed),
      reader,
      readerPublicKey,
      categories: ['laboratory'],
    })
    const table = await sharedTagTable(store, { patient: other, reader, readerSeed })
    assert.deepEqual(new Set(table?.map((e) => e.category)), new Set(['laboratory']))
    assert.equal(classOf(table ?? [], categoryTag(deriveTagSecret(patientSeed), 'mental-health', 1)), undefined)
  })

  it('give a patient its own whole table, a reader only what was shared, anyone else nothing', async () => {
    const store = createFileTagTableStore(dir)
    const patientSecret = deriveTagSecret(generateEncryptionSeed())
    const readerSeed = generateEncryptionSeed()
    const readerPublicKey = bytesToHex((await encryptionKeyPairFromSeed(readerSeed)).publicKey)
    const stranger = '0x4444444444444444444444444444444444444444'
    await shareTagTable(store, { patient: stranger, tagSecret: patientSecret, reader, readerPublicKey, categories: ['immunization'] })
    const own = await tagTableFor(
      { tagTables: store },
      { patient: stranger, reader: { address: stranger, encryptionSeed: generateEncryptionSeed(), tagSecret: patientSecret } },
    )
    assert.equal(own?.length, buildTagTable(patientSecret).length)
    const shared = await tagTableFor(
      { tagTables: store },
      { patient: stranger, reader: { address: reader, encryptionSeed: readerSeed, tagSecret: deriveTagSecret(readerSeed) } },
    )
    assert.deepEqual(new Set(shared?.map((e) => e.category)), new Set(['immunization']))
    assert.equal(
      await tagTableFor(
        {},
        { patient: stranger, reader: { address: reader, encryptionSeed: readerSeed, tagSecret: deriveTagSecret(readerSeed) } },
      ),
      undefined,
    )
  })

  it('list the tables an account made as a patient or was given as a reader, for its backup', () => {
    const involving = (a: string) =>
      tagTablesInvolving(dir, a as `0x${string}`)
        .map((t) => `${t.patient.toLowerCase()}>${t.reader.toLowerCase()}`)
        .sort()
    assert.deepEqual(
      involving(reader),
      [`${other}>${reader}`, `${patient}>${reader}`, `0x4444444444444444444444444444444444444444>${reader}`].sort(),
    )
    assert.deepEqual(involving(other), [`${other}>${reader}`])
    assert.deepEqual(tagTablesInvolving(join(dir, 'missing'), reader), [])
    for (const t of tagTablesInvolving(dir, reader)) assert.ok(t.sealed.length > 40)
  })
})
