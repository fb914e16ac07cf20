import { type Account, type Address, bytesToHex, getAddress, type Hex, hexToBytes } from 'viem'
import { writeForEvent } from '../../chain/index.js'
import { CID } from 'multiformats/cid'
import { researchMarketAbi } from '../../contracts/index.js'
import { InvalidInputError, NotFoundError } from '../../errors.js'
import { fromBlock, type MarketContext, type MarketReadContext, marketAddress } from './context.js'

export type ContributionStatus = 'reserved' | 'withdrawn' | 'delivered'
const STATUSES = [undefined, 'reserved', 'withdrawn', 'delivered'] as const

export type Contribution = {
  contributionId: bigint
  studyId: bigint
  patient: Address
  tokenIds: bigint[]
  status: ContributionStatus
  /** What the patient is (or was) paid for it: price per record x records. */
  amount: bigint
  /** Set once delivered. */
  delivery?: Delivery
}

export type Delivery = {
  contributionId: bigint
  studyId: bigint
  patient: Address
  /** The de-identified dataset, encrypted to the researcher. */
  datasetCid: CID
  /** The patient's commitment to the dataset's content. */
  datasetCommitment: Hex
  amount: bigint
  txHash: Hex
  blockNumber: bigint
}

/**
 * Contributes some of the patient's records to a study: the patient's research consent, revocable
 * until delivery. Each record reserves the study's price per record from its budget.
 */
export async function joinStudy(
  ctx: MarketContext,
  params: { patient: Account; studyId: bigint; tokenIds: readonly bigint[] },
): Promise<{ contributionId: bigint; amount: bigint; txHash: Hex }> {
  if (params.tokenIds.length === 0) throw new InvalidInputError('Name at least one record to contribute.')
  const { event: reserved, receipt } = await writeForEvent(
    ctx,
    params.patient,
    { address: marketAddress(ctx), abi: researchMarketAbi, functionName: 'join', args: [params.studyId, [...params.tokenIds]] },
    'ContributionReserved',
  )
  return { contributionId: reserved.args.contributionId, amount: reserved.args.amount, txHash: receipt.transactionHash }
}

/**
 * Withdraws a contribution before delivery (revokes the research consent). Its records may join
 * again while the study is open; on a study closed early its budget goes back to the researcher.
 */
export async function withdrawContribution(
  ctx: MarketContext,
  params: { patient: Account; contributionId: bigint },
): Promise<{ refundedToResearcher: bigint; txHash: Hex }> {
  const { event: withdrawn, receipt } = await writeForEvent(
    ctx,
    params.patient,
    { address: marketAddress(ctx), abi: researchMarketAbi, functionName: 'withdrawContribution', args: [params.contributionId] },
    'ContributionWithdrawn',
  )
  return { refundedToResearcher: withdrawn.args.refundedToResearcher, txHash: receipt.transactionHash }
}

/**
 * Delivers a contribution: publishes the CID of its de-identified dataset (already encrypted to the
 * researcher and stored) and, in the same transaction, credits the payment to the patient's market
 * balance. Store the dataset before calling this: once the CID is on chain the researcher may fetch it.
 */
export async function deliver(
  ctx: MarketContext,
  params: { patient: Account; contributionId: bigint; datasetCid: CID; datasetCommitment: Hex },
): Promise<{ amount: bigint; txHash: Hex }> {
  const { event: delivered, receipt } = await writeForEvent(
    ctx,
    params.patient,
    {
      address: marketAddress(ctx),
      abi: researchMarketAbi,
      functionName: 'deliver',
      args: [params.contributionId, bytesToHex(params.datasetCid.bytes), params.datasetCommitment],
    },
    'ContributionDelivered',
  )
  return { amount: delivered.args.amount, txHash: receipt.transactionHash }
}

/** One contribution with its records (from its ContributionReserved event) and its delivery, if any. */
export async function getContribution(ctx: MarketReadContext, contributionId: bigint): Promise<Contribution> {
  const [found] = await listContributions(ctx, { contributionId })
  if (!found) throw new NotFoundError(`There is no contribution #${contributionId}.`)
  return found
}

/** Contributions, oldest first, filtered by study, patient or id; each with its status now and its delivery. */
export async function listContributions(
  ctx: MarketReadContext,
  filter: { studyId?: bigint; patient?: Address; contributionId?: bigint } = {},
): Promise<Contribution[]> {
  const address = marketAddress(ctx)
  const args = {
    ...(filter.contributionId !== undefined ? { contributionId: filter.contributionId } : {}),
    ...(filter.studyId !== undefined ? { studyId: filter.studyId } : {}),
    ...(filter.patient ? { patient: getAddress(filter.patient) } : {}),
  }
  const [reservations, deliveries] = await Promise.all([
    ctx.publicClient.getContractEvents({
      address,
      abi: researchMarketAbi,
      eventName: 'ContributionReserved',
      args,
      fromBlock: fromBlock(ctx),
      toBlock: 'latest',
    }),
    listDeliveries(ctx, filter),
  ])
  const delivered = new Map(deliveries.map((d) => [d.contributionId, d]))
  return Promise.all(
    reservations.map(async (log) => {
      const contributionId = log.args.contributionId!
      const c = await ctx.publicClient.readContract({
        address,
        abi: researchMarketAbi,
        functionName: 'contributionOf',
        args: [contributionId],
      })
      const delivery = delivered.get(contributionId)
      return {
        contributionId,
        studyId: log.args.studyId!,
        patient: getAddress(log.args.patient!),
        tokenIds: [...log.args.tokenIds!],
        status: STATUSES[c.status] ?? 'reserved',
        amount: log.args.amount!,
        ...(delivery ? { delivery } : {}),
      }
    }),
  )
}

/** Deliveries (from ContributionDelivered events), oldest first: what a researcher downloads. */
export async function listDeliveries(
  ctx: MarketReadContext,
  filter: { studyId?: bigint; patient?: Address; contributionId?: bigint } = {},
): Promise<Delivery[]> {
  const logs = await ctx.publicClient.getContractEvents({
    address: marketAddress(ctx),
    abi: researchMarketAbi,
    eventName: 'ContributionDelivered',
    args: {
      ...(filter.contributionId !== undefined ? { contributionId: filter.contributionId } : {}),
      ...(filter.studyId !== undefined ? { studyId: filter.studyId } : {}),
      ...(filter.patient ? { patient: getAddress(filter.patient) } : {}),
    },
    fromBlock: fromBlock(ctx),
    toBlock: 'latest',
  })
  return logs.map((log) => ({
    contributionId: log.args.contributionId!,
    studyId: log.args.studyId!,
    patient: getAddress(log.args.patient!),
    datasetCid: CID.decode(hexToBytes(log.args.datasetCid!)),
    datasetCommitment: log.args.datasetCommitment!,
    amount: log.args.amount!,
    txHash: log.transactionHash,
    blockNumber: log.blockNumber,
  }))
}
