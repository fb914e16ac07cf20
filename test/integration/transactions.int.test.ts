/**
 * The transaction sender of src/chain/transactions.ts against real anvil nodes: nonces taken at
 * signing time under a per-account lock, and transactions re-broadcast when a node drops them.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Hash, createTestClient, createWalletClient, http, parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { type EmbeddedChain, startAnvil } from '../../src/chain/anvil.js'
import { type ChainClients, createChainClients } from '../../src/chain/clients.js'
import { EMBEDDED_DEV_KEY } from '../../src/chain/embedded.js'
import { providerRegistryAbi, providerRegistryBytecode } from '../../src/contracts/index.js'

const CHAIN_ID = 31337
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const somewhere = () => privateKeyToAccount(generatePrivateKey()).address

async function fundedAccount(chain: EmbeddedChain) {
  const account = privateKeyToAccount(generatePrivateKey())
  await createTestClient({ mode: 'anvil', transport: http(chain.rpcUrl) }).setBalance({
    address: account.address,
    value: parseEther('100'),
  })
  return account
}

describe('transactions under concurrency, on an automining node', () => {
  let chain: EmbeddedChain
  let clients: ChainClients
  before(async () => {
    chain = await startAnvil({ chainId: CHAIN_ID })
    clients = createChainClients(chain.rpcUrl, CHAIN_ID)
  })
  after(() => chain?.stop())

  async function settledCounts(address: `0x${string}`) {
    const [latest, pending] = await Promise.all([
      clients.publicClient.getTransactionCount({ address, blockTag: 'latest' }),
      clients.publicClient.getTransactionCount({ address, blockTag: 'pending' }),
    ])
    return { latest, pending }
  }

  it('100 sends from a fresh account, started at scattered moments, take nonces 0..99 once each', async () => {
    const account = await fundedAccount(chain)
    const wallet = clients.walletFor(account)
    const hashes = await Promise.all(
      Array.from({ length: 100 }, async () => {
        // Scattered starts are what made a cache-refilling nonce manager hand out a nonce twice.
        await sleep(Math.random() * 80)
        return wallet.sendTransaction({ to: somewhere(), value: 1n })
      }),
    )
    const receipts = await Promise.all(hashes.map((hash) => clients.publicClient.waitForTransactionReceipt({ hash })))
    assert.ok(receipts.every((r) => r.status === 'success'))
    const nonces = await Promise.all(hashes.map((hash) => clients.publicClient.getTransaction({ hash }).then((t) => t.nonce)))
    assert.deepEqual(
      [...nonces].sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => i),
    )
    assert.deepEqual(await settledCounts(account.address), { latest: 100, pending: 100 })
  })

  it('writeContract and deployContract go through the same nonces (30 concurrent registrations by one registrar)', async () => {
    const registrar = await fundedAccount(chain)
    const wallet = clients.walletFor(registrar)
    const deployed = await clients.publicClient.waitForTransactionReceipt({
      hash: await wallet.deployContract({ abi: providerRegistryAbi, bytecode: providerRegistryBytecode, args: [registrar.address] }),
    })
    const registry = deployed.contractAddress!
    const hashes = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        wallet.writeContract({
          address: registry,
          abi: providerRegistryAbi,
          functionName: 'register',
          args: [somewhere(), `provider ${i}`, `0x${'11'.repeat(32)}`],
        }),
      ),
    )
    const receipts = await Promise.all(hashes.map((hash) => clients.publicClient.waitForTransactionReceipt({ hash, timeout: 15_000 })))
    assert.ok(receipts.every((r) => r.status === 'success'))
    assert.equal(
      await clients.publicClient.readContract({ address: registry, abi: providerRegistryAbi, functionName: 'providerCount' }),
      30n,
    )
    assert.deepEqual(await settledCounts(registrar.address), { latest: 31, pending: 31 })
  })

  it('a send that fails its estimate takes no nonce, so the ones after it are not stuck behind a gap', async () => {
    const account = await fundedAccount(chain)
    const wallet = clients.walletFor(account)
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        // Every third one tries to send more than the account holds: refused at estimation.
        wallet.sendTransaction({ to: somewhere(), value: i % 3 === 0 ? parseEther('1000') : 1n }),
      ),
    )
    const sent = results.filter((r): r is PromiseFulfilledResult<Hash> => r.status === 'fulfilled').map((r) => r.value)
    assert.equal(sent.length, 8)
    assert.equal(results.filter((r) => r.status === 'rejected').length, 4)
    await Promise.all(sent.map((hash) => clients.publicClient.waitForTransactionReceipt({ hash, timeout: 15_000 })))
    assert.deepEqual(await settledCounts(account.address), { latest: 8, pending: 8 })
  })

  it('nonces used meanwhile by another process are counted again from the node', async () => {
    const account = await fundedAccount(chain)
    const wallet = clients.walletFor(account)
    await clients.publicClient.waitForTransactionReceipt({ hash: await wallet.sendTransaction({ to: somewhere(), value: 1n }) })
    // Another process with the same key sends three transactions this process never saw.
    const other = createWalletClient({ account, transport: http(chain.rpcUrl), chain: clients.chain })
    for (let i = 0; i < 3; i++) await other.sendTransaction({ to: somewhere(), value: 1n, nonce: 1 + i })
    const hash = await wallet.sendTransaction({ to: somewhere(), value: 1n })
    const receipt = await clients.publicClient.waitForTransactionReceipt({ hash, timeout: 15_000 })
    assert.equal(receipt.status, 'success')
    assert.equal((await clients.publicClient.getTransaction({ hash })).nonce, 4)
  })
})

describe('a transaction the node drops is re-broadcast while its receipt is awaited', () => {
  let chain: EmbeddedChain
  before(async () => {
    // Blocks every 2 s, so a transaction sits in the pool long enough to be dropped from it.
    chain = await startAnvil({ chainId: CHAIN_ID, blockTime: 2 })
  })
  after(() => chain?.stop())

  it('lands although anvil dropped it from its pool', async () => {
    const clients = createChainClients(chain.rpcUrl, CHAIN_ID)
    const wallet = clients.walletFor(privateKeyToAccount(EMBEDDED_DEV_KEY))
    const to = somewhere()
    const hash = await wallet.sendTransaction({ to, value: 7n })
    await createTestClient({ mode: 'anvil', transport: http(chain.rpcUrl) }).dropTransaction({ hash })
    await assert.rejects(clients.publicClient.getTransaction({ hash }), /could not be found/)
    const receipt = await clients.publicClient.waitForTransactionReceipt({ hash, timeout: 20_000 })
    assert.equal(receipt.status, 'success')
    assert.equal(await clients.publicClient.getBalance({ address: to }), 7n)
  })
})
