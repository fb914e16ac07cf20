/**
 * Record-key wrapping with HPKE (RFC 9180): DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM,
 * base mode, through panva's `hpke`. Runs in Node and in browsers, so the web portal uses it too.
 *
 * The suite mixes implementations, which `hpke` is built for: HKDF through @noble/hashes
 * (hkdfSha256.ts), and X25519 and AES-GCM through node:crypto in Node (x25519Kem.ts,
 * aes256GcmNode.ts) or Web Crypto in a browser. HKDF is ten HMACs of a few dozen bytes per wrap,
 * X25519 four key operations and AES-GCM one; as Web Crypto calls each is a job with a promise and
 * a copy, and those were most of a wrap. Measured on 2 cores, wraps in a row: 0.92-0.97 ms each
 * with @hpke/core (all Web Crypto), 0.11 ms this way; unwraps 0.72-0.82 ms before, 0.08 ms now.
 * The bytes are the same RFC 9180 HPKE either way: the tests open @hpke/core's output and the
 * RFC's test vector.
 */
import * as HPKE from 'hpke'
import { nodeAesGcm } from './aes256GcmNode.js'
import { hkdfSha256 } from './hkdfSha256.js'
import { WrongKeyError } from '../errors.js'
import { nodeX25519Kem } from './x25519Kem.js'

type Suite = HPKE.CipherSuite<HPKE.Key>

/**
 * node:crypto where there is one (Node; the portal's bundle gets an empty stub for it, as
 * aeadStream.ts explains, and keeps Web Crypto's X25519).
 */
let suiteLoaded: Promise<Suite> | undefined
const loadSuite = () =>
  (suiteLoaded ??= import('node:crypto').then(
    (node) =>
      typeof node.diffieHellman === 'function' && typeof node.generateKeyPairSync === 'function'
        ? (new HPKE.CipherSuite(
            () => nodeX25519Kem(node, hkdfSha256()),
            hkdfSha256,
            () => nodeAesGcm(node),
          ) as Suite)
        : webSuite(),
    () => webSuite(),
  ))
const webSuite = () => new HPKE.CipherSuite(HPKE.KEM_DHKEM_X25519_HKDF_SHA256, hkdfSha256, HPKE.AEAD_AES_256_GCM) as Suite

const INFO = new TextEncoder().encode('medvault/record-key/v1')

export type EncryptionKeyPair = {
  /** 32-byte seed the key pair is derived from (RFC 9180 DeriveKeyPair); this is what a keystore keeps. */
  seed: Uint8Array
  publicKey: Uint8Array
}

export type WrappedKey = {
  /** HPKE encapsulated key. */
  enc: Uint8Array
  /** The record key sealed to the recipient. */
  ct: Uint8Array
}

export function generateEncryptionSeed(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32))
}

/** Derives the X25519 key pair for a seed. */
export async function encryptionKeyPairFromSeed(seed: Uint8Array): Promise<EncryptionKeyPair> {
  const suite = await loadSuite()
  const pair = await suite.DeriveKeyPair(seed)
  return { seed, publicKey: await suite.SerializePublicKey(pair.publicKey) }
}

/**
 * Seals `key` to `recipientPublicKey`. `aad` binds the wrapped key to its context (the recipient's
 * chain address), so a wrapped key copied into another recipient's slot does not open.
 */
export async function wrapKey(recipientPublicKey: Uint8Array, key: Uint8Array, aad: Uint8Array): Promise<WrappedKey> {
  const suite = await loadSuite()
  const { encapsulatedSecret, ciphertext } = await suite.Seal(await suite.DeserializePublicKey(recipientPublicKey), key, {
    aad,
    info: INFO,
  })
  return { enc: encapsulatedSecret, ct: ciphertext }
}

/**
 * Deriving the key pair costs about as much as the open itself, so it is done once per seed
 * object: a reader opening hundreds of records (a history) derives once. Held weakly, so the pair
 * lives no longer than the unlocked account holding the seed.
 */
type KemKeyPair = HPKE.KeyPair

const derived = new WeakMap<Uint8Array, Promise<KemKeyPair>>()

function keyPairOf(seed: Uint8Array): Promise<KemKeyPair> {
  let pair = derived.get(seed)
  if (!pair) {
    pair = loadSuite().then((suite) => suite.DeriveKeyPair(seed))
    derived.set(seed, pair)
    pair.catch(() => derived.delete(seed))
  }
  return pair
}

export async function unwrapKey(seed: Uint8Array, wrapped: WrappedKey, aad: Uint8Array): Promise<Uint8Array> {
  const pair = await keyPairOf(seed)
  try {
    // The pair, not its private key alone: Decap needs the public half, and a non-extractable
    // private key cannot give it.
    return await (await loadSuite()).Open(pair, wrapped.enc, wrapped.ct, { aad, info: INFO })
  } catch (cause) {
    throw new WrongKeyError("This account's key cannot open the record key.", {
      cause,
      hint: "The record was sealed for another account; sign in as the record's owner or ask them for access.",
    })
  }
}

export const randomKey = (): Uint8Array => crypto.getRandomValues(new Uint8Array(32))
