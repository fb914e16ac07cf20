import { type Account, type Chain, type PublicClient, type Transport, type WalletClient, createPublicClient, defineChain, http } from 'viem'
import { createBroadcasts, createManagedWalletClient, withRebroadcast } from './transactions.js'

export type ChainClients = {
  chain: Chain
  publicClient: PublicClient<Transport, Chain>
  walletFor(account: Account): WalletClient<Transport, Chain, Account>
}

/**
 * viem clients for any EVM JSON-RPC endpoint. Fees (EIP-1559) come from the node; polling is quick
 * for a local chain and can be slowed for a remote one. Transactions of every wallet take their
 * nonces per account at signing time, and are re-broadcast if the node drops them (./transactions.ts).
 */
export function createChainClients(rpcUrl: string, chainId: number, options: { pollingInterval?: number } = {}): ChainClients {
  const chain = defineChain({
    id: chainId,
    name: chainId === 31337 ? 'medvault embedded (anvil)' : `chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  })
  // Concurrent calls (the reads behind a history of hundreds of records) share one HTTP request as a JSON-RPC batch.
  // A failed or timed-out request is retried 3 times, backing off exponentially (150 ms, 300 ms, 600 ms).
  const transport = http(rpcUrl, { retryCount: 3, retryDelay: 150, timeout: rpcTimeoutMs(), batch: { wait: 0 } })
  const pollingInterval = options.pollingInterval ?? 100
  const broadcasts = createBroadcasts()
  const publicClient = withRebroadcast(
    createPublicClient({ chain, transport, pollingInterval }),
    broadcasts,
    Math.max(2_000, 10 * pollingInterval),
  )
  return {
    chain,
    publicClient,
    walletFor: (account) => createManagedWalletClient({ account, chain, transport, pollingInterval }, broadcasts),
  }
}

/**
 * How often to poll an external node for blocks and receipts: every 100 ms (as the embedded chain)
 * when the node runs on this machine, where a poll costs a loopback round trip, and every second
 * for a remote one, whose provider may count or rate-limit requests.
 */
export function pollingIntervalFor(rpcUrl: string): number {
  let host: string
  try {
    host = new URL(rpcUrl).hostname
  } catch {
    return 1000
  }
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host) ? 100 : 1000
}

/** How long one JSON-RPC request may take: `MEDVAULT_RPC_TIMEOUT_MS`, default 30 s. */
function rpcTimeoutMs(): number {
  const ms = Number(process.env.MEDVAULT_RPC_TIMEOUT_MS)
  return Number.isFinite(ms) && ms > 0 ? ms : 30_000
}
