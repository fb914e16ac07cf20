import { type Address, getAddress } from 'viem'
import { toMedvaultError } from '../chain/errors.js'
import { medicalRecordAbi } from '../contracts/index.js'
import type { RecordsContext } from './context.js'
import { type OnChainRecord, getOnChainRecord, getProvider } from './onChainRecord.js'

export type RecordSummary = OnChainRecord & { issuerName: string }

/**
 * A patient's records, oldest first, from the chain's RecordIssued events. (The indexer will
 * serve this from its database; the chain stays the source of truth.)
 */
export async function listRecords(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  params: { patient: Address },
): Promise<RecordSummary[]> {
  try {
    const logs = await ctx.publicClient.getContractEvents({
      address: ctx.deployment.records,
      abi: medicalRecordAbi,
      eventName: 'RecordIssued',
      args: { patient: getAddress(params.patient) },
      fromBlock: BigInt(ctx.deployment.deployedAtBlock),
      toBlock: 'latest',
    })
    const records = await Promise.all(logs.map((log) => getOnChainRecord(ctx, log.args.tokenId!)))
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
