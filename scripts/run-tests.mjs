// Runs every *.test.ts under src/ and test/ with node's test runner (Node 20 has no --test globs).
//
// Speed (docs/tests.md, "How the suite is organised for speed"): files run in processes of their
// own, MEDVAULT_TEST_CONCURRENCY at a time (default below), slowest first, so that the long
// end-to-end files do not start last and leave one core idle at the end. The order comes from the
// file times of the last run on this machine (.test-times.json, written by the reporter in
// scripts/test-times.mjs), or, on a fresh clone, from SLOW_FIRST. Each file runs compiled to
// JavaScript (scripts/compile-tests.mjs, into .test-build/), in a node process without tsx.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { OUT, compileTests, removeCompiledTests, sourceOf } from './compile-tests.mjs'

const root = join(import.meta.dirname, '..')
const TIMES = join(root, '.test-times.json')

// The slowest files of a full run on a 2-core machine (concurrency 2), slowest first; every other
// file follows in path order. Only the schedule depends on this list: a file missing from it still runs.
const SLOW_FIRST = [
  'test/integration/cli.int.test.ts',
  'test/integration/restCrash.int.test.ts',
  'test/integration/crashMatrix.int.test.ts',
  'test/privacy/privacyScan.test.ts',
  'test/integration/import.int.test.ts',
  'test/integration/recovery.int.test.ts',
  'test/integration/ipfsPeers.int.test.ts',
  'test/web/firstHour.test.ts',
  'test/integration/backup.int.test.ts',
  'test/integration/archive.int.test.ts',
  'test/integration/fhirLinks.int.test.ts',
  'test/integration/study.int.test.ts',
  'test/integration/serviceFaults.int.test.ts',
  'test/web/signup.test.ts',
  'test/web/portal.test.ts',
  'test/integration/externalChain.int.test.ts',
  'test/web/portalVerify.test.ts',
  'test/integration/accountKeystore.int.test.ts',
  'test/integration/concurrentIssuers.int.test.ts',
  'test/integration/publicUrl.int.test.ts',
  'test/web/studies.test.ts',
  'test/security/paths.test.ts',
  'test/integration/fhirRest.int.test.ts',
  'test/report/accessReport.int.test.ts',
]

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? find(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  )
}

function lastTimes() {
  if (!existsSync(TIMES)) return undefined
  try {
    const byPath = JSON.parse(readFileSync(TIMES, 'utf8'))
    return new Map(Object.entries(byPath).map(([file, t]) => [sourceOf(relative(root, file)), Number(t.ms) || 0]))
  } catch {
    return undefined
  }
}

/** Slowest first: by the last run's times where there are any, else SLOW_FIRST, then path order. */
function schedule(files) {
  const times = lastTimes()
  const rank = (f) => {
    if (times?.has(f)) return -times.get(f)
    const i = SLOW_FIRST.indexOf(f)
    return i >= 0 ? -1e9 + i : 0
  }
  return [...files].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
}

const only = process.argv.slice(2)
const files =
  only.length > 0
    ? only.map((f) => relative(root, resolve(f)))
    : schedule(['src', 'test'].flatMap((d) => find(join(root, d))).map((f) => relative(root, f)))
const { files: compiled, ms } = await compileTests()
console.log(`# ${compiled} TypeScript files compiled into ${relative(root, OUT)}/ in ${ms} ms`)
const concurrency = Number(process.env.MEDVAULT_TEST_CONCURRENCY ?? 2)
// Test homes are throwaway: accounts get a light scrypt (see src/accounts/keystore.ts), which saves
// ~0.6 s per account created or unlocked; src/accounts/keystore.test.ts checks the default cost.
const result = spawnSync(
  process.execPath,
  [
    // Failures point at TypeScript lines (the compiled files carry inline source maps).
    '--enable-source-maps',
    join(root, 'scripts', 'test-files.mjs'),
    JSON.stringify({
      files: files.map((f) => join(OUT, f.replace(/\.ts$/, '.js'))),
      concurrency,
      // What a plain `node --test` prints (spec on a terminal, TAP otherwise), and the file times.
      timesFile: only.length > 0 ? join(root, '.test-times.partial.json') : TIMES,
    }),
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, MEDVAULT_LIGHT_KDF: '1' } },
)
removeCompiledTests()
process.exit(result.status ?? 1)
