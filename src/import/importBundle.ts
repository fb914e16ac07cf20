/**
 * A bulk import, end to end. The steps are modules of their own, sharing one `ImportRun`
 * (importRun.ts): reconcileImport.ts (recovery: the journal an earlier run left, settled against
 * the chain), sendImportBatches.ts (seal, batch, sign, send), settleImportBatch.ts (confirm or drop
 * a batch), importSlips.ts (key slips), finishImport.ts (the result).
 */
import { getAddress } from 'viem'
import { InvalidInputError } from '../errors.js'
import type { RecordsContext } from '../records/index.js'
import { beginJournal, compactJournal, importKey } from './beginImport.js'
import { finishImportResult } from './finishImport.js'
import { replayJournal } from './importState.js'
import { createImportRun, disposeImportRun } from './importRun.js'
import { type ImportBundleParameters, type ImportBundleReturnType, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE } from './importTypes.js'
import { importJournalPath, openImportJournal } from './journal.js'
import { checkSubjects, linkToPatient } from './linkBundle.js'
import { reconcileImport } from './reconcileImport.js'
import { mintRemaining } from './sendImportBatches.js'

/**
 * Imports a patient's history: every entry of a parsed Bundle becomes one record, issued by
 * `issuer` under the patient's standing authorisation, sealed and stored like `issueRecord` does
 * it, minted through `MedicalRecord.mintBatch` in batches (several in flight, explicit nonces from
 * the issuer's account), with the key slips a single issue writes.
 *
 * Crash-safe: each step is journaled (`journal.ts`) before it has effects. Running the same import
 * again (same bundle, patient, issuer and chain) skips what is confirmed (after checking it is on
 * chain), settles what was in flight from its receipts or, failing that, the RecordIssued events
 * carrying its commitments, re-sends what was journaled but never mined under the same nonce,
 * and mints the rest, so each entry ends up exactly one record.
 *
 * @example
 * const bundle = parseImportBundle(readFileSync('alice.json'))
 * const result = await importBundle(mv, { issuer: lab, patient: alice, bundle, journalDir: join(mv.paths.dir, 'imports') })
 * console.log(`${result.imported} records, ${result.gasUsed / BigInt(result.imported)} gas each`)
 */
export async function importBundle(ctx: RecordsContext, params: ImportBundleParameters): Promise<ImportBundleReturnType> {
  const batchSize = params.batchSize ?? DEFAULT_BATCH_SIZE
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new InvalidInputError(`The batch size must be a whole number from 1 to ${MAX_BATCH_SIZE}.`)
  }
  const started = performance.now()
  const issuerAddress = getAddress(params.issuer.chainAccount.address)
  const patient = getAddress(params.patient.address)
  const bundle = linkToPatient(params.bundle, patient)
  checkSubjects(bundle, patient, ctx.deployment.chainId)
  const path = importJournalPath(
    params.journalDir,
    importKey({
      bundleDigest: bundle.bundleDigest,
      patient,
      issuer: issuerAddress,
      chainId: ctx.deployment.chainId,
      records: ctx.deployment.records,
    }),
  )
  const journal = openImportJournal(path)
  try {
    const state = replayJournal(journal.entries)
    const begin = await beginJournal(ctx, journal, state, { bundle, patient, issuer: issuerAddress })
    const run = createImportRun(ctx, { ...params, bundle }, { journal, state, begin, batchSize, patient })
    try {
      await reconcileImport(run)
      await mintRemaining(run)
      const result = finishImportResult(run, path, (performance.now() - started) / 1000)
      compactJournal(journal)
      return result
    } finally {
      disposeImportRun(run)
    }
  } finally {
    journal.close()
  }
}
