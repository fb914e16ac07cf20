/**
 * Bulk import: the generated 1,000-resource patient Bundle the integration test imports, through
 * the real embedded medvault (a home with its own anvil and on-disk Helia repository, key slips
 * and emergency escrow), as `medvault import` runs it. Reports records per second for the import
 * itself (sealing, storing, minting, key slips, journal), the one-off parse and validation of the
 * Bundle, and gas per record.
 */
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

export type ImportDetails = {
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
      'import.parseSeconds': {
        label: `import: parse and validate the ${IMPORT_RESOURCES}-resource bundle`,
        value: parseSeconds,
        unit: 's',
        kind: 'info',
      },
    }
    const details: ImportDetails = {
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
        ],
      ),
    ].join('\n')
    return { metrics, details, report }
  } finally {
    await mv.close().catch(() => undefined)
    dir.remove()
  }
}
