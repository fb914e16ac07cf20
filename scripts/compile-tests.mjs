// Compiles the TypeScript the tests load (src/, test/, scripts/, bench/) to plain JavaScript in
// .test-build/, a mirror of the project, so that `npm test` runs each test file in a node process
// with no module hooks. Under `node --import tsx`, every module a process loads, node_modules
// included, passes through tsx's resolve and load hooks on a second thread: a unit-test file of a
// few 1 ms tests took 3.2 s of CPU that way and 1.7 s precompiled (docs/tests.md, "Precompiled
// tests"). The code is the same: tsx transforms with esbuild, and so does this, with the same
// tsconfig.json.
//
// The mirror keeps every path a test computes from its own location: besides the .js files it
// holds a hard link to every other file of those folders (the .ts sources themselves, which some
// tests read or start with `node --import tsx`, fixtures, .mjs helpers), and a symbolic link to
// every other entry of the project root (dist, node_modules, examples, docs, package.json, ...).
// Hard links, not symbolic ones, inside the compiled folders: a folder walk sees them as files,
// and a module found through one resolves its imports beside it, in the mirror.
import { existsSync, linkSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { join, relative } from 'node:path'
import { build } from 'esbuild'

const root = join(import.meta.dirname, '..')
const BUILDS = join(root, '.test-build')
// One mirror per run (by process id), so that a run started beside another does not replace the
// files the other is loading.
export const OUT = join(BUILDS, `run-${process.pid}`)
const COMPILED = ['src', 'test', 'scripts', 'bench']
// Never mirrored: version control, the mirror itself, and what the test runs write at the root.
const LEFT_OUT = new Set(['.git', '.test-build', ...COMPILED])

const isSource = (name) => name.endsWith('.ts') && !name.endsWith('.d.ts')

/** Mirrors of runs whose process is gone (a run killed before it could remove its own). */
function removeStale() {
  if (!existsSync(BUILDS)) return
  for (const name of readdirSync(BUILDS)) {
    const pid = Number(name.replace(/^run-/, ''))
    let alive = false
    try {
      alive = Number.isInteger(pid) && pid > 0 && process.kill(pid, 0)
    } catch {}
    if (!alive) rmSync(join(BUILDS, name), { recursive: true, force: true })
  }
}

/** Mirrors `dir` (relative to the root) into OUT: real folders, hard links to files; returns its .ts sources. */
function mirror(dir) {
  mkdirSync(join(OUT, dir), { recursive: true })
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return mirror(path)
    if (!e.isFile()) return []
    linkSync(join(root, path), join(OUT, path))
    return isSource(e.name) ? [join(root, path)] : []
  })
}

export async function compileTests() {
  const started = Date.now()
  removeStale()
  rmSync(OUT, { recursive: true, force: true })
  mkdirSync(OUT, { recursive: true })
  for (const e of readdirSync(root, { withFileTypes: true })) {
    if (!LEFT_OUT.has(e.name)) symlinkSync(join(root, e.name), join(OUT, e.name))
  }
  const sources = COMPILED.flatMap(mirror)
  await build({
    entryPoints: sources,
    outdir: OUT,
    outbase: root,
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    tsconfig: join(root, 'tsconfig.json'),
    // Failures point at the TypeScript lines (node --enable-source-maps, set by run-tests.mjs).
    sourcemap: 'inline',
    logLevel: 'warning',
  })
  return { files: sources.length, ms: Date.now() - started }
}

export function removeCompiledTests() {
  rmSync(OUT, { recursive: true, force: true })
}

/** `.test-build/run-N/test/x.test.js` -> `test/x.test.ts` (relative to the root): what it was compiled from. */
export function sourceOf(compiled) {
  const match = /^\.test-build\/run-\d+\/(.*)\.js$/.exec(compiled)
  return match ? `${match[1]}.ts` : compiled
}

if (import.meta.filename === process.argv[1]) {
  const { files, ms } = await compileTests()
  console.log(`tests: ${files} TypeScript files compiled into ${relative(root, OUT)}/ in ${ms} ms (left there)`)
}
