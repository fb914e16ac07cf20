import assert from 'node:assert/strict'
import * as nodeCrypto from 'node:crypto'
import { describe, it } from 'node:test'
import { hkdfSha256 } from './hkdfSha256.js'
import * as HPKE from 'hpke'
import { nodeX25519Kem } from './x25519Kem.js'

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')

// RFC 9180 appendix A.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode.
const A1 = {
  info: hex('4f6465206f6e2061204772656369616e2055726e'),
  ikmE: hex('7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234'),
  pkEm: '37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431',
  skEm: '52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736',
  ikmR: hex('6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037'),
  pkRm: '3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d',
  skRm: '4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8',
  enc: '37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431',
  sharedSecret: 'fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc',
  // The first encryption of the vector.
  pt: hex('4265617574792069732074727574682c20747275746820626561757479'),
  aad: hex('436f756e742d30'),
  ct: hex('f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a'),
}

const kem = nodeX25519Kem(nodeCrypto, hkdfSha256())

describe('DHKEM(X25519, HKDF-SHA256) on node:crypto', () => {
  it("derives RFC 9180 A.1's key pairs", async () => {
    const ephemeral = await kem.DeriveKeyPair(A1.ikmE, true)
    assert.equal(toHex(await kem.SerializePublicKey(ephemeral.publicKey)), A1.pkEm)
    assert.equal(toHex(await kem.SerializePrivateKey(ephemeral.privateKey)), A1.skEm)
    const recipient = await kem.DeriveKeyPair(A1.ikmR, true)
    assert.equal(toHex(await kem.SerializePublicKey(recipient.publicKey)), A1.pkRm)
    assert.equal(toHex(await kem.SerializePrivateKey(recipient.privateKey)), A1.skRm)
  })

  it("encapsulates and decapsulates to A.1's shared secret", async () => {
    const ephemeral = await kem.DeriveKeyPair(A1.ikmE, false)
    const recipient = await kem.DeriveKeyPair(A1.ikmR, false)
    const { enc, shared_secret } = await kem.encapWith(ephemeral, await kem.DeserializePublicKey(hex(A1.pkRm)))
    assert.equal(toHex(enc), A1.enc)
    assert.equal(toHex(shared_secret), A1.sharedSecret)
    assert.equal(toHex(await kem.Decap(enc, recipient.privateKey, recipient.publicKey)), A1.sharedSecret)
    assert.equal(toHex(await kem.Decap(enc, recipient.privateKey, undefined)), A1.sharedSecret, 'the public half is derived when not given')
    assert.equal(toHex(await kem.Decap(enc, await kem.DeserializePrivateKey(hex(A1.skRm), false), undefined)), A1.sharedSecret)
  })

  it("opens A.1's first ciphertext inside hpke's CipherSuite (key schedule and AEAD included)", async () => {
    const suite = new HPKE.CipherSuite(() => kem, hkdfSha256, HPKE.AEAD_AES_128_GCM)
    const recipient = await suite.DeriveKeyPair(A1.ikmR)
    const pt = await suite.Open(recipient, hex(A1.enc), A1.ct, { aad: A1.aad, info: A1.info })
    assert.equal(toHex(pt), toHex(A1.pt))
  })

  it("interoperates with hpke's Web Crypto KEM both ways", async () => {
    const web = new HPKE.CipherSuite(HPKE.KEM_DHKEM_X25519_HKDF_SHA256, hkdfSha256, HPKE.AEAD_AES_256_GCM)
    const native = new HPKE.CipherSuite(() => kem, hkdfSha256, HPKE.AEAD_AES_256_GCM)
    const seed = nodeCrypto.randomBytes(32)
    const [webPair, nativePair] = [await web.DeriveKeyPair(seed), await native.DeriveKeyPair(seed)]
    const publicKey = await web.SerializePublicKey(webPair.publicKey)
    assert.equal(toHex(await native.SerializePublicKey(nativePair.publicKey)), toHex(publicKey))
    const message = nodeCrypto.randomBytes(32)
    const aad = new TextEncoder().encode('context')
    const a = await native.Seal(await native.DeserializePublicKey(publicKey), message, { aad })
    assert.deepEqual(await web.Open(webPair, a.encapsulatedSecret, a.ciphertext, { aad }), new Uint8Array(message))
    const b = await web.Seal(await web.DeserializePublicKey(publicKey), message, { aad })
    assert.deepEqual(await native.Open(nativePair, b.encapsulatedSecret, b.ciphertext, { aad }), new Uint8Array(message))
  })

  it('refuses a small-order public key (all-zero shared secret) and a private key that is not extractable', async () => {
    const recipient = await kem.DeriveKeyPair(A1.ikmR, false)
    await assert.rejects(kem.Decap(new Uint8Array(32), recipient.privateKey, recipient.publicKey))
    await assert.rejects(kem.SerializePrivateKey(recipient.privateKey), TypeError)
  })
})
