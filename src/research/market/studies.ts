import { type Account, type Address, erc20Abi, getAddress, type Hex } from 'viem'
import { writeAndWait, writeForEvent } from '../../chain/index.js'
import type { CID } from 'multiformats/cid'
import { researchMarketAbi } from '../../contracts/index.js'
import { InvalidInputError, NotFoundError } from '../../errors.js'
import { CATEGORIES, type Category, categoryCode } from '../../core/index.js'
import { cidFromChain } from '../../records/index.js'
import { fromBlock, type MarketContext, type MarketReadContext, marketAddress, NATIVE_ASSET, toDate } from './context.js'

/**
 * Where a study is in its life:
 * - `open`: before the deadline, not closed: patients join, withdraw and deliver;
 * - `closed`: closed early by the researcher: no new joins; reserved records may still be delivered or withdrawn until the deadline;
 * - `expired`: the deadline passed: nothing moves until the researcher settles it;
 * - `settled`: closed after the deadline: everything not delivered was refunded.
 */
export type StudyState = 'open' | 'closed' | 'expired' | 'settled'

export type Study = {
  studyId: bigint
  researcher: Address
  /** NATIVE_ASSET or an ERC-20 token address. */
  asset: Address
  pricePerRecord: bigint
  /** Records the study can still pay for or has paid for (closing lowers it to what is reserved or delivered). */
  maxRecords: number
  /** Records joined and not yet delivered or withdrawn. */
  reserved: number
  delivered: number
  categories: Category[]
  protocolCid: CID
  descriptionHash: Hex
  criteriaHash: Hex
  deadline: Date
  closedAt: Date | undefined
  state: StudyState
  /** Budget patients can still join for. */
  unreservedBudget: bigint
  /** Budget held for joined records until they are delivered or withdrawn. */
  reservedBudget: bigint
}

export type PostStudyParameters = {
  researcher: Account
  /** The protocol document's CIDv1 (sha2-256). */
  protocolCid: CID
  /** A hash of the study's short description (the description itself is in the protocol document). */
  descriptionHash: Hex
  /** The categories of records the study asks for. */
  categories: readonly Category[]
  /** A hash of the coded eligibility criteria document (LOINC, SNOMED CT, CVX...), checked off chain. */
  criteriaHash: Hex
  /** NATIVE_ASSET, or an ERC-20 token address. */
  asset: Address
  /** In the asset's smallest unit (wei, or 10^-decimals of the token). */
  pricePerRecord: bigint
  maxRecords: number
  deadline: Date
}

export type PostStudyReturnType = { studyId: bigint; budget: bigint; txHash: Hex }

/** The on-chain bitmask of a set of categories. */
export function categoryMask(categories: readonly Category[]): number {
  return categories.reduce((mask, c) => mask | (1 << categoryCode(c)), 0)
}

/** The categories a bitmask names. */
export function categoriesOf(mask: number): Category[] {
  return CATEGORIES.filter((_, code) => (mask & (1 << code)) !== 0)
}

/**
 * Posts a study as an approved researcher and escrows its whole budget (`pricePerRecord * maxRecords`).
 * For an ERC-20 budget, approves the market for it first if the allowance is short.
 *
 * @example
 * const { studyId } = await postStudy(mv, { researcher, protocolCid, descriptionHash, categories: ['laboratory'],
 *   criteriaHash, asset: NATIVE_ASSET, pricePerRecord: parseEther('0.001'), maxRecords: 100, deadline })
 */
