import { type Account, type Address, getAddress, type Hex } from 'viem'
import { writeAndWait } from '../../chain/index.js'
import { researchMarketAbi } from '../../contracts/index.js'
import { type MarketContext, type MarketReadContext, marketAddress } from './context.js'

/** Approves (or, with `approved: false`, revokes) a research organisation, as a registrar. */
export async function setResearcher(
  ctx: MarketContext,
  params: { registrar: Account; researcher: Address; approved: boolean },
): Promise<Hex> {
  const receipt = await writeAndWait(ctx, params.registrar, {
    address: marketAddress(ctx),
    abi: researchMarketAbi,
    functionName: params.approved ? 'approveResearcher' : 'revokeResearcher',
    args: [getAddress(params.researcher)],
  })
  return receipt.transactionHash
}

/** Approves a research organisation: it may post studies. Requires the registrar role. */
export function approveResearcher(ctx: MarketContext, params: { registrar: Account; researcher: Address }): Promise<Hex> {
  return setResearcher(ctx, { ...params, approved: true })
}

/** Revokes a research organisation: no new studies, and its studies take no new patients. Requires the registrar role. */
export function revokeResearcher(ctx: MarketContext, params: { registrar: Account; researcher: Address }): Promise<Hex> {
  return setResearcher(ctx, { ...params, approved: false })
}

/** Whether `account` is an approved research organisation now. */
export function isResearcher(ctx: MarketReadContext, account: Address): Promise<boolean> {
  return ctx.publicClient.readContract({
    address: marketAddress(ctx),
    abi: researchMarketAbi,
    functionName: 'isResearcher',
    args: [getAddress(account)],
  })
}
