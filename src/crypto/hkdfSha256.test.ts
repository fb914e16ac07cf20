import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import * as HPKE from 'hpke'
import { hkdfSha256 } from './hkdfSha256.js'

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')

describe('hkdfSha256', () => {
  it('gives RFC 5869 test case 1', async () => {
    const kdf = hkdfSha256()
    const prk = await kdf.Extract(hex('000102030405060708090a0b0c'), hex('0b'.repeat(22)))
    assert.equal(toHex(prk), '077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5')
    const okm = await kdf.Expand(prk, hex('f0f1f2f3f4f5f6f7f8f9'), 42)
    assert.equal(toHex(okm), '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865')
  })

  it("agrees with hpke's Web Crypto HKDF-SHA256", async () => {
    const ours = hkdfSha256()
    const web = HPKE.KDF_HKDF_SHA256()
    assert.deepEqual([ours.id, ours.Nh, ours.stages], [web.id, web.Nh, web.stages])
    for (let i = 0; i < 20; i++) {
      const salt = randomBytes(i % 3 === 0 ? 0 : 32)
      const ikm = randomBytes(10 + i)
      const prk = await ours.Extract(salt, ikm)
      assert.deepEqual(prk, await web.Extract(salt, ikm))
      assert.deepEqual(await ours.Expand(prk, randomBytes(i).fill(i), 32 + i), await web.Expand(prk, randomBytes(i).fill(i), 32 + i))
    }
  })
})
