import { type Account, type Address, getAddress, type Hex } from 'viem'
import { writeForEvent } from '../../chain/index.js'
import { researchMarketAbi } from '../../contracts/index.js'
import { fromBlock, type MarketContext, type MarketReadContext, marketAddress, NATIVE_ASSET } from './context.js'

export type Earnings = {
  /** NATIVE_ASSET or an ERC-20 token address. */
  asset: Address
  /** What `withdraw` would pay now: payments for delivered data plus refunds of closed studies. */
  withdrawable: bigint
  /** Everything credited for delivered data, ever. */
  earned: bigint
  /** Everything paid out, ever. */
  withdrawn: bigint
}

/**
 * An account's money in the market, per asset: every asset a study was ever posted in (native
 * currency always listed), with what is withdrawable now and what was earned and withdrawn so far.
 */
export async function earnings(ctx: MarketReadContext, account: Address): Promise<Earnings[]> {
  const address = marketAddress(ctx)
  const who = getAddress(account)
  const range = { fromBlock: fromBlock(ctx), toBlock: 'latest' } as const
  const [posted, delivered, withdrawals] = await Promise.all([
    ctx.publicClient.getContractEvents({ address, abi: researchMarketAbi, eventName: 'StudyPosted', ...range }),
    ctx.publicClient.getContractEvents({
      address,
      abi: researchMarketAbi,
      eventName: 'ContributionDelivered',
      args: { patient: who },
      ...range,
    }),
    ctx.publicClient.getContractEvents({ address, abi: researchMarketAbi, eventName: 'Withdrawn', args: { account: who }, ...range }),
  ])
  const assetOfStudy = new Map(posted.map((log) => [log.args.studyId!, getAddress(log.args.asset!)]))
  const assets = [NATIVE_ASSET, ...new Set([...assetOfStudy.values()].filter((a) => a !== NATIVE_ASSET))]
  return Promise.all(
    assets.map(async (asset) => ({
      asset,
      withdrawable: await ctx.publicClient.readContract({ address, abi: researchMarketAbi, functionName: 'balanceOf', args: [who, asset] }),
      earned: delivered.filter((log) => assetOfStudy.get(log.args.studyId!) === asset).reduce((sum, log) => sum + log.args.amount!, 0n),
      withdrawn: withdrawals.filter((log) => getAddress(log.args.asset!) === asset).reduce((sum, log) => sum + log.args.amount!, 0n),
    })),
  )
}

/** Pays out the account's whole balance of `asset` (patients' payments, researchers' refunds). */
export async function withdraw(ctx: MarketContext, params: { account: Account; asset: Address }): Promise<{ amount: bigint; txHash: Hex }> {
  const { event: paid, receipt } = await writeForEvent(
    ctx,
    params.account,
    { address: marketAddress(ctx), abi: researchMarketAbi, functionName: 'withdraw', args: [getAddress(params.asset)] },
    'Withdrawn',
  )
  return { amount: paid.args.amount, txHash: receipt.transactionHash }
}
