/**
 * The headline table: each figure next to the reference that gives it meaning (a plain
 * OpenZeppelin mint, the cost of one new storage slot, plain node:crypto, a plaintext read).
 * Written into docs/benchmarks.md between markers by `npm run bench -- --readme`, so the published table
 * is always the one a run produced.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import type { BenchResults } from './baseline.js'
import { type Metrics, fmt, fmtInt } from './util.js'

/** SSTORE of a fresh slot (20,000) plus its cold access (2,100): no token can cost less than one. */
export const NEW_SLOT_GAS = 22_100

type Row = { what: string; figure: string; reference: string; ratio: string }

const gas = (n: number) => `${fmtInt(Math.round(n))} gas`
// Below 1% a ratio reads better as a percentage (98 gas is 0.065% of a mint, not 0.001x).
const times = (a: number, b: number) => (a / b < 0.01 ? `${fmt((100 * a) / b, 3)}%` : `${fmt(a / b, 2)}x`)

/**
 * Rows whose metrics were measured in this run; rows whose inputs are missing (a section skipped
 * with --only, or one that failed) are left out rather than shown with stale numbers.
 */
export function headlineRows(m: Metrics): Row[] {
  const rows: Row[] = []
  const value = (key: string) => m[key]?.value
  const mint = value('gas.baselineMint')
  const perRecordGas: [string, string][] = [
    ['mint with the patient’s EIP-712 consent', 'gas.mintConsent'],
    ['mint under a standing authorisation', 'gas.mintStanding'],
    ['`mintBatch` of 50, per record', 'gas.mintBatch50'],
    ['import of 1,000 FHIR resources, per record', 'import.gasPerRecord'],
    ['archive anchoring, N = 1,000, per record', 'archive.gasPerRecord.1000'],
    ['archive anchoring, N = 10,000, per record', 'archive.gasPerRecord.10000'],
    // Not per record, but the same references say what a grant costs in chain state: one new slot.
    ['grant of two categories to a new grantee', 'gas.grant'],
    ['revoke', 'gas.revoke'],
  ]
  for (const [what, key] of perRecordGas) {
    const v = value(key)
    if (v === undefined || mint === undefined) continue
    rows.push({
      what,
      figure: gas(v),
      reference: `OZ ERC721URIStorage mint ${gas(mint)}; one new slot ${gas(NEW_SLOT_GAS)}`,
      ratio: `${times(v, mint)} of the mint; ${times(v, NEW_SLOT_GAS)} of the slot`,
    })
  }
  const aes = value('throughput.aesGcm')
  const mib = (n: number) => `${fmt(n)} MiB/s`
  for (const [what, key, ceilingKey] of [
    ['segmented AES-256-GCM (encryptStream)', 'throughput.encryptStream', undefined],
    ['encrypt + store + pin in Helia', 'throughput.sealAndStore', 'throughput.storeCeiling'],
    ['fetch + decrypt + verify', 'throughput.catAndOpen', 'throughput.fetchCeiling'],
  ] as const) {
    const v = value(key)
    if (v === undefined || aes === undefined) continue
    // The most the machine allows: AES, SHA-256 and the file I/O of the same bytes on every core at once (bench/throughput.ts).
    const most = ceilingKey && value(ceilingKey)
    rows.push({
      what,
      figure: mib(v),
      reference: `node:crypto AES-256-GCM ${mib(aes)}${most ? `; two-core ceiling with hashing and file I/O ${mib(most)}` : ''}`,
      ratio: `${times(v, aes)}${most ? `; ${times(v, most)} of the ceiling` : ''}`,
    })
  }
  const everything = value('server.everything.ms')
  const plaintext = value('server.plaintext.ms')
  if (everything !== undefined && plaintext !== undefined) {
    rows.push({
      what: '`$everything`, 1,000 records, verified and decrypted',
      figure: `${fmtInt(Math.round(everything))} ms`,
      reference: `plaintext Bundle read + parse ${fmt(plaintext)} ms`,
      ratio: times(everything, plaintext),
    })
  }
  return rows
}

export function headlineTable(rows: Row[]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [
    line(['what', 'figure', 'reference', 'ratio']),
    line(['---', '---:', '---', '---:']),
    ...rows.map((r) => line([r.what, r.figure, r.reference, r.ratio])),
  ].join('\n')
}

const START = '<!-- bench:headline:start -->'
const END = '<!-- bench:headline:end -->'

/** Replaces the headline block of a Markdown page (docs/benchmarks.md) with the table of these results. */
export function writeHeadline(pagePath: string, results: BenchResults): void {
  const readme = readFileSync(pagePath, 'utf8')
  const from = readme.indexOf(START)
  const to = readme.indexOf(END)
  if (from < 0 || to < from) throw new Error(`${pagePath} has no ${START} … ${END} block to fill.`)
  const env = results.environment
  const block = [
    START,
    `Measured ${results.createdAt.slice(0, 10)} on ${env.cpus} × ${env.cpu}, ${env.memoryGiB} GiB, Node ${env.node} (\`bench/results.json\`):`,
    '',
    headlineTable(headlineRows(results.metrics)),
    END,
  ].join('\n')
  writeFileSync(pagePath, readme.slice(0, from) + block + readme.slice(to + END.length))
}
