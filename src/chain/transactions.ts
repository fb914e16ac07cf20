/**
 * Sending transactions from many concurrent tasks without nonce collisions, gaps or stuck
 * transactions, on any EVM JSON-RPC node.
 *
 * viem's nonce manager hands a nonce out before the transaction is estimated and signed; a
 * transaction that then fails to estimate leaves a gap that blocks every later one, and a nonce
 * handed out twice across a refill of its cache makes one transaction silently replace another
 * (whose receipt then never comes). Here the nonce is taken only at the moment of signing, under
 * a per-account lock, and committed only once the node accepted the transaction: fees and gas are
 * estimated outside the lock, so concurrency is lost only for the signature and the broadcast.
 *
 * A node may also drop a transaction it accepted (a restart, a full pool, a reorg on an L2). The
 * signed bytes are kept until the receipt arrives, and waiting for a receipt re-broadcasts them
 * while the node does not know the transaction. Written by hand: viem has neither.
 */
import {
  type Account,
  type Client,
  type Chain,
  type Hash,
  type Hex,
  type PublicClient,
  type SendTransactionParameters,
  type Transport,
  type WaitForTransactionReceiptParameters,
  type WalletClient,
  BaseError,
  createClient,
  keccak256,
  walletActions,
} from 'viem'
import { getTransaction, getTransactionCount, prepareTransactionRequest, sendRawTransaction, waitForTransactionReceipt } from 'viem/actions'
import { ChainError } from '../errors.js'

/** Errors by which a node says the nonce is already taken (by a transaction of another process, or by this very one). */
const NONCE_TAKEN =
  /nonce too low|lower than the current nonce|already known|replacement transaction underpriced|nonce has already been used|known transaction/i
/** How often a send counts again after finding its nonce taken (another process racing on the same key). */
const NONCE_RETRIES = 5

/** Signed transactions kept for re-broadcast until their receipt arrives; bounded so an unwatched hash cannot grow it forever. */
const MAX_KEPT = 10_000

export type TransactionBroadcasts = {
  /** Keeps the signed bytes of a sent transaction. */
  keep(hash: Hash, serialized: Hex): void
  signed(hash: Hash): Hex | undefined
  forget(hash: Hash): void
}

export function createBroadcasts(): TransactionBroadcasts {
  const kept = new Map<Hash, Hex>()
  return {
    keep(hash, serialized) {
      kept.set(hash, serialized)
      if (kept.size > MAX_KEPT) kept.delete(kept.keys().next().value as Hash)
    },
    signed: (hash) => kept.get(hash),
    forget: (hash) => void kept.delete(hash),
  }
}

/**
 * Next nonces per (chain, account), shared by every wallet client of the process: two clients of
 * the same account must not count separately. The count is kept only while sends queue back to
 * back; once the queue drains it is read from the node again, which also follows a chain that went
 * back (a reorg, a reverted snapshot), where a remembered count would be too high and strand the
 * next transaction in the pool.
 */
const accounts = new Map<string, { next?: number | undefined; queued: number; tail: Promise<unknown> }>()

async function withNextNonce<T>(client: Client<Transport, Chain>, address: Hex, use: (nonce: number) => Promise<T>): Promise<T> {
  const key = `${client.chain?.id}:${address.toLowerCase()}`
  const slot = accounts.get(key) ?? { queued: 0, tail: Promise.resolve() }
  accounts.set(key, slot)
  slot.queued += 1
  const run = async () => {
    const fromNode = () => getTransactionCount(client, { address, blockTag: 'pending' })
    slot.next ??= await fromNode()
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await use(slot.next)
        slot.next += 1
        return result
      } catch (error) {
        if (attempt >= NONCE_RETRIES || !(error instanceof Error) || !NONCE_TAKEN.test(messageOf(error))) throw error
        // Someone else (another process holding this key, or an earlier attempt whose answer was
        // lost) took the nonce, or the node's pending count lagged behind its pool: count again.
        slot.next = Math.max(await fromNode(), slot.next + 1)
      }
    }
  }
  const runAndRelease = () =>
    run().finally(() => {
      slot.queued -= 1
      if (slot.queued === 0) slot.next = undefined
    })
  const result = slot.tail.then(runAndRelease, runAndRelease)
  slot.tail = result.catch(() => undefined)
  return result
}

