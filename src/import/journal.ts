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
 * A process killed mid-write leaves at most one torn last line; it is cut off when the journal is
 * opened again. One import holds the journal at a time (`<journal>.lock`, with its pid).
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { z } from 'zod'
import { ImportJournalError } from '../errors.js'

const hex = z.string().regex(/^0x[0-9a-f]*$/i)
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/)
const uint = z.string().regex(/^\d+$/)

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
  cid: z.string().min(1),
  commitment: hex,
  category: z.number().int(),
  sensitivity: z.number().int(),
  /**
   * The record key, encrypted under the issuer's journal key (journalKeys.ts), to write key slips
   * after a crash. Dropped when the journal is compacted after a complete import.
   */
  key: z.object({ iv: hex, ct: hex }).optional(),
})
const submittedSchema = z.object({
  t: z.literal('submitted'),
  batch: z.number().int().positive(),
  items: z.array(z.number().int().nonnegative()).min(1),
  nonce: z.number().int().nonnegative(),
  txHash: hex,
  maxFeePerGas: uint,
  maxPriorityFeePerGas: uint,
})
const confirmedSchema = z.object({
  t: z.literal('confirmed'),
  batch: z.number().int().positive(),
  txHash: hex,
  block: uint,
  gasUsed: uint,
  /** [entry index, token id] per item. */
  tokens: z.array(z.tuple([z.number().int().nonnegative(), uint])).min(1),
})
const droppedSchema = z.object({
  t: z.literal('dropped'),
  batch: z.number().int().positive(),
  /** `reverted`: mined and reverted; `replaced`: its nonce was used by another transaction, so it can never be mined. */
  reason: z.enum(['reverted', 'replaced']),
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

export interface ImportJournal {
  readonly path: string
  /** Every entry: those read when the journal was opened, then those appended since. */
  readonly entries: readonly JournalEntry[]
  /** Appends entries (written to the file at once; durable after `sync`). */
  append(...entries: JournalEntry[]): void
  /** Replaces the whole journal, atomically and durably (a new file renamed over it). */
  rewrite(entries: JournalEntry[]): void
  /** fsyncs the journal: everything appended so far survives a crash of the machine too. */
  sync(): void
  /** Releases the journal. */
  close(): void
}

/**
 * Opens (or creates) an import journal and takes its lock. A torn last line from a crash is cut
 * off; any other unreadable line means the journal is damaged and throws ImportJournalError.
 */
export function openImportJournal(path: string): ImportJournal {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const release = lock(`${path}.lock`)
  try {
    const created = !existsSync(path)
    let fd = openSync(path, 'a+', 0o600)
    const entries = created ? [] : readEntries(path, fd)
    if (created) syncDirectory(dirname(path))
    let closed = false
    const lines = (list: JournalEntry[]) => Buffer.from(list.map((e) => `${JSON.stringify(e)}\n`).join(''))
    return {
      path,
      entries,
      append(...more) {
        if (closed) throw new ImportJournalError('The import journal is closed.')
        if (more.length === 0) return
        writeAll(fd, lines(more))
        entries.push(...more)
      },
      rewrite(replacement) {
        if (closed) throw new ImportJournalError('The import journal is closed.')
        const tmp = `${path}.${process.pid}.tmp`
        const out = openSync(tmp, 'w', 0o600)
        try {
          writeAll(out, lines(replacement))
          fsyncSync(out)
        } finally {
          closeSync(out)
        }
        renameSync(tmp, path)
        syncDirectory(dirname(path))
        closeSync(fd)
        fd = openSync(path, 'a+', 0o600)
        entries.splice(0, entries.length, ...replacement)
      },
      sync() {
        fsyncSync(fd)
      },
      close() {
        if (closed) return
        closed = true
        closeSync(fd)
        release()
      },
    }
  } catch (error) {
    release()
    throw error
  }
}

function writeAll(fd: number, buffer: Buffer): void {
  let written = 0
  while (written < buffer.length) written += writeSync(fd, buffer, written)
}

function readEntries(path: string, fd: number): JournalEntry[] {
  const text = readFileSync(path, 'utf8')
  const lines = text.split('\n')
  // The text after the last newline is a line whose write a crash cut short: drop it.
  const torn = lines.pop() ?? ''
  if (torn.length > 0) {
    ftruncateSync(fd, Buffer.byteLength(text) - Buffer.byteLength(torn))
    fsyncSync(fd)
  }
  const entries: JournalEntry[] = []
  for (const [n, line] of lines.entries()) {
    let parsed: ReturnType<typeof journalEntrySchema.safeParse>
    try {
      parsed = journalEntrySchema.safeParse(JSON.parse(line))
    } catch {
      parsed = { success: false } as never
    }
    if (!parsed.success) {
      throw new ImportJournalError(`The import journal ${path} is damaged (line ${n + 1}).`, {
        hint: 'Restore it from a backup. Deleting it loses track of what was imported: running the import again would then mint every record again.',
      })
    }
    entries.push(parsed.data)
  }
  return entries
}

function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    // Some filesystems refuse to fsync a directory; the file itself is still fsynced.
  }
}

/**
 * A lock file holding the owner's pid. A lock whose process is gone (killed mid-import) is taken
 * over at once, so a re-run after a crash does not wait.
 */
function lock(file: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600)
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
      return () => rmSync(file, { force: true })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const pid = Number.parseInt(readLockPid(file), 10)
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new ImportJournalError(`This import is already running (process ${pid}).`, {
          hint: `Wait for it to finish (running it twice at once is refused, so no record is minted twice). If no import is running, delete ${file}.`,
        })
      }
      rmSync(file, { force: true }) // its owner is gone
    }
  }
  throw new ImportJournalError(`Could not take the import lock ${file}.`)
}

function readLockPid(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim()
  } catch {
    return ''
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Where an import's journal lives: `<dir>/<key>.jsonl`. */
export function importJournalPath(dir: string, key: string): string {
  return join(dir, `${key}.jsonl`)
}
