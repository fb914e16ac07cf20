/** The key slips of an imported record, written from the record key this run holds or the journal keeps. */
import type { KeySlip } from '../consent/index.js'
import { granteesForNewRecord, newRecordSlips } from '../records/index.js'
import { type ImportRun, sealedOf, tagOfSealed } from './importRun.js'
import { type JournalKeyBox, openJournalKey } from './journalKeys.js'

function recordKeyOf(run: ImportRun, i: number): Uint8Array | undefined {
  const held = run.recordKeys.get(i)
  if (held) return held
  const { cid, key } = sealedOf(run, i)
  // A journal compacted after a complete import holds no keys (only a chain restored from an
  // older state re-mints such entries, and their slips were written the first time), and an
  // erased record's key was destroyed (an empty box): no slips for those.
  return key && key.ct !== '0x' ? openJournalKey(run.journalKey, key as JournalKeyBox, cid, run.issuerAddress) : undefined
}

/**
 * Entry `i`'s key slips for the grantees of new records like it (the caller writes a batch's
 * together), then zeroes its record key.
 */
export async function importSlipsOf(run: ImportRun, i: number, tokenId: bigint): Promise<KeySlip[]> {
  const { ctx, grantees } = run
  if (!ctx.keySlips) return []
  const sealed = sealedOf(run, i)
  const group = tagOfSealed(run, sealed)
  if (!grantees.has(group)) grantees.set(group, granteesForNewRecord(ctx, { patient: run.patient, tag: group }))
  const recordKey = recordKeyOf(run, i)
  if (!recordKey) return []
  try {
    return await newRecordSlips(ctx, {
      issuer: run.issuerAddress,
      recordKey,
      tokenId,
      cid: sealed.cid,
      sensitivity: sealed.sensitivity,
      grantees: await grantees.get(group)!,
      keyCache: run.granteeKeys,
    })
  } finally {
    recordKey.fill(0)
    run.recordKeys.delete(i)
  }
}
