import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import QRCode from 'qrcode'
import { type Address, getAddress, isAddress } from 'viem'
import { readPassphrase } from '../../accounts/index.js'
import { InvalidInputError, NotFoundError } from '../../errors.js'
import type { Medvault } from '../../home/index.js'
import {
  type GuardianSpec,
  type RecoveryStore,
  approvalsFor,
  approveRecovery,
  cancelRecovery,
  createFileRecoveryStore,
  getRecoveryState,
  accountMoveFault,
  recoverAccount,
  releasePaperShare,
  releaseShare,
  rotateAccount,
  setupRecovery,
} from '../../recovery/index.js'
import { parseDuration } from '../duration.js'
import { type GlobalOptions, collectList, emit } from '../output.js'
import { resolveAddress, unlock, withMedvault } from '../session.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

const storeOf = (mv: Medvault) => createFileRecoveryStore(join(mv.paths.dir, 'recovery'))

/** The patient being recovered: an address, a name in this keystore, or the name its recovery setup recorded (its keystore may be gone). */
function resolveOld(mv: Medvault, store: RecoveryStore, value: string): Address {
  if (isAddress(value)) return getAddress(value)
  const local = mv.keystore.list().find((a) => a.name === value)
  if (local) return local.address
  const recorded = store.findByName(value)
  if (recorded) return recorded
  throw new NotFoundError(`There is no account or recovery setup named "${value}" in this home.`, {
    hint: "Give the patient's address instead (`medvault recovery status --for 0x...`).",
  })
}

/**
 * Opens the account that takes over a patient's records, and what keeps the old tag secret in its
 * keystore file: the passphrase is asked once and used for both.
 */
async function unlockToKeep(mv: Medvault, name: string) {
  mv.keystore.get(name) // fail fast on an unknown name, before prompting
  const passphrase = await readPassphrase(`Passphrase for ${name}: `)
  const account = await mv.keystore.unlock(name, passphrase)
  return { account, adoptTagSecret: (tagSecret: Uint8Array) => mv.keystore.setTagSecret(name, passphrase, tagSecret) }
}

function nameIn(mv: Medvault) {
  const accounts = mv.keystore.list()
  return (address: Address) => accounts.find((a) => a.address === getAddress(address))?.name ?? address
}

