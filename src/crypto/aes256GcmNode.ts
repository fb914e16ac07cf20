/**
 * AES-256-GCM as panva's `hpke` takes an AEAD, on node:crypto: synchronous OpenSSL instead of a
 * Web Crypto job for the 32 bytes of a record key (hpke.ts says why that matters). Written here
 * because `hpke`'s own AEAD is Web Crypto's; the cipher is node's, and the tests hold the suite to
 * RFC 9180's test vector and to `hpke`'s Web Crypto AEAD.
 */
import type { AEAD } from 'hpke'

type NodeCipher = Pick<typeof import('node:crypto'), 'createCipheriv' | 'createDecipheriv'>

const TAG = 16

/** `keyLength` 32 for AES-256-GCM (what medvault wraps with), 16 for AES-128-GCM (the RFC's vector A.1). */
export function nodeAesGcm(node: NodeCipher, keyLength: 16 | 32 = 32): AEAD {
  const algorithm = keyLength === 32 ? 'aes-256-gcm' : 'aes-128-gcm'
  return {
    id: keyLength === 32 ? 0x0002 : 0x0001,
    type: 'AEAD',
    name: keyLength === 32 ? 'AES-256-GCM' : 'AES-128-GCM',
    Nk: keyLength,
    Nn: 12,
    Nt: TAG,
    async Seal(key, nonce, aad, pt) {
      const cipher = node.createCipheriv(algorithm, key, nonce, { authTagLength: TAG })
      cipher.setAAD(aad)
      return new Uint8Array(Buffer.concat([cipher.update(pt), cipher.final(), cipher.getAuthTag()]))
    },
    async Open(key, nonce, aad, ct) {
      if (ct.byteLength < TAG) throw new Error('ciphertext shorter than its tag')
      const decipher = node.createDecipheriv(algorithm, key, nonce, { authTagLength: TAG })
      decipher.setAAD(aad)
      decipher.setAuthTag(ct.subarray(ct.byteLength - TAG))
      // final() throws when the tag does not match: nothing is returned before it has checked.
      const pt = Buffer.concat([decipher.update(ct.subarray(0, ct.byteLength - TAG)), decipher.final()])
      return new Uint8Array(pt)
    },
  }
}
