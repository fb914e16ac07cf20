import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Command } from 'commander'
import type { Hex } from 'viem'
import { type ClaimPresentation, proveClaim, verifyClaim } from '../../claims/index.js'
import { InvalidInputError, NotFoundError } from '../../errors.js'
import { checkOutPath, writeOutFile } from '../outFile.js'
import { resolveHome } from '../../home/index.js'
import { type GlobalOptions, collectList, emit } from '../output.js'
import { parseTokenId, resolveAddress, unlock, withMedvault } from '../session.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

const parseNonce = (value?: string) => {
  if (value === undefined) return undefined
  if (!/^0x[0-9a-fA-F]{64}$/.test(value)) throw new InvalidInputError('A nonce is 32 bytes of hex (0x + 64 digits).')
  return value as Hex
}

export function claimCommands(program: Command, run: Run) {
  const claim = program.command('claim').description('Proof of treatment for insurers: disclose only the fields a claim needs')

  claim
    .command('prove')
    .argument('<tokens...>', 'the records backing the claim')
    .requiredOption('--fields <pointers>', 'JSON Pointers of the fields to disclose, e.g. /code,/effectiveDateTime', collectList)
    .requiredOption('--for <insurer>', 'the insurer (account name or address) the proof is for')
    .requiredOption('--as <patient>', 'the patient')
    .requiredOption('--out <file>', 'where to write the presentation')
    .option('--nonce <hex>', 'the nonce the insurer asked for (default: a fresh one)')
    .option('--force', 'replace --out if it exists')
    .action(
      (tokens: string[], opts: { fields: string[]; for: string; as: string; out: string; nonce?: string; force?: boolean }, cmd: Command) =>
        run(async (o) => {
          const outOptions = { home: resolveHome(o.home), force: opts.force }
          checkOutPath(opts.out, outOptions)
          const nonce = parseNonce(opts.nonce)
          const presentation = await withMedvault(o, async (mv) =>
            proveClaim(mv, {
              patient: await unlock(mv, opts.as),
              tokenIds: tokens.map(parseTokenId),
              fields: opts.fields,
              audience: resolveAddress(mv, opts.for),
              ...(nonce ? { nonce } : {}),
            }),
          )
          await writeOutFile(opts.out, `${JSON.stringify(presentation, null, 2)}\n`, outOptions)
          const count = presentation.items.reduce((n, i) => n + i.disclosures.length, 0)
          emit(o, { out: opts.out, audience: presentation.audience, nonce: presentation.nonce, disclosed: count }, () => [
            `Wrote ${opts.out}: ${count} field(s) of ${presentation.items.length} record(s) for ${opts.for}; nothing else is revealed.`,
          ])
        }, cmd),
    )

  claim
    .command('verify')
    .argument('<file>', 'a presentation from `claim prove`')
    .requiredOption('--as <insurer>', 'the insurer verifying it')
    .option('--nonce <hex>', 'the nonce this insurer asked for')
    .action((file: string, opts: { as: string; nonce?: string }, cmd: Command) =>
      run(async (o) => {
        const presentation = (await readFile(file, 'utf8').then(JSON.parse, (cause: unknown) => {
          throw new NotFoundError(`Cannot read the presentation ${file}.`, { cause, hint: 'Check the path.' })
        })) as ClaimPresentation
        const expectedNonce = parseNonce(opts.nonce)
        const verdict = await withMedvault(o, async (mv) => {
          const verifier = resolveAddress(mv, opts.as)
          // Nonces this verifier accepted before, so a presentation cannot be replayed to it.
          const seenFile = join(mv.paths.dir, 'claims', `${verifier}.seen.json`)
          const seen: string[] = existsSync(seenFile) ? JSON.parse(readFileSync(seenFile, 'utf8')) : []
          const result = await verifyClaim(mv, {
            presentation,
            verifier,
            ...(expectedNonce ? { expectedNonce } : {}),
            seenNonce: async (nonce) => seen.includes(nonce),
          })
          if (result.valid) {
            mkdirSync(join(mv.paths.dir, 'claims'), { recursive: true })
            writeFileSync(seenFile, JSON.stringify([...seen, presentation.nonce]))
          }
          return result
        })
        emit(o, { ...verdict }, () => [
          verdict.valid ? 'VALID proof of treatment' : 'NOT VALID',
          ...verdict.checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.message}`),
          ...verdict.disclosed.flatMap((d) => [
            `  record #${d.tokenId} from ${d.issuer}, issued ${d.issuedAt}:`,
            ...Object.entries(d.fields).map(([path, value]) => `    ${path} = ${JSON.stringify(value)}`),
          ]),
        ])
        if (!verdict.valid) process.exitCode = 4
      }, cmd),
    )
}
