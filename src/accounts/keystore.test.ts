import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { WrongKeyError } from '../errors.js'
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
