import { getAddress } from 'viem'
import type { UnlockedAccount } from '../accounts/index.js'
import { consentRegistryAbi } from '../contracts/index.js'
import { encryptionKeyOf } from '../directory/index.js'
import { ownerRecordKey } from './ownerRecordKey.js'
import type { RecordsContext } from '../core/index.js'
import { listRecords } from './listRecords.js'
import { type KeySlip, grantStruct, listGrants, wrapKeySlip } from '../consent/index.js'

type Ctx = RecordsContext

/**
 * Runs on the patient's side, with the patient's key: for every active grant of the patient, wraps
 * the key of each record it covers to the grantee, where no slip exists yet. Grant time is when
 * this happens for records that already exist; records issued later are wrapped by their issuer.
 * A delegate's grants are fulfilled the next time the patient's medvault runs this.
 * Returns the number of slips written. They are written together at the end, in one transaction
 * (one sync to disk, not one per slip); a run cut short writes none, and the next run wraps them.
 */
export async function releasePendingKeys(ctx: Ctx, patient: UnlockedAccount, only?: { grantId: bigint }): Promise<number> {
  if (!ctx.keySlips) return 0
  const grants = (await listGrants(ctx, patient.address)).filter((g) => g.active && (!only || g.grantId === only.grantId))
  if (grants.length === 0) return 0
  const records = await listRecords(ctx, { patient: patient.address })
  const slips: KeySlip[] = []
  /** `token/grantee` of the slips wrapped in this run: two grants to one grantee covering a record give one slip. */
  const wrapped = new Set<string>()
  const keys = new Map<bigint, Uint8Array>()
  for (const grant of grants) {
    const granteeKey = await encryptionKeyOf(ctx, grant.grantee)
    if (!granteeKey) continue // the grantee has not published a key yet; next run will try again
    // Asked together: the client sends concurrent calls as one JSON-RPC batch, where one call per
    // record in turn cost a round trip each (hundreds for a history, slow on a remote node).
    const covered = await Promise.all(
      records.map((record) =>
        ctx.publicClient.readContract({
          address: ctx.deployment.consent,
          abi: consentRegistryAbi,
          functionName: 'grantCovers',
          args: [grant.grantId, grantStruct(grant), record.tokenId],
        }),
      ),
    )
    for (const [i, record] of records.entries()) {
      const covers = covered[i]
      const slipId = `${record.tokenId}/${getAddress(grant.grantee)}`
      if (!covers || wrapped.has(slipId) || (await ctx.keySlips.get(record.tokenId, grant.grantee))) continue
      wrapped.add(slipId)
      let key = keys.get(record.tokenId)
      if (!key) {
        key = await ownerRecordKey(ctx, record, patient)
        keys.set(record.tokenId, key)
      }
      slips.push(
        await wrapKeySlip({
          recordKey: key,
          tokenId: record.tokenId,
          cid: record.cid.toString(),
          grantee: getAddress(grant.grantee),
          granteeKey,
          wrappedBy: patient.address,
        }),
      )
    }
  }
  for (const key of keys.values()) key.fill(0)
  await ctx.keySlips.putMany(slips)
  return slips.length
}
