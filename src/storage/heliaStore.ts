import './promiseWithResolvers.js'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { VerifyingFsBlockstore } from './verifyingBlockstore.js'
import { FsDatastore } from 'datastore-fs'
import { createHeliaLight } from 'helia'
import type { CID } from 'multiformats/cid'
import { NotFoundError, StorageError } from '../errors.js'
import type { BlobStore } from './blobStore.js'

/**
 * The embedded IPFS node: Helia with an on-disk blockstore and datastore under `dir`, and no
 * network (no block brokers, no routers), so it never dials out. Blocks survive restarts; pins
 * keep them from garbage collection.
 */
export async function createHeliaStore(dir: string): Promise<BlobStore> {
  const blockstore = new VerifyingFsBlockstore(join(dir, 'blocks'))
  const datastore = new FsDatastore(join(dir, 'datastore'))
  const helia = createHeliaLight({ blockstore, datastore, blockBrokers: [], routers: [] })
  await helia.start()
  const fs = unixfs(helia)

  return {
    async add(source, options = {}) {
      try {
        const signal = options.signal ? { signal: options.signal } : {}
        const cid = await fs.addByteStream(source, { cidVersion: 1, rawLeaves: true, ...signal })
        if (!(await helia.pins.isPinned(cid, signal))) {
          for await (const _ of helia.pins.add(cid, signal)) {
            // pins.add yields each block it pinned; nothing to do with them
          }
        }
        return cid
      } catch (cause) {
        throw new StorageError('Could not store the record in the embedded IPFS repository.', {
          cause,
          hint: `Check that ${dir} is writable and the disk is not full.`,
        })
      }
    },
    async *cat(cid, options = {}) {
      if (!(await helia.blockstore.has(cid))) throw missing(cid)
      yield* fs.cat(cid, { offline: true, ...(options.signal ? { signal: options.signal } : {}) })
    },
    async has(cid) {
      return helia.blockstore.has(cid)
    },
    async close() {
      await helia.stop()
    },
  }
}

function missing(cid: CID) {
  return new NotFoundError(`The embedded IPFS repository does not hold ${cid.toString()}.`, {
    hint: 'The ciphertext was stored on another node; restore the home from a backup or point medvault at the node that holds it.',
  })
}
