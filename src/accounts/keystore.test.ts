import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { bytesToHex } from 'viem'
import { deriveTagSecret } from '../core/index.js'
import { InvalidInputError, WrongKeyError } from '../errors.js'
import { openKeystore } from './keystore.js'

function kdfN(dir: string, name: string): number {
  return JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')).crypto.kdfparams.N
}

describe('keystore KDF cost', () => {
  it('uses scrypt N = 2^17 unless a light KDF is asked for, and keeps the choice in the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mv-keystore-'))
    const saved = process.env.MEDVAULT_LIGHT_KDF
    try {
      delete process.env.MEDVAULT_LIGHT_KDF
      const ks = openKeystore(dir)
      await ks.create('strong', 'correct-horse-battery')
      process.env.MEDVAULT_LIGHT_KDF = '1'
      await ks.create('light', 'correct-horse-battery')
      assert.equal(kdfN(dir, 'strong'), 1 << 17)
      assert.equal(kdfN(dir, 'light'), 1 << 12)
      // The file's own parameters open it, whatever the environment says now.
      assert.equal((await ks.unlock('strong', 'correct-horse-battery')).address, ks.get('strong').address)
      delete process.env.MEDVAULT_LIGHT_KDF
      assert.equal((await ks.unlock('light', 'correct-horse-battery')).address, ks.get('light').address)
      await assert.rejects(ks.unlock('light', 'wrong-passphrase'), WrongKeyError)
    } finally {
      if (saved === undefined) delete process.env.MEDVAULT_LIGHT_KDF
      else process.env.MEDVAULT_LIGHT_KDF = saved
    }
  })
})

describe('keystore tag secret (issue 22)', () => {
  const PASS = 'correct-horse-battery'
  const light = () => {
    const saved = process.env.MEDVAULT_LIGHT_KDF
    process.env.MEDVAULT_LIGHT_KDF = '1'
    return () => {
      if (saved === undefined) delete process.env.MEDVAULT_LIGHT_KDF
      else process.env.MEDVAULT_LIGHT_KDF = saved
    }
  }

  it('derives the tag secret from the encryption seed unless one is given at creation', async () => {
    const restore = light()
    try {
      const dir = mkdtempSync(join(tmpdir(), 'mv-keystore-tags-'))
      const ks = openKeystore(dir)
      await ks.create('plain', PASS)
      const plain = await ks.unlock('plain', PASS)
      assert.equal(bytesToHex(plain.tagSecret), bytesToHex(deriveTagSecret(plain.encryptionSeed)))
      const taken = randomBytes(32)
      await ks.create('heir', PASS, { tagSecret: taken })
      const heir = await ks.unlock('heir', PASS)
      assert.equal(bytesToHex(heir.tagSecret), bytesToHex(taken))
      assert.notEqual(bytesToHex(heir.tagSecret), bytesToHex(deriveTagSecret(heir.encryptionSeed)))
    } finally {
      restore()
    }
  })

  it('setTagSecret re-seals the file under the same passphrase and cost, keeping the other keys; the same secret writes nothing', async () => {
    const restore = light()
    try {
      const dir = mkdtempSync(join(tmpdir(), 'mv-keystore-tags-'))
      const ks = openKeystore(dir)
      await ks.create('new', PASS)
      const before = await ks.unlock('new', PASS)
      const file = join(dir, 'new.json')
      const sealedBefore = readFileSync(file, 'utf8')
      const old = randomBytes(32)
      await ks.setTagSecret('new', PASS, old)
      const sealedAfter = readFileSync(file, 'utf8')
      assert.notEqual(sealedAfter, sealedBefore)
      // The secret is sealed, never in the file in clear.
      assert.equal(sealedAfter.includes(bytesToHex(old).slice(2)), false)
      assert.equal(kdfN(dir, 'new'), 1 << 12)
      const after = await ks.unlock('new', PASS)
      assert.equal(bytesToHex(after.tagSecret), bytesToHex(old))
      assert.equal(after.address, before.address)
      assert.equal(bytesToHex(after.encryptionSeed), bytesToHex(before.encryptionSeed))
      assert.equal(after.encryptionPublicKey, before.encryptionPublicKey)
      await ks.setTagSecret('new', PASS, old)
      assert.equal(readFileSync(file, 'utf8'), sealedAfter, 'the same secret again writes nothing')
      // Back to the derived one: stored no more, as for an account that never took one over.
      await ks.setTagSecret('new', PASS, deriveTagSecret(before.encryptionSeed))
      assert.equal(bytesToHex((await ks.unlock('new', PASS)).tagSecret), bytesToHex(before.tagSecret))
      await assert.rejects(ks.setTagSecret('new', 'wrong-passphrase', old), WrongKeyError)
      await assert.rejects(ks.setTagSecret('new', PASS, randomBytes(16)), InvalidInputError)
    } finally {
      restore()
    }
  })
})
