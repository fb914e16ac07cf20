import type { Command } from 'commander'
import { openKeystore, readPassphrase } from '../../accounts/index.js'
import { homePaths, loadConfig, resolveHome, createAccount } from '../../home/index.js'
import { publishEncryptionKey } from '../../directory/index.js'
import { type GlobalOptions, emit } from '../output.js'
import { unlock, withMedvault } from '../session.js'
import { readSlipsFor } from '../../backup/index.js'
import { InvalidInputError } from '../../errors.js'

export function accountCommands(program: Command, run: (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>) {
  const account = program.command('account').description('Manage the accounts (keys) in this home')

  account
    .command('create')
    .argument('<name>', 'a short name, e.g. alice or lab-a')
    .description('Create an account: a chain key and an encryption key, sealed under a passphrase')
    .action((name: string, _o, cmd: Command) =>
      run(async (o) => {
        const passphrase = await readPassphrase(`New passphrase for ${name}: `)
        const paths = homePaths(resolveHome(o.home))
        const config = loadConfig(paths)
        // Before `medvault deploy` on an external chain there is nothing to publish to: keys only.
        const created =
          config?.chain.kind === 'rpc' && !config.deployment
            ? { ...(await openKeystore(paths.accounts).create(name, passphrase)), funded: false, published: false }
            : await withMedvault(o, (mv) => createAccount(mv, name, passphrase))
        emit(o, { account: created }, () => [
          `Created account ${created.name}`,
          `  address         ${created.address}`,
          `  encryption key  ${created.encryptionPublicKey}`,
          created.published
            ? '  key published on chain: providers can now issue records to it'
            : '  fund it, then run `medvault account publish` so providers can address records to it',
        ])
      }, cmd),
    )

  account
    .command('list')
    .description('List the accounts in this home')
    .action((_o, cmd: Command) =>
      run(async (o) => {
        const accounts = openKeystore(homePaths(resolveHome(o.home)).accounts).list()
        emit(o, { accounts }, () =>
          accounts.length === 0
            ? ['No accounts yet. Create one with `medvault account create NAME`.']
            : accounts.map((a) => `${a.name.padEnd(16)} ${a.address}`),
        )
      }, cmd),
    )

  account
    .command('publish')
    .argument('<name>', 'the account')
    .description("Publish the account's encryption key on chain, so records can be sealed to it by address")
    .action((name: string, _o, cmd: Command) =>
      run(async (o) => {
        const hash = await withMedvault(o, async (mv) => {
          const a = await unlock(mv, name)
          return publishEncryptionKey(mv, a.chainAccount, a.encryptionPublicKey)
        })
        emit(o, { account: name, txHash: hash }, () => [`Published the encryption key of ${name} (tx ${hash}).`])
      }, cmd),
    )

  account
    .command('remove')
    .argument('<name>', 'the account')
    .option('--yes', 'really remove the keys')
    .description("Take an account's keys out of this home (a lost or retired device); its records stay on chain")
    .action((name: string, opts: { yes?: boolean }, cmd: Command) =>
      run(async (o) => {
        const paths = homePaths(resolveHome(o.home))
        const keystore = openKeystore(paths.accounts)
        const held = keystore.get(name)
        const slips = readSlipsFor(paths.keySlips, held.address).length
        const lost = [
          `the chain key of ${held.address} (it can no longer sign in, grant, revoke or consent from this home)`,
          'its encryption key (no record of it can be opened here, its own or shared with it)',
        ]
        if (!opts.yes) {
          throw new InvalidInputError(`Removing ${name} deletes from this home: ${lost.join('; ')}.`, {
            hint: `Without a backup (\`medvault backup --as ${name}\`) or key recovery they are gone for good. Add --yes to remove it.`,
          })
        }
        keystore.remove(name)
        emit(o, { removed: { name, address: held.address }, keySlipsKept: slips }, () => [
          `Removed the keys of ${name} (${held.address}) from this home.`,
          `Its records and grants stay on chain; ${slips} key slip(s) wrapped to it stay here, useless without its keys.`,
          `\`medvault restore FILE\` brings the keys back from a backup.`,
        ])
      }, cmd),
    )
}
