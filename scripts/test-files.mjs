// Runs test files with node's test runner in the order given (scripts/run-tests.mjs starts it).
// `node --test FILE...` sorts its files by path (Node 20's createTestFileList), which undid the
// slowest-first order run-tests.mjs chose; run({ files }) keeps it. Each file still runs in a
// process of its own, with this process's node flags (run-tests.mjs passes --enable-source-maps).
// What it prints is what `node --test` prints: TAP, or spec on a terminal, and the same closing
// lines; a failed test sets the exit code to 1, as `node --test` does. A failing test marked todo
// does not (node reports it as `not ok # TODO` and counts it under todo, not fail).
import { createWriteStream } from 'node:fs'
import { run } from 'node:test'
import { spec, tap } from 'node:test/reporters'
import testTimes from './test-times.mjs'

const { files, concurrency, timesFile } = JSON.parse(process.argv[2])
const stream = run({ files, concurrency })
stream.on('test:fail', (event) => {
  if (!event.todo) process.exitCode = 1
})
stream.compose(process.stdout.isTTY ? new spec() : tap).pipe(process.stdout)
stream.compose(testTimes).pipe(createWriteStream(timesFile))
