// Runs test files with node's test runner in the order given (scripts/run-tests.mjs starts it).
// `node --test FILE...` sorts its files by path (Node 20's createTestFileList), which undid the
// slowest-first order run-tests.mjs chose; run({ files }) keeps it. Each file still runs in a
// process of its own, with this process's node flags (run-tests.mjs passes --enable-source-maps).
// What it prints is what `node --test` prints: TAP, or spec on a terminal, and the same closing
// lines; a failed test sets the exit code to 1, as `node --test` does. A failing test marked todo
// does not (node reports it as `not ok # TODO` and counts it under todo, not fail).
//
// One addition: just before the closing lines, TAP output repeats each failed test (file, name,
// first line of its error) as comments. A CI log is often kept only in part, and then the failure
// itself, somewhere among 1,000 passing tests, is gone while the closing count remains.
//
// And one limit: a file whose process runs longer than MEDVAULT_TEST_FILE_TIMEOUT_MS (default 15
// minutes; the slowest file takes about one) is stopped and reported as failed, so a test that hangs
// ends the run with its name instead of holding CI until its own time limit. Node then counts the
// tests it cut short as cancelled, not failed; the closing `fail` line counts them too, since none
// of them passed.
import { createWriteStream } from 'node:fs'
import { run } from 'node:test'
import { spec, tap } from 'node:test/reporters'
import testTimes from './test-times.mjs'

const { files, concurrency, timesFile } = JSON.parse(process.argv[2])
const fileTimeoutMs =
  Number(process.env.MEDVAULT_TEST_FILE_TIMEOUT_MS) > 0 ? Number(process.env.MEDVAULT_TEST_FILE_TIMEOUT_MS) : 15 * 60_000
const stream = run({ files, concurrency, timeout: fileTimeoutMs })
stream.on('test:fail', (event) => {
  if (!event.todo) process.exitCode = 1
})

/** The events, with a diagnostic per failed test inserted before the run's closing diagnostics. */
async function* withFailureSummary(events) {
  const failed = []
  const closingLines = []
  let summarised = false
  for await (const event of events) {
    const data = event.data ?? {}
    if (event.type === 'test:fail' && !data.todo && data.details?.type !== 'suite') {
      const error = data.details?.error
      const message = String(error?.cause?.message ?? error?.message ?? error ?? '').split('\n')[0]
      failed.push(`${data.file ?? '?'}: ${data.name}${message ? ` (${message.slice(0, 300)})` : ''}`)
    }
    // The closing diagnostics are the top-level ones ("tests N", "pass N", ...) after the last file.
    const closing = event.type === 'test:diagnostic' && data.nesting === 0
    if (!summarised && closing && /^tests \d+$/.test(data.message)) {
      summarised = true
      const lines = failed.length === 0 ? [] : [`failed tests (${failed.length}):`, ...failed.map((f) => `  ${f}`)]
      for (const message of lines) yield { type: 'test:diagnostic', data: { nesting: 0, message } }
    }
    if (summarised && closing) {
      closingLines.push(event)
      continue
    }
    yield event
  }
  yield* countCancelledAsFailed(closingLines)
}

/** The closing lines, with `fail N` counting the cancelled tests too (a file stopped at its time limit). */
function* countCancelledAsFailed(lines) {
  const count = (name) => Number(lines.map((e) => new RegExp(`^${name} (\\d+)$`).exec(e.data.message)).find(Boolean)?.[1] ?? 0)
  const cancelled = count('cancelled')
  for (const event of lines) {
    if (cancelled > 0 && /^fail \d+$/.test(event.data.message)) {
      yield { ...event, data: { ...event.data, message: `fail ${count('fail') + cancelled}` } }
    } else yield event
  }
}

stream.compose(process.stdout.isTTY ? new spec() : (events) => tap(withFailureSummary(events))).pipe(process.stdout)
stream.compose(testTimes).pipe(createWriteStream(timesFile))
