import { checkPatientOf } from '../../fhir/index.js'
import { createWriteStream } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import { listEmergencies } from '../../consent/index.js'
import { InvalidInputError } from '../../errors.js'
import { canonicalFhirBytes, parseFhirResource } from '../../fhir/index.js'
import type { Medvault } from '../../home/index.js'
import {
  CATEGORIES,
  type DocumentInput,
  FHIR_JSON,
  documentFromFile,
  getOnChainRecord,
  getProvider,
  listRecords,
  openRecord,
  categoryName,
  sensitivityNames,
  verifyRecord,
} from '../../records/index.js'
import { resolveHome } from '../../home/index.js'
import { issueRecordOnce, operationFault } from '../../operations/index.js'
import { checkInputPath, checkOutPath, partialFileFor, placeFile } from '../outFile.js'
import { type GlobalOptions, emit, outcomeLine, progressPrinter } from '../output.js'
import { parseTokenId, resolvePatient, syncHomeIndex, unlock, withMedvault } from '../session.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

async function issue(mv: Medvault, o: GlobalOptions, doc: DocumentInput, patientRef: string, as: string, supersedes?: bigint) {
  const patient = await resolvePatient(mv, patientRef)
  if (doc.resource) checkPatientOf(doc.resource, patient.address, mv.deployment.chainId)
  const provider = await unlock(mv, as)
  // A patient whose keys are in this home consents now (and shares their tags with the provider);
  // any other patient must have authorised it, which gave it their tags.
  const consent = patient.local ? { patient: await unlock(mv, patient.name) } : ({ standing: true } as const)
  const checkpoint = operationFault(process.env.MEDVAULT_FAULT, supersedes ? 'record-amend' : 'record-add')
  // Journaled and idempotent: the same command run again finishes a stopped run, or returns what it did.
  return issueRecordOnce(mv, {
    issuer: provider,
    patient,
    content: doc.content,
    contentType: doc.contentType,
    category: doc.category,
    sensitivity: doc.sensitivity,
    consent,
    journalDir: mv.paths.operations,
    syncIndex: () => syncHomeIndex(mv),
    ...(supersedes ? { supersedes } : {}),
    ...(checkpoint ? { checkpoint } : {}),
    ...(progressPrinter(o) ? { onProgress: progressPrinter(o)! } : {}),
  })
}

