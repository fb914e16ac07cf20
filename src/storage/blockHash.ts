import { createHash, webcrypto } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { TamperedRecordError } from '../errors.js'

const SHA2_256 = 0x12
const IDENTITY = 0x00
/**
 * Below this, hashing on the event loop (a few µs) costs less than sending the job to the thread
 * pool and taking its answer back; most FHIR records are one block of a few KiB.
 */
const POOL_THRESHOLD = 16 * 1024

/**
 * SHA-256 of a block. A large one is hashed in libuv's thread pool (WebCrypto's digest), off the
 * event loop: storing and reading a large record hash every byte, and the event loop meanwhile has
 * the AES-GCM segments and the file I/O to keep going on the other core.
 */
export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  if (bytes.byteLength < POOL_THRESHOLD) return new Uint8Array(createHash('sha256').update(bytes).digest())
  return new Uint8Array(await webcrypto.subtle.digest('SHA-256', bytes))
}

/** Throws TamperedRecordError unless `block` hashes to the digest in `cid` (sha2-256; identity CIDs carry their bytes). */
export async function checkBlock(cid: CID, block: Uint8Array): Promise<void> {
  const { code, digest } = cid.multihash
  if (code === IDENTITY) return
  if (code !== SHA2_256) return // other hash functions are never written by medvault
  if (!Buffer.from(await sha256(block)).equals(digest)) {
    throw new TamperedRecordError(`A stored block does not match its content address ${cid.toString()}.`, {
      hint: 'The local IPFS repository was altered or damaged; fetch the record again from another node or a backup.',
    })
  }
}
