import { type Address, getAddress } from 'viem'
import { toMedvaultError } from '../chain/index.js'
import { medicalRecordAbi } from '../contracts/index.js'
import { type Category, type RecordsContext, classOf } from '../core/index.js'
import { type TagReader, tagTableFor } from '../consent/index.js'
import { type OnChainRecord, getOnChainRecords } from './onChainRecord.js'
import { getProvider } from '../directory/index.js'

export type RecordSummary = OnChainRecord & {
  issuerName: string
  /** The category as the viewer's table of the patient's tags maps the record's tag; "unknown" without one. */
  category: Category | 'unknown'
  /** The record's full sensitivity flags, from the same table; undefined when unknown. */
  sensitivity: number | undefined
}

/**
 * A patient's records, oldest first: every token the chain's Transfer events show reaching the
 * patient (minted to them, or moved to them by recovery or rotation) that they still own. (The
 * indexer serves this from its database; the chain stays the source of truth.) The chain holds
 * only tags: each record's category is the one `viewer`'s table maps its tag to (the patient's own,
 * or one the patient shared with the viewer), never guessed; no viewer, or no table, gives "unknown".
 */
export async function listRecords(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment' | 'tagTables'>,
  params: { patient: Address; viewer?: TagReader | undefined },
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
    const tokenIds = [...new Set(logs.map((log) => log.args.id!))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    const [records, table] = await Promise.all([
      getOnChainRecords(ctx, tokenIds),
      params.viewer ? tagTableFor(ctx, { patient: getAddress(params.patient), reader: params.viewer }) : undefined,
    ])
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
      records
        .filter((r) => r.owner === getAddress(params.patient))
        .map(async (r) => {
          const cls = table ? classOf(table, r.tag) : undefined
          return { ...r, issuerName: await nameOf(r.issuer), category: cls?.category ?? 'unknown', sensitivity: cls?.sensitivity }
        }),
    )
  } catch (error) {
    throw toMedvaultError(error)
  }
}
