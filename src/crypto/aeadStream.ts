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
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { TamperedRecordError } from '../errors.js'
import { SEGMENT_TAG_LENGTH as TAG_LENGTH, segmentNonce as nonce } from './streamNonce.js'

export const DEFAULT_SEGMENT_SIZE = 1 << 20
const KEY_LENGTH = 32

function sealSegment(key: Uint8Array, counter: number, last: boolean, aad: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, nonce(counter, last), { authTagLength: TAG_LENGTH })
  cipher.setAAD(aad)
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
}

function openSegment(key: Uint8Array, counter: number, last: boolean, aad: Uint8Array, sealed: Uint8Array): Buffer {
  if (sealed.length < TAG_LENGTH) throw truncated()
  const decipher = createDecipheriv('aes-256-gcm', key, nonce(counter, last), { authTagLength: TAG_LENGTH })
  decipher.setAAD(aad)
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH))
  const out = decipher.update(sealed.subarray(0, sealed.length - TAG_LENGTH))
  try {
    return Buffer.concat([out, decipher.final()])
  } catch (cause) {
    throw new TamperedRecordError('The record ciphertext failed its integrity check (AES-GCM tag mismatch).', {
      cause,
      hint: 'The stored copy was altered or corrupted, or it was sealed for another key. Do not trust it; ask the issuer to re-issue.',
    })
  }
}

function truncated() {
  return new TamperedRecordError('The record ciphertext is truncated.', {
    hint: 'The stored copy is incomplete; fetch it again or ask the issuer to re-issue.',
  })
}

/** Collects chunks and hands out fixed-size pieces, holding back the last piece until the source ends. */
async function* pieces(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<{ piece: Buffer; last: boolean }> {
  let pending: Buffer[] = []
  let pendingLength = 0
  for await (const chunk of source) {
    // Copy: a producer may refill the same buffer for its next chunk while we still hold this one.
    pending.push(Buffer.from(chunk))
    pendingLength += chunk.byteLength
    // Strictly greater: a piece that ends exactly at the end of the input must be marked last.
    while (pendingLength > size) {
      const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLength)
      yield { piece: all.subarray(0, size), last: false }
      const rest = all.subarray(size)
      pending = [rest]
      pendingLength = rest.length
    }
  }
  yield { piece: pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLength), last: true }
}

export type AeadStreamParameters = {
  key: Uint8Array
  /** Bound to every segment; the envelope passes a hash of its header. */
  aad: Uint8Array
  segmentSize?: number
}

function checkKey(key: Uint8Array) {
  if (key.length !== KEY_LENGTH) throw new RangeError('AES-256-GCM needs a 32-byte key')
}

/** Encrypts `source` segment by segment. Memory use is one segment, whatever the input size. */
export async function* encryptStream(
  source: AsyncIterable<Uint8Array>,
  { key, aad, segmentSize = DEFAULT_SEGMENT_SIZE }: AeadStreamParameters,
): AsyncGenerator<Uint8Array> {
  checkKey(key)
  let counter = 0
  for await (const { piece, last } of pieces(source, segmentSize)) {
    yield sealSegment(key, counter++, last, aad, piece)
  }
}

/** Decrypts what `encryptStream` produced; throws TamperedRecordError on any alteration, reordering or truncation. */
export async function* decryptStream(
  source: AsyncIterable<Uint8Array>,
  { key, aad, segmentSize = DEFAULT_SEGMENT_SIZE }: AeadStreamParameters,
): AsyncGenerator<Uint8Array> {
  checkKey(key)
  let counter = 0
  let sawLast = false
  for await (const { piece, last } of pieces(source, segmentSize + TAG_LENGTH)) {
    yield openSegment(key, counter++, last, aad, piece)
    sawLast = last
  }
  if (!sawLast) throw truncated()
}
