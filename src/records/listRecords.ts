import { type Address, getAddress } from 'viem'
import { toMedvaultError } from '../chain/index.js'
import { medicalRecordAbi } from '../contracts/index.js'
import type { RecordsContext } from '../core/index.js'
import { type OnChainRecord, getOnChainRecord } from './onChainRecord.js'
import { getProvider } from '../directory/index.js'

export type RecordSummary = OnChainRecord & { issuerName: string }

/**
 * A patient's records, oldest first: every token the chain's Transfer events show reaching the
 * patient (minted to them, or moved to them by recovery or rotation) that they still own. (The
 * indexer serves this from its database; the chain stays the source of truth.)
 */
export async function listRecords(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  params: { patient: Address },
): Promise<RecordSummary[]> {
  try {
    const logs = await ctx.publicClient.getContractEvents({
      address: ctx.deployment.records,
      abi: medicalRecordAbi,
      eventName: 'Transfer',
      args: { to: getAddress(params.patient) },
      fromBlock: BigInt(ctx.deployment.deployedAtBlock),
      toBlock: 'latest',
    })
    const tokenIds = [...new Set(logs.map((log) => log.args.tokenId!))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    const records = await Promise.all(tokenIds.map((tokenId) => getOnChainRecord(ctx, tokenId)))
    const names = new Map<Address, Promise<string>>()
    const nameOf = (issuer: Address) => {
      if (!names.has(issuer))
        names.set(
          issuer,
          getProvider(ctx, issuer).then((p) => p.name),
        )
      return names.get(issuer)!
    }
    return Promise.all(
      records.filter((r) => r.owner === getAddress(params.patient)).map(async (r) => ({ ...r, issuerName: await nameOf(r.issuer) })),
    )
  } catch (error) {
    throw toMedvaultError(error)
  }
}
