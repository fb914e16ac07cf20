/**
 * Tag tables after an account move (issue 22). The new account keeps the old one's tag secret, so
 * its records' tags do not change; but a sealed table is bound to its patient's address
 * (consent/tagTables.ts), so a grantee that could label the old account's records by category
 * could not label the new account's. For each grantee of a grant the new account took over, and
 * that the old account had shared a table with, this seals again what its grants cover.
 */
import type { Address } from 'viem'
import type { UnlockedAccount } from '../accounts/index.js'
import { grantsOf, shareGrantedTags } from '../consent/index.js'
import type { RecordsContext } from '../core/index.js'
import { readerKeyOf } from '../directory/index.js'

/**
 * Re-shares tables from `from` to `to` for the grantees of `to`'s active grants: what their grants
 * now cover (consent/grants.ts `shareGrantedTags`: the categories of their category grants, the open
 * classes of an "all" grant). A provider the old account had authorised gets no more than its
 * grants cover: the new account has authorised no one yet, and authorising it again shares the
 * whole table. A grantee that already has a table from `to` is left alone, so running it again
 * writes nothing. Returns how many tables were sealed.
 */
export async function moveTagTables(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment' | 'tagTables'>,
  params: { from: Address; to: Pick<UnlockedAccount, 'address' | 'encryptionSeed' | 'tagSecret'> },
): Promise<number> {
  const store = ctx.tagTables
  if (!store) return 0
  const { from, to } = params
  const grantees = new Set((await grantsOf(ctx, to.address)).filter((g) => g.active).map((g) => g.grantee))
  let shared = 0
  for (const grantee of grantees) {
    if (!(await store.get(from, grantee)) || (await store.get(to.address, grantee))) continue
    const readerPublicKey = await readerKeyOf(ctx, grantee)
    if (!readerPublicKey) continue
    const sealed = await shareGrantedTags(ctx, { grantor: to, patient: to.address, grantee, readerPublicKey })
    if (sealed > 0) shared++
  }
  return shared
}
