import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { type Address, getAddress, isAddress } from 'viem'
import { InvalidInputError, NotFoundError } from '../../errors.js'
import { type Category, parseCategory } from '../../records/index.js'
import { resolveHome } from '../../home/index.js'
import {
  approveResearcher,
  closeStudy,
  earnings,
  listStudies,
  NATIVE_ASSET,
  postStudy,
  withdraw,
  criteriaHash,
  criteriaOf,
  deliverContribution,
  descriptionHash,
  protocolWithDescription,
  downloadStudy,
  eligibleCounts,
  joinAndDeliver,
  storeBytes,
  publishedDescription,
} from '../../research/index.js'
import { parseDuration } from '../duration.js'
import { checkInputPath, checkOutPath, writeOutFile } from '../outFile.js'
import { type GlobalOptions, emit } from '../output.js'
import { parseTokenId, registrarAccount, resolveAddress, unlock, withMedvault } from '../session.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

function parseStudyId(value: string): bigint {
  if (!/^\d+$/.test(value) || value === '0')
    throw new InvalidInputError(`"${value}" is not a study id.`, { hint: 'Study ids are positive numbers; see `medvault study list`.' })
  return BigInt(value)
}

function parseAmount(value: string, what: string): bigint {
  if (!/^\d+$/.test(value) || value === '0')
    throw new InvalidInputError(`${what} must be a positive whole number in the asset's smallest unit, not "${value}".`)
  return BigInt(value)
}

function parseAsset(value: string): Address {
  if (value === 'native') return NATIVE_ASSET
  if (!isAddress(value)) throw new InvalidInputError(`--asset must be "native" or an ERC-20 token address, not "${value}".`)
  return getAddress(value)
}

function parseRecords(value: string): bigint[] {
  const ids = value.split(',').map((s) => parseTokenId(s.trim()))
  if (new Set(ids).size !== ids.length) throw new InvalidInputError('--records lists a record twice.')
  return ids
}

