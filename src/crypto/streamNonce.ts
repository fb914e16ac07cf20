/**
 * The nonce layout of the segmented AES-256-GCM stream (see aeadStream.ts), with no Node
 * dependency so the web portal opens records with WebCrypto under exactly the same rules.
 */

/** Bytes of the GCM tag at the end of every sealed segment. */
export const SEGMENT_TAG_LENGTH = 16

/** Segment `counter`'s nonce: the counter (big-endian, in bytes 5..10) then 1 for the final segment, else 0. */
export function segmentNonce(counter: number, last: boolean): Uint8Array {
  if (!Number.isSafeInteger(counter) || counter < 0 || counter >= 2 ** 48) throw new RangeError('segment counter out of range')
  const n = new Uint8Array(12)
  // counters fit in 48 bits: 2^48 MiB is far beyond any record
  let rest = counter
  for (let i = 10; i >= 5; i--) {
    n[i] = rest % 256
    rest = Math.floor(rest / 256)
  }
  n[11] = last ? 1 : 0
  return n
}
