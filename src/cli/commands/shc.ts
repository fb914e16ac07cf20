import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import type { Patient } from '@medplum/fhirtypes'
import { InvalidInputError } from '../../errors.js'
import { parseFhirResource } from '../../fhir/index.js'
import {
  type TrustSource,
  cardMatchesRecords,
  combineTrust,
  exportTrustSnapshot,
  healthCardFile,
  healthCardKeyFromSeed,
  issueCardFromRecords,
  jwksOf,
  jwksTrust,
  qrPng,
  registryTrust,
  revocationCheckerFromCrls,
  revokeRid,
  toQrNumeric,
  verifyHealthCard,
  vciDirectoryTrust,
  type VerifyOptions,
} from '../../shc/index.js'
import { checkOutPath, writeOutFile } from '../outFile.js'
import { resolveHome } from '../../home/index.js'
import { type GlobalOptions, collectList, emit } from '../output.js'
import { parseTokenId, unlock, withMedvault } from '../session.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

export function shcCommands(program: Command, run: Run) {
  const shc = program.command('shc').description('SMART Health Cards: vaccinations and results that verify instantly, offline if need be')

  shc
    .command('issue')
    .argument('<tokens...>', 'immunization or result records the provider may read')
    .requiredOption('--as <provider>', 'the issuing provider (the patient shares the records with it first)')
    .requiredOption('--out <path>', 'writes PATH.smart-health-card, PATH.png (QR) and PATH.txt (shc:/ text)')
    .option('--patient-file <file>', 'a FHIR Patient with name and birth date, when the records carry none')
    .option('--rid <rid>', 'revocation id, to be able to revoke this card later')
    .option('--force', 'replace --out if it exists')
    .description('Issue a SMART Health Card from records')
    .action((tokens: string[], opts: { as: string; out: string; patientFile?: string; rid?: string; force?: boolean }, cmd: Command) =>
      run(async (o) => {
        const tokenIds = tokens.map(parseTokenId)
        const outOptions = { home: resolveHome(o.home), force: opts.force }
        for (const ext of ['.smart-health-card', '.png', '.txt']) checkOutPath(`${opts.out}${ext}`, outOptions)
        const patient = opts.patientFile ? (parseFhirResource(await readFile(opts.patientFile)) as Patient) : undefined
        if (patient && patient.resourceType !== 'Patient') throw new InvalidInputError(`${opts.patientFile} is not a FHIR Patient.`)
        const card = await withMedvault(o, async (mv) =>
          issueCardFromRecords(mv, {
            provider: await unlock(mv, opts.as),
            tokenIds,
            issuerBaseUrl: mv.config.healthCards.issuerBaseUrl,
            ...(patient ? { patient } : {}),
            ...(opts.rid ? { rid: opts.rid } : {}),
          }),
        )
        const files = { card: `${opts.out}.smart-health-card`, qr: `${opts.out}.png`, text: `${opts.out}.txt` }
        await writeOutFile(files.card, JSON.stringify(healthCardFile([card.jws])), outOptions)
        const fitsOneQr = card.jws.length <= 1195
        if (fitsOneQr) {
          await writeOutFile(files.qr, await qrPng(card.jws), outOptions)
          await writeOutFile(files.text, `${toQrNumeric(card.jws)}\n`, outOptions)
        }
        emit(o, { iss: card.iss, kid: card.kid, jwsLength: card.jws.length, files: fitsOneQr ? files : { card: files.card } }, () => [
          `Issued a SMART Health Card (${card.jws.length} characters) as ${card.iss}.`,
          `  ${files.card}`,
          ...(fitsOneQr ? [`  ${files.qr}  (QR)`, `  ${files.text}  (shc:/ text)`] : ['  Too large for one QR code; share the file.']),
        ])
      }, cmd),
    )

  shc
    .command('verify')
    .argument('<input>', 'a .smart-health-card file, a file with shc:/ text or a JWS, or shc:/ text itself')
    .option('--trust-jwks <file-or-url>', 'trust this JWKS for the issuer named by --iss (an issuer outside medvault)')
    .option('--iss <url>', 'the issuer URL the --trust-jwks keys belong to')
    .option('--trust-list <file-or-url>', 'trust the issuers of a VCI directory snapshot (issuers, keys, CRLs)')
    .option('--offline', 'use only --trust-list / --trust-jwks files: no chain, no network')
    .option(
      '--record <tokens>',
      'also check the card carries exactly these records (needs --as, an account allowed to read them)',
      collectList,
    )
    .option('--as <account>', 'the account that may read the --record records')
    .description('Verify a SMART Health Card: signature, issuer trust, dates, revocation, size')
    .action(
      (
        input: string,
        opts: { trustJwks?: string; iss?: string; trustList?: string; offline?: boolean; record?: string[]; as?: string },
        cmd: Command,
      ) =>
        run(async (o) => {
          if (opts.trustJwks && !opts.iss) throw new InvalidInputError('--trust-jwks needs --iss, the issuer URL those keys belong to.')
          const text = input.startsWith('shc:/') || !existsSync(input) ? input : (await readFile(input, 'utf8')).trim()
          if (opts.offline && !opts.trustList && !opts.trustJwks) {
            throw new InvalidInputError('Offline verification needs a trust list.', {
              hint: 'Add --trust-list FILE (from `medvault shc trust-snapshot`).',
            })
          }
          const verify = async (registry: (TrustSource & { isRevoked?: VerifyOptions['isRevoked'] }) | undefined) => {
            const sources: TrustSource[] = registry ? [registry] : []
            if (opts.trustJwks && opts.iss) sources.push(await jwksTrust(opts.iss, opts.trustJwks))
            if (opts.trustList) sources.push(await vciDirectoryTrust(opts.trustList))
            const trust = combineTrust(sources)
            const fromLists = trust.crls?.size ? revocationCheckerFromCrls(trust.crls) : undefined
            const checkers = [registry?.isRevoked, fromLists].filter((c) => c !== undefined)
            return verifyHealthCard(text, {
              resolveIssuer: (iss) => trust.resolve(iss),
              ...(checkers.length
                ? {
                    isRevoked: async (iss: string, kid: string, rid: string, nbf: number) => {
                      for (const check of checkers) if (await check(iss, kid, rid, nbf)) return true
                      return false
                    },
                  }
                : {}),
            })
          }
          if (opts.record && (!opts.as || opts.offline)) {
            throw new InvalidInputError('Checking a card against records needs the chain and an account allowed to read them.', {
              hint: 'Add --as ACCOUNT, without --offline.',
            })
          }
          const verdict = opts.offline
            ? await verify(undefined)
            : await withMedvault(o, async (mv) => {
                const result = await verify(registryTrust(mv, mv.config.healthCards.issuerBaseUrl, mv.paths.healthCardCrls))
                if (opts.record && opts.as && result.payload) {
                  const tokenIds = opts.record.map(parseTokenId)
                  const match = await cardMatchesRecords(mv, {
                    cardBundle: result.payload.vc.credentialSubject.fhirBundle,
                    tokenIds,
                    reader: await unlock(mv, opts.as),
                  })
                  result.checks.push({
                    id: 'record',
                    ok: match.ok,
                    message: match.ok
                      ? `The card carries exactly what record(s) ${tokenIds.map((t) => `#${t}`).join(', ')} hold, and they match their on-chain commitments.`
                      : `The card does not carry what record(s) ${match.missing.map((t) => `#${t}`).join(', ')} hold.`,
                  })
                  result.valid = result.valid && match.ok
                }
                return result
              })
          const subject = verdict.payload?.vc.credentialSubject.fhirBundle.entry?.length ?? 0
          emit(o, { ...verdict }, () => [
            verdict.valid ? 'VALID SMART Health Card' : 'NOT VALID',
            ...(verdict.issuer ? [`  issuer: ${verdict.issuer.name} (${verdict.issuer.iss}), trusted via ${verdict.issuer.source}`] : []),
            ...verdict.checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.id}: ${c.message}`),
            ...(verdict.valid ? [`  ${subject} FHIR resources in the card`] : []),
          ])
          if (!verdict.valid) process.exitCode = 4
        }, cmd),
    )

  shc
    .command('trust-snapshot')
    .requiredOption('--out <file>', 'where to write the snapshot')
    .option('--force', 'replace --out if it exists')
    .description("Export the registry's active card issuers and keys as a VCI directory snapshot, for offline verifiers")
    .action((opts: { out: string; force?: boolean }, cmd: Command) =>
      run(async (o) => {
        const outOptions = { home: resolveHome(o.home), force: opts.force }
        checkOutPath(opts.out, outOptions)
        const snapshot = await withMedvault(o, (mv) => exportTrustSnapshot(mv, mv.config.healthCards.issuerBaseUrl))
        await writeOutFile(opts.out, `${JSON.stringify(snapshot, null, 2)}\n`, outOptions)
        emit(o, { out: opts.out, issuers: snapshot.issuerInfo.length, exportedAt: snapshot.exportedAt }, () => [
          `Wrote ${snapshot.issuerInfo.length} trusted issuer(s) to ${opts.out}. Verify offline with: medvault shc verify CARD --trust-list ${opts.out} --offline`,
        ])
      }, cmd),
    )

  shc
    .command('revoke')
    .argument('<rid>', 'the revocation id the card was issued with (--rid)')
    .requiredOption('--as <provider>', 'the issuing provider')
    .description('Revoke cards issued with this rid: they fail verification from now on')
    .action((rid: string, opts: { as: string }, cmd: Command) =>
      run(async (o) => {
        const crl = await withMedvault(o, async (mv) => {
          const provider = await unlock(mv, opts.as)
          const key = await healthCardKeyFromSeed(provider.healthCardSeed)
          return revokeRid(mv.paths.healthCardCrls, provider.address, key.kid, rid)
        })
        emit(o, { crl }, () => [`Revoked rid ${rid}; the revocation list for key ${crl.kid} is at version ${crl.ctr}.`])
      }, cmd),
    )

  shc
    .command('jwks')
    .requiredOption('--as <provider>', 'the issuing provider')
    .description("Print the provider's issuer keys as a JWKS, to serve at {iss}/.well-known/jwks.json")
    .action((opts: { as: string }, cmd: Command) =>
      run(async (o) => {
        const jwks = await withMedvault(o, async (mv) => {
          const key = await healthCardKeyFromSeed((await unlock(mv, opts.as)).healthCardSeed)
          return jwksOf([key.publicJwk])
        })
        emit(o, jwks, () => [JSON.stringify(jwks, null, 2)])
      }, cmd),
    )
}
