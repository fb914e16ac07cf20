import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { type BenchResults, recordRun, writeResults } from '../../bench/baseline.js'

const run = (mibPerSecond: number, createdAt: string): BenchResults => ({
  createdAt,
  environment: { node: process.version, platform: 'test', cpu: 'test', cpus: 2 },
  metrics: {
    'throughput.sealAndStore': { label: 'seal + store', value: mibPerSecond, unit: 'MiB/s', kind: 'throughput' },
    'gas.mint': { label: 'mint', value: 100_000, unit: 'gas', kind: 'gas' },
  },
  details: {},
})

describe('bench: recording a run and comparing it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medvault-bench-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('--compare with the results file compares with the previous run, not with itself', () => {
    const resultsPath = join(dir, 'results.json')
    writeResults(resultsPath, run(100, '2026-01-01T00:00:00.000Z'))
    const { baseline, comparison } = recordRun(run(50, '2026-01-02T00:00:00.000Z'), { resultsPath, compareWith: resultsPath })
    assert.equal(baseline?.createdAt, '2026-01-01T00:00:00.000Z')
    assert.equal(comparison?.regressions.length, 1)
    assert.match(comparison?.regressions[0] ?? '', /throughput\.sealAndStore: .*100\.0 MiB\/s -> 50\.0 MiB\/s/)
    // The new run is still written.
    assert.equal((JSON.parse(readFileSync(resultsPath, 'utf8')) as BenchResults).createdAt, '2026-01-02T00:00:00.000Z')
  })

  it('compares only the measured rows with --only, and says when there is nothing to compare with', () => {
    const resultsPath = join(dir, 'only.json')
    const baselinePath = join(dir, 'baseline.json')
    writeResults(baselinePath, run(100, '2026-01-01T00:00:00.000Z'))
    const partial = run(95, '2026-01-02T00:00:00.000Z')
    delete partial.metrics['gas.mint']
    const { comparison } = recordRun(partial, { resultsPath, compareWith: baselinePath, only: 'throughput' })
    assert.deepEqual(comparison?.regressions, [])
    assert.doesNotMatch(comparison?.report ?? '', /missing/)
    assert.equal(recordRun(partial, { resultsPath, compareWith: join(dir, 'none.json') }).comparison, undefined)
  })
})
