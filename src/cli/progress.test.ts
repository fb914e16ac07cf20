import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ArchiveProgress } from '../archive/index.js'
import type { ImportProgress } from '../import/index.js'
import { archiveProgressReporter } from './archiveProgress.js'
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

const sealing = (sealed: number): ArchiveProgress => ({ stage: 'sealing', total: 100, sealed })

describe('archive progress on stderr', () => {
  it('draws a progress bar over the sealing at a terminal, then one line for the anchoring', () => {
    const { stream, output } = fakeStream(true)
    const progress = archiveProgressReporter({}, stream)
    progress.update(sealing(0))
    progress.update(sealing(100))
    progress.update({ stage: 'anchoring', total: 100, sealed: 100 })
    progress.update({ stage: 'done', total: 100, sealed: 100 })
    progress.stop()
    assert.match(output(), /sealing .* 100% \| 100\/100 records \| [\d.]+ records\/s/)
    assert.equal(output().match(/anchoring their root/g)?.length, 1)
    assert.match(output(), /archive: 100 records sealed; anchoring their root in one transaction\n$/)
  })

  it('writes a plain line at most every two seconds elsewhere, and always the last one', () => {
    const { stream, output } = fakeStream(false)
    const progress = archiveProgressReporter({}, stream)
    for (let n = 0; n <= 100; n += 10) progress.update(sealing(n))
    progress.update({ stage: 'anchoring', total: 100, sealed: 100 })
    progress.stop()
    assert.deepEqual(
      output()
        .trim()
        .split('\n')
        .map((l) => l.replace(/, [\d.]+ records\/s$/, '')),
      [
        'archive: 0/100 records sealed (0%)',
        'archive: 100/100 records sealed (100%)',
        'archive: 100 records sealed; anchoring their root in one transaction',
      ],
    )
  })

  it('prints nothing with --json', () => {
    const { stream, output } = fakeStream(true)
    const progress = archiveProgressReporter({ json: true }, stream)
    progress.update(sealing(100))
    progress.stop()
    assert.equal(output(), '')
  })
})
