/** The research market as the portal sees it (GET /api/studies, /api/earnings), and amounts in words. */
import { formatUnits } from 'viem'

export type AssetInfo = { asset: string; symbol: string; decimals: number }

export type EligibleCount = number | '<11'

export type Study = {
  studyId: string
  researcher: string
  asset: string
  assetInfo: AssetInfo
  pricePerRecord: string
  maxRecords: number
  reserved: number
  delivered: number
  categories: string[]
  description: string | null
  protocolCid: string
  deadline: string
  closedAt: string | null
  state: 'open' | 'closed' | 'expired' | 'settled'
  unreservedBudget: string
  reservedBudget: string
  /** The researcher's own studies only. */
  /** Counts over every category: the chain holds only each patient's blinded category tags. */
  eligible?: { categories: string[]; records: EligibleCount; patients: EligibleCount }
}

export type Earning = { asset: string; assetInfo: AssetInfo; withdrawable: string; earned: string; withdrawn: string }

export type Contribution = {
  contributionId: string
  studyId: string
  tokenIds: string[]
  status: 'reserved' | 'withdrawn' | 'delivered'
  amount: string
  delivery: { datasetCid: string; txHash: string } | null
}

/** An amount in the asset's smallest unit, for people: "0.002 ETH", "2.5 tUSD". */
export function formatAmount(amount: string | bigint, info: AssetInfo): string {
  return `${formatUnits(BigInt(amount), info.decimals)} ${info.symbol}`
}

/** How many more records a study's unreserved budget pays for. */
export function placesLeft(study: Study): number {
  return Number(BigInt(study.unreservedBudget) / BigInt(study.pricePerRecord))
}