export async function postStudy(ctx: MarketContext, params: PostStudyParameters): Promise<PostStudyReturnType> {
  const market = marketAddress(ctx)
  const { protocolCid } = params
  if (protocolCid.version !== 1 || protocolCid.multihash.code !== 0x12 || protocolCid.multihash.digest.length !== 32) {
    throw new InvalidInputError('The protocol document must be addressed by a CIDv1 with a sha2-256 hash.')
  }
  if (!Number.isInteger(params.maxRecords) || params.maxRecords <= 0 || params.maxRecords > 0xffffffff) {
    throw new InvalidInputError(`A study pays for 1 to 4294967295 records, not ${params.maxRecords}.`)
  }
  if (params.pricePerRecord <= 0n || params.pricePerRecord >= 1n << 96n) {
    throw new InvalidInputError('The price per record must be above zero and below 2^96.')
  }
  if (params.categories.length === 0) throw new InvalidInputError('Name at least one category of records the study asks for.')
  const budget = params.pricePerRecord * BigInt(params.maxRecords)
  const asset = getAddress(params.asset)
  if (asset !== NATIVE_ASSET) {
    const allowance = await ctx.publicClient.readContract({
      address: asset,
      abi: erc20Abi,
      functionName: 'allowance',
      args: [params.researcher.address, market],
    })
    if (allowance < budget) {
      await writeAndWait(ctx, params.researcher, { address: asset, abi: erc20Abi, functionName: 'approve', args: [market, budget] })
    }
  }
  const terms = {
    protocolDigest: `0x${Buffer.from(protocolCid.multihash.digest).toString('hex')}` as Hex,
    protocolCodec: protocolCid.code,
    descriptionHash: params.descriptionHash,
    categories: categoryMask(params.categories),
    criteriaHash: params.criteriaHash,
    asset,
    pricePerRecord: params.pricePerRecord,
    maxRecords: params.maxRecords,
    deadline: Math.floor(params.deadline.getTime() / 1000),
  }
  const { event: posted, receipt } = await writeForEvent(
    ctx,
    params.researcher,
    { address: market, abi: researchMarketAbi, functionName: 'postStudy', args: [terms], value: asset === NATIVE_ASSET ? budget : 0n },
    'StudyPosted',
  )
  return { studyId: posted.args.studyId, budget, txHash: receipt.transactionHash }
}

/** A study's terms, counters, escrow and state now. Throws NotFoundError for an unknown id. */
export async function getStudy(ctx: MarketReadContext, studyId: bigint): Promise<Study> {
  const read = { address: marketAddress(ctx), abi: researchMarketAbi } as const
  const [s, [unreserved, reserved], block] = await Promise.all([
    ctx.publicClient.readContract({ ...read, functionName: 'studyOf', args: [studyId] }),
    ctx.publicClient.readContract({ ...read, functionName: 'escrowOf', args: [studyId] }),
    ctx.publicClient.getBlock({ blockTag: 'latest' }),
  ])
  if (/^0x0+$/.test(s.researcher)) {
    throw new NotFoundError(`There is no study #${studyId}.`, { hint: 'List studies with `medvault study list`.' })
  }
  const now = Number(block.timestamp)
  const state: StudyState = s.settled ? 'settled' : now > s.deadline ? 'expired' : s.closedAt !== 0 ? 'closed' : 'open'
  return {
    studyId,
    researcher: getAddress(s.researcher),
    asset: getAddress(s.asset),
    pricePerRecord: s.pricePerRecord,
    maxRecords: s.maxRecords,
    reserved: s.reserved,
    delivered: s.delivered,
    categories: categoriesOf(s.categories),
    protocolCid: cidFromChain(s.protocolCodec, s.protocolDigest),
    descriptionHash: s.descriptionHash,
    criteriaHash: s.criteriaHash,
    deadline: toDate(s.deadline),
    closedAt: s.closedAt !== 0 ? toDate(s.closedAt) : undefined,
    state,
    unreservedBudget: unreserved,
    reservedBudget: reserved,
  }
}

export type ListStudiesParameters = {
  researcher?: Address
  asset?: Address
  /** Only studies in these states. */
  states?: readonly StudyState[]
}

/** Every study posted (from StudyPosted events), oldest first, with its state now. */
export async function listStudies(ctx: MarketReadContext, params: ListStudiesParameters = {}): Promise<Study[]> {
  const logs = await ctx.publicClient.getContractEvents({
    address: marketAddress(ctx),
    abi: researchMarketAbi,
    eventName: 'StudyPosted',
    args: {
      ...(params.researcher ? { researcher: getAddress(params.researcher) } : {}),
      ...(params.asset ? { asset: getAddress(params.asset) } : {}),
    },
    fromBlock: fromBlock(ctx),
    toBlock: 'latest',
  })
  const studies = await Promise.all(logs.map((log) => getStudy(ctx, log.args.studyId!)))
  return params.states ? studies.filter((s) => params.states!.includes(s.state)) : studies
}

/**
 * Closes a study as its researcher. Before the deadline: no new joins, and the unreserved budget is
 * refunded. After the deadline: the study is settled and everything not delivered is refunded.
 * Refunds go to the researcher's market balance; `withdraw` pays them out.
 */
export async function closeStudy(
  ctx: MarketContext,
  params: { researcher: Account; studyId: bigint },
): Promise<{ refund: bigint; settled: boolean; txHash: Hex }> {
  const { event: closed, receipt } = await writeForEvent(
    ctx,
    params.researcher,
    { address: marketAddress(ctx), abi: researchMarketAbi, functionName: 'closeStudy', args: [params.studyId] },
    'StudyClosed',
  )
  return { refund: closed.args.refund, settled: closed.args.settled, txHash: receipt.transactionHash }
}
