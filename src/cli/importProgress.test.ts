import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ImportProgress } from '../import/index.js'
import { importProgressReporter } from './importProgress.js'

/** Enough of a WriteStream for cli-progress (a terminal) or for plain lines (a pipe). */
function fakeStream(isTTY: boolean) {
  const writes: string[] = []
  const stream = {
    isTTY,
    columns: 120,
    write: (chunk: string) => {
      writes.push(chunk)
      return true
    },
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
    clearScreenDown: () => true,
    on: () => stream,
    removeListener: () => stream,
  }
  return { stream: stream as unknown as NodeJS.WriteStream, output: () => writes.join('') }
}

const at = (confirmed: number, extra: Partial<ImportProgress> = {}): ImportProgress => ({
  total: 100,
  alreadyImported: 0,
  confirmed,
  sealed: confirmed,
  submitted: confirmed,
  batches: confirmed / 10,
  gasUsed: 0n,
  ...extra,
})

describe('import progress on stderr', () => {
  it('draws a progress bar at a terminal', () => {
    const { stream, output } = fakeStream(true)
    const progress = importProgressReporter({}, stream)
    progress.update(at(0))
    progress.update(at(50))
    progress.update(at(100))
    progress.stop()
    assert.match(output(), /importing .* 100% \| 100\/100 records \| 10 batches \| [\d.]+ records\/s/)
  })

  it('writes a plain line at most every two seconds elsewhere, and always the last one', () => {
    const { stream, output } = fakeStream(false)
    const progress = importProgressReporter({}, stream)
    for (let n = 0; n <= 100; n += 10) progress.update(at(n))
    progress.update(at(100))
    progress.stop()
    const lines = output().trim().split('\n')
    assert.deepEqual(
      lines.map((l) => l.replace(/, [\d.]+ records\/s$/, '')),
      [
        'import: 0/100 records (0%), 0 sealed and 0 sent in this run, 0 batches confirmed',
        'import: 100/100 records (100%), 100 sealed and 100 sent in this run, 10 batches confirmed',
      ],
    )
  })

  it('prints nothing with --json', () => {
    const { stream, output } = fakeStream(true)
    const progress = importProgressReporter({ json: true }, stream)
    progress.update(at(100))
    progress.stop()
    assert.equal(output(), '')
  })
})
