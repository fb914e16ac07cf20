import assert from 'node:assert/strict'
import * as nodeCrypto from 'node:crypto'
import { describe, it } from 'node:test'
import * as HPKE from 'hpke'
import { nodeAesGcm } from './aes256GcmNode.js'
import { hkdfSha256 } from './hkdfSha256.js'
import { nodeX25519Kem } from './x25519Kem.js'

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'))

describe('AES-GCM on node:crypto for hpke', () => {
  it("agrees with hpke's Web Crypto AEAD both ways", async () => {
    const ours = nodeAesGcm(nodeCrypto)
    const web = HPKE.AEAD_AES_256_GCM()
    assert.deepEqual([ours.id, ours.Nk, ours.Nn, ours.Nt], [web.id, web.Nk, web.Nn, web.Nt])
    for (let i = 0; i < 20; i++) {
      const key = nodeCrypto.randomBytes(32)
      const nonce = nodeCrypto.randomBytes(12)
      const aad = nodeCrypto.randomBytes(i)
      const pt = nodeCrypto.randomBytes(i * 7)
      const sealed = await ours.Seal(key, nonce, aad, pt)
      assert.deepEqual(sealed, await web.Seal(key, nonce, aad, pt))
      assert.deepEqual(await web.Open(key, nonce, aad, sealed), new Uint8Array(pt))
      assert.deepEqual(await ours.Open(key, nonce, aad, sealed), new Uint8Array(pt))
    }
  })

  it('refuses a changed ciphertext, tag or associated data, and one shorter than its tag', async () => {
    const aead = nodeAesGcm(nodeCrypto)
    const key = nodeCrypto.randomBytes(32)
    const nonce = nodeCrypto.randomBytes(12)
    const aad = new TextEncoder().encode('0xrecipient')
    const sealed = await aead.Seal(key, nonce, aad, nodeCrypto.randomBytes(32))
    for (const i of [0, sealed.length - 1]) {
      const changed = sealed.slice()
      changed[i] = changed[i]! ^ 1
      await assert.rejects(aead.Open(key, nonce, aad, changed))
    }
    await assert.rejects(aead.Open(key, nonce, new TextEncoder().encode('0xsomeone'), sealed))
    await assert.rejects(aead.Open(key, nonce, aad, sealed.subarray(0, 15)))
  })

  it("opens RFC 9180 A.1's first ciphertext in the all-node:crypto suite (AES-128-GCM there)", async () => {
    const suite = new HPKE.CipherSuite(
      () => nodeX25519Kem(nodeCrypto, hkdfSha256()),
      hkdfSha256,
      () => nodeAesGcm(nodeCrypto, 16),
    )
    const recipient = await suite.DeriveKeyPair(hex('6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037'))
    const pt = await suite.Open(
      recipient,
      hex('37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431'),
      hex('f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a'),
      { aad: hex('436f756e742d30'), info: hex('4f6465206f6e2061204772656369616e2055726e') },
    )
    assert.equal(Buffer.from(pt).toString('hex'), '4265617574792069732074727574682c20747275746820626561757479')
  })
})
