import type { RecordsContext } from '../core/index.js'
import { type OnChainRecord, currentRecord } from '../records/index.js'

/**
 * A record's place among the versions of its logical resource: an amendment is a new version of
 * the resource it supersedes (https://hl7.org/fhir/R4/http.html#versioning). The logical id is
 * the token id of the first version, so it never changes as the resource is amended.
 */
export type RecordVersion = {
  /** The token id of the first version. */
  logicalId: bigint
  /** 1 for the first version, then one more per amendment. */
  versionId: number
  /** Whether a later version replaced this one. */
  superseded: boolean
}

/**
 * The version of each record among `records` (a patient's records, amendments included): found by
 * following `supersedes` back through the records given. A record whose predecessor is not among
 * them starts its own line.
 */
export function versionsOf(records: readonly OnChainRecord[]): Map<bigint, RecordVersion> {
  const byToken = new Map(records.map((r) => [r.tokenId, r]))
  const out = new Map<bigint, RecordVersion>()
  const versionOf = (record: OnChainRecord): RecordVersion => {
    const known = out.get(record.tokenId)
    if (known) return known
    const previous = record.supersedes !== 0n ? byToken.get(record.supersedes) : undefined
    const before = previous ? versionOf(previous) : undefined
    const version = {
      logicalId: before?.logicalId ?? record.tokenId,
      versionId: (before?.versionId ?? 0) + 1,
      superseded: record.supersededBy !== 0n,
    }
    out.set(record.tokenId, version)
    return version
  }
  for (const record of records) versionOf(record)
  return out
}

/**
 * Every version of the logical resource a token belongs to, first to latest, read from the chain
 * (an amendment line is short: each step is one read).
 */
export async function recordVersions(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment' | 'readCache'>,
  tokenId: bigint,
): Promise<OnChainRecord[]> {
  const start = await currentRecord(ctx, tokenId)
  const line = [start]
  for (let r = start; r.supersedes !== 0n; ) {
    r = await currentRecord(ctx, r.supersedes)
    line.unshift(r)
  }
  for (let r = start; r.supersededBy !== 0n; ) {
    r = await currentRecord(ctx, r.supersededBy)
    line.push(r)
  }
  return line
}
