/**
 * The audit log's files: `<dir>/log.jsonl` (one entry a line), `<dir>/batches.json` (the local
 * record of anchored batches), and the proper-lockfile lock directories `log.jsonl.lock` (appends)
 * and `anchor.lock` (anchoring). Reading tolerates a torn last line; writing is append-only or
 * write-then-rename.
 */
import { mkdirSync } from 'node:fs'
import { type FileHandle, open, readFile, rename, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import lockfile from 'proper-lockfile'
import { HomeError } from '../errors.js'

export function auditPaths(dir: string) {
  const root = resolve(dir)
  return {
    dir: root,
    log: join(root, 'log.jsonl'),
    batches: join(root, 'batches.json'),
    /** Lock targets (the lock directory is `<target>.lock`). */
    appendLockTarget: join(root, 'log.jsonl'),
    anchorLockTarget: join(root, 'anchor'),
  }
}
export type AuditPaths = ReturnType<typeof auditPaths>

export function ensureAuditDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
}

export type LogLine = { /** 1-based line number. */ line: number; text: string }

/**
 * Every complete line of the log. A last line without its newline (a crash mid-append, or an
 * append still being written) is returned as `torn`, not as a line.
 */
export async function readLogLines(file: string): Promise<{ lines: LogLine[]; torn: string | undefined }> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { lines: [], torn: undefined }
    throw error
  }
  const parts = text.split('\n')
  const last = parts.pop() ?? ''
  return { lines: parts.map((t, i) => ({ line: i + 1, text: t })), torn: last === '' ? undefined : last }
}

/**
 * The last complete line of the log without reading the whole file, or undefined when the log is
 * empty. `torn` is true when the file does not end with a newline.
 */
export async function readLastLine(file: string): Promise<{ text: string | undefined; torn: boolean }> {
  let fh: FileHandle
  try {
    fh = await open(file, 'r')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { text: undefined, torn: false }
    throw error
  }
  try {
    const { size } = await fh.stat()
    if (size === 0) return { text: undefined, torn: false }
    let chunk = 4096
    for (;;) {
      const start = Math.max(0, size - chunk)
      const buf = Buffer.alloc(size - start)
      await fh.read(buf, 0, buf.length, start)
      if (buf[buf.length - 1] !== 0x0a) return { text: undefined, torn: true }
      const before = buf.lastIndexOf(0x0a, buf.length - 2)
      if (before >= 0 || start === 0) return { text: buf.subarray(before + 1, buf.length - 1).toString('utf8'), torn: false }
      chunk *= 4
    }
  } finally {
    await fh.close()
  }
}

/** Appends `text` (whole lines) to the log, creating it 0600, and flushes it to disk when `sync`. */
export async function appendToLog(file: string, text: string, sync: boolean): Promise<void> {
  const fh = await open(file, 'a', 0o600)
  try {
    await fh.appendFile(text, 'utf8')
    if (sync) await fh.datasync()
  } finally {
    await fh.close()
  }
}

/** Writes JSON to a temporary file and renames it over `file`: readers see the old or the new file, never half of one. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { flag: 'wx', mode: 0o600 })
  await rename(tmp, file)
}

export async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/**
 * Takes a proper-lockfile lock (a `<target>.lock` directory, refreshed while held, stale after
 * `staleMs`) and runs `fn` under it; `fn` calls `assertHeld()` right before it writes. Within one process, callers on the same target queue in
 * memory first, so they never race each other for the lock directory.
 */
export async function withLock<T>(
  target: string,
  options: { staleMs: number; waitMs: number; what: string },
  fn: (assertHeld: () => void) => Promise<T>,
): Promise<T> {
  return serialize(target, async () => {
    let compromised: Error | undefined
    const maxTimeout = 25
    const release = await lockfile
      .lock(target, {
        realpath: false,
        stale: options.staleMs,
        retries: { retries: Math.ceil(options.waitMs / maxTimeout), minTimeout: 2, maxTimeout, factor: 1.5, randomize: true },
        onCompromised: (error) => {
          compromised = error
        },
      })
      .catch((cause: unknown) => {
        throw new HomeError(`Another process holds the audit log's ${options.what} lock.`, {
          cause,
          hint: `Wait for it to finish. If no medvault process is running, remove ${target}.lock.`,
        })
      })
    const assertHeld = () => {
      if (compromised) throw new HomeError(`The audit log's ${options.what} lock was lost while held.`, { cause: compromised })
    }
    try {
      return await fn(assertHeld)
    } finally {
      await release().catch(() => undefined)
    }
  })
}

const queues = new Map<string, Promise<unknown>>()

function serialize<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve()
  const run = previous.then(() => fn())
  const settled = run.then(
    () => undefined,
    () => undefined,
  )
  queues.set(key, settled)
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key)
  })
  return run
}
