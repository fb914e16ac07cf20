import type { Address } from 'viem'
import type { CID } from 'multiformats/cid'
import { unwrapKeySlip } from '../consent/index.js'
import type { RecordsContext } from '../core/index.js'
import { readRecordKey } from './envelope.js'

/**
 * A record key as its owner opens it: from the owner's own key slip when there is one (an owner
 * that received the record by recovery or rotation is not in the envelope's header; recovery
 * wrapped every key to it as a slip), otherwise from the envelope header.
 */
export async function ownerRecordKey(
  ctx: Pick<RecordsContext, 'store' | 'keySlips'>,
  record: { tokenId: bigint; cid: CID },
  owner: { address: Address; encryptionSeed: Uint8Array },
): Promise<Uint8Array> {
  const slip = await ctx.keySlips?.get(record.tokenId, owner.address)
  if (slip) return unwrapKeySlip(slip, owner, record.cid.toString())
  return readRecordKey(ctx.store.cat(record.cid), owner)
}
