import { type Address, type Hex, getAddress } from 'viem'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { toMedvaultError } from '../chain/index.js'
import { medicalRecordAbi } from '../contracts/index.js'
import type { RecordsContext } from '../core/index.js'

export type OnChainRecord = {
  tokenId: bigint
  owner: Address
  commitment: Hex
  cid: CID
  issuer: Address
  issuedAt: Date
  /**
   * The patient's blinded tag of the record's category and sensitivity (core/categoryTags.ts): a
   * reader maps it with the table the patient shared with it, or learns the category by opening the
   * record (the issuer's signed word).
   */
  tag: Hex
  supersedes: bigint
  supersededBy: bigint
  /** When the patient erased the record (MedicalRecord.erase); absent while it is not erased. */
  erasedAt?: Date
}

const SHA2_256 = 0x12
/** The contract keeps a CID's codec as its difference from raw (0x55), so the common raw codec costs a zero byte. */
const RAW_CODEC = 0x55

/** The CIDv1 a record's on-chain codec and digest describe. */
export function cidFromChain(codec: number, digest: Hex): CID {
  return CID.createV1(codec, createDigest(SHA2_256, Buffer.from(digest.slice(2), 'hex')))
}

/**
 * Reads one record's on-chain fields, and whether it was erased, at the head or at `blockNumber`.
 * Throws NotFoundError for an unknown token.
 */
export async function getOnChainRecord(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  tokenId: bigint,
  at: { blockNumber?: bigint } = {},
): Promise<OnChainRecord> {
  const address = ctx.deployment.records
  const block = at.blockNumber === undefined ? {} : { blockNumber: at.blockNumber }
  try {
    // recordOf holds the erasure time too, so two calls, not three (a cold read pays per call).
    const [r, owner] = await Promise.all([
      ctx.publicClient.readContract({ address, abi: medicalRecordAbi, functionName: 'recordOf', args: [tokenId], ...block }),
      ctx.publicClient.readContract({ address, abi: medicalRecordAbi, functionName: 'ownerOf', args: [tokenId], ...block }),
    ])
    const erasedAt = r.erasedAt
    return {
      tokenId,
      owner: getAddress(owner),
      commitment: r.commitment,
      cid: cidFromChain(r.cidCodecDelta ^ RAW_CODEC, r.cidDigest),
      issuer: getAddress(r.issuer),
      issuedAt: new Date(Number(r.issuedAt) * 1000),
      tag: r.tag,
      supersedes: r.supersedes,
      supersededBy: r.supersededBy,
      ...(erasedAt > 0 ? { erasedAt: new Date(erasedAt * 1000) } : {}),
    }
  } catch (error) {
    throw toMedvaultError(error)
  }
}

/**
 * A record as the chain has it now. With a read cache, read once per head block (and carried over
 * blocks without an event about it); an erased record's cached content is dropped on the spot.
 */
export async function currentRecord(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment' | 'readCache'>,
  tokenId: bigint,
): Promise<OnChainRecord> {
  const cache = ctx.readCache
  if (!cache) return getOnChainRecord(ctx, tokenId)
  const head = await cache.head()
  const record = await cache.atBlock(head, `record:${tokenId}`, (blockNumber) => getOnChainRecord(ctx, tokenId, { blockNumber }), tokenId)
  if (record.erasedAt) cache.forget(tokenId)
  return record
}
