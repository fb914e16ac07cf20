/**
 * medvault benchmark: gas per operation on a real anvil, encryption/storage throughput, peak
 * memory while storing a 1 GiB blob, and consent and audit (grant/revoke and anchoring gas, audit
 * log and canAccess timings, on a second anvil), and SMART Health Cards (issue, verify offline and
 * against the registry on a third anvil), and bulk import (records per second and gas per record for
 * a generated 1,000-resource patient Bundle, on a fourth). Prints tables, writes bench/results.json
 * (with the machine's details), compares it with a committed run, and ends with one headline table
 * of each figure next to its reference.
 *
 *   npm run bench                              # measure, compare with bench/baseline.json
 *   npm run bench -- --compare OTHER.json      # compare with another run's results
 *   npm run bench -- --update-baseline         # measure, then make this run the new baseline
 *   npm run bench -- --readme                  # also rewrite the headline table in docs/benchmarks.md
 *   npm run bench -- --only server             # one section (by a word of its title); with --update-baseline
 *                                              # only its rows of the baseline are replaced
 *
 * It is a report, not a test: it exits 0 even when it prints REGRESSION lines. It exits 1 only
 * when a measurement could not be taken at all (and then never rewrites the baseline).
 */
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { measureArchive } from './archive.js'
import { type BenchResults, compare, environment, readResults, writeResults } from './baseline.js'
import { measureConsentAudit } from './consent.js'
import { measureGas } from './gas.js'
import { measureHealthCards } from './healthCards.js'
import { measureImport } from './import.js'
import { measureIpfsPeers } from './ipfsPeers.js'
import { measureLargeStore } from './memory.js'
import { measureServer } from './server.js'
import { headlineRows, headlineTable, writeHeadline } from './summary.js'
import { measureThroughput } from './throughput.js'
import { type Metrics, progress, section } from './util.js'

const here = dirname(fileURLToPath(import.meta.url))
const RESULTS = join(here, 'results.json')
const BASELINE = join(here, 'baseline.json')
const HEADLINE_PAGE = join(here, '..', 'docs', 'benchmarks.md')
const flag = (name: string) => process.argv.includes(name)
const option = (name: string) => {
  const at = process.argv.indexOf(name)
  return at >= 0 ? process.argv[at + 1] : undefined
}
const updateBaseline = flag('--update-baseline')
const updateReadme = flag('--readme')
const only = option('--only')?.toLowerCase()
const compareWith = resolve(option('--compare') ?? BASELINE)

const metrics: Metrics = {}
const details: Record<string, unknown> = {}
const failures: string[] = []

const env = environment()
console.log(`medvault bench: node ${env.node}, ${env.platform}, ${env.cpus} x ${env.cpu}`)

async function part(title: string, measure: () => Promise<{ metrics: Metrics; details: unknown; report: string }>): Promise<void> {
  if (only && !title.toLowerCase().includes(only)) return
  const t0 = performance.now()
  try {
    const result = await measure()
    Object.assign(metrics, result.metrics)
    details[title] = result.details
    section(`${title} (${((performance.now() - t0) / 1000).toFixed(1)} s)`)
    console.log(result.report)
    console.log()
  } catch (error) {
    failures.push(title)
    section(`${title}: FAILED`)
    console.log(error instanceof Error ? (error.stack ?? error.message) : String(error))
    console.log()
  }
}

await part('1. Gas per operation', measureGas)
await part('2. Throughput', measureThroughput)
await part('3. Peak memory storing 1 GiB', measureLargeStore)
await part('4. Consent and audit', measureConsentAudit)
await part('5. Health cards', measureHealthCards)
await part('6. Bulk import', measureImport)
await part('7. Server: history assembly and reads under load', measureServer)
await part('8. Archive onboarding', measureArchive)
await part('9. IPFS peers: reads from another node over libp2p', measureIpfsPeers)

const results: BenchResults = { createdAt: new Date().toISOString(), environment: env, metrics, details }
writeResults(RESULTS, results)
progress(`wrote ${relative(process.cwd(), RESULTS)}`)

section(`Comparison with ${relative(process.cwd(), compareWith)}`)
const baseline = readResults(compareWith)
let regressions: string[] = []
if (!baseline) {
  console.log(`${compareWith} does not exist: run \`npm run bench -- --update-baseline\` to record this machine's figures.`)
} else {
  // With --only, the other sections were not measured: compare the rows that were.
  const scope = only
    ? { ...baseline, metrics: Object.fromEntries(Object.entries(baseline.metrics).filter(([key]) => key in metrics)) }
    : baseline
  const comparison = compare(metrics, scope)
  regressions = comparison.regressions
  console.log(comparison.report)
  console.log()
  if (regressions.length === 0) console.log('No regressions.')
  for (const line of regressions) console.log(line)
}

if (updateBaseline) {
  if (failures.length > 0) {
    console.log(`\nBaseline NOT updated: ${failures.join(', ')} failed.`)
  } else {
    // One section measured: its rows replace theirs in the baseline, the rest stay as they were.
    const current = readResults(BASELINE)
    const merged: BenchResults =
      only && current ? { ...results, metrics: { ...current.metrics, ...metrics }, details: { ...current.details, ...details } } : results
    writeResults(BASELINE, merged)
    console.log(`\nBaseline updated: ${relative(process.cwd(), BASELINE)}${only ? ` (the rows of "${only}")` : ''}`)
  }
}

section('Headline: each figure next to its reference')
console.log(headlineTable(headlineRows(metrics)))
if (updateReadme) {
  if (only || failures.length > 0) console.log('\ndocs/benchmarks.md not updated: it shows a complete run only.')
  else {
    writeHeadline(HEADLINE_PAGE, results)
    console.log(`\ndocs/benchmarks.md headline table updated from ${relative(process.cwd(), RESULTS)}`)
  }
}

if (failures.length > 0) {
  console.log(`\nFAILED: ${failures.join(', ')}`)
  process.exit(1)
}
// Helia and viem may leave timers behind; the report is complete.
process.exit(0)
