import type { BlobStore } from './blobStore.js'

/**
 * Opens the real store on first use. Loading Helia costs about two seconds of module loading, which
 * commands that never touch content (list, status, provider ...) should not pay.
 */
export function lazyBlobStore(open: () => Promise<BlobStore>): BlobStore {
  let opened: Promise<BlobStore> | undefined
  const store = () => (opened ??= open())
  return {
    async add(source, options) {
      return (await store()).add(source, options)
    },
    async *cat(cid, options) {
      yield* (await store()).cat(cid, options)
    },
    async has(cid) {
      return (await store()).has(cid)
    },
    async remove(cid, options) {
      return (await store()).remove(cid, options)
    },
    async close() {
      if (opened) await (await opened).close()
    },
  }
}
