/**
 * Storing a record without reading it back. Helia's importer hashes each 1 MiB leaf on the event
 * loop, and `pins.add` then walks the DAG reading every block again from disk (which
 * VerifyingFsBlockstore re-hashes): three passes of SHA-256 over the ciphertext where one is
 * needed. Here the leaves are hashed once, in the thread pool, and the pin walks the blocks this
 * import has just written from memory: the DAG nodes (a few KiB) are kept, the leaves are known
 * by their CID. Blocks that come from outside (a peer, an existing repository) are still read and
 * verified by VerifyingFsBlockstore.
 */
import type { AddOptions } from '@helia/unixfs'
import type { Helia } from 'helia'
import { createUnsafe } from 'multiformats/block'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from './blockHash.js'

const SHA2_256 = 0x12
const NO_BYTES = new Uint8Array(0)

type Blocks = Pick<Helia['blockstore'], 'get' | 'put' | 'has'>
type BufferImporter = NonNullable<AddOptions['bufferImporter']>
type GraphWalkerFactory = NonNullable<NonNullable<Parameters<Helia['pins']['add']>[1]>['walker']>
type GraphWalker = ReturnType<GraphWalkerFactory>
type GraphNode = Awaited<ReturnType<ReturnType<GraphWalker['walk']>['next']>>['value']

/**
 * The importer's leaf step (raw leaves, CIDv1, sha2-256: what `rawLeaves: true` writes) with the
 * hash computed in the thread pool. The importer runs its leaf steps in batches (it pulls a batch of
 * leaves, then waits for the whole batch before it pulls again), which would leave the encryption
 * upstream idle while a batch is written; so each leaf's hash and write starts as soon as the leaf
 * arrives, up to `window` leaves ahead of the importer, and the steps handed to it only wait.
 */
export function rawLeafImporter(window: number): BufferImporter {
  return (file, blockstore) =>
    (async function* () {
      for await (const { job } of startAhead(file.content, window, async (block) => {
        const cid = CID.createV1(raw.code, createDigest(SHA2_256, await sha256(block)))
        await blockstore.put(cid, block)
        return { cid, size: BigInt(block.byteLength), block }
      })) {
        yield () => job
      }
    })()
}

/**
 * Runs `start` on each item of `source` as soon as it arrives, with at most `window` started jobs
 * not yet taken by the consumer, and yields the jobs in order (wrapped: an async generator would
 * await a bare promise). A failed job fails when it is awaited; a failing source fails the stream
 * after the jobs started before it.
 */
export async function* startAhead<T, R>(
  source: AsyncIterable<T>,
  window: number,
  start: (item: T) => Promise<R>,
): AsyncGenerator<{ job: Promise<R> }> {
  const jobs: Promise<R>[] = []
  let done = false
  let failure: { error: unknown } | undefined
  let wakeConsumer: (() => void) | undefined
  let wakePump: (() => void) | undefined
  let stopped = false
  const pump = async () => {
    try {
      for await (const item of source) {
        while (jobs.length >= window && !stopped) await new Promise<void>((resolve) => (wakePump = resolve))
        if (stopped) return
        const job = start(item)
        job.catch(() => undefined) // awaited by the consumer; not unhandled meanwhile
        jobs.push(job)
        wakeConsumer?.()
      }
    } catch (error) {
      failure = { error }
    } finally {
      done = true
      wakeConsumer?.()
    }
  }
  void pump()
  try {
    while (true) {
      const job = jobs.shift()
      if (job) {
        wakePump?.()
        yield { job }
        continue
      }
      if (done) {
        if (failure) throw failure.error
        return
      }
      await new Promise<void>((resolve) => (wakeConsumer = resolve))
    }
  } finally {
    // The consumer stopped early (an error downstream): let the pump end instead of waiting for room.
    stopped = true
    wakePump?.()
  }
}

/** A blockstore view for one import that remembers what it wrote, for `pinWalker`. */
export class WrittenBlocks implements Blocks {
  /** Every block written: the bytes of DAG nodes, null for raw leaves (the data itself, not kept). */
  private readonly written = new Map<string, Uint8Array | null>()

  constructor(
    private readonly blocks: Blocks,
    private readonly getCodec: Helia['getCodec'],
  ) {}

  async put(...args: Parameters<Blocks['put']>): Promise<Awaited<ReturnType<Blocks['put']>>> {
    const [cid, bytes] = args
    const stored = await this.blocks.put(...args)
    // The importer writes whole blocks; one streamed in is left to be read back if needed.
    if (cid.code === raw.code) this.written.set(cid.toString(), null)
    else if (bytes instanceof Uint8Array) this.written.set(cid.toString(), bytes)
    return stored
  }

  get(...args: Parameters<Blocks['get']>): ReturnType<Blocks['get']> {
    return this.blocks.get(...args)
  }

  has(...args: Parameters<Blocks['has']>): ReturnType<Blocks['has']> {
    return this.blocks.has(...args)
  }

  /**
   * A graph walker for `helia.pins.add` over the DAG this import wrote. Nodes come from memory,
   * leaves are not read at all (pins.add records a block by its CID only, so a raw leaf is handed
   * over as its CID with no bytes). A block this import did not write is read from the blockstore,
   * which verifies it.
   */
  pinWalker(): GraphWalkerFactory {
    return () => ({
      walk: async function* (this: WrittenBlocks, root: CID, options: { depth?: number; signal?: AbortSignal } = {}) {
        const maxDepth = options.depth ?? Number.POSITIVE_INFINITY
        const stack: { cid: CID; depth: number; path: CID[] }[] = [{ cid: root, depth: 0, path: [root] }]
        while (stack.length > 0) {
          options.signal?.throwIfAborted()
          const { cid, depth, path } = stack.pop()!
          const known = this.written.get(cid.toString())
          let bytes: Uint8Array
          if (known !== undefined) bytes = known ?? NO_BYTES
          else if (cid.code === raw.code) {
            if (!(await this.blocks.has(cid, options))) throw new Error(`block ${cid.toString()} is not in the blockstore`)
            bytes = NO_BYTES
          } else bytes = await readAll(this.blocks.get(cid, options))
          const block = createUnsafe({ cid, bytes, codec: await this.getCodec(cid.code) })
          if (depth < maxDepth && cid.code !== raw.code) {
            const links = [...block.links()].map(([, link]) => link)
            // Reversed onto the stack, so children are visited in their DAG order.
            for (const link of links.reverse()) stack.push({ cid: link, depth: depth + 1, path: [...path, link] })
          }
          yield { block, depth, path } as GraphNode
        }
      }.bind(this) as GraphWalker['walk'],
    })
  }
}

async function readAll(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const part of source) parts.push(part)
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
}