export function recoveryCommands(program: Command, run: Run) {
  const recovery = program
    .command('recovery')
    .description('Social key recovery: guardians who can together give a patient their records back on a new account')

  recovery
    .command('setup')
    .description("Split the patient's key and category tag secret among guardians (k of n) and name them on chain")
    .requiredOption('--as <account>', 'the patient')
    .requiredOption('--guardians <list>', 'guardian accounts (names or addresses); "paper" for a printed sheet', collectList)
    .requiredOption('--threshold <k>', 'how many guardians must act together')
    .option('--delay <duration>', 'time the patient has to cancel a recovery (1d to 30d)', '3d')
    .option('--paper-out <dir>', 'also write each paper sheet as a QR code PNG into this folder (it holds a share: keep it offline)')
    .action((opts: { as: string; guardians: string[]; threshold: string; delay: string; paperOut?: string }, cmd: Command) =>
      run(async (o) => {
        const threshold = Number(opts.threshold)
        const delaySeconds = parseDuration(opts.delay)
        const result = await withMedvault(o, async (mv) => {
          const guardians: GuardianSpec[] = opts.guardians.map((g) =>
            g === 'paper' ? { kind: 'paper' } : { kind: 'account', address: resolveAddress(mv, g), name: g },
          )
          const patient = await unlock(mv, opts.as)
          return setupRecovery(mv, { patient, guardians, threshold, delaySeconds, store: storeOf(mv) })
        })
        const qrFiles: string[] = []
        if (opts.paperOut && result.paperSheets.length > 0) {
          mkdirSync(opts.paperOut, { recursive: true, mode: 0o700 })
          for (const { address, sheet } of result.paperSheets) {
            const file = join(opts.paperOut, `recovery-sheet-${address}.png`)
            await QRCode.toFile(file, sheet, { errorCorrectionLevel: 'M' })
            qrFiles.push(file)
          }
        }
        emit(o, { ...result, qrFiles }, () => [
          `Recovery set up for ${opts.as}: any ${result.threshold} of ${result.guardians.length} guardians, then ${result.delaySeconds / 86_400} day(s) in which ${opts.as} can cancel.`,
          ...result.guardians.map((g) => `  ${g.kind === 'paper' ? 'paper sheet' : (g.name ?? g.address)}  ${g.address}`),
          ...result.paperSheets.flatMap(({ sheet }, i) => [
            '',
            `Paper sheet ${i + 1} (print it, give it to the guardian, and do not keep a copy on this computer):`,
            `  ${sheet}`,
          ]),
          ...qrFiles.map((f) => `QR code written to ${f}`),
          `Set it up again whenever guardians change; after removing a guardian you distrust, rotate the key (\`medvault account rotate\`).`,
        ])
      }, cmd),
    )

  recovery
    .command('start')
    .description('As the new account, ask the guardians of a patient who lost their key to recover it to you')
    .requiredOption('--as <account>', 'the new account that receives the records')
    .requiredOption('--for <patient>', 'the patient who lost the key (address, or its name in this home)')
    .action((opts: { as: string; for: string }, cmd: Command) =>
      run(async (o) => {
        const result = await withMedvault(o, async (mv) => {
          const store = storeOf(mv)
          const patient = resolveOld(mv, store, opts.for)
          const state = await getRecoveryState(mv, patient)
          if (state.guardians.length === 0) {
            throw new NotFoundError(`${opts.for} named no guardians, so it cannot be recovered.`, {
              hint: 'Recovery must be set up (`medvault recovery setup`) before the key is lost.',
            })
          }
          const newAccount = mv.keystore.get(opts.as).address
          store.putRequest(patient, newAccount)
          const names = nameIn(mv)
          return {
            patient,
            newAccount,
            threshold: state.threshold,
            guardians: state.guardians.map((g) => ({ address: g, name: names(g) })),
          }
        })
        emit(o, result, () => [
          `Asked for the recovery of ${opts.for} to ${opts.as}. ${result.threshold} of these guardians must each run`,
          `  medvault recovery share --as GUARDIAN --for ${result.patient} --to ${result.newAccount}`,
          ...result.guardians.map((g) => `  guardian ${g.name}`),
          `A paper guardian's sheet is typed in by ${opts.as}: medvault recovery share --as ${opts.as} --paper SHEET --for ${result.patient}`,
        ])
      }, cmd),
    )

  recovery
    .command('share')
    .description("As a guardian, release your share of a patient's key to their new account and approve the recovery on chain")
    .requiredOption('--as <account>', 'the guardian (with --paper: the account that submits and pays)')
    .requiredOption('--for <patient>', 'the patient who lost the key')
    .option('--to <account>', 'the new account (default: the one `medvault recovery start` asked for)')
    .option('--paper <sheet>', "a paper guardian's sheet, as printed (mvrs1....)")
    .action((opts: { as: string; for: string; to?: string; paper?: string }, cmd: Command) =>
      run(async (o) => {
        const result = await withMedvault(o, async (mv) => {
          const store = storeOf(mv)
          const patient = resolveOld(mv, store, opts.for)
          const newAccount = opts.to ? resolveAddress(mv, opts.to) : store.getRequest(patient)
          if (!newAccount) {
            throw new InvalidInputError(`No recovery of ${opts.for} was asked for in this home.`, {
              hint: 'Say which account: --to NEWACCOUNT.',
            })
          }
          const as = await unlock(mv, opts.as)
          if (opts.paper) {
            const released = await releasePaperShare(mv, { sheet: opts.paper, newAccount, submitter: as.chainAccount, store })
            if (released.patient !== patient) throw new InvalidInputError(`This sheet is for ${released.patient}, not ${opts.for}.`)
            return released
          }
          return releaseShare(mv, { guardian: as, patient, newAccount, store })
        })
        const state = await withMedvault(o, (mv) => getRecoveryState(mv, result.patient))
        emit(o, { ...result, pending: state.pending }, () => [
          `Released the share of ${result.guardian} to ${result.newAccount}${result.approvalTxHash ? ` and approved the recovery (tx ${result.approvalTxHash})` : ' (already approved)'}.`,
          state.pending
            ? `The recovery is pending: it can be executed from ${state.pending.readyAt.toISOString()} unless the owner cancels it.`
            : 'More guardians must approve before the recovery starts.',
        ])
      }, cmd),
    )

  recovery
    .command('approve')
    .description('As a guardian, approve a recovery on chain only (without releasing a share)')
    .requiredOption('--as <account>', 'the guardian')
    .requiredOption('--for <patient>', 'the patient who lost the key')
    .requiredOption('--to <account>', 'the new account')
    .action((opts: { as: string; for: string; to: string }, cmd: Command) =>
      run(async (o) => {
        const result = await withMedvault(o, async (mv) => {
          const patient = resolveOld(mv, storeOf(mv), opts.for)
          const newAccount = resolveAddress(mv, opts.to)
          const guardian = await unlock(mv, opts.as)
          const txHash = await approveRecovery(mv, guardian.chainAccount, { patient, newAccount })
          return { patient, newAccount, guardian: guardian.address, txHash, approvals: await approvalsFor(mv, patient, newAccount) }
        })
        emit(o, result, () => [
          `${opts.as} approved the recovery to ${opts.to} (${result.approvals} approval(s) so far; tx ${result.txHash}).`,
        ])
      }, cmd),
    )

  recovery
    .command('cancel')
    .description('As the patient, cancel a recovery of your account you did not ask for (during the delay)')
    .requiredOption('--as <account>', 'the patient')
    .action((opts: { as: string }, cmd: Command) =>
      run(async (o) => {
        const result = await withMedvault(o, async (mv) => {
          const patient = await unlock(mv, opts.as)
          const before = await getRecoveryState(mv, patient.address)
          const txHash = await cancelRecovery(mv, patient.chainAccount)
          return { patient: patient.address, cancelled: before.pending?.newAccount, txHash }
        })
        emit(o, result, () => [
          `Cancelled the recovery of ${opts.as} to ${result.cancelled}; every guardian approval so far is void.`,
          'If you did not ask for it, some guardians may be colluding or deceived: set up recovery again with others.',
        ])
      }, cmd),
    )

  recovery
    .command('execute')
    .description(
      'As the new account, after the delay: rebuild the key from the shares, re-wrap every record key, move the records and grants',
    )
    .requiredOption('--as <account>', 'the new account')
    .requiredOption('--for <patient>', 'the patient who lost the key')
    .action((opts: { as: string; for: string }, cmd: Command) =>
      run(async (o) => {
        const result = await withMedvault(o, async (mv) => {
          const store = storeOf(mv)
          const patient = resolveOld(mv, store, opts.for)
          const { account: newAccount, adoptTagSecret } = await unlockToKeep(mv, opts.as)
          const checkpoint = accountMoveFault(process.env.MEDVAULT_FAULT)
          return recoverAccount(mv, { patient, newAccount, store, adoptTagSecret, ...(checkpoint ? { checkpoint } : {}) })
        })
        emit(o, result, () => [
          `Recovered ${result.records} record(s) of ${opts.for} to ${opts.as}: ${result.rewrapped} key(s) re-wrapped, ${result.grantsMoved.length} grant(s) taken over, ${result.slipsReleased} grantee key(s) re-issued, ${result.tagTablesShared} tag table(s) shared again.`,
          `${opts.as} keeps the category tags of ${opts.for}, so its records keep their categories.`,
          `Set up recovery for ${opts.as} now (\`medvault recovery setup --as ${opts.as} ...\`): the old shares open nothing new.`,
        ])
      }, cmd),
    )

  recovery
    .command('status')
    .description("A patient's guardians, the pending recovery and its approvals")
    .requiredOption('--for <patient>', 'the patient')
    .option('--to <account>', 'count approvals and released shares for this new account')
    .action((opts: { for: string; to?: string }, cmd: Command) =>
      run(async (o) => {
        const result = await withMedvault(o, async (mv) => {
          const store = storeOf(mv)
          const patient = resolveOld(mv, store, opts.for)
          const state = await getRecoveryState(mv, patient)
          const target = opts.to ? resolveAddress(mv, opts.to) : (state.pending?.newAccount ?? store.getRequest(patient))
          const now = Number((await mv.publicClient.getBlock()).timestamp) * 1000
          const names = nameIn(mv)
          return {
            patient,
            guardians: state.guardians.map((g) => ({ address: g, name: names(g) })),
            threshold: state.threshold,
            delaySeconds: state.delaySeconds,
            pending: state.pending ? { ...state.pending, ready: now >= state.pending.readyAt.getTime() } : undefined,
            target,
            approvals: target ? await approvalsFor(mv, patient, target) : 0,
            sharesReleased: target ? store.released(patient, target).length : 0,
            successor: state.successor,
          }
        })
        emit(o, result, () => [
          result.successor
            ? `${opts.for} was moved to ${result.successor}; it is retired.`
            : result.guardians.length === 0
              ? `${opts.for} has no guardians: it cannot be recovered.`
              : `${opts.for}: ${result.threshold} of ${result.guardians.length} guardians (${result.guardians.map((g) => g.name).join(', ')}), delay ${result.delaySeconds / 86_400} day(s).`,
          ...(result.target
            ? [`Towards ${result.target}: ${result.approvals} approval(s) on chain, ${result.sharesReleased} share(s) released.`]
            : []),
          result.pending
            ? `Pending recovery to ${result.pending.newAccount}, ${result.pending.ready ? 'ready to execute' : `executable from ${result.pending.readyAt.toISOString()}`}.`
            : 'No recovery pending.',
        ])
      }, cmd),
    )

  // `medvault account rotate` lives here with the rest of the move; `account` is registered first.
  const account = program.commands.find((c) => c.name() === 'account') ?? program.command('account')
  account
    .command('rotate')
    .description('Move all your records, keys and grants to a new account now (a compromised or old key)')
    .requiredOption('--as <account>', 'the patient, with the current key')
    .requiredOption('--to <account>', 'a new, empty account in this home (it takes over the category tags too)')
    .option('--drop-grant <ids>', 'grants not to take over (e.g. made by whoever stole the key)', collectList)
    .action((opts: { as: string; to: string; dropGrant?: string[] }, cmd: Command) =>
      run(async (o) => {
        const result = await withMedvault(o, async (mv) => {
          const patient = await unlock(mv, opts.as)
          const { account: newAccount, adoptTagSecret } = await unlockToKeep(mv, opts.to)
          const dropGrants = (opts.dropGrant ?? []).map((id) => {
            if (!/^[1-9]\d*$/.test(id))
              throw new InvalidInputError(`"${id}" is not a grant id.`, { hint: 'See the ids with `medvault grants`.' })
            return BigInt(id)
          })
          const checkpoint = accountMoveFault(process.env.MEDVAULT_FAULT)
          return rotateAccount(mv, { patient, newAccount, dropGrants, adoptTagSecret, ...(checkpoint ? { checkpoint } : {}) })
        })
        emit(o, result, () => [
          `Rotated ${opts.as} to ${opts.to}: ${result.records} record(s) moved, ${result.rewrapped} key(s) re-wrapped, ${result.grantsMoved.length} grant(s) taken over, ${result.slipsReleased} grantee key(s) re-issued, ${result.tagTablesShared} tag table(s) shared again.`,
          `${opts.as} is retired: it can no longer grant, and no record can be issued to it.`,
        ])
      }, cmd),
    )
}
