import { Command, CommanderError } from 'commander'
import { type GlobalOptions, emitError } from './output.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>
type Register = (program: Command, run: Run) => void

/**
 * Every command module with the top-level commands it registers, in help order. Modules load only
 * when their command runs: importing all of them (Helia, libp2p, the server, PDF and FHIR
 * definitions) took ~2 s before any command started, which every CLI call paid.
 * `main.test.ts` checks this table against what the modules really register.
 */
export const COMMAND_MODULES: ReadonlyArray<{ names: readonly string[]; load: () => Promise<Register> }> = [
  { names: ['init', 'deploy', 'start', 'status', 'demo'], load: async () => (await import('./commands/system.js')).systemCommands },
  { names: ['account'], load: async () => (await import('./commands/account.js')).accountCommands },
  { names: ['provider'], load: async () => (await import('./commands/provider.js')).providerCommands },
  { names: ['record'], load: async () => (await import('./commands/record.js')).recordCommands },
  { names: ['import'], load: async () => (await import('./commands/import.js')).importCommands },
  { names: ['archive'], load: async () => (await import('./commands/archive.js')).archiveCommands },
  {
    names: ['grant', 'revoke', 'grants', 'sync', 'delegate', 'undelegate', 'emergency'],
    load: async () => (await import('./commands/consent.js')).consentCommands,
  },
  { names: ['audit'], load: async () => (await import('./commands/audit.js')).auditCommands },
  { names: ['shc'], load: async () => (await import('./commands/shc.js')).shcCommands },
  { names: ['claim'], load: async () => (await import('./commands/claim.js')).claimCommands },
  { names: ['index'], load: async () => (await import('./commands/index.js')).indexCommands },
  { names: ['export'], load: async () => (await import('./commands/export.js')).exportCommands },
  { names: ['erase'], load: async () => (await import('./commands/erase.js')).eraseCommands },
  { names: ['report'], load: async () => (await import('./commands/report.js')).reportCommands },
  { names: ['deid'], load: async () => (await import('./commands/deid.js')).deidCommands },
  { names: ['study', 'earnings'], load: async () => (await import('./commands/study.js')).studyCommands },
  { names: ['ipfs'], load: async () => (await import('./commands/ipfs.js')).ipfsCommands },
  { names: ['backup', 'restore'], load: async () => (await import('./commands/backup.js')).backupCommands },
  // `account rotate` lives with recovery: this module adds to `account`, so it loads after account.js.
  { names: ['recovery', 'account'], load: async () => (await import('./commands/recovery.js')).recoveryCommands },
]

/** The command word in argv (skipping global options), or undefined for bare `medvault` / `--help`. */
export function commandWord(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--home') i++
    else if (!arg.startsWith('-')) return arg
  }
  return undefined
}

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

  const run: Run = async (fn, cmd) => {
    const o = cmd.optsWithGlobals() as GlobalOptions
    try {
      await fn(o)
      exitCode = Number(process.exitCode ?? 0)
    } catch (error) {
      exitCode = emitError(o, error)
    }
  }

  // A known command loads its own modules; anything else (help, a typo) loads all, so help lists
  // every command and commander can suggest the nearest name.
  const word = commandWord(argv)
  const wanted = COMMAND_MODULES.filter((m) => word !== undefined && m.names.includes(word))
  for (const register of await Promise.all((wanted.length > 0 ? wanted : COMMAND_MODULES).map((m) => m.load()))) {
    register(program, run)
  }

  try {
    await program.parseAsync(argv, { from: 'user' })
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2
    throw error
  }
  return exitCode
}
