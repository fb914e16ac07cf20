import { join } from 'node:path'
import type { Command } from 'commander'
import { eraseAccount, eraseRecords, erasureFault } from '../../erasure/index.js'
import type { ErasureStep } from '../../erasure/index.js'
import { InvalidInputError } from '../../errors.js'
import { listRecords } from '../../records/index.js'
import { type GlobalOptions, emit } from '../output.js'
import { parseTokenId, unlock, withMedvault } from '../session.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

const REMAINS = [
  'What remains: each token and its salted commitment on chain (they point to nothing anyone can open),',
  'copies a grantee already downloaded, and copies of the ciphertext other IPFS nodes may hold (unreadable without the key).',
  'See docs/privacy.md.',
]

export function eraseCommands(program: Command, run: Run) {
  program
    .command('erase')
    .argument('[tokens...]', 'the records to erase')
    .requiredOption('--as <patient>', 'the patient who owns them')
    .option('--all', "all of the patient's records")
    .option(
      '--account',
      "the whole account: every record, then active grants, providers' standing authorisations, delegates, and the account's keys in this home",
    )
    .option('--yes', 'confirm --account (it cannot be undone)')
    .description(
      'Erase records for good (GDPR art. 17): mark them erased on chain, destroy every copy of their keys, delete their ciphertext',
    )
    .action((tokens: string[], opts: { as: string; all?: boolean; account?: boolean; yes?: boolean }, cmd: Command) =>
      run(async (o) => {
        const chosen = [tokens.length > 0, opts.all, opts.account].filter(Boolean).length
        if (chosen !== 1) throw new InvalidInputError('Say what to erase: record token ids, or exactly one of --all or --account.')
        if (opts.account && !opts.yes) {
          throw new InvalidInputError(
            'Erasing the account erases every record and destroys the account’s keys in this home; it cannot be undone.',
            {
              hint: 'Add --yes to go ahead.',
            },
          )
        }
        const tokenIds = tokens.map(parseTokenId)
        const lines: string[] = []
        const fault = erasureFault(process.env.MEDVAULT_FAULT)
        const report = o.json
          ? undefined
          : (step: ErasureStep) => {
              if (step.step === 'marked')
                process.stderr.write(`Marked ${step.tokenIds.length} record(s) erased on chain (tx ${step.txHash}).\n`)
            }
        const onStep =
          fault || report
            ? (step: ErasureStep) => {
                report?.(step)
                fault?.(step)
              }
            : undefined
        const result = await withMedvault(o, async (mv) => {
          const patient = await unlock(mv, opts.as)
          const importJournalDir = join(mv.paths.dir, 'imports')
          const common = {
            patient: patient.chainAccount,
            importJournalDir,
            operationJournalDir: mv.paths.operations,
            ...(onStep ? { onStep } : {}),
          }
          if (opts.account) {
            const erased = await eraseAccount(mv, common)
            const keysDestroyed = mv.keystore.remove(patient.name)
            return { ...erased, account: { name: patient.name, address: patient.address, keysDestroyed } }
          }
          const ids = opts.all ? (await listRecords(mv, { patient: patient.address })).map((r) => r.tokenId) : tokenIds
          return eraseRecords(mv, { ...common, tokenIds: ids })
        })
        for (const r of result.records) {
          lines.push(
            `Erased record #${r.tokenId}${r.alreadyMarked ? ' (already marked on chain; finished the job)' : ''}: ` +
              `${r.keySlips} key slip(s) and ${r.journalKeys} import-journal key(s) destroyed, ` +
              `ciphertext ${r.ciphertextDeleted ? 'deleted' : 'already gone'}.`,
          )
        }
        if (result.records.length === 0) lines.push('There was no record to erase.')
        if ('account' in result) {
          lines.push(
            `Account ${result.account.name} (${result.account.address}): ${result.grantsRevoked.length} grant(s) revoked, ` +
              `${result.authorizationsEnded.length} provider authorisation(s) ended, ${result.delegatesRemoved.length} delegate(s) removed, ` +
              `keys ${result.account.keysDestroyed ? 'destroyed in this home' : 'already gone from this home'}.`,
          )
        }
        emit(o, result, () => [...lines, ...REMAINS])
      }, cmd),
    )
}
