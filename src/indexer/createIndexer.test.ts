import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type Address, BlockNotFoundError, type Hex, encodeAbiParameters, encodeEventTopics, getAddress, keccak256, toHex } from 'viem'
import type { Deployment } from '../chain/deploy.js'
import { providerRegistryAbi } from '../contracts/index.js'
import { type IndexerContext, createIndexer } from './createIndexer.js'
import { openSqliteIndex } from './sqliteIndex.js'

const deployment: Deployment = {
  chainId: 31337,
  registry: getAddress(`0x${'e1'.repeat(20)}`),
  records: getAddress(`0x${'e2'.repeat(20)}`),
  consent: getAddress(`0x${'e3'.repeat(20)}`),
  audit: getAddress(`0x${'e4'.repeat(20)}`),
  deployedAtBlock: '1',
}

type FakeBlock = { number: bigint; hash: Hex; parentHash: Hex; timestamp: bigint; providers: string[] }

/**
 * A scripted chain: blocks whose only events are ProviderRegistered (ABI-encoded like the real
 * contract's), forks on demand, and hooks to make calls fail or the chain move mid-read.
 */
function fakeChain() {
  const blocks: FakeBlock[] = []
  const calls = { getLogs: 0, getBlockNumber: 0 }
  const hooks: { maxRange?: bigint; beforeGetLogs?: () => void; failHead?: boolean } = {}
  const mine = (providers: string[] = [], fork = 'a') => {
    const number = BigInt(blocks.length)
    const parentHash = blocks.at(-1)?.hash ?? (`0x${'00'.repeat(32)}` as Hex)
    blocks.push({
      number,
      parentHash,
      hash: keccak256(toHex(`${fork} ${number} ${parentHash}`)),
      timestamp: 1_700_000_000n + number,
      providers,
    })
  }
  const providerAddress = (name: string): Address => getAddress(keccak256(toHex(name)).slice(0, 42))
  const logsOf = (b: FakeBlock) =>
    b.providers.map((name, i) => ({
      address: deployment.registry,
      topics: encodeEventTopics({ abi: providerRegistryAbi, eventName: 'ProviderRegistered', args: { provider: providerAddress(name) } }),
      data: encodeAbiParameters([{ type: 'string' }, { type: 'bytes32' }], [name, keccak256(toHex(`key ${name}`))]),
      blockNumber: b.number,
      blockHash: b.hash,
      logIndex: i,
      transactionHash: keccak256(toHex(`tx ${b.hash} ${i}`)),
      transactionIndex: 0,
      removed: false,
    }))
  const client = {
    async getBlockNumber() {
      calls.getBlockNumber++
      if (hooks.failHead) throw new Error('connection refused')
      return BigInt(blocks.length - 1)
    },
    async getBlock({ blockNumber }: { blockNumber: bigint }) {
      const b = blocks[Number(blockNumber)]
      if (!b) throw new BlockNotFoundError({ blockNumber })
      return { hash: b.hash, parentHash: b.parentHash, timestamp: b.timestamp, number: b.number }
    },
    async getLogs({ fromBlock, toBlock }: { fromBlock: bigint; toBlock: bigint }) {
      calls.getLogs++
      hooks.beforeGetLogs?.()
      if (hooks.maxRange !== undefined && toBlock - fromBlock + 1n > hooks.maxRange) throw new Error('query exceeds max block range')
      return blocks.slice(Number(fromBlock), Number(toBlock) + 1).flatMap(logsOf)
    },
  }
  /** Replaces every block above `height` by a fork with other providers. */
  const reorg = (height: number, providers: string[][], fork: string) => {
    blocks.splice(height + 1)
    for (const p of providers) mine(p, fork)
  }
  return { blocks, calls, hooks, mine, reorg, providerAddress, client: client as unknown as IndexerContext['publicClient'] }
}

const names = async (store: Awaited<ReturnType<typeof openSqliteIndex>>) => (await store.providers()).map((p) => p.name)

