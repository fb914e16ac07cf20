import './promiseWithResolvers.js'
import { setMaxListeners } from 'node:events'
import { join } from 'node:path'
import type { CatOptions, UnixFS } from '@helia/unixfs'
import type { Helia } from 'helia'
import { VerifyingFsBlockstore } from './verifyingBlockstore.js'
import { Key } from 'interface-datastore'
import { importFile } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { MedvaultError, NotFoundError, StorageError, StoragePeersUnreachableError } from '../errors.js'
import { loadHeliaLight } from './heliaLight.js'
import { openSqliteDatastore } from './sqliteDatastore.js'
import { checkRecordCid } from './recordCid.js'
import { WrittenBlocks, rawLeafImporter } from './writtenBlocks.js'
import type { BlobStore } from './blobStore.js'

/** How an embedded node reaches other IPFS nodes (Helia peers in other processes, or Kubo's libp2p port). */
export type HeliaNetworkOptions = {
  /** Multiaddrs to listen on, e.g. `/ip4/127.0.0.1/tcp/4101`; empty: dial out only. */
  listen: string[]
  /** The only peers it fetches from, each with its peer id: `/ip4/127.0.0.1/tcp/4102/p2p/12D3Koo…`. */
  peers: string[]
  /** A read that receives no block for this long fails (default 30 s). */
  timeoutMs?: number
  /** How long to wait for each peer to answer a dial (default 5 s). */
  dialTimeoutMs?: number
}

/** A Helia blob store, with what the `medvault ipfs` commands need beyond the BlobStore interface. */
export type HeliaBlobStore = BlobStore & {
  /** This node's peer id, or undefined when it runs without a network. */
  readonly peerId: string | undefined
  /** The addresses it listens on, each ending in `/p2p/<peer id>`. */
  multiaddrs(): string[]
  /** Dials the configured peers; returns those reached and, for the others, why not. */
  connect(options?: { signal?: AbortSignal }): Promise<{ reached: string[]; failed: { peer: string; error: string }[] }>
  /** Pins content, fetching the blocks this node lacks from its peers: it then keeps a copy through garbage collection. */
  pin(cid: CID, options?: { signal?: AbortSignal }): Promise<void>
  /** Deletes every block no pin holds (copies fetched from peers for reading); returns how many went. */
  gc(options?: { signal?: AbortSignal }): Promise<number>
}

/**
 * The embedded IPFS node: Helia with an on-disk blockstore and datastore under `dir`. Without
 * `network` it has no block brokers and no routers, so it never dials out. With it, it speaks
 * libp2p (TCP, Noise, Yamux) and fetches missing blocks over Bitswap from the configured peers
 * only: no bootstrap list, no DHT, no mDNS. Blocks survive restarts; pins keep them from garbage
 * collection.
 */
