import { getAddress } from 'viem'
import { medicalRecordAbi } from '../../contracts/index.js'
import type { Category, RecordsContext } from '../../records/index.js'
import { getStudy, type MarketReadContext } from '../market/index.js'

/** Counts under this are shown as "<11", the usual small-cell suppression threshold. */
export const SMALL_CELL = 11

export type EligibleCount = number | '<11'

export type EligibleCounts = {
  studyId: bigint
  /** The study's categories. The counts are not split by them: the chain holds only blinded tags. */
  categories: Category[]
  /** Live (not erased, not superseded) records of any category, across all patients: at most this many could join. */
  records: EligibleCount
  /** Distinct patients holding at least one live record. */
  patients: EligibleCount
}

const suppress = (n: number): EligibleCount => (n < SMALL_CELL ? '<11' : n)

/**
 * What a researcher may see before buying: how many live records exist and how many patients hold
 * them, with any count under 11 suppressed. Since issue 22 a token carries its patient's blinded
 * category tag, never a category, so no one but the patient (and whom the patient shares a tag table
 * with) can tell which records are of the study's categories: the counts are an upper bound over all
 * categories. They say nothing about coded criteria or who would join, which only each patient's
 * own client checks.
 */
export async function eligibleCounts(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'> & MarketReadContext,
  studyId: bigint,
): Promise<EligibleCounts> {
  const study = await getStudy(ctx, studyId)
  const range = {
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    fromBlock: BigInt(ctx.deployment.deployedAtBlock),
    toBlock: 'latest',
  } as const
  const [issued, amended] = await Promise.all([
    ctx.publicClient.getContractEvents({ ...range, eventName: 'RecordIssued' }),
    ctx.publicClient.getContractEvents({ ...range, eventName: 'RecordAmended' }),
  ])
  const superseded = new Set(amended.map((log) => log.args.tokenId!))
  const current = issued.map((log) => log.args.tokenId!).filter((tokenId) => !superseded.has(tokenId))
  // accessInfo gives the owner now (a recovery moves tokens) and the erasure in one call.
  const infos = await Promise.all(
    current.map((tokenId) =>
      ctx.publicClient.readContract({
        address: ctx.deployment.records,
        abi: medicalRecordAbi,
        functionName: 'accessInfo',
        args: [tokenId],
      }),
    ),
  )
  const patients = new Set<string>()
  let records = 0
  for (const [owner, , erased] of infos) {
    if (erased) continue
    records++
    patients.add(getAddress(owner))
  }
  return { studyId, categories: [...study.categories], records: suppress(records), patients: suppress(patients.size) }
}
