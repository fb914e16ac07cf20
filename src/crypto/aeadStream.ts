/**
 * Segmented AES-256-GCM ("STREAM", Hoang, Reyhanitabar, Rogaway and Vizár 2015), the construction
 * age and Tink use for large payloads. Written here because no maintained JS library offers it;
 * the primitive itself is node:crypto's AES-256-GCM.
 *
 * The plaintext is cut into segments of `segmentSize` bytes; segment i is sealed with the nonce
 * `i` (11 bytes, big-endian) || `last` (1 byte: 1 for the final segment, else 0). Each segment is
 * authenticated before a single byte of it is released, reordering fails (the counter is in the
 * nonce) and truncation fails (only the final segment carries the flag). Nonces never repeat
 * because every record has a fresh key.
 */
import type { CipherGCM, webcrypto } from 'node:crypto'

type CryptoKey = webcrypto.CryptoKey
import { InvalidInputError, TamperedRecordError } from '../errors.js'
import { SEGMENT_TAG_LENGTH as TAG_LENGTH, segmentNonce as nonce } from './streamNonce.js'

export const DEFAULT_SEGMENT_SIZE = 1 << 20
const KEY_LENGTH = 32
/**
 * Segments sealed or opened at once through WebCrypto (browsers), which runs AES-GCM off the main
 * thread. Each holds two buffers.
 */
const IN_FLIGHT = 2

/**
 * node:crypto, where there is one (Node; the portal's bundle, which reaches this module through the
 * key slip format, gets an empty stub). There each segment is sealed synchronously: a MiB of
 * AES-GCM is 0.3–0.5 ms of the event loop, about what handing it to the thread pool and collecting
 * the result cost, and the copy WebCrypto makes of every input and the promise per segment go. The
 * storing pipeline still hashes and writes in the thread pool meanwhile (storage/writtenBlocks.ts).
 * Measured: docs/benchmarks.md#storage-and-crypto-throughput.
 */
type NodeCrypto = Pick<typeof import('node:crypto'), 'createCipheriv' | 'createDecipheriv'>
let nodeCrypto: Promise<NodeCrypto | undefined> | undefined
const loadNodeCrypto = () =>
  (nodeCrypto ??= import('node:crypto').then(
    (m) => (typeof m.createCipheriv === 'function' && typeof m.createDecipheriv === 'function' ? m : undefined),
    () => undefined,
  ))

// The global WebCrypto (Node 20 and browsers), not node:crypto's export: the portal bundles this
// module (through the key slip format) and node:crypto is an empty stub there.
const subtle = globalThis.crypto.subtle as webcrypto.SubtleCrypto

/** The AES-GCM parameters of segment `counter` (WebCrypto appends the 16-byte tag, as the format wants). */
const gcm = (counter: number, last: boolean, aad: Uint8Array): webcrypto.AesGcmParams => ({
  name: 'AES-GCM',
  iv: nonce(counter, last),
  additionalData: aad,
  tagLength: TAG_LENGTH * 8,
})

// WebCrypto copies its input before it returns the promise (WebCrypto spec, "get a copy of the bytes"),
// so the caller may reuse `plaintext` at once.
async function sealSegment(key: CryptoKey, counter: number, last: boolean, aad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle.encrypt(gcm(counter, last, aad), key, plaintext))
}

// WebCrypto checks the tag before it returns a byte: a segment that fails releases nothing.
async function openSegment(key: CryptoKey, counter: number, last: boolean, aad: Uint8Array, sealed: Uint8Array): Promise<Uint8Array> {
  if (sealed.length < TAG_LENGTH) throw truncated()
  try {
    return new Uint8Array(await subtle.decrypt(gcm(counter, last, aad), key, sealed))
  } catch (cause) {
    throw tampered(cause)
  }
}

function tampered(cause: unknown) {
  return new TamperedRecordError('The record ciphertext failed its integrity check (AES-GCM tag mismatch).', {
    cause,
    hint: 'The stored copy was altered or corrupted, or it was sealed for another key. Do not trust it; ask the issuer to re-issue.',
  })
}

