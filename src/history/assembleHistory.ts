import type { Resource } from '@medplum/fhirtypes'
import { type Address, getAddress } from 'viem'
import { canAccessNow } from '../consent/index.js'
import { MedvaultError } from '../errors.js'
import { FHIR_JSON, type RecordReader, readRecord } from '../records/index.js'
import type { RecordsContext } from '../core/index.js'
import type { RecordMeta, OnChainRecord } from '../records/index.js'
import { type RecordVersion, versionsOf } from './versions.js'

export type HistoryEntry = {
  record: OnChainRecord
  meta: RecordMeta
  /** The FHIR resource, for FHIR records. */
  resource?: Resource
  /** The document's bytes, for binaries (images, PDFs). */
  binary?: Buffer
  /** Its place among the versions of its logical resource (absent: a first version of its own). */
  version?: RecordVersion
}

export type HistoryFailure = { tokenId: bigint; code: string; message: string }

export type AssembleHistoryReturnType = {
  patient: Address
  entries: HistoryEntry[]
  /** Records the reader may read that did not verify or decrypt; never silently dropped. */
  failures: HistoryFailure[]
  /** Candidates the reader may not read (not audited one by one: the caller records the request). */
  hidden: number
}

export type AssembleHistoryParameters = {
  patient: Address
  reader: RecordReader
  /** The patient's records, e.g. from the index; each one's access is checked against the chain now. */
  records: OnChainRecord[]
  /**
   * Open only these (e.g. the ones a search may match); versions are still counted over all
   * `records`, so a narrowed read numbers them as the whole history does.
   */
  select?: (record: OnChainRecord) => boolean
  /** Leave out records an amendment replaced. */
  currentOnly?: boolean
  /** Records read at once (default 32: the work is mostly waiting on the chain and the blockstore). */
  concurrency?: number
}

/**
 * A patient's history as one reader may see it: each record's access checked against the chain
 * now, then fetched, decrypted and verified (issuer signature, registry status, commitment), and
 * FHIR parsed. Used by the FHIR `$everything`, `medvault export` and the patient's own download.
 */
export async function assembleHistory(ctx: RecordsContext, params: AssembleHistoryParameters): Promise<AssembleHistoryReturnType> {
  const patient = getAddress(params.patient)
  const reader = getAddress(params.reader.address)
  const entries: (HistoryEntry | undefined)[] = new Array(params.records.length)
  const failures: HistoryFailure[] = []
  let hidden = 0
  const versions = versionsOf(params.records)

  await forEachLimited(params.records, params.concurrency ?? 32, async (listed, i) => {
    let record = listed
    const { tokenId } = record
    if (record.owner !== patient || (params.currentOnly && record.supersededBy !== 0n)) return
    if (params.select && !params.select(record)) return
    if (record.owner !== reader && !(await canAccessNow(ctx, reader, tokenId))) {
      hidden++
      return
    }
    try {
      const read = await readRecord(ctx, { tokenId, reader: params.reader })
      // The chain's answer now, not the list's: amended or transferred since the list was made.
      if (read.record.owner !== patient || (params.currentOnly && read.record.supersededBy !== 0n)) return
      const { meta, bytes } = read
      record = read.record
      const version = versions.get(tokenId)!
      entries[i] =
        meta.contentType === FHIR_JSON
          ? { record, meta, version, resource: JSON.parse(bytes.toString('utf8')) as Resource }
          : { record, meta, version, binary: bytes }
    } catch (error) {
      if (!(error instanceof MedvaultError)) throw error
      failures.push({ tokenId, code: error.code, message: error.shortMessage })
    }
  })
  return { patient, entries: entries.filter((e): e is HistoryEntry => e !== undefined), failures, hidden }
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      await fn(items[i]!, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
