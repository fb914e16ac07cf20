/**
 * The write-ahead journal of one single operation (`record add`, `record amend`, `grant`, `revoke`,
 * `delegate`/`undelegate`, `emergency open`):
 * `<home>/operations/<operation>-<idempotency key>.jsonl`. The key is a digest of what the command
 * asks for (who, for whom, which content or terms, on which deployment), so running the same
 * command again finds the same journal: it finishes what a killed run left in flight, and returns
 * what a completed run did instead of doing it twice. Appended and fsynced before each step has
 * effects: the ciphertext is *sealed* (CID, commitment, the record key boxed for the issuer)
 * before anything is sent, the transaction is *submitted* (nonce, hash, the signed bytes) before
 * it leaves the process, *confirmed* (token or grant id) once mined, then key *slips* are written,
 * and the operation is *done* (the key box is dropped then).
 */
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { z } from 'zod'
import { OperationJournalError } from '../errors.js'
import {
  type AppendJournal,
  addressField as address,
  confirmedFields,
  defineJournal,
  droppedReason,
  hexField as hex,
  sealedFields,
  submittedFields,
  uintField as uint,
  withoutKeys,
} from '../journal/index.js'

export const OPERATIONS = ['record-add', 'record-amend', 'grant', 'revoke', 'delegate', 'emergency'] as const
export type Operation = (typeof OPERATIONS)[number]

const beginSchema = z.object({
  t: z.literal('begin'),
  v: z.literal(1),
  op: z.enum(OPERATIONS),
  key: z.string().regex(/^[0-9a-f]{64}$/),
  chainId: z.number().int(),
  /** The contract the operation's transaction calls. */
  contract: address,
  /** Who signs and sends the transaction. */
  sender: address,
  /** The chain height when the operation began: its events are at or after it. */
  fromBlock: uint,
  at: z.string(),
  /** What the command asked for (no health data: addresses, digests, codes, times). */
  params: z.record(z.string(), z.union([z.string(), z.number(), z.array(z.string())])),
})
const sealedSchema = z.object({ t: z.literal('sealed'), ...sealedFields })
const submittedSchema = z.object({
  t: z.literal('submitted'),
  ...submittedFields,
  /** The signed transaction, to broadcast again exactly if the node lost it. */
  raw: hex,
})
const droppedSchema = z.object({ t: z.literal('dropped'), reason: droppedReason })
const confirmedSchema = z.object({
  t: z.literal('confirmed'),
  ...confirmedFields,
  /** The token id (records), grant id (grants), window end (emergency), or 1 (delegate). */
  id: uint,
})
const slipsSchema = z.object({ t: z.literal('slips'), count: z.number().int().nonnegative() })
const doneSchema = z.object({ t: z.literal('done'), at: z.string() })

export const operationEntrySchema = z.discriminatedUnion('t', [
  beginSchema,
  sealedSchema,
  submittedSchema,
  droppedSchema,
  confirmedSchema,
  slipsSchema,
  doneSchema,
])
export type OperationEntry = z.infer<typeof operationEntrySchema>
export type OperationBegin = z.infer<typeof beginSchema>
export type OperationSealed = z.infer<typeof sealedSchema>
export type OperationSubmitted = z.infer<typeof submittedSchema>
export type OperationConfirmed = z.infer<typeof confirmedSchema>
export type OperationJournal = AppendJournal<OperationEntry>

/** Where one operation stands, per its journal. */
export type OperationState = {
  begin: OperationBegin | undefined
  sealed: OperationSealed | undefined
  /** Versions of the transaction in flight (one nonce), since the last one dropped. */
  inFlight: OperationSubmitted[]
  confirmed: OperationConfirmed | undefined
  slips: boolean
  done: boolean
}

/** The idempotency key of an operation: sha256 over its kind and what it asks for. */
export function operationKey(op: Operation, parts: readonly (string | number | bigint)[]): string {
  return createHash('sha256')
    .update([`medvault.op.v1`, op, ...parts.map((p) => String(p).toLowerCase())].join('|'))
    .digest('hex')
}

export function operationJournalPath(dir: string, op: Operation, key: string): string {
  return join(dir, `${op}-${key}.jsonl`)
}

const operationJournal = defineJournal<OperationEntry>({
  schema: operationEntrySchema,
  label: 'operation',
  error: (message, options) => new OperationJournalError(message, options),
  damagedHint:
    'Restore it from a backup, or move it away and check on chain (`medvault record list`, `medvault grants`) whether the operation happened before running it again.',
  inconsistentHint: 'Restore it from a backup; do not delete it while the operation may be in flight.',
})

/** Opens an operation's journal and takes its lock (a second run of the same command at once is refused). */
export function openOperationJournal(path: string): OperationJournal {
  return operationJournal.open(path)
}

/** Folds a journal into the operation's state; a transition the journal cannot hold means it was damaged, and throws. */
export function replayOperation(entries: readonly OperationEntry[]): OperationState {
  const state: OperationState = { begin: undefined, sealed: undefined, inFlight: [], confirmed: undefined, slips: false, done: false }
  operationJournal.fold(entries, (entry, fail) => {
    switch (entry.t) {
      case 'begin':
        state.begin = entry
        break
      case 'sealed':
        if (state.inFlight.length > 0 || state.confirmed) fail('sealed again after a transaction was sent')
        state.sealed = entry
        break
      case 'submitted':
        if (state.confirmed) fail('a transaction sent after the operation was confirmed')
        if (state.inFlight.length > 0 && state.inFlight[0]!.nonce !== entry.nonce) fail('a second nonce while one is in flight')
        state.inFlight.push(entry)
        break
      case 'dropped':
        if (state.inFlight.length === 0) fail('dropped with nothing in flight')
        state.inFlight = []
        break
      case 'confirmed':
        if (state.confirmed) fail('confirmed twice')
        state.confirmed = entry
        state.inFlight = []
        break
      case 'slips':
        if (!state.confirmed) fail('key slips before the operation was confirmed')
        state.slips = true
        break
      case 'done':
        if (!state.confirmed) fail('done before the operation was confirmed')
        state.done = true
        break
    }
  })
  return state
}

/** Marks the operation done and drops the record key from the journal, in one atomic rewrite. */
export function finishOperation(journal: OperationJournal): void {
  journal.rewrite([...withoutKeys(journal.entries), { t: 'done', at: new Date().toISOString() }])
}
