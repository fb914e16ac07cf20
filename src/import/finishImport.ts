/** The end of an import run: every entry's token, or an error naming the first entry not imported. */
import { ChainError } from '../errors.js'
import { type ImportRun, gasUsedOf } from './importRun.js'
import type { ImportBundleReturnType } from './importTypes.js'

export function finishImportResult(run: ImportRun, journalPath: string, seconds: number): ImportBundleReturnType {
  const { params, state, total, alreadyImported } = run
  const records: { entry: number; tokenId: bigint }[] = []
  for (const entry of params.bundle.entries) {
    const item = state.items.get(entry.index)
    if (item?.status !== 'confirmed')
      throw new ChainError(`Entry ${entry.index} was not imported.`, { hint: 'Run the import again to resume.' })
    records.push({ entry: entry.index, tokenId: item.tokenId })
  }
  const imported = total - alreadyImported
  return {
    journal: journalPath,
    total,
    imported,
    recovered: run.counts.recovered,
    alreadyImported,
    skipped: params.bundle.skipped,
    // Receipts settle in any order when several batches are in flight; the chain's order is the batches'.
    batches: [...run.confirmedBatches].sort((a, b) => a.batch - b.batch),
    gasUsed: gasUsedOf(run),
    seconds,
    recordsPerSecond: seconds > 0 ? imported / seconds : 0,
    records,
  }
}
