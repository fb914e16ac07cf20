import './promiseWithResolvers.js'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { VerifyingFsBlockstore } from './verifyingBlockstore.js'
import { FsDatastore } from 'datastore-fs'
import { createHeliaLight } from 'helia'
import { Key } from 'interface-datastore'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { NotFoundError, StorageError } from '../errors.js'
import { checkRecordCid } from './recordCid.js'
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
      checkRecordCid(cid) // before the blockstore: Helia answers an identity-hash CID from the CID itself
      if (!(await helia.blockstore.has(cid))) throw missing(cid)
      yield* fs.cat(cid, { offline: true, ...(options.signal ? { signal: options.signal } : {}) })
    },
    async has(cid) {
      return helia.blockstore.has(cid)
    },
    async remove(cid, options = {}) {
      try {
        const blocks = await dagBlocks(blockstore, helia.getCodec, cid, options.signal)
        // The pin goes first, so nothing takes the half-deleted DAG for pinned content. Blocks of one
        // envelope are never shared with another (each is encrypted under its own random key), so
        // every block of the DAG goes, with Helia's pin count for it, leaves before their parents:
        // an interrupted removal leaves a smaller DAG that a second run walks and removes.
        await datastore.delete(pinKey(cid), options)
        for (const block of blocks) {
          await datastore.delete(pinnedBlockKey(block), options)
          await blockstore.delete(block, options)
        }
      } catch (cause) {
        throw new StorageError('Could not delete the record from the embedded IPFS repository.', {
          cause,
          hint: `Check that ${dir} is writable, then run the erasure again: it finishes what is left.`,
        })
      }
    },
    async close() {
      await helia.stop()
    },
  }
}

/** Helia's datastore keys (helia/src/pins.ts): the pin of a DAG root, and the pin count of each block. */
const pinKey = (cid: CID) => new Key(`/pin/${cid.toV1().toString(base36)}`)
const pinnedBlockKey = (cid: CID) => new Key(`/pinned-block/${base36.encode(cid.multihash.bytes)}`)

const RAW = 0x55
const IDENTITY = 0x00

/**
 * The blocks of the DAG under `root` that the blockstore holds, children before parents. A block
 * already gone is skipped with everything under it (a previous removal deleted that part first).
 */
async function dagBlocks(
  blockstore: VerifyingFsBlockstore,
  getCodec: (code: number) => { decode(bytes: Uint8Array): unknown } | Promise<{ decode(bytes: Uint8Array): unknown }>,
  root: CID,
  signal: AbortSignal | undefined,
): Promise<CID[]> {
  const out: CID[] = []
  const seen = new Set<string>()
  const visit = async (cid: CID): Promise<void> => {
    signal?.throwIfAborted()
    const id = cid.toString()
    if (seen.has(id) || cid.multihash.code === IDENTITY || !(await blockstore.has(cid))) return
    seen.add(id)
    if (cid.code !== RAW) {
      const parts: Uint8Array[] = []
      for await (const part of blockstore.get(cid)) parts.push(part)
      const node = (await getCodec(cid.code)).decode(Buffer.concat(parts))
      for (const link of linksIn(node)) await visit(link)
    }
    out.push(cid)
  }
  await visit(root)
  return out
}

/** Every CID inside a decoded IPLD node (dag-pb `Links[].Hash`, dag-cbor links). */
function linksIn(value: unknown, out: CID[] = []): CID[] {
  const cid = CID.asCID(value)
  if (cid) out.push(cid)
  else if (Array.isArray(value)) for (const item of value) linksIn(item, out)
  else if (value && typeof value === 'object' && !(value instanceof Uint8Array)) for (const item of Object.values(value)) linksIn(item, out)
  return out
}

function missing(cid: CID) {
  return new NotFoundError(`The embedded IPFS repository does not hold ${cid.toString()}.`, {
    hint: 'The ciphertext was stored on another node; restore the home from a backup or point medvault at the node that holds it.',
  })
}
