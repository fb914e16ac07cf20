/**
 * DHKEM(X25519, HKDF-SHA256) (RFC 9180 §4.1, KEM id 0x0020) on node:crypto's native X25519, for
 * panva's `hpke` (which takes a KEM as an object; its own runs X25519 through Web Crypto).
 *
 * Written here because no library offers it: `hpke` and `@hpke/core` do X25519 through Web Crypto,
 * where each key generation, export, import and agreement is a job with a promise and a copy (a
 * third of a record's import went to those jobs), and `@panva/hpke-noble` does it in JavaScript,
 * slower still (1.2 ms a wrap here against 0.5 ms). Only the KEM's glue is written here: the curve
 * is OpenSSL's X25519 through node:crypto, and HKDF and its labels are `hpke`'s own
 * (`LabeledExtract`, `LabeledExpand`) over the suite's KDF. The RFC's test vector A.1 holds it to
 * the standard byte for byte (x25519Kem.test.ts), and keys it wraps open with the Web Crypto KEM.
 */
import type { KeyObject } from 'node:crypto'
import { type KDF, type KEM, type KeyPair, LabeledExpand, LabeledExtract, concat, encode, I2OSP } from 'hpke'

type NodeX25519 = Pick<typeof import('node:crypto'), 'createPrivateKey' | 'createPublicKey' | 'diffieHellman' | 'generateKeyPairSync'>

const KEM_ID = 0x0020
const N = 32
// The DER prefix of an X25519 private key in PKCS#8 (RFC 8410): the raw 32 bytes follow it.
const PKCS8_PREFIX = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20)
const SUITE_ID = concat(encode('KEM'), I2OSP(KEM_ID, 2))
const EMPTY = new Uint8Array(0)

/** A key as `hpke` sees one (algorithm, type, extractable), holding node's KeyObject. */
export class NodeX25519Key {
  readonly algorithm = { name: 'X25519' }
  constructor(
    readonly type: 'private' | 'public',
    readonly extractable: boolean,
    readonly keyObject: KeyObject,
  ) {}
}

/** The KEM. `kdf` is the suite's HKDF-SHA256 (the KEM labels its own use of it). */
export function nodeX25519Kem(
  node: NodeX25519,
  kdf: KDF,
): KEM<NodeX25519Key> & {
  /** Encap with a given ephemeral key pair: for known-answer tests only (a reused ephemeral key breaks every wrap made with it). */
  encapWith(ephemeral: KeyPair<NodeX25519Key>, pkR: NodeX25519Key): Promise<{ shared_secret: Uint8Array; enc: Uint8Array }>
} {
  // Public keys cross as JWK: node parses and writes DER through OpenSSL's decoders, 57-65 µs a
  // key here, and JWK in 1-5 µs.
  const rawPublic = (key: KeyObject) => new Uint8Array(Buffer.from(key.export({ format: 'jwk' }).x as string, 'base64url'))
  const publicKey = (raw: Uint8Array) =>
    new NodeX25519Key(
      'public',
      true,
      node.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' }),
    )
  const privateKey = (raw: Uint8Array, extractable: boolean) =>
    new NodeX25519Key(
      'private',
      extractable,
      node.createPrivateKey({ key: Buffer.from(concat(PKCS8_PREFIX, raw)), format: 'der', type: 'pkcs8' }),
    )
  const pairOf = (sk: NodeX25519Key): KeyPair<NodeX25519Key> => ({
    privateKey: sk,
    publicKey: new NodeX25519Key('public', true, node.createPublicKey(sk.keyObject)),
  })

  const dh = (sk: NodeX25519Key, pk: NodeX25519Key): Uint8Array => {
    const secret = new Uint8Array(node.diffieHellman({ privateKey: sk.keyObject, publicKey: pk.keyObject }))
    // RFC 9180 §7.1.4: an all-zero X25519 output (a small-order public key) must abort.
    if (secret.every((b) => b === 0)) throw new Error('X25519 produced the all-zero shared secret')
    return secret
  }

  // RFC 9180 §4.1 ExtractAndExpand.
  const extractAndExpand = async (secret: Uint8Array, kemContext: Uint8Array) => {
    const prk = await LabeledExtract(kdf, SUITE_ID, EMPTY, encode('eae_prk'), secret)
    return LabeledExpand(kdf, SUITE_ID, prk, encode('shared_secret'), kemContext, N)
  }

  const encapWith = async (ephemeral: KeyPair<NodeX25519Key>, pkR: NodeX25519Key) => {
    const secret = dh(ephemeral.privateKey, pkR)
    const enc = rawPublic(ephemeral.publicKey.keyObject)
    const shared_secret = await extractAndExpand(secret, concat(enc, rawPublic(pkR.keyObject)))
    return { shared_secret, enc }
  }

  return {
    id: KEM_ID,
    type: 'KEM',
    name: 'DHKEM(X25519, HKDF-SHA256)',
    Nsecret: N,
    Nenc: N,
    Npk: N,
    Nsk: N,
    // RFC 9180 §7.1.3 (X25519 clamps the scalar itself, so no rejection loop).
    async DeriveKeyPair(ikm, extractable) {
      const prk = await LabeledExtract(kdf, SUITE_ID, EMPTY, encode('dkp_prk'), ikm)
      const sk = await LabeledExpand(kdf, SUITE_ID, prk, encode('sk'), EMPTY, N)
      return pairOf(privateKey(sk, extractable))
    },
    async GenerateKeyPair(extractable) {
      const pair = node.generateKeyPairSync('x25519')
      return {
        privateKey: new NodeX25519Key('private', extractable, pair.privateKey),
        publicKey: new NodeX25519Key('public', true, pair.publicKey),
      }
    },
    async SerializePublicKey(key) {
      return rawPublic(key.keyObject)
    },
    async DeserializePublicKey(key) {
      return publicKey(key)
    },
    async SerializePrivateKey(key) {
      if (!key.extractable) throw new TypeError('the private key is not extractable')
      return new Uint8Array(key.keyObject.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length))
    },
    async DeserializePrivateKey(key, extractable) {
      return privateKey(key, extractable)
    },
    async Encap(pkR) {
      return encapWith(await this.GenerateKeyPair(false), pkR)
    },
    async Decap(enc, skR, pkR) {
      const secret = dh(skR, publicKey(enc))
      const recipient = pkR ?? pairOf(skR).publicKey
      return extractAndExpand(secret, concat(enc, rawPublic(recipient.keyObject)))
    },
    encapWith,
  }
}
