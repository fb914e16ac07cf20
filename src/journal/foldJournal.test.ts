import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MedvaultError } from '../errors.js'
import { foldJournal } from './foldJournal.js'

class TestJournalError extends MedvaultError {
  override readonly name = 'TestJournalError'
  override readonly code = 'TEST_JOURNAL'
  override readonly exitCode = 1
}

const params = { label: 'test', hint: 'Restore it.', error: (m: string, o: { hint: string }) => new TestJournalError(m, o) }
type Entry = { t: 'begin' } | { t: 'step'; n: number }

describe('foldJournal', () => {
  it('hands every entry to the step in order', () => {
    const seen: Entry[] = []
    const entries: Entry[] = [{ t: 'begin' }, { t: 'step', n: 1 }, { t: 'step', n: 2 }]
    foldJournal(entries, params, (e) => void seen.push(e))
    assert.deepEqual(seen, entries)
  })

  it('refuses a journal that does not start with begin, or begins twice, naming the line', () => {
    assert.throws(
      () => foldJournal<Entry>([{ t: 'step', n: 1 }], params, () => {}),
      (e: unknown) => e instanceof TestJournalError && /test journal is inconsistent at line 1: it does not start/.test(e.message),
    )
    assert.throws(
      () => foldJournal<Entry>([{ t: 'begin' }, { t: 'step', n: 1 }, { t: 'begin' }], params, () => {}),
      (e: unknown) => e instanceof TestJournalError && /line 3: a second begin entry/.test(e.message) && e.hint === 'Restore it.',
    )
  })

  it('turns a step’s fail into the journal’s error at that line', () => {
    assert.throws(
      () =>
        foldJournal<Entry>([{ t: 'begin' }, { t: 'step', n: 7 }], params, (e, fail) =>
          e.t === 'step' ? fail(`step ${e.n} out of order`) : undefined,
        ),
      /line 2: step 7 out of order\./,
    )
  })
})
