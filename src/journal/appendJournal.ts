/**
 * An append-only, fsynced JSON-lines journal with one writer at a time: the write-ahead log that
 * bulk imports (`<home>/imports`) and single operations (`<home>/operations`) keep, so a process
 * killed at any instant can be finished by running it again. Each line is one entry, appended
 * before the step it records has effects anyone else can see, and made durable with `sync()`.
 *
 * A process killed mid-write leaves at most one torn last line; it is cut off when the journal is
 * opened again. Any other unreadable line means the journal is damaged. One process holds a
 * journal at a time (`<journal>.lock`, holding its pid; the lock of a dead process is taken over).
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import type { MedvaultError, MedvaultErrorOptions } from '../errors.js'

export interface AppendJournal<E> {
  readonly path: string
  /** Every entry: those read when the journal was opened, then those appended since. */
  readonly entries: readonly E[]
  /** Appends entries (written to the file at once; durable after `sync`). */
  append(...entries: E[]): void
  /** Replaces the whole journal, atomically and durably (a new file renamed over it). */
  rewrite(entries: E[]): void
  /** fsyncs the journal: everything appended so far survives a crash of the machine too. */
  sync(): void
  /** Releases the journal; one that holds no entry is removed, so a refused operation leaves no file behind. */
  close(): void
}

export type AppendJournalOptions<E> = {
  /** One parsed line as an entry, or undefined when it is not a valid entry. */
  parse(value: unknown): E | undefined
  /** The error to throw (the journal's own class), with a message naming the journal's kind. */
  error(message: string, options?: MedvaultErrorOptions): MedvaultError
  /** What the journal is for, in messages: "import", "operation". */
  label: string
  /** What to do about a damaged journal. */
  damagedHint: string
}

/** Opens (or creates) a journal and takes its lock. */
export function openAppendJournal<E>(path: string, options: AppendJournalOptions<E>): AppendJournal<E> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const release = lock(`${path}.lock`, options)
  try {
    const created = !existsSync(path)
    let fd = openSync(path, 'a+', 0o600)
    const entries = created ? [] : readEntries(path, fd, options)
    if (created) syncDirectory(dirname(path))
    let closed = false
    const lines = (list: E[]) => Buffer.from(list.map((e) => `${JSON.stringify(e)}\n`).join(''))
    const open = () => {
      if (closed) throw options.error(`The ${options.label} journal is closed.`)
    }
    return {
      path,
      entries,
      append(...more) {
        open()
        if (more.length === 0) return
        writeAll(fd, lines(more))
        entries.push(...more)
      },
      rewrite(replacement) {
        open()
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
        try {
          // Still under the lock: nobody else can have appended to it.
          if (entries.length === 0) {
            rmSync(path, { force: true })
            syncDirectory(dirname(path))
          }
        } finally {
          release()
        }
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

function readEntries<E>(path: string, fd: number, options: AppendJournalOptions<E>): E[] {
  const text = readFileSync(path, 'utf8')
  const lines = text.split('\n')
  // The text after the last newline is a line whose write a crash cut short: drop it.
  const torn = lines.pop() ?? ''
  if (torn.length > 0) {
    ftruncateSync(fd, Buffer.byteLength(text) - Buffer.byteLength(torn))
    fsyncSync(fd)
  }
  const entries: E[] = []
  for (const [n, line] of lines.entries()) {
    let entry: E | undefined
    try {
      entry = options.parse(JSON.parse(line))
    } catch {
      entry = undefined
    }
    if (entry === undefined) {
      throw options.error(`The ${options.label} journal ${path} is damaged (line ${n + 1}).`, { hint: options.damagedHint })
    }
    entries.push(entry)
  }
  return entries
}

/** fsyncs a directory, so a file created or renamed in it survives a crash of the machine. */
export function syncDirectory(dir: string): void {
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
 * Lock files this process holds. A lock file naming our own pid is ours only if it is in here: a
 * long-running process (the server) runs many operations, and two concurrent requests for the same
 * one must not both take it; one naming our pid but not held is left by a dead process whose pid
 * was reused.
 */
const heldHere = new Set<string>()

/**
 * A lock file holding the owner's pid. A lock whose process is gone (killed mid-run) is taken
 * over at once, so a re-run after a crash does not wait.
 */
function lock<E>(file: string, options: AppendJournalOptions<E>): () => void {
  if (heldHere.has(file)) {
    throw options.error(`This ${options.label} is already running in this process.`, {
      hint: 'Wait for it to finish and send the same request again: running it twice at once is refused, so nothing is done twice.',
    })
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600)
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
      heldHere.add(file)
      return () => {
        heldHere.delete(file)
        rmSync(file, { force: true })
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const pid = Number.parseInt(readLockPid(file), 10)
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw options.error(`This ${options.label} is already running (process ${pid}).`, {
          hint: `Wait for it to finish (running it twice at once is refused, so nothing is done twice). If it is not running, delete ${file}.`,
        })
      }
      rmSync(file, { force: true }) // its owner is gone
    }
  }
  throw options.error(`Could not take the ${options.label} lock ${file}.`)
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
