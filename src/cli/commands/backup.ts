import { readFile, stat } from 'node:fs/promises'
import type { Command } from 'commander'
import { readPassphrase } from '../../accounts/index.js'
import { MAX_BACKUP_BYTES, createBackup, restoreBackup } from '../../backup/index.js'
import { InvalidInputError, NotFoundError } from '../../errors.js'
import { resolveHome } from '../../home/index.js'
import { checkOutPath, writeOutFile } from '../outFile.js'
import { type GlobalOptions, emit } from '../output.js'
import { unlock, withMedvault } from '../session.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

export function backupCommands(program: Command, run: Run) {
  program
    .command('backup')
    .requiredOption('--as <account>', 'the account to back up')
    .requiredOption('--out <file>', 'where to write the backup (outside the home)')
    .option('--force', 'replace --out if it exists')
    .option('--without-ciphertexts', "leave out the records' ciphertexts (when the new machine will use the same IPFS node)")
    .description("Back up an account: its sealed keys, its network, its key slips and its records' ciphertexts (no plaintext)")
    .action((opts: { as: string; out: string; force?: boolean; withoutCiphertexts?: boolean }, cmd: Command) =>
      run(async (o) => {
        const home = resolveHome(o.home)
        checkOutPath(opts.out, { home, force: opts.force })
        const made = await withMedvault(o, async (mv) => {
          const account = await unlock(mv, opts.as)
          return createBackup(mv, { account, ...(opts.withoutCiphertexts ? { withoutCiphertexts: true } : {}) })
        })
        const out = await writeOutFile(opts.out, `${JSON.stringify(made.file)}\n`, { home, force: opts.force })
        const c = made.counts
        emit(o, { out, account: made.file.backup.account, network: made.file.backup.network, counts: c }, () => [
          `Backed up ${opts.as} to ${out}: sealed keys (with its category tag secret), ${c.keySlips} key slip(s), ${c.tagTables} tag table(s), ${c.ciphertexts} record ciphertext(s) (${(c.ciphertextBytes / 1e6).toFixed(1)} MB).`,
          ...(c.missingCiphertexts > 0 ? [`${c.missingCiphertexts} ciphertext(s) are on another IPFS node and not in the backup.`] : []),
          'It opens only with the passphrase of the account. Keep it off this machine.',
        ])
      }, cmd),
    )

  program
    .command('restore')
    .argument('<file>', 'a file `medvault backup` wrote')
    .description('Restore an account from a backup into this home (or a fresh one with --home); running it twice is harmless')
    .action((file: string, _opts: unknown, cmd: Command) =>
      run(async (o) => {
        const info = await stat(file).catch(() => {
          throw new NotFoundError(`Cannot read ${file}.`, { hint: 'Check the path.' })
        })
        if (info.size > MAX_BACKUP_BYTES) throw new InvalidInputError(`${file} is too large to be a medvault backup.`)
        const text = await readFile(file, 'utf8')
        const passphrase = await readPassphrase('Passphrase of the backed-up account: ')
        const result = await restoreBackup({ home: resolveHome(o.home), text, passphrase })
        emit(o, { ...result }, () => [
          result.keysRestored
            ? `Restored ${result.account.name} (${result.account.address}): keys, ${result.keySlips} key slip(s), ${result.tagTables} tag table(s), ${result.ciphertexts} record ciphertext(s).`
            : `${result.account.name} was already in this home; checked that what the backup holds is here too.`,
          ...(result.configWritten ? ['Wrote the network settings (chain and contracts) of the backup into config.json.'] : []),
        ])
      }, cmd),
    )
}
