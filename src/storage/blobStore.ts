import type { CID } from 'multiformats/cid'

/**
 * Where record ciphertexts live: content-addressed, streamed both ways, pinned while the record
 * exists. Two implementations: the embedded Helia node (default) and an external Kubo node.
 */
export interface BlobStore {
  /** Stores and pins the bytes; returns their CIDv1 (sha2-256). Streams: memory use does not grow with size. */
  add(source: AsyncIterable<Uint8Array>, options?: { signal?: AbortSignal }): Promise<CID>
  /** Streams the bytes back. Throws NotFoundError when this store does not hold them. */
  cat(cid: CID, options?: { signal?: AbortSignal }): AsyncIterable<Uint8Array>
  has(cid: CID): Promise<boolean>
  /**
   * Unpins the content and deletes every block of it this store holds (an external node is asked
   * to unpin it and drop its blocks). Succeeds when nothing is left, so it can be run again after
   * a crash; used by erasure.
   */
  remove(cid: CID, options?: { signal?: AbortSignal }): Promise<void>
  close(): Promise<void>
}
