/**
 * The read cache of a long-running server: what a read asks of the chain, kept for the head block
 * it was read at and never past it, and what never changes once a record is minted (its verified,
 * decrypted content) kept by token. See docs/benchmarks.md#reads.
 */
import { type Address, type Hex, type PublicClient, getAddress, parseEventLogs } from 'viem'
import { medicalRecordAbi } from '../contracts/index.js'
import type { CachedContent, HeadBlock, ReadCache } from '../core/index.js'

export type CreateReadCacheParameters = {
  publicClient: Pick<PublicClient, 'getBlock' | 'getLogs'>
  /** The records contract: a block without its Transfer, RecordAmended or RecordErased events leaves every record as it was. */
  records: Address
  /** Most bytes of decrypted content kept in memory (default 256 MiB); the least recently read go first. */
  maxContentBytes?: number
  /** A record's searchable fields, derived from its content on first decrypt and kept beside it. */
  summarize?: (content: { meta: unknown; bytes: Buffer }) => unknown
}

type Entry = { value: Promise<unknown>; token: bigint | undefined }
type ContentEntry = CachedContent & { version: string; readers: Set<Address> }

const CHANGING_EVENTS = ['Transfer', 'RecordAmended', 'RecordErased'] as const

/**
 * Creates a read cache. `head()` never answers a block older than the chain's head at the moment
 * it was called: concurrent callers share one `eth_getBlockByNumber("latest")`, but only one that
 * was sent after they asked. Answers stored with `atBlock` belong to one head block; when the head
 * moves on by one block whose parent is the cached block and that holds no event of the records
 * contract about a token, that token's answers carry over, and every other answer (consent
 * decisions, which also change with the block's time) is read again.
 *
 * @example
 * const cache = createReadCache({ publicClient, records: deployment.records })
 * const ctx = { ...mv, readCache: cache }
 */
export function createReadCache(params: CreateReadCacheParameters): ReadCache {
  const client = params.publicClient
  const maxBytes = params.maxContentBytes ?? 256 * 1024 * 1024

  // --- the head, fetched at most once at a time, each fetch serving callers that came before it was sent
  let inFlight: Promise<HeadBlock> | undefined
  let queued: Promise<HeadBlock> | undefined
  const fetchHead = async (): Promise<HeadBlock> => {
    const block = await client.getBlock({ blockTag: 'latest' })
    const head = { number: block.number, hash: block.hash }
    await advance(head, block.parentHash)
    return head
  }
  const head = (): Promise<HeadBlock> => {
    if (!inFlight) {
      inFlight = fetchHead().finally(() => {
        inFlight = undefined
      })
      return inFlight
    }
    // The fetch in flight may have been answered before this call: wait for the next one.
    if (!queued) {
      queued = inFlight
        .catch(() => undefined)
        .then(() => {
          queued = undefined
          return head()
        })
    }
    return queued
  }

  // --- answers per head block
  let current: HeadBlock | undefined
  let entries = new Map<string, Entry>()
  let advancing: Promise<void> = Promise.resolve()

  /** Moves the cache to `next`, carrying over what the blocks in between cannot have changed. */
  function advance(next: HeadBlock, parentHash: Hex): Promise<void> {
    advancing = advancing
      .then(() => moveTo(next, parentHash))
      .catch(() => {
        // Could not tell what changed: keep nothing.
        current = next
        entries = new Map()
      })
    return advancing
  }

  async function moveTo(next: HeadBlock, parentHash: Hex): Promise<void> {
    {
      const from = current
      if (from?.hash === next.hash || (from && next.number < from.number && entries.size === 0)) return
      if (from && next.number < from.number) {
        // A head older than the cached one (another fetch overtook this one): keep the newer.
        return
      }
      const kept = new Map<string, Entry>()
      if (from && next.number === from.number + 1n && parentHash === from.hash) {
        const logs = await client.getLogs({ address: params.records, blockHash: next.hash })
        const changed = new Set<bigint>()
        for (const log of parseEventLogs({ abi: medicalRecordAbi, logs, eventName: [...CHANGING_EVENTS] })) {
          const args = log.args as { tokenId?: bigint; supersededBy?: bigint }
          if (args.tokenId !== undefined) changed.add(args.tokenId)
          if (args.supersededBy !== undefined) changed.add(args.supersededBy)
        }
        for (const [key, entry] of entries) if (entry.token !== undefined && !changed.has(entry.token)) kept.set(key, entry)
      }
      current = next
      entries = kept
    }
  }

  async function atBlock<T>(at: HeadBlock, key: string, load: (blockNumber: bigint) => Promise<T>, token?: bigint): Promise<T> {
    await advancing
    if (current?.hash !== at.hash) return load(at.number) // an older (or not yet seen) head: read, keep nothing
    let entry = entries.get(key)
    if (!entry) {
      entry = { value: load(at.number), token }
      entries.set(key, entry)
      const stored = entry
      // A failed read is not an answer: the next caller asks again.
      stored.value.catch(() => {
        if (entries.get(key) === stored) entries.delete(key)
      })
    }
    return entry.value as Promise<T>
  }

  // --- verified content by token, least recently read dropped first
  const contents = new Map<bigint, ContentEntry>()
  let contentBytes = 0
  const drop = (tokenId: bigint) => {
    const entry = contents.get(tokenId)
    if (!entry) return
    contents.delete(tokenId)
    contentBytes -= entry.bytes.byteLength
  }

  const cache = (pinned: HeadBlock | undefined): ReadCache => ({
    head: () => (pinned ? Promise.resolve(pinned) : head()),
    pin: (at) => cache(at),
    atBlock: (at, key, load, token?: bigint) => atBlock(at, key, load, token),
    content(tokenId, reader, version) {
      const entry = contents.get(tokenId)
      if (!entry || entry.version !== version || !entry.readers.has(getAddress(reader))) return undefined
      contents.delete(tokenId) // re-insert: most recently read last
      contents.set(tokenId, entry)
      return entry
    },
    putContent(tokenId, reader, version, content) {
      const existing = contents.get(tokenId)
      if (existing?.version === version) {
        existing.readers.add(getAddress(reader))
        return
      }
      drop(tokenId)
      if (content.bytes.byteLength > maxBytes / 16) return // a large binary: stream it each time instead
      const summary = params.summarize?.(content)
      contents.set(tokenId, { ...content, summary, version, readers: new Set([getAddress(reader)]) })
      contentBytes += content.bytes.byteLength
      for (const oldest of contents.keys()) {
        if (contentBytes <= maxBytes) break
        drop(oldest)
      }
    },
    forget: drop,
  })
  return cache(undefined)
}
