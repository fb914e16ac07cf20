import { extname } from 'node:path'
import type { Command } from 'commander'
import { InvalidInputError } from '../../errors.js'
import { gatherAccessReport, renderAccessReportPdf } from '../../report/index.js'
import { checkOutPath, writeOutFile } from '../outFile.js'
import { resolveHome } from '../../home/index.js'
import { type GlobalOptions, emit } from '../output.js'
import { unlock, withMedvault } from '../session.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

export function reportCommands(program: Command, run: Run) {
  program
    .command('report')
    .requiredOption('--as <patient>', 'the patient the report is about (and for)')
    .requiredOption('--out <file>', 'where to write it: report.pdf for people, report.json for scripts')
    .option('--format <format>', 'pdf or json (default: from the file name)')
    .option('--force', 'replace --out if it exists')
    .description(
      'Your access report: every record, grant, emergency access and access attempt, allowed or denied (HIPAA accounting of disclosures, GDPR art. 15)',
    )
    .action((opts: { as: string; out: string; format?: string; force?: boolean }, cmd: Command) =>
      run(async (o) => {
        const outOptions = { home: resolveHome(o.home), force: opts.force }
        checkOutPath(opts.out, outOptions)
        const format = (opts.format ?? extname(opts.out).slice(1)).toLowerCase()
        if (format !== 'pdf' && format !== 'json') {
          throw new InvalidInputError('Say which format: a file name ending in .pdf or .json, or --format pdf|json.')
        }
        const report = await withMedvault(o, async (mv) => {
          const patient = await unlock(mv, opts.as)
          const accountNames = new Map(mv.keystore.list().map((a) => [a.address, a.name] as const))
          return gatherAccessReport(mv, {
            patient: patient.address,
            keys: patient,
            auditLog: { dir: mv.paths.audit, node: mv.node.account.address },
            emergencyReasonsDir: mv.paths.emergencyReasons,
            accountNames,
          })
        })
        const bytes = format === 'pdf' ? await renderAccessReportPdf(report) : Buffer.from(`${JSON.stringify(report, null, 2)}\n`)
        await writeOutFile(opts.out, bytes, outOptions)
        const s = report.summary
        emit(o, { out: opts.out, format, bytes: bytes.length, summary: s, auditLogIntact: report.source.auditLog.intact }, () => [
          `Wrote your access report to ${opts.out} (${format.toUpperCase()}, ${bytes.length.toLocaleString('en-US')} bytes).`,
          `  records      ${s.records}${s.erasedRecords ? ` (${s.erasedRecords} erased)` : ''}`,
          `  grants       ${s.grants} (${s.activeGrants} active, ${s.revocations} revoked)`,
          `  accesses     ${s.accesses}: ${s.allowed} allowed, ${s.denied} denied; ${s.disclosures} by others`,
          `  emergencies  ${s.emergencyAccesses}`,
          ...(report.source.auditLog.intact ? [] : ['  WARNING: the access log did not verify; run `medvault audit --verify`.']),
        ])
      }, cmd),
    )
}
