import { BlockNotFoundError, type Hex, type PublicClient } from 'viem'
import { decodeLogs } from './decodeLogs.js'
import type { IndexCursor, IndexEvent, IndexScope } from './types.js'

/** The chain changed under the reader (a reorg): what was read may mix two forks. */
export class ChainMovedError extends Error {
  override name = 'ChainMovedError'
}

/** `eth_getLogs` refused the range (too many results, or a provider's block-range limit). */
export class LogsRangeError extends Error {
  override name = 'LogsRangeError'
}

export type RangeReader = Pick<PublicClient, 'getBlock' | 'getLogs'>

export type ReadRangeReturnType = { toHash: Hex; blocks: IndexCursor[]; events: IndexEvent[] }

const HEADER_CONCURRENCY = 8

/**
 * Reads the medvault contracts' events in blocks `from`..`to` from one consistent view of the
 * chain: the first block must follow `parentHash` (the indexed cursor), every log must belong to
 * the canonical block of its height, and block `to` must be the same before and after. Otherwise
 * throws ChainMovedError, and the caller checks for a reorg.
 */
export async function readRange(
  client: RangeReader,
  scope: Pick<IndexScope, 'records' | 'consent' | 'registry'>,
  params: { from: bigint; to: bigint; parentHash: Hex | undefined },
): Promise<ReadRangeReturnType> {
  const header = async (blockNumber: bigint) => {
    try {
      const block = await client.getBlock({ blockNumber })
      return { hash: block.hash, parentHash: block.parentHash, timestamp: block.timestamp }
    } catch (error) {
      if (error instanceof BlockNotFoundError) throw new ChainMovedError(`Block ${blockNumber} is gone.`, { cause: error })
      throw error
    }
  }

  const last = await header(params.to)
  const first = params.from === params.to ? last : await header(params.from)
  if (params.parentHash && first.parentHash !== params.parentHash) {
    throw new ChainMovedError(`Block ${params.from} no longer follows the indexed block ${params.from - 1n}.`)
  }

  let logs: Awaited<ReturnType<RangeReader['getLogs']>>
  try {
    logs = await client.getLogs({ address: [scope.records, scope.consent, scope.registry], fromBlock: params.from, toBlock: params.to })
  } catch (error) {
    throw new LogsRangeError(`eth_getLogs failed for blocks ${params.from}..${params.to}.`, { cause: error })
  }

  const headers = new Map([
    [params.to, last],
    [params.from, first],
  ])
  const missing = [...new Set(logs.map((l) => l.blockNumber!))].filter((n) => !headers.has(n))
  for (let i = 0; i < missing.length; i += HEADER_CONCURRENCY) {
    const chunk = missing.slice(i, i + HEADER_CONCURRENCY)
    const fetched = await Promise.all(chunk.map(header))
    for (const [j, n] of chunk.entries()) headers.set(n, fetched[j]!)
  }
  for (const log of logs) {
    if (log.removed || headers.get(log.blockNumber!)?.hash !== log.blockHash) {
      throw new ChainMovedError(`A log of block ${log.blockNumber} is not on the canonical chain.`)
    }
  }
  if ((await header(params.to)).hash !== last.hash) throw new ChainMovedError(`Block ${params.to} changed while it was read.`)

  const timestamps = new Map([...headers].map(([n, h]) => [n, h.timestamp]))
  const withEvents = new Set(logs.map((l) => l.blockNumber!))
  withEvents.add(params.to)
  return {
    toHash: last.hash,
    blocks: [...withEvents].sort((a, b) => (a < b ? -1 : 1)).map((n) => ({ block: n, hash: headers.get(n)!.hash })),
    events: decodeLogs(scope, logs, timestamps),
  }
}
