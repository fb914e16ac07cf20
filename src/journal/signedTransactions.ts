/**
 * Transactions signed here, with an explicit nonce, so their hash is journaled before they leave
 * the process: whatever happens next, a re-run can ask the chain what became of exactly that
 * transaction (its receipt), and knows no other version of it can be mined once the nonce is
 * used. Shared by bulk imports and single operations (record add and amend, grant).
 */
import {
  type Abi,
  type Account,
  type Address,
  type ContractFunctionArgs,
  type ContractFunctionName,
  type Hex,
  type TransactionReceipt,
  TransactionNotFoundError,
  TransactionReceiptNotFoundError,
  encodeFunctionData,
  keccak256,
} from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { toMedvaultError } from '../chain/index.js'
import type { ChainContext } from '../core/index.js'
import { ChainError } from '../errors.js'

export type { ChainContext }

export type SignedTx = { hash: Hex; serialized: Hex; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }

/** The fees of a signed transaction. */
export type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }

/**
 * Signs a contract call with `nonce`. Gas is estimated first (with a 20% margin), so a call the
 * contract would refuse throws here (as a MedvaultError naming the reason), before anything is
 * journaled or sent. Fees are the node's estimate, raised above `replacing` when this re-signs a
 * transaction whose earlier version, with the same nonce, may still be in a mempool.
 */
export async function signContractCall<const abi extends Abi, functionName extends ContractFunctionName<abi, 'nonpayable' | 'payable'>>(
  ctx: Pick<ChainContext, 'publicClient' | 'deployment'>,
  params: {
    account: LocalAccount
    address: Address
    abi: abi
    functionName: functionName
    args: ContractFunctionArgs<abi, 'nonpayable' | 'payable', functionName>
    nonce: number
    replacing?: Fees | undefined
  },
): Promise<SignedTx> {
  const { account, address, abi, functionName, args, nonce, replacing } = params
  const data = encodeFunctionData({ abi, functionName, args } as never)
  let gas: bigint
  let fees: Fees
  try {
    gas = await ctx.publicClient.estimateContractGas({ address, abi, functionName, args, account } as never)
    fees = await ctx.publicClient.estimateFeesPerGas()
  } catch (error) {
    throw toMedvaultError(error)
  }
  if (replacing) {
    // A replacement must pay at least 10% more than the transaction it replaces; 12.5% to be safe.
    const bump = (old: bigint) => (old * 1125n) / 1000n + 1n
    fees = {
      maxFeePerGas: max(fees.maxFeePerGas, bump(replacing.maxFeePerGas)),
      maxPriorityFeePerGas: max(fees.maxPriorityFeePerGas, bump(replacing.maxPriorityFeePerGas)),
    }
  }
  if (!account.signTransaction) throw new ChainError('This account cannot sign transactions.')
  const serialized = await account.signTransaction({
    chainId: ctx.deployment.chainId,
    type: 'eip1559',
    to: address,
    data,
    value: 0n,
    nonce,
    gas: (gas * 12n) / 10n,
    ...fees,
  })
  return { hash: keccak256(serialized), serialized, ...fees }
}

const max = (a: bigint, b: bigint) => (a > b ? a : b)

/**
 * Broadcasts a signed transaction. A node that refuses it because it already has it, or because
 * the nonce was used meanwhile, is not an error here: `settleSigned` finds out what became of it.
 */
export async function sendSigned(ctx: ChainContext, sender: Account, tx: { hash: Hex; serialized: Hex }, nonce: number): Promise<void> {
  try {
    await ctx.walletFor(sender).sendRawTransaction({ serializedTransaction: tx.serialized })
  } catch (error) {
    if (await transactionKnown(ctx, tx.hash)) return
    const mined = await ctx.publicClient.getTransactionCount({ address: sender.address, blockTag: 'latest' }).catch(() => 0)
    if (mined > nonce) return
    throw toMedvaultError(error)
  }
}

export type SignedOutcome =
  | { status: 'mined'; receipt: TransactionReceipt }
  /** Another transaction used the nonce, so no version of these can ever be mined. */
  | { status: 'replaced' }
  /** Neither yet: still in a mempool, or lost by the node. */
  | { status: 'pending' }

/**
 * What became of the versions of one transaction (all with `nonce`): one mined (with its
 * receipt), the nonce used by some other transaction, or neither by `timeoutMs` (0: look once).
 */
export async function settleSigned(
  ctx: Pick<ChainContext, 'publicClient'>,
  params: { sender: Address; txs: readonly { hash: Hex }[]; nonce: number; timeoutMs: number },
): Promise<SignedOutcome> {
  const { sender, txs, nonce } = params
  const deadline = Date.now() + params.timeoutMs
  const sleep = () => new Promise((resolve) => setTimeout(resolve, ctx.publicClient.pollingInterval))
  const receipt = async () => {
    for (const tx of txs) {
      try {
        return await ctx.publicClient.getTransactionReceipt({ hash: tx.hash })
      } catch (error) {
        // Only "no such receipt" means not mined; any other failure must not be read as an answer.
        if (!(error instanceof TransactionReceiptNotFoundError)) throw error
      }
    }
    return undefined
  }
  try {
    for (;;) {
      const mined = await receipt()
      if (mined) return { status: 'mined', receipt: mined }
      if ((await ctx.publicClient.getTransactionCount({ address: sender, blockTag: 'latest' })) > nonce) {
        // The nonce is used: by this transaction if its receipt shows up (a node may index receipts
        // a moment after the state moves on), else by another one.
        const grace = Date.now() + REPLACED_GRACE_MS
        for (;;) {
          const late = await receipt()
          if (late) return { status: 'mined', receipt: late }
          if (Date.now() >= grace) return { status: 'replaced' }
          await sleep()
        }
      }
      if (Date.now() >= deadline) return { status: 'pending' }
      await sleep()
    }
  } catch (error) {
    throw toMedvaultError(error)
  }
}

/** How long a used nonce without a receipt for any version is re-checked before it counts as replaced. */
const REPLACED_GRACE_MS = 3000

/** Whether any of these transactions is known to the node (mined or in its mempool). */
export async function signedKnown(ctx: Pick<ChainContext, 'publicClient'>, txs: readonly { hash: Hex }[]): Promise<boolean> {
  for (const tx of txs) if (await transactionKnown(ctx, tx.hash)) return true
  return false
}

async function transactionKnown(ctx: Pick<ChainContext, 'publicClient'>, hash: Hex): Promise<boolean> {
  try {
    await ctx.publicClient.getTransaction({ hash })
    return true
  } catch (error) {
    if (error instanceof TransactionNotFoundError) return false
    throw toMedvaultError(error)
  }
}
