/**
 * The write-ahead journal of one import: `<home>/imports/<key>.jsonl`, one JSON object per line,
 * appended and fsynced before the step it records has effects anyone else can see. It records, per
 * bundle entry, that it was sealed (content address, commitment, the record key encrypted for
 * the issuer), then which batch transaction carries it (nonce, hash), then its token. A re-run of the
 * same import reads it back (`replayJournal`) and resolves whatever was in flight against the chain
 * before minting anything, so no entry is ever minted twice. The envelope's random key and salt
 * make re-sealing give a different commitment, so the journal, not the chain, knows which entry a
 * token holds: keep it.
 *
 * The file mechanics (fsync, torn last line, one writer at a time) are `journal/appendJournal.ts`.
 */
import { join } from 'node:path'
import { z } from 'zod'
import { ImportJournalError } from '../errors.js'
import {
  type AppendJournal,
  addressField as address,
  confirmedFields,
  droppedReason,
  defineJournal,
  hexField as hex,
  sealedFields,
  submittedFields,
  uintField as uint,
} from '../journal/index.js'

const beginSchema = z.object({
  t: z.literal('begin'),
  v: z.literal(1),
  bundle: hex,
  patient: address,
  issuer: address,
  chainId: z.number().int(),
  records: address,
  entries: z.number().int().nonnegative(),
  /** The chain height when the import began: events of this import are at or after it. */
  fromBlock: uint,
  at: z.string(),
})
const sealedSchema = z.object({
  t: z.literal('sealed'),
  /** Bundle entry index. */
  i: z.number().int().nonnegative(),
  /** sha256 of the entry's canonical content. */
  digest: hex,
  ...sealedFields,
})
const submittedSchema = z.object({
  t: z.literal('submitted'),
  batch: z.number().int().positive(),
  items: z.array(z.number().int().nonnegative()).min(1),
  ...submittedFields,
  maxFeePerGas: uint,
  maxPriorityFeePerGas: uint,
})
const confirmedSchema = z.object({
  t: z.literal('confirmed'),
  batch: z.number().int().positive(),
  ...confirmedFields,
  /** [entry index, token id] per item. */
  tokens: z.array(z.tuple([z.number().int().nonnegative(), uint])).min(1),
})
const droppedSchema = z.object({
  t: z.literal('dropped'),
  batch: z.number().int().positive(),
  reason: droppedReason,
})
const reopenedSchema = z.object({
  t: z.literal('reopened'),
  batch: z.number().int().positive(),
  /** A batch the journal saw confirmed is not on the chain any more (a chain restored from an older state, a reorg). */
  reason: z.literal('not-on-chain'),
})

export const journalEntrySchema = z.discriminatedUnion('t', [
  beginSchema,
  sealedSchema,
  submittedSchema,
  confirmedSchema,
  droppedSchema,
  reopenedSchema,
])
export type JournalEntry = z.infer<typeof journalEntrySchema>
export type BeginEntry = z.infer<typeof beginSchema>
export type SealedEntry = z.infer<typeof sealedSchema>
export type SubmittedEntry = z.infer<typeof submittedSchema>
export type ConfirmedEntry = z.infer<typeof confirmedSchema>

export type ImportJournal = AppendJournal<JournalEntry>

export const importJournal = defineJournal<JournalEntry>({
  schema: journalEntrySchema,
  label: 'import',
  error: (message, options) => new ImportJournalError(message, options),
  damagedHint:
    'Restore it from a backup. Deleting it loses track of what was imported: running the import again would then mint every record again.',
  inconsistentHint: 'Restore it from a backup; do not delete it (the import would then mint every record again).',
})

/**
 * Opens (or creates) an import journal and takes its lock. A torn last line from a crash is cut
 * off; any other unreadable line means the journal is damaged and throws ImportJournalError.
 */
export function openImportJournal(path: string): ImportJournal {
  return importJournal.open(path)
}

/** Where an import's journal lives: `<dir>/<key>.jsonl`. */
export function importJournalPath(dir: string, key: string): string {
  return join(dir, `${key}.jsonl`)
}
