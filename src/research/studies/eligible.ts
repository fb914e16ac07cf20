import { getAddress } from 'viem'
import { medicalRecordAbi } from '../../contracts/index.js'
import type { Category } from '../../records/index.js'
import { getOnChainRecord, type RecordsContext } from '../../records/index.js'
import { getStudy, type MarketReadContext } from '../market/index.js'

/** Counts under this are shown as "<11", the usual small-cell suppression threshold. */
export const SMALL_CELL = 11

export type EligibleCount = number | '<11'

export type EligibleCounts = {
  studyId: bigint
  /** Live (not erased, not superseded) records per study category, across all patients. */
  records: Partial<Record<Category, EligibleCount>>
  /** Distinct patients holding at least one such record. */
  patients: EligibleCount
}

const suppress = (n: number): EligibleCount => (n < SMALL_CELL ? '<11' : n)

/**
 * What a researcher may see before buying: how many records of the study's categories exist, per
 * category, and how many patients hold them, with any count under 11 suppressed. It counts what
 * the chain already makes public (every token's category and owner); it says nothing about coded
 * criteria, which only each patient's own client can check, and nothing about who would join.
 */
export async function eligibleCounts(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'> & MarketReadContext,
  studyId: bigint,
): Promise<EligibleCounts> {
  const study = await getStudy(ctx, studyId)
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    eventName: 'RecordIssued',
    fromBlock: BigInt(ctx.deployment.deployedAtBlock),
    toBlock: 'latest',
  })
  const records = await Promise.all(logs.map((log) => getOnChainRecord(ctx, log.args.tokenId!)))
  const perCategory = new Map<Category, number>(study.categories.map((c) => [c, 0]))
  const patients = new Set<string>()
  for (const r of records) {
    if (r.erasedAt || r.supersededBy !== 0n || !perCategory.has(r.category)) continue
    perCategory.set(r.category, perCategory.get(r.category)! + 1)
    patients.add(getAddress(r.owner))
  }
  return {
    studyId,
    records: Object.fromEntries([...perCategory].map(([c, n]) => [c, suppress(n)])),
    patients: suppress(patients.size),
  }
}