function messageOf(error: Error): string {
  return error instanceof BaseError ? `${error.shortMessage} ${error.details ?? ''} ${error.message}` : error.message
}

/**
 * A wallet client whose transactions (sendTransaction, and writeContract and deployContract,
 * which reach it through viem's getAction) take their nonce under the account's lock and are kept
 * for re-broadcast.
 */
export function createManagedWalletClient(
  params: { account: Account; chain: Chain; transport: Transport; pollingInterval: number },
  broadcasts: TransactionBroadcasts,
): WalletClient<Transport, Chain, Account> {
  const { account } = params
  const base = createClient({ ...params, type: 'walletClient' })
  if (account.type !== 'local') return base.extend(walletActions) as unknown as WalletClient<Transport, Chain, Account>
  const send = async (args: unknown): Promise<Hash> => {
    // Fees, gas limit and type are estimated concurrently with other sends; an estimate that
    // fails (the contract would revert) fails here, before any nonce is taken.
    const { nonce: _ignored, ...request } = args as SendTransactionParameters<Chain, Account>
    const prepared = await prepareTransactionRequest(base, {
      ...request,
      account,
      parameters: ['chainId', 'fees', 'gas', 'type'],
    } as Parameters<typeof prepareTransactionRequest>[1])
    return withNextNonce(base, account.address, async (nonce) => {
      const serialized = await account.signTransaction({ ...prepared, nonce } as Parameters<typeof account.signTransaction>[0])
      const hash = keccak256(serialized)
      try {
        await sendRawTransaction(base, { serializedTransaction: serialized })
      } catch (error) {
        // A retried request whose first attempt got through: this very transaction holds the
        // nonce, and sending another one under a new nonce would do the operation twice.
        const ours = await getTransaction(base, { hash }).then(
          () => true,
          () => false,
        )
        if (!ours) throw error
      }
      broadcasts.keep(hash, serialized)
      return hash
    })
  }
  // viem's wallet actions close over the client they extend: they must extend one that already
  // has the managed sendTransaction, and their own sendTransaction is then replaced by it again.
  return base
    .extend(() => ({ sendTransaction: send }))
    .extend(walletActions)
    .extend(() => ({ sendTransaction: send })) as unknown as WalletClient<Transport, Chain, Account>
}

/**
 * A public client whose waitForTransactionReceipt re-broadcasts a transaction of this process
 * while the node does not know it (dropped from its pool), every `rebroadcastMs`.
 */
export function withRebroadcast<C extends PublicClient<Transport, Chain>>(
  publicClient: C,
  broadcasts: TransactionBroadcasts,
  rebroadcastMs: number,
): C {
  return publicClient.extend((client) => ({
    async waitForTransactionReceipt(args: WaitForTransactionReceiptParameters<Chain>) {
      const serialized = broadcasts.signed(args.hash)
      if (!serialized) return waitForTransactionReceipt(client, args)
      let stopped = false
      const watch = setInterval(async () => {
        const known = await getTransaction(client, { hash: args.hash }).then(
          () => true,
          () => false,
        )
        if (known || stopped) return
        // "nonce too low" here means it (or a replacement) was mined meanwhile: the wait sees to that.
        await sendRawTransaction(client, { serializedTransaction: serialized }).catch(() => undefined)
      }, rebroadcastMs)
      watch.unref()
      try {
        return await waitForTransactionReceipt(client, args)
      } catch (error) {
        if (error instanceof BaseError && /timed out/i.test(error.shortMessage)) {
          throw new ChainError(
            `Transaction ${args.hash} was not mined in time, though it was re-broadcast while the node did not know it.`,
            {
              cause: error,
              hint: 'Check that the chain is producing blocks and that the account holds enough for gas; the command can be run again.',
            },
          )
        }
        throw error
      } finally {
        stopped = true
        clearInterval(watch)
        broadcasts.forget(args.hash)
      }
    },
  })) as unknown as C
}
