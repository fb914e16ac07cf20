/**
 * HKDF-SHA256 (RFC 5869) as panva's `hpke` takes a KDF, on @noble/hashes: synchronous JavaScript
 * instead of a Web Crypto job per HMAC (hpke.ts says why that matters).
 *
 * `@panva/hpke-noble` exports the same object, but importing it loads every algorithm it has
 * (ML-KEM, X448, ChaCha20 among them): 18.5 MiB more resident memory in each process that seals a
 * record, where the storing process has a 200 MiB budget. The adapter is four fields and two calls.
 */
import { expand, extract } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import type { KDF } from 'hpke'

export function hkdfSha256(): KDF {
  return {
    id: 0x0001,
    type: 'KDF',
    name: 'HKDF-SHA256',
    Nh: 32,
    stages: 2,
    async Extract(salt, ikm) {
      return extract(sha256, ikm, salt)
    },
    async Expand(prk, info, L) {
      return expand(sha256, prk, info, L)
    },
    // One-stage KDFs only; hpke never calls it on a two-stage one.
    async Derive() {
      throw new Error('HKDF is a two-stage KDF: Derive does not apply')
    },
  }
}
