/** Results files and the comparison of a run against a committed one (bench/baseline.json by default). */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, platform, release, totalmem } from 'node:os'
import { type Metric, type Metrics, fmt, table } from './util.js'

/** Gas is deterministic: any growth past rounding (1%) is a real change in the contracts. */
export const GAS_TOLERANCE = 0.01
/** Throughput may not drop by more than this fraction. On a shared machine, rerun a flagged section with --only before believing it. */
export const THROUGHPUT_TOLERANCE = 0.1
/** Peak RSS may not grow by more than this fraction. */
export const MEMORY_TOLERANCE = 0.1

export type BenchResults = {
  createdAt: string
  environment: { node: string; platform: string; cpu: string; cpus: number; memoryGiB?: number }
  metrics: Metrics
  details: Record<string, unknown>
}

export function environment(): BenchResults['environment'] {
  const list = cpus()
  return {
    node: process.version,
    platform: `${platform()} ${release()}`,
    cpu: list[0]?.model.trim() ?? 'unknown',
    cpus: list.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
  }
}

export function writeResults(path: string, results: BenchResults): void {
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`)
}

export function readResults(path: string): BenchResults | undefined {
  if (!existsSync(path)) return undefined
  return JSON.parse(readFileSync(path, 'utf8')) as BenchResults
}

/**
 * Records a run: writes `results` to `resultsPath` and compares its metrics with the run saved at
 * `compareWith` (undefined when there is none). With `only`, the rows of sections that were not
 * measured are left out of the comparison.
 */
export function recordRun(
  results: BenchResults,
  { resultsPath, compareWith, only }: { resultsPath: string; compareWith: string; only?: string | undefined },
): { baseline: BenchResults | undefined; comparison: { report: string; regressions: string[] } | undefined } {
  // Read before writing: `--compare bench/results.json` means the previous run, which the write replaces.
  const baseline = readResults(compareWith)
  writeResults(resultsPath, results)
  if (!baseline) return { baseline, comparison: undefined }
  const { metrics } = results
  const scope = only
    ? { ...baseline, metrics: Object.fromEntries(Object.entries(baseline.metrics).filter(([key]) => key in metrics)) }
    : baseline
  return { baseline, comparison: compare(metrics, scope) }
}

const show = (m: Metric) =>
  m.unit === 'gas' ? Math.round(m.value).toLocaleString('en-US') : m.unit === 'x' ? `${fmt(m.value, 2)}x` : `${fmt(m.value)} ${m.unit}`

/** The comparison table and one REGRESSION line per metric past its threshold. */
export function compare(current: Metrics, baseline: BenchResults): { report: string; regressions: string[] } {
  const regressions: string[] = []
  const rows: string[][] = []
  const keys = [...new Set([...Object.keys(current), ...Object.keys(baseline.metrics)])]
  for (const key of keys) {
    const now = current[key]
    const before = baseline.metrics[key]
    if (!now || !before) {
      rows.push([(now ?? before)!.label, before ? show(before) : '-', now ? show(now) : '-', '', now ? 'new' : 'missing'])
      continue
    }
    const change = (now.value - before.value) / before.value
    let status = ''
    if (now.kind === 'gas') {
      if (change > GAS_TOLERANCE) status = 'REGRESSION'
      else if (change < -GAS_TOLERANCE) status = 'improved'
    } else if (now.kind === 'throughput') {
      if (change < -THROUGHPUT_TOLERANCE) status = 'REGRESSION'
      else if (change > THROUGHPUT_TOLERANCE) status = 'improved'
    } else if (now.kind === 'memory') {
      if (change > MEMORY_TOLERANCE) status = 'REGRESSION'
      else if (change < -MEMORY_TOLERANCE) status = 'improved'
    }
    if (status === 'REGRESSION') {
      const rule =
        now.kind === 'gas'
          ? `gas grew more than ${GAS_TOLERANCE * 100}%`
          : now.kind === 'throughput'
            ? `throughput fell more than ${THROUGHPUT_TOLERANCE * 100}%`
            : `peak memory grew more than ${MEMORY_TOLERANCE * 100}%`
      regressions.push(`REGRESSION ${key}: ${now.label}: ${show(before)} -> ${show(now)} (${sign(change)}; ${rule})`)
    }
    rows.push([now.label, show(before), show(now), sign(change), status])
  }
  const report = [
    `baseline from ${baseline.createdAt} (node ${baseline.environment.node}, ${baseline.environment.cpus} x ${baseline.environment.cpu})`,
    `thresholds: gas +${GAS_TOLERANCE * 100}%, throughput -${THROUGHPUT_TOLERANCE * 100}%, peak RSS +${MEMORY_TOLERANCE * 100}%`,
    '',
    table(['metric', 'baseline', 'now', 'delta', 'status'], rows),
  ].join('\n')
  return { report, regressions }
}

function sign(change: number): string {
  const pct = change * 100
  return `${pct >= 0 ? '+' : ''}${fmt(pct, 2)}%`
}
