import type { Command } from 'commander'
import { type Hex, isAddress } from 'viem'
import { authorizeProvider, listProviders, registerProvider, revokeProvider, setProviderStatus } from '../../directory/index.js'
import { InvalidInputError } from '../../errors.js'
import { type GlobalOptions, emit } from '../output.js'
import { registrarAccount, resolveAddress, unlock, withMedvault } from '../session.js'
import { chainTime } from '../../chain/index.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

export function providerCommands(program: Command, run: Run) {
  const provider = program.command('provider').description('The registry of accredited providers (hospitals, labs, clinics)')

  provider
    .command('register')
    .argument('<account>', "the provider's account name (or address, with --key)")
    .requiredOption('--name <name>', 'display name, e.g. "Lab A"')
    .option('--key <hex>', "the provider's X25519 public key, when it is not an account in this home")
    .option('--as <registrar>', 'registrar account (default on the embedded chain: its development registrar)')
    .description('Accredit a provider so it can issue records')
    .action((account: string, opts: { name: string; key?: string; as?: string }, cmd: Command) =>
      run(async (o) => {
        const result = await withMedvault(o, async (mv) => {
          const address = resolveAddress(mv, account)
          const key = (opts.key ?? (isAddress(account) ? undefined : mv.keystore.get(account).encryptionPublicKey)) as Hex | undefined
          if (!key) throw new InvalidInputError("The provider's encryption key is needed.", { hint: 'Add --key HEX.' })
          const hash = await registerProvider(mv, await registrarAccount(mv, opts.as), {
            provider: address,
            name: opts.name,
            encryptionKey: key,
          })
          return { provider: address, name: opts.name, txHash: hash }
        })
        emit(o, result, () => [`Registered ${result.name} (${result.provider}) as an active provider.`])
      }, cmd),
    )

  for (const action of ['suspend', 'reinstate', 'remove'] as const) {
    provider
      .command(action)
      .argument('<account>', "the provider's account name or address")
      .option('--as <registrar>', 'registrar account')
      .description(
        {
          suspend: 'Suspend a provider: it cannot issue until reinstated',
          reinstate: 'Reinstate a suspended provider',
          remove: 'Remove a provider for good',
        }[action],
      )
      .action((account: string, opts: { as?: string }, cmd: Command) =>
        run(async (o) => {
          const result = await withMedvault(o, async (mv) => {
            const address = resolveAddress(mv, account)
            const hash = await setProviderStatus(mv, await registrarAccount(mv, opts.as), address, action)
            return { provider: address, action, txHash: hash }
          })
          emit(o, result, () => [
            `${action === 'remove' ? 'Removed' : action === 'suspend' ? 'Suspended' : 'Reinstated'} ${result.provider}.`,
          ])
        }, cmd),
      )
  }

  provider
    .command('list')
    .description('List the registered providers and their status')
    .action((_o, cmd: Command) =>
      run(async (o) => {
        const providers = await withMedvault(o, (mv) => listProviders(mv))
        emit(o, { providers }, () =>
          providers.length === 0
            ? ['No providers yet. Register one with `medvault provider register ACCOUNT --name "Lab A"`.']
            : providers.map((p) => `${p.name.padEnd(24)} ${p.status.padEnd(10)} ${p.address}`),
        )
      }, cmd),
    )

  provider
    .command('authorize')
    .argument('<provider>', "the provider's account name or address")
    .requiredOption('--as <patient>', 'the patient giving the authorisation')
    .option('--days <n>', 'how long it lasts', '365')
    .description(
      'Let a provider issue records to you without asking each time (e.g. a lab posting results); shares your category tags with it',
    )
    .action((providerRef: string, opts: { as: string; days: string }, cmd: Command) =>
      run(async (o) => {
        const days = Number(opts.days)
        if (!Number.isFinite(days) || days <= 0 || days > 3650) throw new InvalidInputError('--days must be between 1 and 3650.')
        const result = await withMedvault(o, async (mv) => {
          const address = resolveAddress(mv, providerRef)
          const patient = await unlock(mv, opts.as)
          // Counted from the chain's time, which the contract compares it with.
          const until = new Date((await chainTime(mv.publicClient)).getTime() + days * 86_400_000)
          return { provider: address, until, txHash: await authorizeProvider(mv, patient, address, until), tagsShared: true }
        })
        const { until } = result
        emit(o, result, () => [
          `${providerRef} may issue records to ${opts.as} until ${until.toISOString().slice(0, 10)}.`,
          `Your category tags were sealed to ${providerRef}, so it can label what it issues (the chain sees only opaque tags).`,
        ])
      }, cmd),
    )

  provider
    .command('deauthorize')
    .argument('<provider>', "the provider's account name or address")
    .requiredOption('--as <patient>', 'the patient')
    .description("End a provider's standing authorisation at once")
    .action((providerRef: string, opts: { as: string }, cmd: Command) =>
      run(async (o) => {
        const result = await withMedvault(o, async (mv) => {
          const address = resolveAddress(mv, providerRef)
          const patient = await unlock(mv, opts.as)
          return { provider: address, txHash: await revokeProvider(mv, patient.chainAccount, address) }
        })
        emit(o, result, () => [`${providerRef} can no longer issue records to ${opts.as} without a signature.`])
      }, cmd),
    )
}
