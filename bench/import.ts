/**
 * Bulk import: the generated 1,000-resource patient Bundle the integration test imports, through
 * the real embedded medvault (a home with its own anvil and on-disk Helia repository, key slips
 * and emergency escrow), as `medvault import` runs it. Reports records per second for the import
 * itself (sealing, storing, minting, key slips, journal), the one-off parse and validation of the
 * Bundle, and gas per record. Then each real Synthea history in ../shared/fixtures/synthea (R4
 * transaction Bundles with urn:uuid: references), each to a patient of its own, one row per Bundle.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { privateKeyToAccount } from 'viem/accounts'
import { EMBEDDED_DEV_KEY } from '../src/chain/embedded.js'
import { authorizeProvider, registerProvider } from '../src/directory/index.js'
import { createAccount } from '../src/home/createAccount.js'
import { openMedvault } from '../src/home/openMedvault.js'
import { DEFAULT_BATCH_SIZE, importBundle, parseImportBundle, syntheticPatientBundle } from '../src/import/index.js'
import { type Metrics, fmt, fmtInt, progress, table, tempDir } from './util.js'

export const IMPORT_RESOURCES = 1000
const PASSPHRASE = 'bench-passphrase'

/** The steering side's Synthea R4 histories (absent on a machine without them: the rows are then skipped, saying so). */
const SYNTHEA_DIR = '/work/shared/fixtures/synthea'

type SyntheaRow = { bundle: string; records: number; seconds: number; recordsPerSecond: number }

export type ImportDetails = {
  synthea: SyntheaRow[]
  resources: number
  batchSize: number
  batches: number
  parseSeconds: number
  importSeconds: number
  gasUsed: string
  bundleBytes: number
}

export async function measureImport(): Promise<{ metrics: Metrics; details: ImportDetails; report: string }> {
  const dir = tempDir('import')
  const mv = await openMedvault({ home: dir.path })
  try {
    progress('import: accounts, provider registration, standing authorisation')
    await createAccount(mv, 'lab', PASSPHRASE)
    await createAccount(mv, 'patient', PASSPHRASE)
    const lab = await mv.keystore.unlock('lab', PASSPHRASE)
    const patient = await mv.keystore.unlock('patient', PASSPHRASE)
    await registerProvider(mv, privateKeyToAccount(EMBEDDED_DEV_KEY), {
      provider: lab.address,
      name: 'Bench Lab',
      encryptionKey: lab.encryptionPublicKey,
    })
    await authorizeProvider(mv, patient, lab.address, new Date(Date.now() + 86_400_000))

    const bytes = new TextEncoder().encode(JSON.stringify(syntheticPatientBundle({ resources: IMPORT_RESOURCES, seed: 1000 })))
    progress(`import: parsing and validating a ${IMPORT_RESOURCES}-resource bundle (${fmt(bytes.byteLength / 1e6, 2)} MB)`)
    const t0 = performance.now()
    const bundle = parseImportBundle(bytes)
    const parseSeconds = (performance.now() - t0) / 1000

    progress(`import: importing ${bundle.entries.length} records in batches of ${DEFAULT_BATCH_SIZE}`)
    let lastShown = 0
    const result = await importBundle(mv, {
      issuer: lab,
      patient,
      bundle,
      journalDir: join(dir.path, 'imports'),
      onProgress: (p) => {
        if (p.confirmed - lastShown >= 250) {
          lastShown = p.confirmed
          progress(`import: ${p.confirmed}/${p.total} records`)
        }
      },
    })
    if (result.imported !== IMPORT_RESOURCES) throw new Error(`imported ${result.imported} of ${IMPORT_RESOURCES} records`)
    const gasPerRecord = Number(result.gasUsed) / result.imported

    const synthea: SyntheaRow[] = []
    const files = existsSync(SYNTHEA_DIR)
      ? readdirSync(SYNTHEA_DIR)
          .filter((f) => f.endsWith('.json'))
          .sort()
      : []
    if (files.length === 0) progress(`import: no Synthea bundles in ${SYNTHEA_DIR}, their rows are skipped`)
    for (const [i, file] of files.entries()) {
      const name = file.split('_').slice(0, 2).join(' ')
      const owner = `synthea${i}`
      await createAccount(mv, owner, PASSPHRASE)
      const history = await mv.keystore.unlock(owner, PASSPHRASE)
      await authorizeProvider(mv, history, lab.address, new Date(Date.now() + 86_400_000))
      const parsed = parseImportBundle(readFileSync(join(SYNTHEA_DIR, file)))
      progress(`import: Synthea ${name}, ${parsed.entries.length} records`)
      const imported = await importBundle(mv, { issuer: lab, patient: history, bundle: parsed, journalDir: join(dir.path, 'imports') })
      synthea.push({ bundle: name, records: imported.imported, seconds: imported.seconds, recordsPerSecond: imported.recordsPerSecond })
    }

    const metrics: Metrics = {
      'import.recordsPerSecond': {
        label: `import of ${IMPORT_RESOURCES} FHIR resources (seal, store, mint, key slips)`,
        value: result.recordsPerSecond,
        unit: 'records/s',
        kind: 'throughput',
      },
      'import.gasPerRecord': {
        label: `import: gas per record (mintBatch of ${DEFAULT_BATCH_SIZE})`,
        value: gasPerRecord,
        unit: 'gas',
        kind: 'gas',
      },
      ...Object.fromEntries(
        synthea.map((r, i) => [
          `import.synthea.${i}.recordsPerSecond`,
          {
            label: `import of Synthea ${r.bundle} (${r.records} records)`,
            value: r.recordsPerSecond,
            unit: 'records/s',
            kind: 'throughput',
          },
        ]),
      ),
      'import.parseSeconds': {
        label: `import: parse and validate the ${IMPORT_RESOURCES}-resource bundle`,
        value: parseSeconds,
        unit: 's',
        kind: 'info',
      },
    }
    const details: ImportDetails = {
      synthea,
      resources: IMPORT_RESOURCES,
      batchSize: DEFAULT_BATCH_SIZE,
      batches: result.batches.length,
      parseSeconds,
      importSeconds: result.seconds,
      gasUsed: result.gasUsed.toString(),
      bundleBytes: bytes.byteLength,
    }
    const report = [
      `embedded medvault (anvil + on-disk Helia, key slips and escrow), ${IMPORT_RESOURCES} resources, ${fmt(bytes.byteLength / 1e6, 2)} MB of JSON`,
      '',
      table(
        ['what', 'figure'],
        [
          ['parse + validate + categorise (once)', `${fmt(parseSeconds, 2)} s`],
          ['import', `${fmt(result.seconds, 1)} s, ${fmt(result.recordsPerSecond, 1)} records/s`],
          ['batches', `${result.batches.length} x ${DEFAULT_BATCH_SIZE}`],
          ['gas', `${fmtInt(result.gasUsed)} total, ${fmtInt(Math.round(gasPerRecord))} per record`],
          ...synthea.map((r) => [
            `Synthea ${r.bundle}, ${r.records} records`,
            `${fmt(r.seconds, 1)} s, ${fmt(r.recordsPerSecond, 1)} records/s`,
          ]),
        ],
      ),
      '',
      'Target (issue 17): 500 records/s for each.',
    ].join('\n')
    return { metrics, details, report }
  } finally {
    await mv.close().catch(() => undefined)
    dir.remove()
  }
}
