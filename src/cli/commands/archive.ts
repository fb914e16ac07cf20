import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Command } from 'commander'
import { privateKeyToAccount } from 'viem/accounts'
import { onboardArchive, parseArchiveBundle, parseArchiveProof, revokeArchive, verifyArchivedRecord } from '../../archive/index.js'
import { deployArchiveAnchor, EMBEDDED_DEV_KEY } from '../../chain/index.js'
import { InvalidInputError, NotFoundError } from '../../errors.js'
import { saveConfig } from '../../home/index.js'
import type { Medvault } from '../../home/index.js'
import { archiveProgressReporter } from '../archiveProgress.js'
import { type GlobalOptions, emit } from '../output.js'
import { registrarAccount, unlock, withMedvault } from '../session.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

const fmt = (n: number | bigint) => n.toLocaleString('en-US')

async function readInput(file: string): Promise<Buffer> {
  return readFile(file).catch(() => {
    throw new NotFoundError(`Cannot read ${file}.`, { hint: 'Check the path.' })
  })
}

/** The embedded chain adds ArchiveAnchor to a home deployed before it existed, as it deploys the rest by itself. */
async function ensureArchiveAnchor(mv: Medvault): Promise<void> {
  if (mv.deployment.archive || !mv.embedded) return
  const deployer = privateKeyToAccount(EMBEDDED_DEV_KEY)
  const archive = await deployArchiveAnchor(mv.walletFor(deployer), mv.publicClient, mv.deployment.registry)
  mv.deployment.archive = archive
  saveConfig(mv.paths, { ...mv.config, deployment: { ...mv.deployment, archive } })
}

export function archiveCommands(program: Command, run: Run) {
  const archive = program
    .command('archive')
    .description("Onboard a provider's existing archive: N records sealed for their patients and anchored as one Merkle root")

  archive
    .command('anchor')
    .argument('<bundle>', 'a FHIR R4 Bundle with the histories of several patients, each Patient naming its medvault account')
    .requiredOption('--as <provider>', 'the issuing provider (an active provider in the registry); it pays one transaction')
    .option('--out <dir>', 'where the proof files go (a new or empty directory; default <home>/archives/<archive id>)')
    .option('--concurrency <n>', 'records sealed at once', '8')
    .description(
      'Seal every resource as a record for its patient, anchor the root of all of them in one transaction, write a proof per record',
    )
    .action((file: string, opts: { as: string; out?: string; concurrency: string }, cmd: Command) =>
      run(async (o) => {
        const concurrency = Number(opts.concurrency)
        if (!/^\d+$/.test(opts.concurrency) || concurrency < 1 || concurrency > 64) {
          throw new InvalidInputError('--concurrency must be a whole number from 1 to 64.')
        }
        const bytes = await readInput(file)
        const result = await withMedvault(o, async (mv) => {
          await ensureArchiveAnchor(mv)
          const parsed = parseArchiveBundle(bytes, { chainId: mv.deployment.chainId })
          const provider = await unlock(mv, opts.as)
          const progress = archiveProgressReporter(o)
          try {
            const onboarded = await onboardArchive(mv, {
              issuer: provider.chainAccount,
              entries: parsed.entries,
              outDir: opts.out ?? ((id) => join(mv.paths.dir, 'archives', id)),
              concurrency,
              onProgress: progress.update,
            })
            return { ...onboarded, skipped: parsed.skipped.length }
          } finally {
            progress.stop()
          }
        })
        const perRecord = Number(result.gasUsed) / result.count
        emit(
          o,
          {
            archiveId: result.archiveId,
            root: result.root,
            records: result.count,
            patients: result.patients,
            skipped: result.skipped,
            txHash: result.txHash,
            gasUsed: result.gasUsed,
            gasPerRecord: Number(perRecord.toFixed(2)),
            manifestCid: result.manifestCid,
            outDir: result.outDir,
            seconds: Number(result.seconds.toFixed(3)),
            proofs: result.records,
          },
          () => [
            `Anchored archive ${result.archiveId}: ${fmt(result.count)} records for ${fmt(result.patients)} patients, issued by ${opts.as}.`,
            `  root        ${result.root}`,
            `  gas         ${fmt(result.gasUsed)} in one transaction (${perRecord.toFixed(1)} per record)`,
            `  manifest    ${result.manifestCid} (every leaf, on IPFS)`,
            `  proofs      ${join(result.outDir, 'proofs')}/<patient>/entry-<n>.json`,
            `  time        ${result.seconds.toFixed(1)} s`,
            `Give each patient their proofs; anyone checks one with: medvault archive verify PROOF.json`,
          ],
        )
      }, cmd),
    )

  archive
    .command('verify')
    .argument('<proof>', 'a proof file written by `medvault archive anchor`')
    .option('--as <account>', 'the patient: also decrypts the record and checks the signature and the content commitment')
    .description('Verify an archived record against its anchored root, without asking its issuer')
    .action((file: string, opts: { as?: string }, cmd: Command) =>
      run(async (o) => {
        const proof = parseArchiveProof(await readInput(file))
        const result = await withMedvault(o, async (mv) => {
          const reader = opts.as ? await unlock(mv, opts.as) : undefined
          return verifyArchivedRecord(mv, { proof, ...(reader ? { reader } : {}) })
        })
        emit(
          o,
          { valid: result.valid, archiveId: result.archiveId, record: result.record, issuerName: result.issuerName, checks: result.checks },
          () => [
            `Archived record (entry ${proof.entry} of archive ${proof.archiveId}): ${result.valid ? 'VALID' : 'NOT VALID'}`,
            ...result.checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.message}`),
            ...(opts.as ? [] : ['  (add --as PATIENT to also decrypt it and check the issuer signature and content commitment)']),
          ],
        )
        if (!result.valid) process.exitCode = 4
      }, cmd),
    )

  archive
    .command('revoke')
    .argument('<archive-id>', 'the archive (0x followed by 64 hex digits)')
    .option('--as <account>', 'the provider that anchored it, or a registrar (default on the embedded chain: its development registrar)')
    .description('Revoke an archive: none of its records verifies from the next block on')
    .action((archiveId: string, opts: { as?: string }, cmd: Command) =>
      run(async (o) => {
        if (!/^0x[0-9a-fA-F]{64}$/.test(archiveId)) throw new InvalidInputError('An archive id is 0x followed by 64 hex digits.')
        const id = archiveId as `0x${string}`
        const result = await withMedvault(o, async (mv) => {
          const account = await registrarAccount(mv, opts.as)
          return revokeArchive(mv, account, id)
        })
        emit(o, { archiveId: id, txHash: result.txHash }, () => [`Revoked archive ${id}; none of its records verifies any more.`])
      }, cmd),
    )

  archive
    .command('deploy')
    .requiredOption('--as <account>', 'a funded account')
    .description('Add the ArchiveAnchor contract to a deployment made before it existed (external chains)')
    .action((opts: { as: string }, cmd: Command) =>
      run(async (o) => {
        const address = await withMedvault(o, async (mv) => {
          if (mv.deployment.archive) {
            throw new InvalidInputError(`This deployment has an ArchiveAnchor already (${mv.deployment.archive}).`)
          }
          const account = await unlock(mv, opts.as)
          const archive = await deployArchiveAnchor(mv.walletFor(account.chainAccount), mv.publicClient, mv.deployment.registry)
          saveConfig(mv.paths, { ...mv.config, deployment: { ...mv.deployment, archive } })
          return archive
        })
        emit(o, { archive: address }, () => [`Deployed ArchiveAnchor at ${address}.`])
      }, cmd),
    )
}
