import { create } from 'kubo-rpc-client'
import { CID } from 'multiformats/cid'
import { NotFoundError, StorageError } from '../errors.js'
import type { BlobStore } from './blobStore.js'
import { checkRecordCid } from './recordCid.js'

/**
 * An external IPFS node (Kubo, or an IPFS Cluster proxy) through the Kubo RPC API. Content is added
 * as CIDv1 with raw leaves and pinned at once, so it stays as long as the record exists.
 */
export function createKuboStore(url: string): BlobStore {
  const kubo = create({ url })
  const unavailable = (cause: unknown) =>
    new StorageError(`The IPFS node at ${url} did not answer.`, {
      cause,
      hint: 'Check that it is running and the URL in config.json is right.',
    })
  return {
    async add(source, options = {}) {
      try {
        const { cid } = await kubo.add(source, {
          cidVersion: 1,
          rawLeaves: true,
          pin: true,
          ...(options.signal ? { signal: options.signal } : {}),
        })
        return cid as unknown as CID
      } catch (cause) {
        throw unavailable(cause)
      }
    },
    async *cat(cid, options = {}) {
      checkRecordCid(cid) // before asking the node, which would fetch any CID from the network
      try {
        yield* kubo.cat(cid as never, { ...(options.signal ? { signal: options.signal } : {}) })
      } catch (cause) {
        if (cause instanceof Error && /not found|block was not found/i.test(cause.message)) {
          throw new NotFoundError(`The IPFS node at ${url} does not hold ${cid.toString()}.`)
        }
        throw unavailable(cause)
      }
    },
    async remove(cid, options = {}) {
      const signal = options.signal ? { signal: options.signal } : {}
      try {
        // The blocks under the root, listed before the pin goes (after it the node may collect them itself).
        const blocks: CID[] = []
        try {
          for await (const ref of kubo.refs(cid as never, { recursive: true, unique: true, ...signal })) {
            if (!ref.err) blocks.push(CID.parse(ref.ref))
          }
        } catch {
          // not on this node (any more): nothing to list
        }
        await kubo.pin.rm(cid as never, signal).catch((cause: unknown) => {
          if (!(cause instanceof Error && /not pinned|pinned indirectly/i.test(cause.message))) throw cause
        })
        for await (const _ of kubo.block.rm([...blocks, cid] as never, { force: true, quiet: true, ...signal })) {
          // each result names a block and whether it went; a block another pin still holds stays
        }
      } catch (cause) {
        throw new StorageError(`The IPFS node at ${url} did not unpin ${cid.toString()}.`, {
          cause,
          hint: 'Check that it is running, then run the erasure again: it finishes what is left.',
        })
      }
    },
    async has(cid) {
      try {
        await kubo.block.stat(cid as never, { signal: AbortSignal.timeout(5000) })
        return true
      } catch {
        return false
      }
    },
    async close() {},
  }
}
