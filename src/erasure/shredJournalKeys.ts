/**
 * Write-ahead journals keep each record's key sealed to its issuer until the operation is done, so
 * that an interrupted run can still write key slips: the bulk-import journals
 * (`<home>/imports/*.jsonl`, import/journal.ts) and the single-operation journals of `record add`
 * and `record amend` (`<home>/operations/*.jsonl`, operations/operationJournal.ts) of a run killed
 * and never run again. Erasure destroys those boxes: the journal is rewritten without them (under
 * the journal's lock, to a temporary file that replaces it), the rest of each entry unchanged, so
 * the history stays readable and a later re-run finishes without the key (it writes no slips).
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { openImportJournal } from '../import/index.js'
import { openOperationJournal } from '../operations/index.js'

/** What a destroyed key box becomes: still valid journal syntax, holding nothing. */
export const SHREDDED_KEY_BOX = { iv: '0x', ct: '0x' } as const

export type ShredJournalKeysReturnType = {
  /** Journals rewritten. */
  journals: number
  /** Key boxes destroyed, per CID. */
  keys: Map<string, number>
}

/** The journals that keep record keys, by kind: each opener takes the journal's lock. */
const OPENERS = { import: openImportJournal, operation: openOperationJournal } as const
export type KeyJournalKind = keyof typeof OPENERS

type KeyedEntry = { t: string; cid?: string; key?: { iv: string; ct: string } | undefined }

/**
 * Destroys the record keys of the records with these ciphertext CIDs in every journal of `kind` in
 * `dir`. Journals that hold none are not touched; a journal whose operation is running right now
 * is refused (its journal error: run again once it ends). Running it again finds nothing left to do.
 */
export function shredJournalKeys(dir: string, cids: ReadonlySet<string>, kind: KeyJournalKind = 'import'): ShredJournalKeysReturnType {
  const keys = new Map<string, number>()
  let journals = 0
  if (cids.size === 0 || !existsSync(dir)) return { journals, keys }
  for (const name of readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()) {
    const path = join(dir, name)
    // A cheap look first: most journals never mention these records.
    const text = readFileSync(path, 'utf8')
    if (![...cids].some((cid) => text.includes(cid))) continue
    const journal = OPENERS[kind](path) // takes the journal's lock and drops a torn last line
    try {
      let changed = false
      const entries = (journal.entries as readonly KeyedEntry[]).map((entry): KeyedEntry => {
        // A box already shredded, or dropped when the journal was compacted, holds nothing.
        if (entry.t !== 'sealed' || !entry.cid || !cids.has(entry.cid) || !entry.key || entry.key.ct === SHREDDED_KEY_BOX.ct) return entry
        changed = true
        keys.set(entry.cid, (keys.get(entry.cid) ?? 0) + 1)
        return { ...entry, key: { ...SHREDDED_KEY_BOX } }
      })
      if (!changed) continue
      replaceFile(path, entries.map((e) => `${JSON.stringify(e)}\n`).join(''))
      journals++
    } finally {
      journal.close()
    }
  }
  return { journals, keys }
}

/** Writes `text` to a temporary file beside `path`, fsyncs it, renames it over `path` and fsyncs the directory. */
function replaceFile(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.shred.tmp`
  const fd = openSync(tmp, 'w', 0o600)
  try {
    const buffer = Buffer.from(text)
    let written = 0
    while (written < buffer.length) written += writeSync(fd, buffer, written)
    fsyncSync(fd)
  } catch (error) {
    closeSync(fd)
    rmSync(tmp, { force: true })
    throw error
  }
  closeSync(fd)
  renameSync(tmp, path)
  try {
    const dirFd = openSync(join(path, '..'), 'r')
    try {
      fsyncSync(dirFd)
    } finally {
      closeSync(dirFd)
    }
  } catch {
    // some filesystems refuse to fsync a directory; the file itself is on disk
  }
}
