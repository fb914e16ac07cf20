import { BlockNotFoundError, type Hex, type PublicClient } from 'viem'
import { toMedvaultError } from '../chain/index.js'
import type { Deployment } from '../chain/index.js'
import { ChainError, type MedvaultError } from '../errors.js'
import { ChainMovedError, LogsRangeError, readRange } from './readRange.js'
import type { IndexStore } from './types.js'

export type IndexerOptions = {
  /** Blocks this deep under the head are taken as final; a reorg deeper than that rebuilds the index. Default 12. */
  confirmations?: number
  /** Blocks per eth_getLogs call and per database transaction (halved when the node refuses a range). Default 2000. */
  batchBlocks?: number
  /** Pause between syncs after `start()`. Default 2000 ms. */
  pollIntervalMs?: number
  /** Called after each range is written. */
  onProgress?: (progress: SyncProgress) => void
  /** Called when a background sync (after `start()`) fails; the next poll tries again. */
  onError?: (error: MedvaultError) => void
}

export type SyncProgress = { fromBlock: bigint; lastBlock: bigint; headBlock: bigint; events: number }

export type SyncResult = {
  /** The last indexed block after this sync. */
  lastBlock: bigint | undefined
  headBlock: bigint
  /** Events written by this sync. */
  events: number
  /** Present when a reorg was found: where the index was rolled back to, or that it was rebuilt. */
  reorg?: { rolledBackTo: bigint | undefined; rebuilt: boolean }
}

export type Indexer = {
  /** Catches the index up with the chain head once (after undoing any reorg). Calls run one after another. */
  sync(): Promise<SyncResult>
  /** Syncs now and then every `pollIntervalMs` until `stop()`. */
  start(): void
  /** Stops polling and waits for a sync in progress. */
  stop(): Promise<void>
  store: IndexStore
}

export type IndexerContext = {
  publicClient: Pick<PublicClient, 'getBlock' | 'getBlockNumber' | 'getLogs'>
  deployment: Deployment
}

const MAX_ATTEMPTS = 5

/**
 * Follows the medvault contracts' events into an index store. Each block range is written in one
 * transaction together with the cursor, so a crash never leaves half a range. A reorg is found by
 * comparing the stored hash of the last indexed block with the chain; the index then rolls back to
 * the newest stored block still on the chain and re-reads from there, or is rebuilt from the
 * deployment block if the reorg is deeper than `confirmations`.
 *
 * @example
 * const indexer = createIndexer(mv, await openIndexStore(mv.paths, mv.config))
 * await indexer.sync()
 * const records = await indexer.store.recordsOf(patient)
 */
export function createIndexer(ctx: IndexerContext, store: IndexStore, options: IndexerOptions = {}): Indexer {
  const confirmations = BigInt(options.confirmations ?? 12)
  const batchBlocks = BigInt(Math.max(1, options.batchBlocks ?? 2000))
  const pollIntervalMs = options.pollIntervalMs ?? 2000
  const { publicClient: client, deployment } = ctx
  const startBlock = BigInt(deployment.deployedAtBlock)
  let span = batchBlocks
  let bound = false

  /** The chain's hash at `n`, or undefined if the chain is not that high. */
  async function hashAt(n: bigint, head: bigint): Promise<Hex | undefined> {
    if (n > head) return undefined
    try {
      return (await client.getBlock({ blockNumber: n })).hash
    } catch (error) {
      if (error instanceof BlockNotFoundError) return undefined
      throw error
    }
  }

  /** Rolls back to the newest stored block the chain still has, or empties the index if there is none. */
  async function recover(head: bigint): Promise<NonNullable<SyncResult['reorg']>> {
    for (const stored of await store.recentBlocks()) {
      if ((await hashAt(stored.block, head)) === stored.hash) {
        await store.rollbackTo(stored.block)
        return { rolledBackTo: stored.block, rebuilt: false }
      }
    }
    await store.reset()
    bound = false
    return { rolledBackTo: undefined, rebuilt: true }
  }

  async function syncOnce(): Promise<SyncResult> {
    if (!bound) {
      await store.bindScope(deployment)
      bound = true
    }
    const head = await client.getBlockNumber({ cacheTime: 0 })
    let events = 0
    let reorg: SyncResult['reorg']
    let cursor = await store.cursor()
    if (cursor && (await hashAt(cursor.block, head)) !== cursor.hash) {
      reorg = await recover(head)
      if (!bound) {
        await store.bindScope(deployment)
        bound = true
      }
      cursor = await store.cursor()
    }
    let from = cursor ? cursor.block + 1n : startBlock
    while (from <= head) {
      const to = from + span - 1n < head ? from + span - 1n : head
      let range: Awaited<ReturnType<typeof readRange>>
      try {
        range = await readRange(client, deployment, { from, to, parentHash: cursor?.hash })
      } catch (error) {
        if (error instanceof LogsRangeError && span > 1n) {
          span = span / 2n
          continue
        }
        throw error
      }
      const written = await store.applyBatch({
        expectedCursor: cursor?.block,
        fromBlock: from,
        toBlock: to,
        toHash: range.toHash,
        headBlock: head,
        finalBlock: head - confirmations,
        blocks: range.blocks,
        events: range.events,
      })
      if (written) {
        events += range.events.length
        cursor = { block: to, hash: range.toHash }
        if (span < batchBlocks) span = span * 2n < batchBlocks ? span * 2n : batchBlocks
        options.onProgress?.({ fromBlock: from, lastBlock: to, headBlock: head, events })
      } else {
        // Another indexer on the same database wrote first: carry on from where it got to.
        cursor = await store.cursor()
      }
      from = cursor ? cursor.block + 1n : startBlock
    }
    return { lastBlock: cursor?.block, headBlock: head, events, ...(reorg ? { reorg } : {}) }
  }

  async function syncWithRetries(): Promise<SyncResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await syncOnce()
      } catch (error) {
        // The chain moved while a range was read: the next attempt compares the cursor with the chain again.
        if (error instanceof ChainMovedError && attempt < MAX_ATTEMPTS) continue
        if (error instanceof ChainMovedError) {
          throw new ChainError('The chain kept reorganising while it was being indexed.', { cause: error, hint: 'Try again later.' })
        }
        throw toMedvaultError(error instanceof LogsRangeError ? error.cause : error)
      }
    }
  }

  let queue: Promise<unknown> = Promise.resolve()
  const sync = (): Promise<SyncResult> => {
    const result = queue.then(syncWithRetries, syncWithRetries)
    queue = result.catch(() => undefined)
    return result
  }

  let timer: NodeJS.Timeout | undefined
  let running = false
  const tick = async () => {
    try {
      await sync()
    } catch (error) {
      options.onError?.(toMedvaultError(error))
    }
    if (running) timer = setTimeout(tick, pollIntervalMs)
  }

  return {
    sync,
    start() {
      if (running) return
      running = true
      void tick()
    },
    async stop() {
      running = false
      if (timer) clearTimeout(timer)
      timer = undefined
      await queue
    },
    store,
  }
}