export function recordCommands(program: Command, run: Run) {
  const record = program.command('record').description('Issue, read, verify and amend medical records')

  record
    .command('add')
    .argument('<file>', 'a FHIR R4 resource (.json) or a binary document')
    .requiredOption('--patient <account-or-address>', 'the patient who will own the record')
    .requiredOption('--as <provider>', "the issuing provider's account")
    .option('--category <category>', CATEGORIES.join(', '))
    .option('--content-type <type>', 'MIME type; required for non-FHIR files (e.g. application/dicom)')
    .description('Issue a record: validate, encrypt for the patient, store on IPFS, mint to the patient')
    .action((file: string, opts: { patient: string; as: string; category?: string; contentType?: string }, cmd: Command) =>
      run(async (o) => {
        checkInputPath(file, { home: resolveHome(o.home) })
        const doc = await documentFromFile(file, {
          ...(opts.category ? { category: opts.category } : {}),
          ...(opts.contentType ? { contentType: opts.contentType } : {}),
        })
        const result = await withMedvault(o, (mv) => issue(mv, o, doc, opts.patient, opts.as))
        emit(o, { ...result, category: doc.category, sensitivity: sensitivityNames(doc.sensitivity) }, () => [
          `Issued record #${result.tokenId} (${doc.category}${doc.sensitivity ? `, sensitive: ${sensitivityNames(doc.sensitivity).join(', ')}` : ''})`,
          `  stored      ${result.cid}`,
          `  commitment  ${result.commitment}`,
          `  tx          ${result.txHash}`,
          `Read it with: medvault record get ${result.tokenId} --as ${opts.patient}`,
          ...outcomeLine(result.outcome, 'this record'),
          ...(result.indexError ? [`Note: the index is behind (${result.indexError}); the server catches up by itself.`] : []),
        ])
      }, cmd),
    )

  record
    .command('amend')
    .argument('<token>', 'the record to correct')
    .argument('<file>', 'the corrected document')
    .requiredOption('--as <provider>', "the issuing provider's account")
    .option('--category <category>', 'category of the correction (default: derived, as for add)')
    .option('--content-type <type>', 'MIME type; required for non-FHIR files')
    .description('Issue a correction: a new record that supersedes the old one (which stays readable)')
    .action((token: string, file: string, opts: { as: string; category?: string; contentType?: string }, cmd: Command) =>
      run(async (o) => {
        const tokenId = parseTokenId(token)
        checkInputPath(file, { home: resolveHome(o.home) })
        const doc = await documentFromFile(file, {
          ...(opts.category ? { category: opts.category } : {}),
          ...(opts.contentType ? { contentType: opts.contentType } : {}),
        })
        const result = await withMedvault(o, async (mv) => {
          const old = await getOnChainRecord(mv, tokenId)
          return issue(mv, o, doc, old.owner, opts.as, tokenId)
        })
        emit(o, { ...result, supersedes: tokenId }, () => [
          `Issued record #${result.tokenId}, which amends #${tokenId} (still readable, marked amended).`,
          `  stored  ${result.cid}`,
          `  tx      ${result.txHash}`,
          ...outcomeLine(result.outcome, 'this amendment'),
        ])
      }, cmd),
    )

  record
    .command('list')
    .requiredOption('--patient <account-or-address>', 'whose records')
    .option(
      '--as <account>',
      "whose copy of the patient's category tags names the categories (default: the patient's own, if its account is here)",
    )
    .description("List a patient's records (no content: category, issuer, date, status)")
    .action((opts: { patient: string; as?: string }, cmd: Command) =>
      run(async (o) => {
        const { records, emergencies, providerNames } = await withMedvault(o, async (mv) => {
          const resolved = await resolvePatient(mv, opts.patient)
          const patient = resolved.address
          // The chain holds only tags: without the patient's table (their own, or one they shared
          // with --as) a category shows as "unknown".
          const viewerName = opts.as ?? (resolved.local ? resolved.name : undefined)
          const viewer = viewerName ? await unlock(mv, viewerName) : undefined
          const [records, emergencies] = await Promise.all([listRecords(mv, { patient, viewer }), listEmergencies(mv, patient)])
          const providerNames = new Map(
            await Promise.all(emergencies.map(async (e) => [e.provider, (await getProvider(mv, e.provider)).name] as const)),
          )
          return { records, emergencies, providerNames }
        })
        // Emergency accesses come first: a patient must never miss one.
        const banner = emergencies.map(
          (e) =>
            `!! EMERGENCY ACCESS by ${providerNames.get(e.provider) ?? e.provider} ${e.open ? 'OPEN' : 'was open'} until ${e.until.toISOString()} (non-sensitive records)`,
        )
        const listed = records.map((r) => ({ ...r, sensitivity: r.sensitivity === undefined ? null : sensitivityNames(r.sensitivity) }))
        emit(o, { emergencies, records: listed }, () => [
          ...banner,
          ...(records.length === 0
            ? ['No records yet.']
            : records.map(
                (r) =>
                  `#${String(r.tokenId).padEnd(5)} ${r.category.padEnd(14)} ${r.issuerName.padEnd(20)} ${r.issuedAt.toISOString().slice(0, 10)}` +
                  `${r.sensitivity ? '  [sensitive]' : ''}${r.supersededBy ? `  amended by #${r.supersededBy}` : ''}${r.supersedes ? `  amends #${r.supersedes}` : ''}` +
                  `${r.erasedAt ? `  [erased ${r.erasedAt.toISOString().slice(0, 10)}]` : ''}`,
              )),
        ])
      }, cmd),
    )

  record
    .command('get')
    .argument('<token>', 'the record')
    .requiredOption('--as <account>', 'who is reading (the patient, or someone they allowed)')
    .option('--out <file>', 'write the decrypted document to this file (written only once fully verified; outside the home)')
    .option('--force', 'replace --out if it exists')
    .description('Fetch, decrypt and verify a record')
    .action((token: string, opts: { as: string; out?: string; force?: boolean }, cmd: Command) =>
      run(async (o) => {
        const tokenId = parseTokenId(token)
        const out = opts.out ? checkOutPath(opts.out, { home: resolveHome(o.home), force: opts.force }) : undefined
        await withMedvault(o, async (mv) => {
          const reader = await unlock(mv, opts.as)
          const opened = await openRecord(mv, { tokenId, reader, ...(progressPrinter(o) ? { onProgress: progressPrinter(o)! } : {}) })
          const summary = {
            tokenId,
            // The issuer's signed word, checked against the token's tag when the record was opened.
            category: categoryName(opened.meta.category),
            issuer: opened.record.issuer,
            issuedAt: opened.record.issuedAt,
            contentType: opened.meta.contentType,
            size: opened.meta.size,
            verified: true,
            supersededBy: opened.record.supersededBy || undefined,
          }
          if (opts.out && out) {
            // Decrypt into a temporary file beside the target and rename only after the final
            // commitment check, so a tampered record never leaves plaintext at --out.
            const tmp = partialFileFor(out)
            try {
              await pipeline(opened.content, createWriteStream(tmp, { mode: 0o600, flags: 'wx' }))
              await placeFile(tmp, out, opts.force)
            } catch (error) {
              await rm(tmp, { force: true })
              throw error
            }
            emit(o, { ...summary, out: opts.out }, () => [`Record #${tokenId} verified and written to ${opts.out}.`])
            return
          }
          if (opened.meta.contentType !== FHIR_JSON) {
            for await (const _ of opened.content) {
              // verify the whole binary even though it is not shown
            }
            throw new InvalidInputError(`Record #${tokenId} is a binary document (${opened.meta.contentType}).`, {
              hint: 'Use --out FILE to save it.',
            })
          }
          const parts: Uint8Array[] = []
          for await (const part of opened.content) parts.push(part)
          const document = JSON.parse(Buffer.concat(parts).toString('utf8'))
          emit(o, { ...summary, document }, () => [JSON.stringify(document, null, 2)])
        })
      }, cmd),
    )

  record
    .command('verify')
    .argument('<token>', 'the record')
    .option('--as <account>', 'an account allowed to read it: also checks signature, decryption and commitment')
    .option('--file <file>', "check that this file is the record's content (needs --as)")
    .description("Verify a record's authenticity and integrity without asking its issuer")
    .action((token: string, opts: { as?: string; file?: string }, cmd: Command) =>
      run(async (o) => {
        const tokenId = parseTokenId(token)
        if (opts.file && !opts.as) {
          throw new InvalidInputError("Checking a file against a record needs the record's salt, which only its readers hold.", {
            hint: 'Add --as ACCOUNT (the patient, or someone they shared it with).',
          })
        }
        let file: Uint8Array | undefined
        if (opts.file) {
          file = await readFile(opts.file)
          if (opts.file.endsWith('.json')) file = canonicalFhirBytes(parseFhirResource(file))
        }
        const result = await withMedvault(o, async (mv) => {
          const reader = opts.as ? await unlock(mv, opts.as) : undefined
          return verifyRecord(mv, { tokenId, ...(reader ? { reader } : {}), ...(file ? { file } : {}) })
        })
        emit(o, { ...result }, () => [
          `Record #${tokenId}: ${result.valid ? 'VALID' : 'NOT VALID'}`,
          ...result.checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.message}`),
          ...(result.supersededBy ? [`  note: amended by #${result.supersededBy}; read that one for the current version.`] : []),
          ...(opts.as ? [] : ['  (add --as ACCOUNT to also check the issuer signature and content commitment)']),
        ])
        if (!result.valid) process.exitCode = 4
      }, cmd),
    )
}
