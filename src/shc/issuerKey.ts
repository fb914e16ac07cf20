import { createECDH, createHash } from 'node:crypto'
import { type Hex, bytesToHex } from 'viem'
import type { JWK } from 'jose'
import { jwkKid } from './issue.js'

const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551')

export type HealthCardIssuerKey = { privateJwk: JWK; publicJwk: JWK; kid: string; x: Hex; y: Hex }

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url')

/**
 * The P-256 signing key of a provider's SMART Health Cards, derived from a 32-byte seed (the
 * keystore derives it from the account's chain key), so nothing new needs storing or backing up.
 * A seed outside the curve order (probability ~2^-32) is re-hashed.
 */
export async function healthCardKeyFromSeed(seed: Uint8Array): Promise<HealthCardIssuerKey> {
  let d = Buffer.from(seed)
  while (BigInt(`0x${d.toString('hex')}`) === 0n || BigInt(`0x${d.toString('hex')}`) >= P256_ORDER) {
    d = createHash('sha256').update(d).digest()
  }
  const ecdh = createECDH('prime256v1')
  ecdh.setPrivateKey(d)
  const point = ecdh.getPublicKey() // 0x04 || x || y
  const x = point.subarray(1, 33)
  const y = point.subarray(33, 65)
  const publicBase: JWK = { kty: 'EC', crv: 'P-256', x: b64url(x), y: b64url(y) }
  const kid = await jwkKid(publicBase)
  const publicJwk: JWK = { ...publicBase, kid, use: 'sig', alg: 'ES256' }
  return { privateJwk: { ...publicJwk, d: b64url(d) }, publicJwk, kid, x: bytesToHex(x), y: bytesToHex(y) }
}

/** The public JWK of an on-chain key (x, y as 32-byte hex). */
export async function healthCardJwkFromChain(x: Hex, y: Hex): Promise<JWK> {
  const base: JWK = { kty: 'EC', crv: 'P-256', x: b64url(Buffer.from(x.slice(2), 'hex')), y: b64url(Buffer.from(y.slice(2), 'hex')) }
  return { ...base, kid: await jwkKid(base), use: 'sig', alg: 'ES256' }
}
