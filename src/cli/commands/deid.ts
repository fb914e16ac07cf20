import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import type { Bundle } from '@medplum/fhirtypes'
import type { Command } from 'commander'
import { InvalidInputError, NotFoundError } from '../../errors.js'
import { parseFhirResource } from '../../fhir/index.js'
import { DEFAULT_K, deidentifyBundle, deidentifyResources, kAnonymityReport, toNdjson } from '../../research/index.js'
import { type GlobalOptions, emit } from '../output.js'

type Run = (fn: (o: GlobalOptions) => Promise<void>, cmd: Command) => Promise<void>

type DeidCommandOptions = { out: string; study: string; keyFile?: string; k: string }

async function readInput(file: string, what: string): Promise<Uint8Array> {
  try {
    return await readFile(file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new NotFoundError(`The ${what} ${file} does not exist.`, { hint: 'Check the path.' })
    throw new InvalidInputError(`The ${what} ${file} cannot be read (${code ?? 'error'}).`)
  }
}

async function pseudonymKey(keyFile: string | undefined): Promise<Uint8Array> {
  if (keyFile === undefined) return randomBytes(32)
  const text = new TextDecoder().decode(await readInput(keyFile, 'key file')).trim()
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(text)) {
    throw new InvalidInputError('The key file must hold a 32-byte key as 64 hex digits.', { hint: 'Make one with `openssl rand -hex 32`.' })
  }
  return Uint8Array.from(Buffer.from(text.replace(/^0x/, ''), 'hex'))
}

export function deidCommands(program: Command, run: Run) {
  program
    .command('deid')
    .argument('<bundle>', 'a FHIR R4 Bundle (or one resource) of one patient, e.g. a Synthea export')
    .description('Make the HIPAA Safe Harbor de-identified copy a study would receive, as FHIR NDJSON, to inspect what leaves')
    .requiredOption('--out <file>', 'where to write the de-identified NDJSON')
    .option('--study <id>', 'the study the pseudonyms are made for', 'inspection')
    .option('--key-file <file>', "the patient's pseudonym key (64 hex digits); default a random key, so pseudonyms differ on every run")
    .option('--k <n>', 'the k of the k-anonymity report', String(DEFAULT_K))
    .action((bundle: string, opts: DeidCommandOptions, cmd: Command) =>
      run(async (o) => {
        const k = Number(opts.k)
        if (!Number.isInteger(k) || k < 1) throw new InvalidInputError(`--k must be a positive whole number, not "${opts.k}".`)
        const key = await pseudonymKey(opts.keyFile)
        const input = parseFhirResource(await readInput(bundle, 'file'))
        const inputCount = input.resourceType === 'Bundle' ? ((input as Bundle).entry ?? []).filter((e) => e.resource).length : 1
        const options = { pseudonymKey: key, studyId: opts.study }
        const result = input.resourceType === 'Bundle' ? deidentifyBundle(input as Bundle, options) : deidentifyResources([input], options)
        await writeFile(opts.out, toNdjson(result.resources), { mode: 0o600 })
        const removed: Record<string, number> = {}
        for (const r of result.removed) removed[r.kind] = (removed[r.kind] ?? 0) + 1
        const kAnonymity = kAnonymityReport(result.resources, k)
        const summary = {
          out: opts.out,
          study: opts.study,
          pseudonym: result.pseudonym,
          resourcesIn: inputCount,
          resourcesOut: result.resources.length,
          removed,
          kAnonymity,
        }
        emit(o, summary, () => [
          `Wrote ${summary.resourcesOut} de-identified resource(s) of ${summary.resourcesIn} to ${summary.out} (FHIR NDJSON).`,
          `Patient pseudonym for study "${summary.study}": ${summary.pseudonym}${opts.keyFile ? '' : ' (random key: differs on every run)'}`,
          'Removed or generalised, by Safe Harbor kind:',
          ...Object.entries(removed)
            .sort((a, b) => b[1] - a[1])
            .map(([kind, n]) => `  ${kind}: ${n}`),
          `k-anonymity over year of birth, sex, ZIP3: ${kAnonymity.classes} class(es), smallest ${kAnonymity.smallestClass} patient(s); ${
            kAnonymity.violating.length === 0
              ? `${k}-anonymous.`
              : `${kAnonymity.violating.length} class(es) under k=${k} (one patient alone always is).`
          }`,
        ])
      }, cmd),
    )
}
