/**
 * The one way medvault sends a contract call that is not journaled: sign and send through the
 * account's wallet (in a home, the managed wallet of ./transactions.ts: nonce under a per-account
 * lock, re-broadcast while the node does not know the transaction), wait for the receipt, and
 * refuse a receipt whose status is not `success`. Every failure comes out of the one error table
 * (./errors.ts). Contract creations (./deploy.ts) go the same way through `deployAndWait`.
 * Journaled operations (src/journal, src/operations) sign with an explicit nonce instead, so their
 * hash is on disk before the transaction leaves the process.
 */
import {
  type Abi,
  type Account,
  type Address,
  BaseError,
  type Chain,
  type ContractFunctionArgs,
  type ContractEventName,
  type ContractFunctionName,
  ContractFunctionRevertedError,
  type DeployContractParameters,
  type Hex,
  type PublicClient,
  type TransactionReceipt,
  type Transport,
  type WalletClient,
  type WriteContractParameters,
  type ParseEventLogsReturnType,
  parseEventLogs,
} from 'viem'
import { ChainError, MedvaultError } from '../errors.js'
import { toMedvaultError } from './errors.js'

/** What a write needs: a client to wait with and a wallet per account. */
export type ChainWriter = {
  publicClient: PublicClient<Transport, Chain>
  walletFor(account: Account): WalletClient<Transport, Chain, Account>
}

type Mutability = 'nonpayable' | 'payable'

/**
 * Sends `request` as `account`, waits for its receipt and returns it. A call the contract refuses
 * at estimation, and a transaction mined but reverted (the state changed between estimation and
 * inclusion, or it ran out of gas), both throw a MedvaultError; a reverted one is replayed at its
 * block so the contract's reason can name the failure.
 */
export async function writeAndWait<
  const abi extends Abi | readonly unknown[],
  functionName extends ContractFunctionName<abi, Mutability>,
  args extends ContractFunctionArgs<abi, Mutability, functionName>,
>(
  ctx: ChainWriter,
  account: Account,
  request: WriteContractParameters<abi, functionName, args, Chain, Account>,
): Promise<TransactionReceipt> {
  let receipt: TransactionReceipt
  try {
    const hash = await ctx.walletFor(account).writeContract(request)
    receipt = await ctx.publicClient.waitForTransactionReceipt({ hash })
  } catch (error) {
    throw toMedvaultError(error)
  }
  if (receipt.status === 'success') return receipt
  throw await revertReason(ctx, account, request as RevertedCall, receipt)
}

/**
 * writeAndWait, then the first `eventName` event the called contract emitted in the transaction:
 * what most writes report (the new id, the amount paid). A successful transaction without it
 * throws, since the contract did not do what was asked.
 */
export async function writeForEvent<
  const abi extends Abi,
  functionName extends ContractFunctionName<abi, Mutability>,
  args extends ContractFunctionArgs<abi, Mutability, functionName>,
  eventName extends ContractEventName<abi>,
>(
  ctx: ChainWriter,
  account: Account,
  request: WriteContractParameters<abi, functionName, args, Chain, Account>,
  eventName: eventName,
): Promise<{ event: ParseEventLogsReturnType<abi, eventName, true>[number]; receipt: TransactionReceipt }> {
  const receipt = await writeAndWait(ctx, account, request)
  const address = (request as { address: Address }).address.toLowerCase()
  const logs = receipt.logs.filter((log) => log.address.toLowerCase() === address)
  const [event] = parseEventLogs({ abi: request.abi, logs, eventName } as never) as ParseEventLogsReturnType<abi, eventName, true>
  if (!event) {
    throw new ChainError(`The ${request.functionName} transaction ${receipt.transactionHash} emitted no ${eventName} event.`, {
      hint: 'The contract did not do what was asked; check the deployment the home points at.',
    })
  }
  return { event, receipt }
}

type RevertedCall = { address: Address; abi: Abi; functionName: string; args?: readonly unknown[]; value?: bigint }

/** The contract's reason for a mined revert, found by running the same call on the state the transaction met. */
async function revertReason(
  ctx: ChainWriter,
  account: Account,
  request: RevertedCall,
  receipt: TransactionReceipt,
): Promise<MedvaultError> {
  const fallback = new ChainError(
    `The ${request.functionName} transaction ${receipt.transactionHash} was mined but reverted (block ${receipt.blockNumber}).`,
    {
      hint: 'Nothing it asked for was done. Check the state it depends on (it may have changed meanwhile) and run the command again.',
    },
  )
  if (receipt.blockNumber === 0n) return fallback
  try {
    const { address, abi, functionName, args, value } = request
    // Replayed on the state at the end of its block: what made it revert (a transaction before it
    // in that block, or one mined between estimation and inclusion) is in that state.
    await ctx.publicClient.simulateContract({
      address,
      abi,
      functionName,
      args,
      value,
      account,
      blockNumber: receipt.blockNumber,
    } as never)
  } catch (error) {
    const reverted = error instanceof BaseError ? error.walk((e) => e instanceof ContractFunctionRevertedError) : undefined
    if (reverted instanceof ContractFunctionRevertedError && reverted.data?.errorName) {
      const named = toMedvaultError(error)
      if (named instanceof MedvaultError) return named
    }
  }
  return fallback
}

/** Sends a contract creation through the wallet; wait for it with `confirmDeployment`. */
export async function sendDeployment<const abi extends Abi | readonly unknown[]>(
  wallet: WalletClient<Transport, Chain, Account>,
  request: DeployContractParameters<abi, Chain, Account>,
): Promise<Hex> {
  try {
    return await wallet.deployContract(request)
  } catch (error) {
    throw toMedvaultError(error)
  }
}

/**
 * Waits for a contract creation and returns the new contract's address. A creation mined but
 * reverted (out of gas, a constructor that refused) throws: its receipt may still name the address
 * the contract would have had, but no code is there.
 */
export async function confirmDeployment(
  publicClient: PublicClient,
  name: string,
  hash: Hex,
): Promise<{ address: Address; receipt: TransactionReceipt }> {
  let receipt: TransactionReceipt
  try {
    receipt = await publicClient.waitForTransactionReceipt({ hash })
  } catch (error) {
    throw toMedvaultError(error)
  }
  if (receipt.status !== 'success' || !receipt.contractAddress) {
    throw new ChainError(
      `Deploying ${name} failed: transaction ${hash} ${receipt.status === 'success' ? 'created no contract' : 'was mined but reverted'}.`,
      {
        hint: 'Nothing was deployed. Check that the deploying account has enough funds and that the chain accepts contracts of this size, then deploy again.',
      },
    )
  }
  return { address: receipt.contractAddress, receipt }
}

/** Deploys one contract and waits for it (sendDeployment, then confirmDeployment). */
export async function deployAndWait<const abi extends Abi | readonly unknown[]>(
  wallet: WalletClient<Transport, Chain, Account>,
  publicClient: PublicClient,
  name: string,
  request: DeployContractParameters<abi, Chain, Account>,
): Promise<{ address: Address; receipt: TransactionReceipt }> {
  return confirmDeployment(publicClient, name, await sendDeployment(wallet, request))
}
