/**
 * The one vocabulary of medvault's write-ahead journals (an import's, `src/import/journal.ts`, and a
 * single operation's, `src/operations/operationJournal.ts`): the same words, with the same fields,
 * for the same steps: *begin*, *sealed* (the ciphertext stored), *submitted* (a signed transaction,
 * before it leaves the process), *dropped* (it can never be mined), *confirmed* (mined, with what it
 * made), then *done*. A journal adds only what its shape needs (an import's entries and batches).
 */
import { z } from 'zod'

export const hexField = z.string().regex(/^0x[0-9a-f]*$/i)
export const addressField = z.string().regex(/^0x[0-9a-fA-F]{40}$/)
/** A uint256 as decimal text (JSON has no bigint). */
export const uintField = z.string().regex(/^\d+$/)

/** What *sealed* records of one record: where its ciphertext is, what the chain will commit to, and its key for the issuer. */
export const sealedFields = {
  cid: z.string().min(1),
  commitment: hexField,
  category: z.number().int(),
  sensitivity: z.number().int(),
  /**
   * The record key, encrypted under the issuer's journal key (src/import/journalKeys.ts), to write
   * key slips after a crash. Dropped once the operation is done (or the import compacted).
   */
  key: z.object({ iv: hexField, ct: hexField }).optional(),
}

/** *submitted*: a transaction signed with an explicit nonce, journaled before it is sent. */
export const submittedFields = { nonce: z.number().int().nonnegative(), txHash: hexField }

/** *confirmed*: the transaction was mined and did what was asked. */
export const confirmedFields = { txHash: hexField, block: uintField, gasUsed: uintField }

/** *dropped*: `reverted`, mined and refused; `replaced`, its nonce used by another transaction, so it can never be mined. */
export const droppedReason = z.enum(['reverted', 'replaced'])

/** The entries with their record keys removed (once done, no copy of a record key stays in a journal). */
export function withoutKeys<E extends { t: string }>(entries: readonly E[]): E[] {
  return entries.map((e) => {
    if (e.t !== 'sealed' || !('key' in e) || !e.key) return e
    const { key: _key, ...rest } = e as E & { key?: unknown }
    return rest as E
  })
}
