/**
 * One kind of write-ahead journal (an import's, a single operation's): its entry schema, its error
 * class and what a person should do when it is damaged, declared once; `open` and `fold` then do
 * the same for every kind (parse each line against the schema, name the kind in every message).
 */
import type { z } from 'zod'
import type { MedvaultError, MedvaultErrorOptions } from '../errors.js'
import { type AppendJournal, openAppendJournal } from './appendJournal.js'
import { foldJournal } from './foldJournal.js'

export type JournalKindParameters<E> = {
  /** The entries a line may hold; a line that does not parse is damage (or a torn last line). */
  schema: z.ZodType<E>
  /** What the journal is for, in messages: "import", "operation". */
  label: string
  /** The kind's own error class. */
  error: (message: string, options?: MedvaultErrorOptions) => MedvaultError
  /** What to do about a journal with an unreadable line. */
  damagedHint: string
  /** What to do about a journal whose entries make a transition its replay does not allow. */
  inconsistentHint: string
}

export type JournalKind<E extends { t: string }> = {
  readonly label: string
  /** Opens (or creates) a journal of this kind and takes its lock. */
  open(path: string): AppendJournal<E>
  /** Walks entries for a replay (see foldJournal); `fail` throws this kind's error naming the line. */
  fold(entries: readonly E[], step: (entry: E, fail: (what: string) => never) => void): void
}

export function defineJournal<E extends { t: string }>(p: JournalKindParameters<E>): JournalKind<E> {
  return {
    label: p.label,
    open: (path) =>
      openAppendJournal(path, {
        parse: (value) => {
          const parsed = p.schema.safeParse(value)
          return parsed.success ? parsed.data : undefined
        },
        error: p.error,
        label: p.label,
        damagedHint: p.damagedHint,
      }),
    fold: (entries, step) => foldJournal(entries, { label: p.label, hint: p.inconsistentHint, error: p.error }, step),
  }
}
