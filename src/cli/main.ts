import { Command, CommanderError } from 'commander'
import { accountCommands } from './commands/account.js'
import { archiveCommands } from './commands/archive.js'
import { auditCommands } from './commands/audit.js'
import { backupCommands } from './commands/backup.js'
import { claimCommands } from './commands/claim.js'
import { consentCommands } from './commands/consent.js'
import { deidCommands } from './commands/deid.js'
import { eraseCommands } from './commands/erase.js'
import { reportCommands } from './commands/report.js'
import { indexCommands } from './commands/index.js'
import { importCommands } from './commands/import.js'
import { ipfsCommands } from './commands/ipfs.js'
import { exportCommands } from './commands/export.js'
import { providerCommands } from './commands/provider.js'
import { recordCommands } from './commands/record.js'
import { recoveryCommands } from './commands/recovery.js'
import { shcCommands } from './commands/shc.js'
import { studyCommands } from './commands/study.js'
import { systemCommands } from './commands/system.js'
import { type GlobalOptions, emitError } from './output.js'

/**
 * The medvault CLI. Every command takes --json (one JSON object on stdout) and --home DIR.
 * Returns the process exit code.
 */
export async function main(argv: string[]): Promise<number> {
  let exitCode = 0
  const program = new Command()
    .name('medvault')
    .description('Patient-owned medical records: encrypted FHIR documents as NFTs the patient holds.')
    .option('--home <dir>', 'medvault home (default: $MEDVAULT_HOME, else ~/.medvault)')
    .option('--json', 'print one JSON object on stdout, for scripts')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()

  const run = async (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => {
    const o = cmd.optsWithGlobals() as GlobalOptions
    try {
      await fn(o)
      exitCode = Number(process.exitCode ?? 0)
    } catch (error) {
      exitCode = emitError(o, error)
    }
  }

  systemCommands(program, run)
  accountCommands(program, run)
  providerCommands(program, run)
  recordCommands(program, run)
  importCommands(program, run)
  archiveCommands(program, run)
  consentCommands(program, run)
  auditCommands(program, run)
  shcCommands(program, run)
  claimCommands(program, run)
  indexCommands(program, run)
  exportCommands(program, run)
  eraseCommands(program, run)
  reportCommands(program, run)
  deidCommands(program, run)
  studyCommands(program, run)
  ipfsCommands(program, run)
  backupCommands(program, run)
  recoveryCommands(program, run)

  try {
    await program.parseAsync(argv, { from: 'user' })
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2
    throw error
  }
  return exitCode
}
