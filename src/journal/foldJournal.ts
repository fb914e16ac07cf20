import type { MedvaultError } from '../errors.js'

export type FoldJournalParameters = {
  /** The journal's kind, as a person calls it ("import", "operation"). */
  label: string
  /** What to do about a damaged journal. */
  hint: string
  error: (message: string, options: { hint: string }) => MedvaultError
}

/**
 * Walks a write-ahead journal's entries in order for a replay: the first entry, and only the
 * first, must be `begin`; `step` applies each entry and calls `fail` on a transition the journal
 * cannot hold, which throws the journal's own error naming the line (the journal was damaged or
 * edited: every writer appends only transitions its replay allows).
 */
export function foldJournal<E extends { t: string }>(
  entries: readonly E[],
  params: FoldJournalParameters,
  step: (entry: E, fail: (what: string) => never) => void,
): void {
  for (const [n, entry] of entries.entries()) {
    const fail = (what: string): never => {
      throw params.error(`The ${params.label} journal is inconsistent at line ${n + 1}: ${what}.`, { hint: params.hint })
    }
    if (n === 0 && entry.t !== 'begin') fail('it does not start with a begin entry')
    if (n !== 0 && entry.t === 'begin') fail('a second begin entry')
    step(entry, fail)
  }
}
