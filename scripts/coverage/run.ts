/**
 * `npm run coverage`: line, statement, branch and function coverage of the contracts under
 * contracts/ (not contracts/test or contracts/bench), measured by running the contract tests
 * (test/contracts/*.test.ts) against instrumented builds on anvil.
 *
 * solidity-coverage's library instruments the sources; solc-js compiles them; module hooks
 * (register.mjs) hand the tests the instrumented artifacts and an anvil behind a tracing proxy
 * (proxy.ts) that counts every injected hash the EVM executes; solidity-coverage turns the counts
 * into an istanbul report under coverage/ (html, lcov.info, coverage-summary.json).
 *
 * Exits non-zero if a test fails, a trace cannot be taken, or any measured contract has less than
 * 95% of its lines or branches covered (per contract, so a well-tested contract cannot hide a
 * poorly tested one in the total).
 *
 * Usage: `npm run coverage [-- test/contracts/X.test.ts ...]`. For working on it:
 * MEDVAULT_COVERAGE_REPORTER (node's test reporter, default dot), MEDVAULT_COVERAGE_PATTERN (a
 * --test-name-pattern), MEDVAULT_COVERAGE_KEEP=1 (keep coverage/.run: instrumented artifacts,
 * hit counts per test process).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative, resolve } from 'node:path'
import { type CoverageApi, type InstrumentationData, instrumentAndCompile } from './instrument.js'
import { OUT, compileTests, removeCompiledTests } from '../compile-tests.mjs'

const THRESHOLD = { lines: 95, branches: 95 }
const root = join(import.meta.dirname, '..', '..')
const outDir = join(root, 'coverage')
const runDir = join(outDir, '.run')
const started = Date.now()

const require = createRequire(import.meta.url)
const API = require('solidity-coverage/api') as new (config: object) => CoverageApi
const api = new API({ cwd: root, silent: true, istanbulReporter: ['html', 'lcov', 'json-summary'], istanbulFolder: outDir })
api.saveCoverage = (data: unknown) => writeFileSync(join(outDir, 'coverage.json'), JSON.stringify(data))

rmSync(outDir, { recursive: true, force: true })
mkdirSync(runDir, { recursive: true })
const measured = instrumentAndCompile(api, root, join(runDir, 'artifacts'))
const data = api.getInstrumentationData()
writeFileSync(join(runDir, 'instrumentation.json'), JSON.stringify(data))
console.log(`coverage: instrumented ${measured.length} contracts (${Object.keys(data).length} probes) in ${Date.now() - started} ms`)

const only = process.argv.slice(2)
const testDir = join(root, 'test', 'contracts')
const files =
  only.length > 0
    ? only
    : readdirSync(testDir)
        .filter((f) => f.endsWith('.test.ts'))
        .sort()
        .map((f) => relative(root, join(testDir, f)))
// The test files run precompiled, as in `npm test` (scripts/compile-tests.mjs): without tsx's
// module hooks each test process loads in about half the CPU (docs/tests.md).
const compiled = await compileTests()
console.log(`coverage: ${compiled.files} TypeScript files compiled into ${relative(root, OUT)}/ in ${compiled.ms} ms`)
const tests = spawnSync(
  process.execPath,
  [
    '--enable-source-maps',
    '--import',
    join(OUT, 'scripts', 'coverage', 'register.mjs'),
    '--test',
    '--test-concurrency=2',
    ...(process.env.MEDVAULT_COVERAGE_PATTERN ? [`--test-name-pattern=${process.env.MEDVAULT_COVERAGE_PATTERN}`] : []),
    `--test-reporter=${process.env.MEDVAULT_COVERAGE_REPORTER ?? 'dot'}`,
    ...files.map((f) => join(OUT, relative(root, resolve(root, f)).replace(/\.ts$/, '.js'))),
  ],
  { cwd: root, stdio: 'inherit', env: { FC_RUNS: '5', ...process.env, MEDVAULT_COVERAGE: '1', MEDVAULT_COVERAGE_DIR: runDir } },
)
removeCompiledTests()

const failures: string[] = []
const hitsDir = join(runDir, 'hits')
for (const file of existsSync(hitsDir) ? readdirSync(hitsDir) : []) {
  const run = JSON.parse(readFileSync(join(hitsDir, file), 'utf8')) as { hits: Record<string, number>; failures: string[] }
  for (const [hash, n] of Object.entries(run.hits)) data[hash]!.hits += n
  failures.push(...run.failures)
}
api.setInstrumentationData(data as InstrumentationData)
await api.report(outDir)

type FileCoverage = {
  l: Record<string, number>
  s: Record<string, number>
  f: Record<string, number>
  b: Record<string, number[]>
  branchMap: Record<string, { line: number; type: string }>
}
const pct = (covered: number, total: number) => (total === 0 ? 100 : (100 * covered) / total)
const rows = Object.entries(api.coverage.data as Record<string, FileCoverage>).map(([path, c]) => {
  const lines = Object.values(c.l)
  const branches = Object.values(c.b).flat()
  return {
    contract: relative(root, path),
    lines: pct(lines.filter((n) => n > 0).length, lines.length),
    statements: pct(Object.values(c.s).filter((n) => n > 0).length, Object.values(c.s).length),
    branches: pct(branches.filter((n) => n > 0).length, branches.length),
    functions: pct(Object.values(c.f).filter((n) => n > 0).length, Object.values(c.f).length),
    uncoveredLines: Object.entries(c.l)
      .filter(([, n]) => n === 0)
      .map(([line]) => Number(line)),
    // "line 40 (if, side 1)": side 0 is the condition holding (for `require`, passing), 1 the other.
    untakenBranches: Object.entries(c.b).flatMap(([id, counts]) =>
      counts.flatMap((n, side) => (n === 0 ? [`${c.branchMap[id]!.line} (${c.branchMap[id]!.type}, side ${side})`] : [])),
    ),
  }
})
const f1 = (n: number) => `${n.toFixed(1)}%`.padStart(8)
console.log(`\n${'contract'.padEnd(32)}${'lines'.padStart(8)}${'stmts'.padStart(8)}${'branches'.padStart(10)}${'funcs'.padStart(8)}`)
for (const r of rows) {
  console.log(`${r.contract.padEnd(32)}${f1(r.lines)}${f1(r.statements)}  ${f1(r.branches)}${f1(r.functions)}`)
}
for (const r of rows) {
  if (r.uncoveredLines.length > 0) console.log(`  ${r.contract}: lines not run ${r.uncoveredLines.join(', ')}`)
  if (r.untakenBranches.length > 0) console.log(`  ${r.contract}: branches not taken at line ${r.untakenBranches.join(', ')}`)
}
console.log(`report: ${relative(root, join(outDir, 'index.html'))}, ${relative(root, join(outDir, 'lcov.info'))}`)

const low = rows.filter((r) => r.lines < THRESHOLD.lines || r.branches < THRESHOLD.branches)
for (const r of low) console.error(`coverage: ${r.contract} is under ${THRESHOLD.lines}% lines or ${THRESHOLD.branches}% branches`)
for (const f of failures.slice(0, 20)) console.error(`coverage: trace failed: ${f}`)
if (failures.length > 20) console.error(`coverage: ... and ${failures.length - 20} more failed traces`)
console.log(`coverage: done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
if (!process.env.MEDVAULT_COVERAGE_KEEP) rmSync(runDir, { recursive: true, force: true })
if (tests.status !== 0)
  console.error(`coverage: contract tests failed (${tests.signal ? `killed by ${tests.signal}` : `exit code ${tests.status}`})`)
process.exit(tests.status !== 0 || failures.length > 0 || low.length > 0 ? 1 : 0)