function truncated() {
  return new TamperedRecordError('The record ciphertext is truncated.', {
    hint: 'The stored copy is incomplete; fetch it again or ask the issuer to re-issue.',
  })
}

/**
 * Cuts the source into pieces of `size` bytes, copying each byte once (which also protects against
 * a producer that refills one buffer for every chunk). A full piece is held back until a byte after
 * it arrives, so the final piece is known to be final. Two buffers take turns: the consumer must be
 * done with a piece when it asks for the next one, which WebCrypto is (it copies its input at once).
 */
async function* pieces(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<{ piece: Uint8Array; last: boolean }> {
  let filling: Uint8Array = Buffer.allocUnsafe(size)
  let spare: Uint8Array | undefined
  let filled = 0
  let full: Uint8Array | undefined
  for await (const chunk of source) {
    for (let offset = 0; offset < chunk.byteLength; ) {
      if (full) {
        yield { piece: full, last: false }
        spare = full
        full = undefined
      }
      const n = Math.min(size - filled, chunk.byteLength - offset)
      filling.set(chunk.subarray(offset, offset + n), filled)
      filled += n
      offset += n
      if (filled === size) {
        full = filling
        filling = spare ?? Buffer.allocUnsafe(size)
        spare = undefined
        filled = 0
      }
    }
  }
  yield full ? { piece: full, last: true } : { piece: filling.subarray(0, filled), last: true }
}

/**
 * Yields the results of `started` in order, with up to `window` of them running at once. A job that
 * fails while earlier ones are still being yielded fails the stream when its turn comes, not before.
 */
async function* inOrder<T>(started: AsyncIterable<{ job: Promise<T> }>, window: number): AsyncGenerator<T> {
  const pending: Promise<T>[] = []
  for await (const { job } of started) {
    // Awaited in turn below; this only keeps a failure that is not yet awaited from counting as unhandled.
    job.catch(() => undefined)
    pending.push(job)
    if (pending.length >= window) yield await pending.shift()!
  }
  while (pending.length > 0) yield await pending.shift()!
}

function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_LENGTH) throw new RangeError('AES-256-GCM needs a 32-byte key')
}

function importKey(key: Uint8Array, usage: 'encrypt' | 'decrypt'): Promise<CryptoKey> {
  checkKey(key)
  return subtle.importKey('raw', key, 'AES-GCM', false, [usage])
}

export type AeadStreamParameters = {
  key: Uint8Array
  /** Bound to every segment; the envelope passes a hash of its header. */
  aad: Uint8Array
  segmentSize?: number
}

export type EncryptStreamParameters = AeadStreamParameters & {
  /**
   * The plaintext's length, when known. A segment's nonce says whether it is the last one, which
   * otherwise is known only when the next bytes (or the end) arrive, so each segment is gathered
   * in a buffer before it is sealed. Knowing the length, node:crypto seals the bytes as they
   * arrive: one copy of every byte less, the same ciphertext. The source must then yield exactly
   * this many bytes.
   */
  size?: number
}

/** Encrypts `source` segment by segment. Memory use is a few segments, whatever the input size. */
export async function* encryptStream(
  source: AsyncIterable<Uint8Array>,
  { key, aad, segmentSize = DEFAULT_SEGMENT_SIZE, size }: EncryptStreamParameters,
): AsyncGenerator<Uint8Array> {
  const node = await loadNodeCrypto()
  if (node) {
    checkKey(key)
    if (size !== undefined) {
      yield* encryptKnownLength(node, source, { key, aad, segmentSize, size })
      return
    }
    let counter = 0
    for await (const { piece, last } of pieces(source, segmentSize)) {
      const cipher = node.createCipheriv('aes-256-gcm', key, nonce(counter++, last), { authTagLength: TAG_LENGTH })
      cipher.setAAD(aad)
      const sealed = cipher.update(piece)
      cipher.final()
      // Two chunks, not one: joining them would copy the segment again; readers re-cut the stream anyway.
      yield sealed
      yield cipher.getAuthTag()
    }
    return
  }
  const cryptoKey = await importKey(key, 'encrypt')
  async function* started() {
    let counter = 0
    for await (const { piece, last } of pieces(source, segmentSize)) yield { job: sealSegment(cryptoKey, counter++, last, aad, piece) }
  }
  yield* inOrder(started(), IN_FLIGHT)
}