export function studyCommands(program: Command, run: Run) {
  const study = program
    .command('study')
    .description('Research studies: researchers post and download, patients join and deliver de-identified data')

  study
    .command('approve-researcher')
    .argument('<account>', "the research organisation's account name or address")
    .option('--as <registrar>', 'registrar account (default on the embedded chain: its development registrar)')
    .description('Approve a research organisation so it can post studies')
    .action((account: string, opts: { as?: string }, cmd: Command) =>
      run(async (o) => {
        const result = await withMedvault(o, async (mv) => {
          const researcher = resolveAddress(mv, account)
          const txHash = await approveResearcher(mv, { registrar: await registrarAccount(mv, opts.as), researcher })
          return { researcher, txHash }
        })
        emit(o, result, () => [`Approved ${result.researcher} as a researcher.`])
      }, cmd),
    )

  study
    .command('post')
    .requiredOption('--as <researcher>', 'the approved researcher account')
    .option(
      '--description <text>',
      'a short description: written into a JSON protocol (else only its hash is public); optional if the protocol has one',
    )
    .requiredOption('--protocol <file>', 'the protocol document; a JSON one may list coded criteria as "criteria": [{"system", "code"}]')
    .requiredOption('--categories <list>', 'record categories asked for, e.g. laboratory,immunization')
    .requiredOption('--price <amount>', "price per record in the asset's smallest unit (wei for native)")
    .requiredOption('--records <n>', 'how many records the budget pays for')
    .requiredOption('--deadline <duration>', 'how long the study is open, e.g. 30d')
    .option('--asset <asset>', '"native" or an ERC-20 token address', 'native')
    .description('Post a study and escrow its whole budget (price x records)')
    .action(
      (
        opts: {
          as: string
          description?: string
          protocol: string
          categories: string
          price: string
          records: string
          deadline: string
          asset: string
        },
        cmd: Command,
      ) =>
        run(async (o) => {
          const categories: Category[] = opts.categories.split(',').map((c) => parseCategory(c.trim()))
          const price = parseAmount(opts.price, '--price')
          const maxRecords = Number(parseAmount(opts.records, '--records'))
          const seconds = parseDuration(opts.deadline)
          const asset = parseAsset(opts.asset)
          checkInputPath(opts.protocol, { home: resolveHome(o.home) })
          const given = await readFile(opts.protocol).catch(() => {
            throw new NotFoundError(`The protocol document ${opts.protocol} cannot be read.`, { hint: 'Check the path.' })
          })
          const { bytes: protocol, description } = protocolWithDescription(given, opts.description)
          const criteria = criteriaOf(protocol)
          const result = await withMedvault(o, async (mv) => {
            const researcher = (await unlock(mv, opts.as)).chainAccount
            const protocolCid = await storeBytes(mv.store, protocol)
            const now = Number((await mv.publicClient.getBlock({ blockTag: 'latest' })).timestamp)
            const posted = await postStudy(mv, {
              researcher,
              protocolCid,
              descriptionHash: descriptionHash(description),
              categories,
              criteriaHash: criteriaHash(criteria),
              asset,
              pricePerRecord: price,
              maxRecords,
              deadline: new Date((now + seconds) * 1000),
            })
            return { ...posted, protocolCid: protocolCid.toString(), criteria: criteria.length, deadline: new Date((now + seconds) * 1000) }
          })
          emit(o, result, () => [
            `Posted study #${result.studyId}: escrowed ${result.budget} (${opts.asset}) for ${maxRecords} record(s) of ${categories.join(', ')}.`,
            `Protocol ${result.protocolCid}${result.criteria > 0 ? ` with ${result.criteria} coded criteria` : ''}; open until ${result.deadline.toISOString()}.`,
          ])
        }, cmd),
    )

  study
    .command('list')
    .description('List studies with their state, price, escrow and counts')
    .action((_opts: unknown, cmd: Command) =>
      run(async (o) => {
        const studies = await withMedvault(o, async (mv) =>
          Promise.all((await listStudies(mv)).map(async (s) => ({ ...s, description: await publishedDescription(mv.store, s) }))),
        )
        emit(o, { studies }, () =>
          studies.length === 0
            ? ['No studies.']
            : studies.map(
                (s) =>
                  `#${s.studyId} ${s.state.padEnd(7)} ${s.description ?? '(description not published)'}: ${s.categories.join(',')} price ${s.pricePerRecord}${s.asset === NATIVE_ASSET ? '' : ` of ${s.asset}`}, ` +
                  `${s.delivered} delivered, ${s.reserved} reserved of ${s.maxRecords}; escrow ${s.unreservedBudget} unreserved + ${s.reservedBudget} reserved; deadline ${s.deadline.toISOString()}`,
              ),
        )
      }, cmd),
    )

  study
    .command('close')
    .argument('<study>', 'study id')
    .requiredOption('--as <researcher>', "the study's researcher")
    .description('Close a study: early, refunds the unreserved budget; after the deadline, settles it')
    .action((id: string, opts: { as: string }, cmd: Command) =>
      run(async (o) => {
        const studyId = parseStudyId(id)
        const result = await withMedvault(o, async (mv) =>
          closeStudy(mv, { researcher: (await unlock(mv, opts.as)).chainAccount, studyId }),
        )
        emit(o, { studyId, ...result }, () => [
          `${result.settled ? 'Settled' : 'Closed'} study #${studyId}; ${result.refund} refunded to the researcher's market balance (\`medvault earnings --withdraw\`).`,
        ])
      }, cmd),
    )

  study
    .command('join')
    .argument('<study>', 'study id')
    .requiredOption('--records <ids>', 'record token ids, e.g. 1,2,3')
    .requiredOption('--as <patient>', 'the patient who owns the records')
    .option('--no-deliver', 'only join (reserve); deliver later with `medvault study deliver`')
    .description('Join a study with some of your records and deliver their de-identified copy, sealed to the researcher')
    .action((id: string, opts: { records: string; as: string; deliver: boolean }, cmd: Command) =>
      run(async (o) => {
        const studyId = parseStudyId(id)
        const tokenIds = parseRecords(opts.records)
        const result = await withMedvault(o, async (mv) =>
          joinAndDeliver(mv, { patient: await unlock(mv, opts.as), studyId, tokenIds, deliver: opts.deliver }),
        )
        emit(o, { ...result, delivery: result.delivery ? { ...result.delivery, cid: result.delivery.cid.toString() } : undefined }, () => [
          `Joined study #${studyId} with ${tokenIds.length} record(s) as contribution #${result.contributionId}.`,
          result.delivery
            ? `Delivered ${result.delivery.resources} de-identified resource(s) (pseudonym ${result.delivery.pseudonym}); ${result.amount} credited (\`medvault earnings --withdraw\`).`
            : `Not delivered yet: run \`medvault study deliver ${result.contributionId} --as ${opts.as}\` before the deadline, or ${result.amount} is not paid.`,
        ])
      }, cmd),
    )

  study
    .command('deliver')
    .argument('<contribution>', 'contribution id (from `study join --no-deliver`)')
    .requiredOption('--as <patient>', 'the contributing patient')
    .description('Deliver a joined contribution: de-identify, seal to the researcher, store, and be credited')
    .action((id: string, opts: { as: string }, cmd: Command) =>
      run(async (o) => {
        const contributionId = parseStudyId(id)
        const result = await withMedvault(o, async (mv) => deliverContribution(mv, { patient: await unlock(mv, opts.as), contributionId }))
        emit(o, { contributionId, ...result, cid: result.cid.toString() }, () => [
          `Delivered contribution #${contributionId}: ${result.resources} de-identified resource(s); ${result.amount} credited.`,
        ])
      }, cmd),
    )

  study
    .command('download')
    .argument('<study>', 'study id')
    .requiredOption('--as <researcher>', "the study's researcher")
    .requiredOption('--out <file>', 'where to write the concatenated NDJSON')
    .option('--force', 'replace --out if it exists')
    .option('--k <n>', 'the k of the k-anonymity report', '5')
    .description('Fetch, decrypt and verify every delivered dataset; write them as one NDJSON and report k-anonymity')
    .action((id: string, opts: { as: string; out: string; force?: boolean; k: string }, cmd: Command) =>
      run(async (o) => {
        const studyId = parseStudyId(id)
        const k = Number(opts.k)
        if (!Number.isInteger(k) || k < 1) throw new InvalidInputError(`--k must be a positive whole number, not "${opts.k}".`)
        const home = resolveHome(o.home)
        checkOutPath(opts.out, { home, force: opts.force })
        const got = await withMedvault(o, async (mv) => downloadStudy(mv, { researcher: await unlock(mv, opts.as), studyId, k }))
        const out = await writeOutFile(opts.out, got.ndjson, { home, force: opts.force })
        const { ndjson: _, ...summary } = got
        const deliveries = got.deliveries.map((d) => ({ ...d, datasetCid: d.datasetCid.toString() }))
        emit(o, { ...summary, deliveries, out }, () => [
          `Wrote ${got.resources} resource(s) from ${got.deliveries.length} delivery(ies) to ${out}; every dataset matched its on-chain commitment.`,
          `k-anonymity over year of birth, sex, ZIP3: ${got.kAnonymity.classes} class(es), smallest ${got.kAnonymity.smallestClass} patient(s); ${
            got.kAnonymity.violating.length === 0 ? `${k}-anonymous.` : `${got.kAnonymity.violating.length} class(es) under k=${k}.`
          }`,
        ])
      }, cmd),
    )

  study
    .command('eligible')
    .argument('<study>', 'study id')
    .description('Count live records of any category across all patients (an upper bound), counts under 11 shown as <11')
    .action((id: string, _opts: unknown, cmd: Command) =>
      run(async (o) => {
        const counts = await withMedvault(o, (mv) => eligibleCounts(mv, parseStudyId(id)))
        emit(o, counts, () => [
          `Study #${counts.studyId} (${counts.categories.join(', ')}): at most ${counts.records} live record(s), held by ${counts.patients} patient(s).`,
          "The chain holds only each patient's blinded category tags, so the count is over every category (not erased, not superseded); categories and coded criteria are checked only by each patient's client.",
        ])
      }, cmd),
    )

  program
    .command('earnings')
    .requiredOption('--as <account>', 'the patient (or researcher, for refunds)')
    .option('--withdraw', 'pay out every withdrawable balance')
    .description('Show what the research market owes you, and withdraw it')
    .action((opts: { as: string; withdraw?: boolean }, cmd: Command) =>
      run(async (o) => {
        const result = await withMedvault(o, async (mv) => {
          const account = await unlock(mv, opts.as)
          const before = await earnings(mv, account.address)
          const withdrawals = []
          if (opts.withdraw) {
            for (const e of before.filter((b) => b.withdrawable > 0n)) {
              withdrawals.push({ asset: e.asset, ...(await withdraw(mv, { account: account.chainAccount, asset: e.asset })) })
            }
          }
          return { account: account.address, earnings: opts.withdraw ? await earnings(mv, account.address) : before, withdrawals }
        })
        emit(o, result, () => [
          ...result.earnings.map(
            (e) =>
              `${e.asset === NATIVE_ASSET ? 'native' : e.asset}: withdrawable ${e.withdrawable}, earned ${e.earned}, withdrawn ${e.withdrawn}`,
          ),
          ...result.withdrawals.map((w) => `Withdrew ${w.amount} (${w.asset === NATIVE_ASSET ? 'native' : w.asset}).`),
        ])
      }, cmd),
    )
}
