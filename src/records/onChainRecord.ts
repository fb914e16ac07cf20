import { type Address, type Hex, getAddress } from 'viem'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { toMedvaultError } from '../chain/index.js'
import { ChainError } from '../errors.js'
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

/** The CIDv1 a record's on-chain codec and digest describe. */
export function cidFromChain(codec: number, digest: Hex): CID {
  return CID.createV1(codec, createDigest(SHA2_256, Buffer.from(digest.slice(2), 'hex')))
}

/** What a record's RecordIssued event fixed at the mint: the contract keeps none of it in storage. */
type IssuedFields = Pick<OnChainRecord, 'commitment' | 'cid' | 'issuedAt' | 'supersedes'>

/**
 * The mint-time fields of `tokenIds`, from their RecordIssued events in one log query (the indexed
 * token id, OR-ed). Tokens without an event up to `toBlock` are absent from the map.
 */
async function issuedFields(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  tokenIds: readonly bigint[],
  toBlock: bigint | undefined,
): Promise<Map<bigint, IssuedFields>> {
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    eventName: 'RecordIssued',
    args: { tokenId: [...tokenIds] },
    fromBlock: BigInt(ctx.deployment.deployedAtBlock),
    toBlock: toBlock ?? 'latest',
    strict: true,
  })
  return new Map(
    logs.map(({ args: a }) => [
      a.tokenId,
      {
        commitment: a.commitment,
        cid: cidFromChain(a.cidCodec, a.cidDigest),
        issuedAt: new Date(a.issuedAt * 1000),
        supersedes: a.supersedes,
      },
    ]),
  )
}

/** What the contract's storage holds of a record now (or at `blockNumber`): owner, issuer, tag, amendment, erasure. */
async function recordState(ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>, tokenId: bigint, blockNumber: bigint | undefined) {
  const block = blockNumber === undefined ? {} : { blockNumber }
  return ctx.publicClient.readContract({
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    functionName: 'recordOf',
    args: [tokenId],
    ...block,
  })
}

/**
 * Reads records' on-chain fields, and whether they were erased, at the head or at `blockNumber`:
 * one `recordOf` per token and one log query for them all. Throws NotFoundError for an unknown token.
 */
export async function getOnChainRecords(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  tokenIds: readonly bigint[],
  at: { blockNumber?: bigint } = {},
): Promise<OnChainRecord[]> {
  if (tokenIds.length === 0) return []
  try {
    const [states, issued] = await Promise.all([
      Promise.all(tokenIds.map((tokenId) => recordState(ctx, tokenId, at.blockNumber))),
      issuedFields(ctx, tokenIds, at.blockNumber),
    ])
    return tokenIds.map((tokenId, i) => {
      const state = states[i]!
      const fields = issued.get(tokenId)
      // recordOf answered, so the token exists: its mint's event must be there too.
      if (!fields) throw new ChainError(`The chain holds record ${tokenId} but not its RecordIssued event; is the node pruning logs?`)
      return {
        tokenId,
        owner: getAddress(state.owner),
        issuer: getAddress(state.issuer),
        tag: state.tag,
        supersededBy: state.supersededBy,
        ...fields,
        ...(state.erasedAt > 0 ? { erasedAt: new Date(state.erasedAt * 1000) } : {}),
      }
    })
  } catch (error) {
    throw toMedvaultError(error)
  }
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
  const [record] = await getOnChainRecords(ctx, [tokenId], at)
  return record!
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
