import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Command } from 'commander'
import { InvalidInputError, NotFoundError, StandingAuthorizationError } from '../../errors.js'
import { DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, faultCheckpoint, importBundle, parseImportBundle } from '../../import/index.js'
import { importProgressReporter } from '../importProgress.js'
import { checkInputPath } from '../outFile.js'
import { resolveHome } from '../../home/index.js'
import { type GlobalOptions, emit } from '../output.js'
import { resolvePatient, unlock, withMedvault } from '../session.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

const fmt = (n: number | bigint) => n.toLocaleString('en-US')

export function importCommands(program: Command, run: Run) {
  program
    .command('import')
    .argument('<bundle>', "a FHIR R4 Bundle (collection, transaction, batch or searchset) holding one patient's history")
    .requiredOption('--patient <account-or-address>', 'the patient who will own the records')
    .requiredOption(
      '--as <provider>',
      "the issuing provider's account; the patient must have authorised it (`medvault provider authorize`)",
    )
    .option('--batch-size <n>', `records per transaction, 1 to ${MAX_BATCH_SIZE}`, String(DEFAULT_BATCH_SIZE))
    .description(
      "Import a patient's history: each resource of the Bundle becomes one record, minted in batches. Interrupted? Run it again: it resumes without duplicating a record",
    )
    .action((file: string, opts: { patient: string; as: string; batchSize: string }, cmd: Command) =>
      run(async (o) => {
        const batchSize = Number(opts.batchSize)
        if (!/^\d+$/.test(opts.batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
          throw new InvalidInputError(`--batch-size must be a whole number from 1 to ${MAX_BATCH_SIZE}.`)
        }
        checkInputPath(file, { home: resolveHome(o.home) })
        const bytes = await readFile(file).catch(() => {
          throw new NotFoundError(`Cannot read ${file}.`, { hint: 'Check the path.' })
        })
        const bundle = parseImportBundle(bytes)
        const checkpoint = faultCheckpoint(process.env.MEDVAULT_FAULT)
        const skippedLines = bundle.skipped.map((s) =>
          s.reason === 'patient'
            ? `entry ${s.index} (Patient): the patient's demographics are not stored as a record`
            : `entry ${s.index} (OperationOutcome): a search outcome is not part of the history`,
        )
        if (!o.json) for (const line of skippedLines) process.stderr.write(`Skipping ${line}.\n`)

        const result = await withMedvault(o, async (mv) => {
          const patient = await resolvePatient(mv, opts.patient)
          const provider = await unlock(mv, opts.as)
          const progress = importProgressReporter(o)
          try {
            return await importBundle(mv, {
              issuer: provider,
              patient,
              bundle,
              journalDir: join(mv.paths.dir, 'imports'),
              batchSize,
              onProgress: progress.update,
              ...(checkpoint ? { checkpoint } : {}),
            })
          } catch (error) {
            if (error instanceof StandingAuthorizationError) {
              throw new StandingAuthorizationError(
                `${opts.patient} has not authorised ${opts.as} to issue records to them; an import needs that.`,
                {
                  hint: `${opts.patient} runs \`medvault provider authorize ${opts.as} --as ${opts.patient}\`, then run this import again.`,
                  cause: error,
                },
              )
            }
            throw error
          } finally {
            progress.stop()
          }
        })

        const perRecord = result.imported > 0 ? result.gasUsed / BigInt(result.imported) : 0n
        emit(
          o,
          {
            total: result.total,
            imported: result.imported,
            recovered: result.recovered,
            alreadyImported: result.alreadyImported,
            skipped: result.skipped,
            batches: result.batches.length,
            batchSize,
            gasUsed: result.gasUsed,
            gasPerRecord: perRecord,
            seconds: Number(result.seconds.toFixed(3)),
            recordsPerSecond: Number(result.recordsPerSecond.toFixed(2)),
            journal: result.journal,
            records: result.records,
          },
          () => [
            result.imported === 0
              ? `All ${fmt(result.total)} records of this bundle were already imported for ${opts.patient}; nothing to do.`
              : `Imported ${fmt(result.imported)} records for ${opts.patient}, issued by ${opts.as}` +
                (result.alreadyImported > 0 ? ` (${fmt(result.alreadyImported)} more were already imported and skipped).` : '.'),
            ...(result.recovered > 0 ? [`  recovered   ${fmt(result.recovered)} in flight when the last run stopped, found minted`] : []),
            ...skippedLines.map((line) => `  skipped     ${line}`),
            `  batches     ${fmt(result.batches.length)} (up to ${batchSize} records each)`,
            `  gas         ${fmt(result.gasUsed)}${result.imported > 0 ? ` (${fmt(perRecord)} per record)` : ''}`,
            `  speed       ${result.recordsPerSecond.toFixed(1)} records/s (${result.seconds.toFixed(1)} s)`,
            `  journal     ${result.journal}`,
            `List them with: medvault record list --patient ${opts.patient}`,
          ],
        )
      }, cmd),
    )
}
