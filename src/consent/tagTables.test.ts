import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { bytesToHex } from 'viem'
import { categoryTag, classOf, deriveTagSecret } from '../core/index.js'
import { encryptionKeyPairFromSeed, generateEncryptionSeed } from '../crypto/index.js'
import { WrongKeyError } from '../errors.js'
import { createFileTagTableStore, shareTagTable, sharedTagTable } from './tagTables.js'

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
    await shareTagTable(store, { patient, patientSeed, reader, readerPublicKey })
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
    await shareTagTable(store, { patient: other, patientSeed, reader, readerPublicKey, categories: ['laboratory'] })
    const table = await sharedTagTable(store, { patient: other, reader, readerSeed })
    assert.deepEqual(new Set(table?.map((e) => e.category)), new Set(['laboratory']))
    assert.equal(classOf(table ?? [], categoryTag(deriveTagSecret(patientSeed), 'mental-health', 1)), undefined)
  })
})
