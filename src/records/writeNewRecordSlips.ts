import type { Address, Hex } from 'viem'
import { grantsOf, wrapKeySlip } from '../consent/index.js'
import { consentRegistryAbi } from '../contracts/index.js'
import { encryptionKeyOf } from '../directory/index.js'
import type { RecordsContext } from '../core/index.js'

type SlipContext = Pick<RecordsContext, 'publicClient' | 'deployment' | 'keySlips' | 'keyRelease'>

/**
 * Grantees whose active category or "all" grants cover a new record of `patient` with this tag:
 * the tag listed, or an "all" grant and one of the patient's open tags. Read from the grants'
 * events, each judged active by the contract (consent/chainGrants.ts). Empty when the context
 * keeps no key slips.
 */
export async function granteesForNewRecord(ctx: SlipContext, params: { patient: Address; tag: Hex }): Promise<readonly Address[]> {
  if (!ctx.keySlips) return []
  const tag = params.tag.toLowerCase()
  const [grants, open] = await Promise.all([
    grantsOf(ctx, params.patient),
    ctx.publicClient.readContract({
      address: ctx.deployment.consent,
      abi: consentRegistryAbi,
      functionName: 'isOpenTag',
      args: [params.patient, params.tag],
    }),
  ])
  const covering = grants.filter((g) => g.active && g.scope !== 'records' && (g.tags.includes(tag as Hex) || (g.scope === 'all' && open)))
  return [...new Set(covering.map((g) => g.grantee))]
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
 * Writes the key slips a newly issued record gets from its issuer: its key wrapped to every
 * grantee whose grant covers it (so they can read it while the patient is offline; a grantee
 * without a published key gets it later from the patient's medvault), and, for non-sensitive
 * records, to this node's emergency escrow (see consent/keyRelease.ts). Writing a slip again
 * replaces it, so this can be repeated after a crash.
 */
export async function writeNewRecordSlips(ctx: SlipContext, params: WriteNewRecordSlipsParameters): Promise<void> {
  const { keySlips, keyRelease } = ctx
  if (!keySlips) return
  const slip = (grantee: Address, granteeKey: Hex) =>
    wrapKeySlip({ recordKey: params.recordKey, tokenId: params.tokenId, cid: params.cid, grantee, granteeKey, wrappedBy: params.issuer })
  for (const grantee of new Set(params.grantees)) {
    let granteeKey = params.keyCache?.get(grantee)
    if (!params.keyCache?.has(grantee)) {
      granteeKey = await encryptionKeyOf(ctx, grantee)
      params.keyCache?.set(grantee, granteeKey)
    }
    if (granteeKey) await keySlips.put(await slip(grantee, granteeKey))
  }
  if (keyRelease && params.sensitivity === 0) await keySlips.put(await slip(keyRelease.escrow.address, keyRelease.escrow.publicKey))
}
