import type { Command } from 'commander'
import { AccessDeniedError } from '../../errors.js'
import { assembleHistory, historyBundle } from '../../history/index.js'
import { createIndexer, openIndexStore } from '../../indexer/index.js'
import { getOnChainRecord } from '../../records/index.js'
import { checkOutPath, writeOutFile } from '../outFile.js'
import { resolveHome } from '../../home/index.js'
import { type GlobalOptions, emit } from '../output.js'
import { resolveAddress, unlock, withMedvault } from '../session.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

export function exportCommands(program: Command, run: Run) {
  program
    .command('export')
    .description("Write a patient's complete verified history that an account may see, as a FHIR R4 Bundle")
    .requiredOption('--patient <account>', 'whose history: an account name or address')
    .requiredOption('--as <account>', 'who reads it: the patient, or someone they shared with')
    .requiredOption('--out <file>', 'where to write the Bundle (plaintext health data: keep it safe)')
    .option('--current-only', 'leave out records an amendment replaced')
    .option('--force', 'replace --out if it exists')
    .action((opts: { patient: string; as: string; out: string; currentOnly?: boolean; force?: boolean }, cmd: Command) =>
      run(async (o) => {
        const outOptions = { home: resolveHome(o.home), force: opts.force }
        checkOutPath(opts.out, outOptions)
        const result = await withMedvault(o, async (mv) => {
          const reader = await unlock(mv, opts.as)
          const patient = resolveAddress(mv, opts.patient)
          const store = await openIndexStore(mv.paths, mv.config)
          try {
            await createIndexer(mv, store).sync()
            const indexed = await store.recordsOf(patient, { includeSuperseded: true })
            const records = await Promise.all(indexed.map((r) => getOnChainRecord(mv, r.tokenId)))
            const history = await assembleHistory(mv, { patient, reader, records, currentOnly: opts.currentOnly ?? false })
            if (reader.address !== patient) {
              await mv.auditLog.append({
                actor: reader.address,
                action: 'list',
                patient,
                outcome: history.entries.length > 0 ? 'allowed' : 'denied',
              })
              if (history.entries.length === 0 && history.failures.length === 0) {
                throw new AccessDeniedError('This patient has not shared any record with this account.', {
                  hint: 'Ask the patient for a grant.',
                })
              }
            }
            const bundle = historyBundle(history, {
              type: 'collection',
              chainId: mv.deployment.chainId,
              records: mv.deployment.records,
              includePatient: true,
            })
            await writeOutFile(opts.out, `${JSON.stringify(bundle, null, 2)}\n`, outOptions)
            return { out: opts.out, patient, records: history.entries.length, failures: history.failures, hidden: history.hidden }
          } finally {
            await store.close()
          }
        })
        emit(o, result, () => [
          `Wrote ${result.records} verified record(s) to ${result.out} as a FHIR Bundle.`,
          ...result.failures.map((f) => `  left out record ${f.tokenId}: ${f.message}`),
          ...(result.hidden > 0 ? [`  ${result.hidden} record(s) of this patient are not shared with this account.`] : []),
        ])
      }, cmd),
    )
}
