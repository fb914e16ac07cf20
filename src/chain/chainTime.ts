import type { PublicClient } from 'viem'
import { toMedvaultError } from './errors.js'

/**
 * The chain's time: the latest block's timestamp. Grant expiry, standing authorisations and
 * emergency windows are decided by the contracts on this clock, not the wall clock, so anything
 * off chain that compares with them (lists, pre-checks, deadlines) reads it here. On a dev chain
 * moved forward with `evm_increaseTime` the two differ by days.
 */
export async function chainTime(client: Pick<PublicClient, 'getBlock'>): Promise<Date> {
  try {
    return new Date(Number((await client.getBlock({ blockTag: 'latest' })).timestamp) * 1000)
  } catch (error) {
    throw toMedvaultError(error)
  }
}

/** The later of the chain's time and the wall clock, in seconds: a deadline from it holds on both. */
export async function laterOfChainAndWallSeconds(client: Pick<PublicClient, 'getBlock'>): Promise<bigint> {
  const chain = BigInt(Math.floor((await chainTime(client)).getTime() / 1000))
  const wall = BigInt(Math.floor(Date.now() / 1000))
  return chain > wall ? chain : wall
}
