/**
 * Record-key wrapping with HPKE (RFC 9180): DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM,
 * base mode, through @hpke/core. Runs in Node and in browsers (WebCrypto), so the web portal uses it too.
 */
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core'
import { WrongKeyError } from '../errors.js'

const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
})

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
  const pair = await suite.kem.deriveKeyPair(toArrayBuffer(seed))
  return { seed, publicKey: new Uint8Array(await suite.kem.serializePublicKey(pair.publicKey)) }
}

/**
 * Seals `key` to `recipientPublicKey`. `aad` binds the wrapped key to its context (the recipient's
 * chain address), so a wrapped key copied into another recipient's slot does not open.
 */
export async function wrapKey(recipientPublicKey: Uint8Array, key: Uint8Array, aad: Uint8Array): Promise<WrappedKey> {
  const { enc, ct } = await suite.seal(
    { recipientPublicKey: await suite.kem.deserializePublicKey(toArrayBuffer(recipientPublicKey)), info: INFO },
    toArrayBuffer(key),
    toArrayBuffer(aad),
  )
  return { enc: new Uint8Array(enc), ct: new Uint8Array(ct) }
}

/**
 * Deriving the key pair costs about as much as the open itself, so it is done once per seed
 * object: a reader opening hundreds of records (a history) derives once. Held weakly, so the pair
 * lives no longer than the unlocked account holding the seed.
 */
type KemKeyPair = Awaited<ReturnType<typeof suite.kem.deriveKeyPair>>

const derived = new WeakMap<Uint8Array, Promise<KemKeyPair>>()

function keyPairOf(seed: Uint8Array): Promise<KemKeyPair> {
  let pair = derived.get(seed)
  if (!pair) {
    pair = suite.kem.deriveKeyPair(toArrayBuffer(seed))
    derived.set(seed, pair)
    pair.catch(() => derived.delete(seed))
  }
  return pair
}

export async function unwrapKey(seed: Uint8Array, wrapped: WrappedKey, aad: Uint8Array): Promise<Uint8Array> {
  const pair = await keyPairOf(seed)
  try {
    const pt = await suite.open(
      { recipientKey: pair, enc: toArrayBuffer(wrapped.enc), info: INFO },
      toArrayBuffer(wrapped.ct),
      toArrayBuffer(aad),
    )
    return new Uint8Array(pt)
  } catch (cause) {
    throw new WrongKeyError("This account's key cannot open the record key.", {
      cause,
      hint: "The record was sealed for another account; sign in as the record's owner or ask them for access.",
    })
  }
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
}

export const randomKey = (): Uint8Array => crypto.getRandomValues(new Uint8Array(32))