export async function createHeliaStore(dir: string, options: { network?: HeliaNetworkOptions } = {}): Promise<HeliaBlobStore> {
  const blockstore = new VerifyingFsBlockstore(join(dir, 'blocks'))
  // Pins in one SQLite file (see sqliteDatastore.ts); a repository made before kept them in `datastore/`.
  const datastore = await openSqliteDatastore(join(dir, 'datastore.sqlite'), { legacyDir: join(dir, 'datastore') })
  const { network } = options
  let helia: Helia
  let peering: Awaited<ReturnType<typeof import('./heliaPeering.js')['withPeering']>> | undefined
  try {
    const light = (await loadHeliaLight()).create({ blockstore, datastore, blockBrokers: [], routers: [] })
    // libp2p costs module loading and a socket; an offline home pays for neither.
    peering = network ? await (await import('./heliaPeering.js')).withPeering(light, dir, network) : undefined
    helia = peering?.helia ?? light
    await helia.start()
  } catch (error) {
    datastore.close()
    throw error
  }
  // @helia/unixfs (the exporter and every UnixFS command) is loaded on the first read: storing
  // uses the importer alone, ~20 MiB less RSS for a process that only stores.
  let unixfsReader: Promise<UnixFS> | undefined
  const reader = () => (unixfsReader ??= import('@helia/unixfs').then(({ unixfs }) => unixfs(helia)))
  const timeoutMs = network?.timeoutMs ?? 30_000

  const store: HeliaBlobStore = {
    get peerId() {
      return peering?.peerId()
    },
    multiaddrs: () => peering?.multiaddrs() ?? [],
    connect: async (opts = {}) => peering?.connect(opts.signal) ?? { reached: [], failed: [] },
    async add(source, options = {}) {
      try {
        const signal = options.signal ? { signal: options.signal } : {}
        // Leaves hashed in the thread pool, and pinned from what this import wrote (see writtenBlocks.ts).
        const written = new WrittenBlocks(helia.blockstore, helia.getCodec)
        const { cid } = await importFile({ content: source }, written, {
          ...UNIXFS_LAYOUT,
          bufferImporter: rawLeafImporter(BLOCKS_AHEAD),
          // Its batches only wait for leaves already being written (above); bigger ones would hold more of them.
          blockWriteConcurrency: 1,
          ...signal,
        })
        if (!(await helia.pins.isPinned(cid, signal))) {
          for await (const _ of helia.pins.add(cid, { ...signal, walker: written.pinWalker() })) {
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
      const held = await helia.blockstore.has(cid)
      if (!peering) {
        if (!held) throw missing(cid)
        // Without a bound the exporter reads every leaf of the record at once (a GiB in memory for a
        // GiB record); a few at a time keep the thread pool busy reading and hashing ahead of the reader.
        const catOptions: CatOptions & { blockReadConcurrency: number } = {
          offline: true,
          blockReadConcurrency: LOCAL_READ_CONCURRENCY,
          ...(options.signal ? { signal: options.signal } : {}),
        }
        yield* (await reader()).cat(cid, catOptions)
        return
      }
      if (!held) {
        const { reached, failed } = await peering.connect(options.signal)
        if (reached.length === 0) throw unreachable(cid, failed)
      }
      yield* fetchWithIdleTimeout(await reader(), cid, timeoutMs, options.signal)
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
    async pin(cid, options = {}) {
      if (await helia.pins.isPinned(cid, options)) return
      // Reading it first fetches the missing blocks under the read's idle timeout and typed errors.
      for await (const _ of store.cat(cid, options)) {
        // only the blocks landing in the repository matter here
      }
      for await (const _ of helia.pins.add(cid, options)) {
        // each block pinned
      }
    },
    async gc(options = {}) {
      let removed = 0
      await helia.gc({
        ...(options.signal ? { signal: options.signal } : {}),
        onProgress: (event) => {
          if (event.type === 'helia:gc:deleted') removed++
        },
      })
      return removed
    },
    async close() {
      try {
        await helia.stop()
      } finally {
        datastore.close()
      }
    },
  }
  return store
}

/**
 * Streams `cid` from the local blocks and, for those missing, from the connected peers. Fails
 * with NotFoundError when no block arrives for `idleMs` (the time the caller spends on a chunk
 * does not count), so a peer that does not hold the content, or stops answering, ends the read
 * instead of hanging it.
 */
async function* fetchWithIdleTimeout(fs: UnixFS, cid: CID, idleMs: number, callerSignal: AbortSignal | undefined) {
  const idle = new AbortController()
  const signal = callerSignal ? AbortSignal.any([callerSignal, idle.signal]) : idle.signal
  // Every block in flight listens on it; Node would warn past ten.
  setMaxListeners(Number.POSITIVE_INFINITY, idle.signal, signal)
  let timer: NodeJS.Timeout | undefined
  const arm = () => {
    timer = setTimeout(() => idle.abort(), idleMs)
  }
  arm()
  try {
    // The exporter would otherwise want every sibling leaf at once (up to 174 MiB for a large record):
    // a few at a time keeps memory flat and each Bitswap send well inside its 10 s limit.
    // (@helia/unixfs passes the option through to the exporter; its CatOptions type does not list it.)
    const catOptions: CatOptions & { blockReadConcurrency: number } = { signal, blockReadConcurrency: NETWORK_READ_CONCURRENCY }
    for await (const part of fs.cat(cid, catOptions)) {
      clearTimeout(timer)
      yield part
      arm()
    }
  } catch (cause) {
    if (idle.signal.aborted && !callerSignal?.aborted) {
      throw new NotFoundError(`No IPFS peer sent the blocks of ${cid.toString()} within ${idleMs / 1000} s.`, {
        cause,
        hint: 'The peers this node reached do not hold it: check that the node that stored the record is running and listed in `peers`.',
      })
    }
    if (cause instanceof MedvaultError || callerSignal?.aborted) throw cause
    throw new StorageError(`Could not read ${cid.toString()} from the IPFS peers.`, {
      cause,
      hint: 'Try again; if it persists, check the peers.',
    })
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Leaves being hashed and written while storing, ahead of the importer: enough to keep the thread
 * pool busy; each one is a MiB held in memory.
 */
const BLOCKS_AHEAD = 3

/**
 * @helia/unixfs's add settings ("match Filecoin"): CIDv1, raw 1 MiB leaves, balanced DAG of up to
 * 1,024 links a node. The same bytes give the same CID as before and as `unixfs(helia).addByteStream`.
 */
const UNIXFS_LAYOUT = {
  cidVersion: 1,
  rawLeaves: true,
  layout: balanced({ maxChildrenPerNode: 1024 }),
  chunker: fixedSize({ chunkSize: 1_048_576 }),
} as const

/** Leaves read from the local repository at once. */
const LOCAL_READ_CONCURRENCY = 4

/** Leaves fetched from peers at once: 8 MiB in flight. */
const NETWORK_READ_CONCURRENCY = 8

function unreachable(cid: CID, failed: { peer: string; error: string }[]) {
  return new StoragePeersUnreachableError(
    failed.length === 0
      ? `This node does not hold ${cid.toString()} and has no IPFS peers configured to fetch it from.`
      : `This node does not hold ${cid.toString()} and none of its ${failed.length} IPFS peers answered (${failed.map((f) => `${f.peer}: ${f.error}`).join('; ')}).`,
    { hint: 'Start the peer that stores the record (`medvault ipfs serve`), or fix `storage.peers` in config.json.' },
  )
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
