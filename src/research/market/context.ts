import type { Account, Address, Chain, PublicClient, Transport, WalletClient } from 'viem'
import type { Deployment } from '../../chain/index.js'
import { HomeError } from '../../errors.js'

/** What the market functions need: a chain to read and write, and where the ResearchMarket is. */
export type MarketContext = {
  publicClient: PublicClient<Transport, Chain>
  walletFor(account: Account): WalletClient<Transport, Chain, Account>
  deployment: Pick<Deployment, 'research' | 'deployedAtBlock'>
}

/** What the read-only functions need. */
export type MarketReadContext = Pick<MarketContext, 'publicClient' | 'deployment'>

/** The chain's native currency, as the market names it (an ERC-20 is named by its address). */
export const NATIVE_ASSET: Address = '0x0000000000000000000000000000000000000000'

/** The ResearchMarket address, or a HomeError saying how to get one. */
export function marketAddress(ctx: MarketReadContext): Address {
  const address = ctx.deployment.research
  if (!address) {
    throw new HomeError('This home has no research market contract.', {
      hint: 'On the embedded chain, open the home once with this medvault version (it deploys the market); on an external chain, run `medvault deploy` again.',
    })
  }
  return address
}

/** The block the market's logs start at (the deployment's first block). */
export function fromBlock(ctx: MarketReadContext): bigint {
  return BigInt(ctx.deployment.deployedAtBlock)
}

/** A Unix time in seconds as a Date. */
export const toDate = (seconds: number | bigint): Date => new Date(Number(seconds) * 1000)
