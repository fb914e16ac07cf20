import type { Command } from 'commander'
import { InvalidInputError } from '../../errors.js'
import type { Medvault } from '../../home/index.js'
import { type IndexStore, type SyncProgress, createIndexer, openIndexStore } from '../../indexer/index.js'
import { type GlobalOptions, emit } from '../output.js'
import { withMedvault } from '../session.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

async function withIndex<T>(mv: Medvault, fn: (store: IndexStore) => Promise<T>): Promise<T> {
  const store = await openIndexStore(mv.paths, mv.config)
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}

/** Rebuild progress on stderr for a person at a terminal; nothing for scripts and --json. */
function progressLine(o: GlobalOptions, startBlock: bigint): ((p: SyncProgress) => void) | undefined {
  if (o.json || !process.stderr.isTTY) return undefined
  let last = 0
  return (p) => {
    const now = Date.now()
    if (now - last < 200 && p.lastBlock < p.headBlock) return
    last = now
    const total = p.headBlock - startBlock + 1n
    const done = p.lastBlock - startBlock + 1n
    const percent = total > 0n ? Number((done * 100n) / total) : 100
    process.stderr.write(`\r\x1b[Kindexing block ${p.lastBlock} of ${p.headBlock} (${percent}%), ${p.events} events`)
    if (p.lastBlock >= p.headBlock) process.stderr.write('\n')
  }
}

const when = (date: Date | undefined) => (date ? date.toISOString() : 'never')

export function indexCommands(program: Command, run: Run) {
  const index = program
    .command('index')
    .description("The index: the chain's records, grants and providers in a database, for fast listing (never the source of truth)")

  index
    .command('status')
    .description('Where the index is, the last block it holds, and how far behind the chain it is')
    .action((_opts: unknown, cmd: Command) =>
      run(async (o) => {
        const result = await withMedvault(o, async (mv) => {
          const status = await withIndex(mv, (store) => store.status())
          const headBlock = await mv.publicClient.getBlockNumber({ cacheTime: 0 })
          const lag = status.lastBlock === undefined ? undefined : headBlock > status.lastBlock ? headBlock - status.lastBlock : 0n
          return { ...status, headBlock, lag, deployedAtBlock: mv.deployment.deployedAtBlock }
        })
        emit(o, result, () => [
          `Index: ${result.kind} at ${result.location}`,
          result.lastBlock === undefined
            ? `Empty: nothing indexed yet (the chain is at block ${result.headBlock}). Run \`medvault index rebuild\`, or start the server.`
            : `Indexed up to block ${result.lastBlock} of ${result.headBlock} (${result.lag} behind); last synced ${when(result.syncedAt)}.`,
          `Holds ${result.counts.records} records, ${result.counts.grants} grants, ${result.counts.providers} providers.`,
        ])
      }, cmd),
    )

  index
    .command('rebuild')
    .description('Empty the index and read it again from the chain, from the deployment block to the head')
    .option('--batch-blocks <n>', 'blocks per eth_getLogs call', '2000')
    .action((opts: { batchBlocks: string }, cmd: Command) =>
      run(async (o) => {
        const batchBlocks = Number(opts.batchBlocks)
        if (!Number.isInteger(batchBlocks) || batchBlocks < 1) {
          throw new InvalidInputError(`--batch-blocks must be a positive whole number, not "${opts.batchBlocks}".`)
        }
        const started = Date.now()
        const result = await withMedvault(o, (mv) =>
          withIndex(mv, async (store) => {
            await store.reset()
            const onProgress = progressLine(o, BigInt(mv.deployment.deployedAtBlock))
            const indexer = createIndexer(mv, store, { batchBlocks, ...(onProgress ? { onProgress } : {}) })
            const sync = await indexer.sync()
            const status = await store.status()
            return {
              kind: status.kind,
              location: status.location,
              fromBlock: mv.deployment.deployedAtBlock,
              lastBlock: sync.lastBlock,
              events: sync.events,
              counts: status.counts,
              seconds: (Date.now() - started) / 1000,
            }
          }),
        )
        emit(o, result, () => [
          `Rebuilt the ${result.kind} index at ${result.location} from block ${result.fromBlock} to ${result.lastBlock ?? result.fromBlock}: ${result.events} events in ${result.seconds.toFixed(1)} s.`,
          `It holds ${result.counts.records} records, ${result.counts.grants} grants, ${result.counts.providers} providers.`,
        ])
      }, cmd),
    )
}
