import { type Address, type Hex, getAddress } from 'viem'
import { type KeySlip, grantIdsOf, grantStruct, grantTermsOf, wrapKeySlip } from '../consent/index.js'
import { consentRegistryAbi } from '../contracts/index.js'
import { encryptionKeyOf } from '../directory/index.js'
import type { RecordsContext } from '../core/index.js'

type SlipContext = Pick<RecordsContext, 'publicClient' | 'deployment' | 'keySlips' | 'keyRelease'>

/**
 * Grantees whose active category or "all" grants cover a new record of `patient` with this tag:
 * the tag listed, or an "all" grant and one of the patient's open tags. The candidates come from
 * the grants' events (consent/chainGrants.ts), and only they are put to the contract (`isActive`
 * with their terms): this runs for every record issued, so no other grant costs a call. Empty when
 * the context keeps no key slips.
 */
export async function granteesForNewRecord(ctx: SlipContext, params: { patient: Address; tag: Hex }): Promise<readonly Address[]> {
  if (!ctx.keySlips) return []
  const patient = getAddress(params.patient)
  const tag = params.tag.toLowerCase() as Hex
  const consent = { address: ctx.deployment.consent, abi: consentRegistryAbi } as const
  const [terms, open] = await Promise.all([
    grantIdsOf(ctx, patient).then((ids) => grantTermsOf(ctx, ids)),
    ctx.publicClient.readContract({ ...consent, functionName: 'isOpenTag', args: [patient, params.tag] }),
  ])
  const candidates = terms.filter(
    (g) =>
      g.revokedIn === undefined && g.patient === patient && g.scope !== 'records' && (g.tags.includes(tag) || (g.scope === 'all' && open)),
  )
  const active = await Promise.all(
    candidates.map((g) => ctx.publicClient.readContract({ ...consent, functionName: 'isActive', args: [g.grantId, grantStruct(g)] })),
  )
  return [...new Set(candidates.filter((_, i) => active[i]).map((g) => g.grantee))]
}

export type WriteNewRecordSlipsParameters = {
  /** Who wraps the key (recorded in the slip). */
  issuer: Address
  recordKey: Uint8Array
  tokenId: bigint
  cid: string
  sensitivity: number
  /** From {@link granteesForNewRecord}. */
  grantees: readonly Address[]
  /** Grantee encryption keys already looked up; filled in as keys are read from the chain. */
  keyCache?: Map<Address, Hex | undefined>
}

/**
 * The key slips a newly issued record gets from its issuer: its key wrapped to every grantee whose
 * grant covers it (so they can read it while the patient is offline; a grantee without a published
 * key gets it later from the patient's medvault), and, for non-sensitive records, to this node's
 * emergency escrow (see consent/keyRelease.ts). None when the context keeps no key slips.
 */
export async function newRecordSlips(ctx: SlipContext, params: WriteNewRecordSlipsParameters): Promise<KeySlip[]> {
  const { keySlips, keyRelease } = ctx
  if (!keySlips) return []
  const slip = (grantee: Address, granteeKey: Hex) =>
    wrapKeySlip({ recordKey: params.recordKey, tokenId: params.tokenId, cid: params.cid, grantee, granteeKey, wrappedBy: params.issuer })
  const slips: Promise<KeySlip>[] = []
  for (const grantee of new Set(params.grantees)) {
    let granteeKey = params.keyCache?.get(grantee)
    if (!params.keyCache?.has(grantee)) {
      granteeKey = await encryptionKeyOf(ctx, grantee)
      params.keyCache?.set(grantee, granteeKey)
    }
    if (granteeKey) slips.push(slip(grantee, granteeKey))
  }
  if (keyRelease && params.sensitivity === 0) slips.push(slip(keyRelease.escrow.address, keyRelease.escrow.publicKey))
  return Promise.all(slips)
}

/**
 * Writes the slips of {@link newRecordSlips}. Writing a slip again replaces it, so this can be
 * repeated after a crash.
 */
export async function writeNewRecordSlips(ctx: SlipContext, params: WriteNewRecordSlipsParameters): Promise<void> {
  await ctx.keySlips?.putMany(await newRecordSlips(ctx, params))
}
