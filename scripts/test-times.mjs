// A node:test reporter that records each test file's wall time (from the moment the runner starts
// its process to the moment that process is done) and test count, and writes them as JSON when the
// run ends. scripts/run-tests.mjs starts the slowest files first on the next run from it.
//
// Files are named by their TypeScript source. The runner names a file by the compiled copy it runs
// (.test-build/run-N/x.test.js, see scripts/compile-tests.mjs), its tests by the source their
// source maps point to.
const source = (path) => path.replace(/\/\.test-build\/run-\d+\/(.*)\.js$/, '/$1.ts')

export default async function* testTimes(events) {
  const files = {}
  const started = new Map()
  for await (const event of events) {
    const { file: path, name, nesting } = event.data ?? {}
    if (!path) continue
    const file = source(path)
    files[file] ??= { ms: 0, tests: 0, failed: 0 }
    const f = files[file]
    // The runner reports each file as a test of its own (nesting 0, named by its path): dequeued when
    // its process starts, complete when the process has ended.
    if (nesting === 0 && name === path) {
      if (event.type === 'test:dequeue') started.set(file, Date.now())
      if (event.type === 'test:complete' && started.has(file)) f.ms = Date.now() - started.get(file)
    } else if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.details?.type !== 'suite') {
      f.tests++
      if (event.type === 'test:fail') f.failed++
    }
  }
  yield `${JSON.stringify(files, null, 1)}\n`
}