/** `encryptStream` of a plaintext of known length, on node:crypto: each chunk is sealed as it arrives. */
async function* encryptKnownLength(
  node: NodeCrypto,
  source: AsyncIterable<Uint8Array>,
  { key, aad, segmentSize, size }: Required<EncryptStreamParameters>,
): AsyncGenerator<Uint8Array> {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid plaintext length ${size}`)
  let counter = 0
  let remaining = size
  let cipher: CipherGCM | undefined
  let sealed = 0 // bytes in the current segment
  const begin = () => {
    cipher = node.createCipheriv('aes-256-gcm', key, nonce(counter++, remaining <= segmentSize), { authTagLength: TAG_LENGTH })
    cipher.setAAD(aad)
    sealed = 0
  }
  for await (const chunk of source) {
    if (chunk.byteLength > remaining) throw lengthMismatch(size, 'more')
    for (let offset = 0; offset < chunk.byteLength; ) {
      if (!cipher) begin()
      const n = Math.min(segmentSize - sealed, chunk.byteLength - offset)
      yield cipher!.update(n === chunk.byteLength ? chunk : chunk.subarray(offset, offset + n))
      sealed += n
      offset += n
      remaining -= n
      if (sealed === segmentSize || remaining === 0) {
        cipher!.final()
        yield cipher!.getAuthTag()
        cipher = undefined
      }
    }
  }
  if (remaining > 0) throw lengthMismatch(size, 'fewer')
  // An empty plaintext is one empty, final segment, as the gathering path makes it.
  if (counter === 0) {
    begin()
    cipher!.final()
    yield cipher!.getAuthTag()
  }
}

function lengthMismatch(size: number, what: 'more' | 'fewer') {
  return new InvalidInputError(`The content gave ${what} bytes than the ${size} it was declared to have.`, {
    hint: 'It changed while it was being read (a file written to meanwhile?). Seal it again once it is complete.',
  })
}

/** Decrypts what `encryptStream` produced; throws TamperedRecordError on any alteration, reordering or truncation. */
export async function* decryptStream(
  source: AsyncIterable<Uint8Array>,
  { key, aad, segmentSize = DEFAULT_SEGMENT_SIZE }: AeadStreamParameters,
): AsyncGenerator<Uint8Array> {
  const node = await loadNodeCrypto()
  if (node) {
    checkKey(key)
    let counter = 0
    for await (const { piece, last } of pieces(source, segmentSize + TAG_LENGTH)) {
      if (piece.length < TAG_LENGTH) throw truncated()
      const decipher = node.createDecipheriv('aes-256-gcm', key, nonce(counter++, last), { authTagLength: TAG_LENGTH })
      decipher.setAAD(aad)
      decipher.setAuthTag(piece.subarray(piece.length - TAG_LENGTH))
      const plaintext = decipher.update(piece.subarray(0, piece.length - TAG_LENGTH))
      try {
        decipher.final() // checks the tag: nothing of the segment is released before it passes
      } catch (cause) {
        plaintext.fill(0)
        throw tampered(cause)
      }
      yield plaintext
    }
    return
  }
  const cryptoKey = await importKey(key, 'decrypt')
  // Only the final segment carries the `last` flag in its nonce, so a stream cut at a segment
  // boundary fails that segment's tag; one cut inside a segment fails it too (or is too short).
  async function* started() {
    let counter = 0
    for await (const { piece, last } of pieces(source, segmentSize + TAG_LENGTH))
      yield { job: openSegment(cryptoKey, counter++, last, aad, piece) }
  }
  yield* inOrder(started(), IN_FLIGHT)
}