describe('createIndexer', () => {
  it('reads in ranges of batchBlocks, halving a range the node refuses, and reports progress', async () => {
    const chain = fakeChain()
    for (let i = 0; i < 20; i++) chain.mine(i % 4 === 1 ? [`P${i}`] : [])
    chain.hooks.maxRange = 3n
    const store = await openSqliteIndex(':memory:')
    const progress: bigint[] = []
    const indexer = createIndexer({ publicClient: chain.client, deployment }, store, {
      batchBlocks: 8,
      onProgress: (p) => progress.push(p.lastBlock),
    })
    const result = await indexer.sync()
    assert.equal(result.lastBlock, 19n)
    assert.equal(result.events, 5)
    assert.deepEqual(await names(store), ['P1', 'P5', 'P9', 'P13', 'P17'])
    assert.ok(progress.every((b, i) => i === 0 || b > progress[i - 1]!))
    assert.equal(progress.at(-1), 19n)
    assert.ok(progress.length >= 6, `${progress.length} ranges of at most 3 blocks (and some refused)`)
    await store.close()
  })

  it('retries when the chain moves while a range is read, and indexes the new fork only', async () => {
    const chain = fakeChain()
    for (let i = 0; i < 5; i++) chain.mine([`A${i}`])
    const store = await openSqliteIndex(':memory:')
    const indexer = createIndexer({ publicClient: chain.client, deployment }, store)
    await indexer.sync()
    for (let i = 5; i < 8; i++) chain.mine([`A${i}`])
    let moved = false
    chain.hooks.beforeGetLogs = () => {
      if (moved) return
      moved = true
      chain.reorg(5, [['B6'], ['B7']], 'b') // blocks 6 and 7 replaced while block 5..7 is read
    }
    const result = await indexer.sync()
    assert.equal(moved, true)
    assert.equal(result.lastBlock, 7n)
    assert.deepEqual(await names(store), ['A1', 'A2', 'A3', 'A4', 'A5', 'B6', 'B7'])
    assert.equal(result.reorg, undefined, 'nothing indexed had to be undone')
    await store.close()
  })

  it('rolls back to the fork point after a reorg below the cursor, even when the new chain is shorter', async () => {
    const chain = fakeChain()
    for (let i = 0; i < 10; i++) chain.mine([`A${i}`])
    const store = await openSqliteIndex(':memory:')
    const indexer = createIndexer({ publicClient: chain.client, deployment }, store)
    await indexer.sync()
    chain.reorg(6, [['B7']], 'b') // head 9 → 7
    const result = await indexer.sync()
    assert.deepEqual(result.reorg, { rolledBackTo: 6n, rebuilt: false })
    assert.equal(result.lastBlock, 7n)
    assert.deepEqual(await names(store), ['A1', 'A2', 'A3', 'A4', 'A5', 'A6', 'B7'])
    await store.close()
  })

  it('two indexers on one store take turns: every range is written once', async () => {
    const chain = fakeChain()
    for (let i = 0; i < 30; i++) chain.mine([`P${i}`])
    const store = await openSqliteIndex(':memory:')
    const a = createIndexer({ publicClient: chain.client, deployment }, store, { batchBlocks: 4 })
    const b = createIndexer({ publicClient: chain.client, deployment }, store, { batchBlocks: 5 })
    const [ra, rb] = await Promise.all([a.sync(), b.sync()])
    assert.equal(ra.lastBlock, 29n)
    assert.equal(rb.lastBlock, 29n)
    assert.equal(ra.events + rb.events, 29)
    assert.deepEqual(
      await names(store),
      Array.from({ length: 29 }, (_, i) => `P${i + 1}`),
    )
    await store.close()
  })

  it('follows new blocks after start() until stop(), and reports background failures', async () => {
    const chain = fakeChain()
    chain.mine()
    chain.mine(['P1'])
    const store = await openSqliteIndex(':memory:')
    const errors: string[] = []
    const indexer = createIndexer({ publicClient: chain.client, deployment }, store, {
      pollIntervalMs: 10,
      onError: (e) => errors.push(e.code),
    })
    indexer.start()
    indexer.start() // a second start does nothing
    chain.mine(['P2'])
    const until = async (check: () => Promise<boolean>) => {
      const deadline = Date.now() + 5000
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error('timed out')
        await new Promise((r) => setTimeout(r, 10))
      }
    }
    await until(async () => (await names(store)).includes('P2'))
    chain.hooks.failHead = true
    await until(async () => errors.length > 0)
    assert.equal(errors[0], 'CHAIN')
    chain.hooks.failHead = false
    chain.mine(['P3'])
    await until(async () => (await names(store)).includes('P3'))
    await indexer.stop()
    const calls = chain.calls.getBlockNumber
    chain.mine(['P4'])
    await new Promise((r) => setTimeout(r, 100))
    assert.equal(chain.calls.getBlockNumber, calls, 'no polling after stop()')
    assert.deepEqual(await names(store), ['P1', 'P2', 'P3'])
    await store.close()
  })

  it('fails with a ChainError when the chain keeps moving', async () => {
    const chain = fakeChain()
    for (let i = 0; i < 3; i++) chain.mine([`A${i}`])
    let n = 0
    chain.hooks.beforeGetLogs = () => chain.reorg(0, [['X'], ['Y']], `fork ${n++}`)
    const store = await openSqliteIndex(':memory:')
    await assert.rejects(createIndexer({ publicClient: chain.client, deployment }, store).sync(), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'CHAIN')
      assert.match(e.message, /kept reorganising/)
      return true
    })
    assert.equal(await store.cursor(), undefined)
    await store.close()
  })
})
