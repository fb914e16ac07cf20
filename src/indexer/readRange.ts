import { BlockNotFoundError, type Hex, type PublicClient } from 'viem'
import { consentRegistryAbi, medicalRecordAbi } from '../contracts/index.js'
import { type LogDetails, decodeLogs, detailsNeeded } from './decodeLogs.js'
import type { IndexCursor, IndexEvent, IndexScope } from './types.js'

/** The chain changed under the reader (a reorg): what was read may mix two forks. */
export class ChainMovedError extends Error {
  override name = 'ChainMovedError'
}

/** `eth_getLogs` refused the range (too many results, or a provider's block-range limit). */
export class LogsRangeError extends Error {
  override name = 'LogsRangeError'
}

export type RangeReader = Pick<PublicClient, 'getBlock' | 'getLogs' | 'readContract'>

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

  const details = await readDetails(client, scope, detailsNeeded(scope, logs))
  const timestamps = new Map([...headers].map(([n, h]) => [n, h.timestamp]))
  const withEvents = new Set(logs.map((l) => l.blockNumber!))
  withEvents.add(params.to)
  return {
    toHash: last.hash,
    blocks: [...withEvents].sort((a, b) => (a < b ? -1 : 1)).map((n) => ({ block: n, hash: headers.get(n)!.hash })),
    events: decodeLogs(scope, logs, timestamps, details),
  }
}

/**
 * A new record's category and a new grant's scope, from the contracts' views: the events leave
 * them out (see decodeLogs). Both are fixed when the record or grant is created, so the latest
 * state gives the answer any later block would; reading at the range's own block would need an
 * archive node (a pruned node, or anvil restarted from its state file, keeps no old state).
 */
async function readDetails(
  client: RangeReader,
  scope: Pick<IndexScope, 'records' | 'consent'>,
  needed: { tokenIds: bigint[]; grantIds: bigint[] },
): Promise<LogDetails> {
  const records = new Map<bigint, { category: number; sensitivity: number }>()
  const grants = new Map<bigint, { categories: number; sensitive: number }>()
  for (let i = 0; i < needed.tokenIds.length; i += HEADER_CONCURRENCY) {
    const chunk = needed.tokenIds.slice(i, i + HEADER_CONCURRENCY)
    const infos = await Promise.all(
      chunk.map((tokenId) =>
        client.readContract({
          address: scope.records,
          abi: medicalRecordAbi,
          functionName: 'accessInfo',
          args: [tokenId],
        }),
      ),
    )
    for (const [j, tokenId] of chunk.entries()) records.set(tokenId, { category: infos[j]![1], sensitivity: infos[j]![2] })
  }
  for (let i = 0; i < needed.grantIds.length; i += HEADER_CONCURRENCY) {
    const chunk = needed.grantIds.slice(i, i + HEADER_CONCURRENCY)
    const infos = await Promise.all(
      chunk.map((grantId) =>
        client.readContract({ address: scope.consent, abi: consentRegistryAbi, functionName: 'grantOf', args: [grantId] }),
      ),
    )
    for (const [j, grantId] of chunk.entries()) grants.set(grantId, { categories: infos[j]!.categories, sensitive: infos[j]!.sensitive })
  }
  return { records, grants }
}
