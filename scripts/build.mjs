// `npm run build`: contracts, FHIR definitions, both TypeScript projects, the web portal and the CLI
// bundle, in that order. When nothing the build reads has changed since the last build finished,
// it does nothing: `npm test` builds before it tests, and in CI that is right after `npm ci` built
// (through `prepare`). Each step is incremental on its own, but the six steps still took 62 s of
// wall time (31 s of CPU) with nothing to do (docs/tests.md); checking the fingerprint takes well
// under a second. `node scripts/build.mjs --force` (or a missing output) builds regardless.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = join(import.meta.dirname, '..')
const STAMP = join(root, 'dist', '.build-fingerprint')

const STEPS = [
  'tsx scripts/build-contracts.ts',
  'tsx scripts/build-fhir-definitions.ts',
  'tsc -p tsconfig.json',
  'tsc -p web/tsconfig.json',
  'vite build --config web/vite.config.ts',
  'node scripts/bundle-cli.mjs',
]

// Everything a step reads besides node_modules (whose versions package-lock.json pins). Whole
// folders, so that a new file counts too; src/contracts/artifacts is the contracts step's output.
const INPUT_DIRS = ['src', 'web', 'contracts', 'scripts', 'bin']
const INPUT_FILES = ['package.json', 'package-lock.json', 'tsconfig.json']
const SKIP = new Set(['node_modules', 'dist', join('src', 'contracts', 'artifacts')])
// What the steps write: if one is missing (a deleted folder, an interrupted build), build again.
const OUTPUTS = [
  'src/contracts/artifacts/.fingerprint',
  'dist/fhir-definitions/r4.json',
  'dist/index.js',
  'dist/web/index.html',
  'dist/cli-bundle/main.js',
]

function files(dir) {
  if (!existsSync(join(root, dir))) return []
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (SKIP.has(path) || SKIP.has(e.name)) return []
    return e.isDirectory() ? files(path) : e.isFile() ? [path] : []
  })
}

function fingerprint() {
  const hash = createHash('sha256').update(process.version).update(STEPS.join('\n'))
  const inputs = [...INPUT_DIRS.flatMap(files), ...INPUT_FILES.filter((f) => existsSync(join(root, f)))].sort()
  for (const file of inputs) hash.update(`\0${file}\0`).update(readFileSync(join(root, file)))
  return hash.digest('hex')
}

const force = process.argv.includes('--force')
const before = fingerprint()
const missing = OUTPUTS.filter((f) => !existsSync(join(root, f)))
if (!force && missing.length === 0 && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === before) {
  console.log(
    `build: up to date (no input changed since the last build; \`node ${relative(root, import.meta.filename)} --force\` rebuilds)`,
  )
  process.exit(0)
}

// A build that fails or is interrupted must not leave the last stamp claiming dist/ is current.
rmSync(STAMP, { force: true })
const bin = join(root, 'node_modules', '.bin')
for (const step of STEPS) {
  const result = spawnSync(step, {
    cwd: root,
    stdio: 'inherit',
    shell: true,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
  })
  if (result.status !== 0) process.exit(result.status ?? 1)
}
// Inputs that changed while the build ran leave the stamp unwritten, so the next build runs.
if (fingerprint() === before) writeFileSync(STAMP, before)
