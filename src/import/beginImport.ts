/**
 * An import's journal at both ends of a run: its name, its begin entry (written once, checked to be
 * this import's on every later run) and, once every entry is confirmed, its compaction.
 */
import { createHash } from 'node:crypto'
import { type Address, type Hex, getAddress } from 'viem'
import { toMedvaultError } from '../chain/index.js'
import { ImportJournalError } from '../errors.js'
import { withoutKeys } from '../journal/index.js'
import type { RecordsContext } from '../records/index.js'
import type { ImportState } from './importState.js'
import type { BeginEntry, ImportJournal } from './journal.js'
import type { ParsedImportBundle } from './parseBundle.js'

/** The name of an import's journal: sha256 over the bundle, the patient, the issuer and the deployment. */
export function importKey(params: { bundleDigest: Hex; patient: Address; issuer: Address; chainId: number; records: Address }): string {
  return createHash('sha256')
    .update(
      ['medvault.import.v1', params.bundleDigest, params.patient, params.issuer, String(params.chainId), params.records]
        .map((part) => part.toLowerCase())
        .join('|'),
    )
    .digest('hex')
}

/**
 * Once every entry is confirmed, the journal's only job is to say so: it is rewritten without the
 * record keys, so no copy of a record key outlives the import in the home (erasure destroys the
 * others: the envelope's and the key slips).
 */
export function compactJournal(journal: ImportJournal): void {
  if (!journal.entries.some((e) => e.t === 'sealed' && e.key)) return
  journal.rewrite(withoutKeys(journal.entries))
}

export async function beginJournal(
  ctx: RecordsContext,
  journal: ImportJournal,
  state: ImportState,
  params: { bundle: ParsedImportBundle; patient: Address; issuer: Address },
): Promise<BeginEntry> {
  const expected = {
    bundle: params.bundle.bundleDigest,
    patient: params.patient,
    issuer: params.issuer,
    chainId: ctx.deployment.chainId,
    records: getAddress(ctx.deployment.records),
    entries: params.bundle.entries.length,
  }
  if (state.begin) {
    const b = state.begin
    if (
      b.bundle.toLowerCase() !== expected.bundle.toLowerCase() ||
      getAddress(b.patient) !== expected.patient ||
      getAddress(b.issuer) !== expected.issuer ||
      b.chainId !== expected.chainId ||
      getAddress(b.records) !== expected.records ||
      b.entries !== expected.entries
    ) {
      throw new ImportJournalError(`The import journal ${journal.path} belongs to another import.`, {
        hint: 'Move it away only if you are sure it is not this import’s.',
      })
    }
    return b
  }
  const fromBlock = await ctx.publicClient.getBlockNumber().catch((error: unknown) => {
    throw toMedvaultError(error)
  })
  const begin: BeginEntry = { t: 'begin', v: 1, ...expected, fromBlock: fromBlock.toString(), at: new Date().toISOString() }
  journal.append(begin)
  journal.sync()
  state.begin = begin
  return begin
}
