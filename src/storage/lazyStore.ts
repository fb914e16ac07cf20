import { MedvaultError, StorageError } from '../errors.js'
import type { BlobStore } from './blobStore.js'

/**
 * Opens the real store on first use. Loading Helia costs about two seconds of module loading, which
 * commands that never touch content (list, status, provider ...) should not pay. An open that
 * fails (the repository unwritable, its disk full) is a StorageError and is tried again on the
 * next use, so a long-running server recovers once the storage is back.
 */
export function lazyBlobStore(open: () => Promise<BlobStore>): BlobStore {
  let opened: Promise<BlobStore> | undefined
  const store = () =>
    (opened ??= open().catch((cause: unknown) => {
      opened = undefined
      if (cause instanceof MedvaultError) throw cause
      throw new StorageError('Could not open the IPFS repository.', {
        cause,
        hint: 'Check that it is writable and the disk is not full; the next command or request tries again.',
      })
    }))
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
      if (opened) await (await opened.catch(() => undefined))?.close()
    },
  }
}
