import assert from 'node:assert/strict'
import { createHmac, hkdfSync } from 'node:crypto'
import { describe, it } from 'node:test'
import { bytesToHex } from 'viem'
import { encryptionKeyPairFromSeed, generateEncryptionSeed } from '../crypto/index.js'
import { InvalidInputError, WrongKeyError } from '../errors.js'
import { CATEGORIES, Sensitivity } from './categories.js'
import {
  buildTagTable,
  categoryTag,
  classOf,
  decodeTagTable,
  deriveTagSecret,
  encodeTagTable,
  openTagTable,
  openTags,
  sealTagTable,
  tagOf,
  tagsForCategories,
} from './categoryTags.js'

const patient = '0x1111111111111111111111111111111111111111'
const reader = '0x2222222222222222222222222222222222222222'

describe('category tags', () => {
  it('match an independent HKDF and HMAC computation (node:crypto), truncated to 8 bytes', () => {
    const seed = generateEncryptionSeed()
    const secret = deriveTagSecret(seed)
    const expectedSecret = new Uint8Array(hkdfSync('sha256', seed, 'medvault/category-tags', 'v1', 32))
    assert.deepEqual(secret, expectedSecret)
    const mac = createHmac('sha256', secret)
      .update(Buffer.concat([Buffer.from('medvault.tag.v1'), Buffer.from([0]), Buffer.from('laboratory'), Buffer.from([0, 16])]))
      .digest()
    assert.equal(categoryTag(secret, 'laboratory', Sensitivity.restricted), bytesToHex(mac.subarray(0, 8)))
  })

  it('are recovered from the same seed and differ between patients', () => {
    const seed = generateEncryptionSeed()
    assert.equal(
      categoryTag(deriveTagSecret(seed), 'mental-health', 1),
      categoryTag(deriveTagSecret(Uint8Array.from(seed)), 'mental-health', 1),
    )
    const other = deriveTagSecret(generateEncryptionSeed())
    for (const category of CATEGORIES) {
      const flags =
        category === 'mental-health'
          ? 1
          : category === 'substance-use'
            ? 2
            : category === 'sexual-health'
              ? 4
              : category === 'genetic'
                ? 8
                : 0
      assert.notEqual(categoryTag(deriveTagSecret(seed), category, flags), categoryTag(other, category, flags))
    }
  })

  it('give every class of one patient its own tag', () => {
    const table = buildTagTable(deriveTagSecret(generateEncryptionSeed()))
    assert.equal(new Set(table.map((e) => e.tag)).size, table.length)
    // 13 categories with any of 32 flag sets, 4 sensitive ones with any of the 16 that include their own flag.
    assert.equal(table.length, 13 * 32 + 4 * 16)
  })

  it('refuse a sensitive category without its own flag, and unknown flags', () => {
    const secret = deriveTagSecret(generateEncryptionSeed())
    assert.throws(() => categoryTag(secret, 'mental-health', 0), InvalidInputError)
    assert.throws(() => categoryTag(secret, 'laboratory', 32), InvalidInputError)
    assert.throws(() => deriveTagSecret(new Uint8Array(16)), InvalidInputError)
  })

  it('map back through a table, and the open set holds no flagged class', () => {
    const secret = deriveTagSecret(generateEncryptionSeed())
    const table = buildTagTable(secret)
    const tag = categoryTag(secret, 'substance-use', Sensitivity.substanceUse | Sensitivity.restricted)
    assert.deepEqual(classOf(table, tag), { category: 'substance-use', sensitivity: 18 })
    assert.equal(tagOf(table, 'laboratory', 0), categoryTag(secret, 'laboratory', 0))
    const open = new Set(openTags(table))
    assert.equal(open.size, 13)
    for (const e of table) assert.equal(open.has(e.tag), e.sensitivity === 0)
  })

  it('name for a category grant the classes it covers: its own flag, plus only the flags named', () => {
    const table = buildTagTable(deriveTagSecret(generateEncryptionSeed()))
    const lab = tagsForCategories(table, ['laboratory'], 0)
    assert.deepEqual(lab, [tagOf(table, 'laboratory', 0)])
    const labRestricted = tagsForCategories(table, ['laboratory'], Sensitivity.restricted)
    assert.equal(labRestricted.length, 2)
    const mental = tagsForCategories(table, ['mental-health'], 0)
    assert.deepEqual(mental, [tagOf(table, 'mental-health', Sensitivity.mentalHealth)])
  })

  it('seal a table to one reader and one patient only', async () => {
    const secret = deriveTagSecret(generateEncryptionSeed())
    const table = buildTagTable(secret, ['laboratory', 'mental-health'])
    assert.deepEqual(decodeTagTable(encodeTagTable(table)), table)
    const readerSeed = generateEncryptionSeed()
    const { publicKey } = await encryptionKeyPairFromSeed(readerSeed)
    const sealed = await sealTagTable(table, { patient, reader, readerPublicKey: bytesToHex(publicKey) })
    assert.deepEqual(await openTagTable(readerSeed, sealed, { patient, reader }), table)
    await assert.rejects(openTagTable(generateEncryptionSeed(), sealed, { patient, reader }), WrongKeyError)
    await assert.rejects(openTagTable(readerSeed, sealed, { patient: reader, reader: patient }), WrongKeyError)
    // No tag appears in clear in the sealed bytes.
    const hex = bytesToHex(sealed)
    for (const e of table) assert.equal(hex.includes(e.tag.slice(2)), false)
  })

  it('refuse a damaged table', () => {
    assert.throws(() => decodeTagTable(new Uint8Array([2])), InvalidInputError)
    assert.throws(() => decodeTagTable(new Uint8Array([1, 0])), InvalidInputError)
    assert.throws(() => decodeTagTable(new Uint8Array([1, 5, 0, 1, 2, 3, 4, 5, 6, 7, 8])), InvalidInputError)
  })
})
