import type { Command } from 'commander'
import { checkAccountName, loadEthereumKeystore, openKeystore, readPassphrase } from '../../accounts/index.js'
import { homePaths, loadConfig, resolveHome, createAccount } from '../../home/index.js'
import { publishEncryptionKey, publishOpenTags } from '../../directory/index.js'
import { type GlobalOptions, emit } from '../output.js'
import { unlock, withMedvault } from '../session.js'
import { readSlipsFor } from '../../consent/index.js'
import { InvalidInputError, NotFoundError } from '../../errors.js'
import { readFile, stat } from 'node:fs/promises'
import { checkInputPath, checkOutPath, writeOutFile } from '../outFile.js'

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
            ? {
                ...(await openKeystore(paths.accounts).create(name, passphrase)),
                funded: false,
                published: false,
                otherKeyPublished: false,
              }
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
    .description(
      'Publish the account\'s encryption key on chain, so records can be sealed to it by address, and its open (non-sensitive) category tags, so "all" grants and break-glass cover its non-sensitive records',
    )
    .action((name: string, _o, cmd: Command) =>
      run(async (o) => {
        const result = await withMedvault(o, async (mv) => {
          const a = await unlock(mv, name)
          // The key is sent again even when it is on chain: that is how another home's key for an
          // imported address is replaced. The open tags are sent only where missing.
          const txHash = await publishEncryptionKey(mv, a.chainAccount, a.encryptionPublicKey)
          const openTagsTxHash = await publishOpenTags(mv, a)
          return { txHash, openTagsTxHash }
        })
        emit(o, { account: name, txHash: result.txHash, openTagsTxHash: result.openTagsTxHash ?? null }, () => [
          `Published the encryption key of ${name} (tx ${result.txHash}).`,
          result.openTagsTxHash
            ? `Published its open category tags (tx ${result.openTagsTxHash}): "all" grants and break-glass can now cover its non-sensitive records.`
            : 'Its open category tags were already on chain.',
        ])
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
        const slips = (await readSlipsFor(paths.keySlips, held.address, { legacyDir: paths.legacyKeySlips })).length
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

  account
    .command('export')
    .argument('<name>', 'the account')
    .option('--out <file>', 'where to write the keystore (default: print it)')
    .option('--force', 'replace the file if it exists')
    .description(
      "Write the account's chain key as an Ethereum V3 keystore (geth, cast, ethers, MetaMask), sealed with the account's passphrase",
    )
    .action((name: string, opts: { out?: string; force?: boolean }, cmd: Command) =>
      run(async (o) => {
        const paths = homePaths(resolveHome(o.home))
        const keystore = openKeystore(paths.accounts)
        const held = keystore.get(name)
        // Checked before the passphrase and the KDF, so a wrong path fails at once.
        if (opts.out) checkOutPath(opts.out, { home: paths.dir, force: opts.force })
        const passphrase = await readPassphrase(`Passphrase for ${name}: `)
        const { privateKey, scryptN } = await keystore.chainKey(name, passphrase)
        const { toEthereumKeystore } = await loadEthereumKeystore()
        const json = await toEthereumKeystore(privateKey, passphrase, scryptN)
        const exported = { name, address: held.address, format: 'ethereum-v3-keystore' }
        if (!opts.out) {
          // No file unless the user names one: the (sealed) keystore goes to stdout.
          if (o.json) emit(o, { exported: { ...exported, keystore: JSON.parse(json) } }, () => [])
          else process.stdout.write(`${json}\n`)
          return
        }
        const file = await writeOutFile(opts.out, `${json}\n`, { home: paths.dir, force: opts.force })
        emit(o, { exported: { ...exported, file } }, () => [
          `Wrote the chain key of ${name} (${held.address}) to ${file}`,
          '  an Ethereum V3 keystore, sealed with the same passphrase as the account;',
          '  it holds the signing key only, not the encryption key (`medvault backup` keeps the whole account).',
        ])
      }, cmd),
    )

  account
    .command('import')
    .argument('<file>', 'an Ethereum V3 keystore (from geth, cast, ethers, MetaMask or `medvault account export`)')
    .requiredOption('--name <name>', 'the name of the new account in this home')
    .description(
      "Make an account from an Ethereum V3 keystore's chain key, with a new encryption key, sealed with the keystore's passphrase",
    )
    .action((file: string, opts: { name: string }, cmd: Command) =>
      run(async (o) => {
        const paths = homePaths(resolveHome(o.home))
        const keystore = openKeystore(paths.accounts)
        checkAccountName(opts.name)
        if (keystore.list().some((a) => a.name === opts.name)) {
          throw new InvalidInputError(`An account named "${opts.name}" already exists.`, { hint: 'Pick another --name.' })
        }
        checkInputPath(file, { home: paths.dir })
        const info = await stat(file).catch(() => undefined)
        if (!info?.isFile()) throw new NotFoundError(`There is no file ${file}.`)
        const { MAX_KEYSTORE_BYTES, fromEthereumKeystore } = await loadEthereumKeystore()
        if (info.size > MAX_KEYSTORE_BYTES) {
          throw new InvalidInputError(`${file} is not an Ethereum V3 keystore (too large).`, { hint: 'Nothing was imported.' })
        }
        const text = await readFile(file, 'utf8')
        const passphrase = await readPassphrase(`Passphrase of ${file}: `)
        const { privateKey } = await fromEthereumKeystore(text, passphrase, file)
        const config = loadConfig(paths)
        const created =
          config?.chain.kind === 'rpc' && !config.deployment
            ? {
                ...(await keystore.create(opts.name, passphrase, { privateKey })),
                funded: false,
                published: false,
                otherKeyPublished: false,
              }
            : await withMedvault(o, (mv) => createAccount(mv, opts.name, passphrase, { privateKey }))
        emit(o, { account: created }, () => [
          `Imported ${created.address} as account ${created.name}`,
          `  encryption key  ${created.encryptionPublicKey} (new)`,
          created.published
            ? '  key published on chain: providers can now issue records to it'
            : created.otherKeyPublished
              ? '  this address already published another encryption key (a medvault home elsewhere); it was left in place. `medvault account publish` replaces it'
              : '  fund it, then run `medvault account publish` so providers can address records to it',
        ])
      }, cmd),
    )
}
