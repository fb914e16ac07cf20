import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { IndexError } from './errors.js'
import type { SqlDriver, SqlExecutor, SqlRow, SqlValue } from './sql/driver.js'
import { migrate } from './sql/schema.js'
import { createSqlIndexStore } from './sql/sqlIndexStore.js'
import type { IndexStore } from './types.js'

/**
 * Opens (creating if needed) the SQLite index at `path`, in WAL mode so readers never wait for
 * the indexer, and brings its schema up to date.
 *
 * @param path - the database file, by default `<home>/index.sqlite` (`homePaths(home).index`).
 * @example
 * const store = await openSqliteIndex(mv.paths.index)
 */
export async function openSqliteIndex(path: string): Promise<IndexStore> {
  const driver = await openSqliteDriver(path)
  try {
    await migrate(driver)
  } catch (error) {
    await driver.close()
    if (error instanceof IndexError) throw error
    throw new IndexError(`Cannot prepare the index database ${path}.`, {
      cause: error,
      details: error instanceof Error ? error.message : String(error),
      hint: 'If another medvault process is writing it, try again; deleting it is safe (`medvault index rebuild` recreates it).',
    })
  }
  return createSqlIndexStore(driver, { location: path })
}

const BUSY_WAIT_MS = 15_000

/** Runs `fn`, retrying while another connection holds the write lock (SQLITE_BUSY), for up to 15 s. */
async function whenFree<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + BUSY_WAIT_MS
  for (let pause = 2; ; pause = Math.min(pause * 2, 100)) {
    try {
      return await fn()
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, pause))
    }
  }
}

async function openSqliteDriver(path: string): Promise<SqlDriver> {
  let db: BetterSqlite3.Database
  try {
    const { default: Database } = await import('better-sqlite3')
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    db = new Database(path)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    // Never block the thread waiting for a lock: that would also stall a transaction of this very
    // process that holds it across an await. Busy statements are retried asynchronously instead.
    db.pragma('busy_timeout = 0')
    db.defaultSafeIntegers(true)
  } catch (cause) {
    throw new IndexError(`Cannot open the index database ${path}.`, {
      cause,
      details: cause instanceof Error ? cause.message : String(cause),
      hint: 'Check the file and its permissions; deleting it is safe (`medvault index rebuild` recreates it).',
    })
  }

  const statements = new Map<string, BetterSqlite3.Statement>()
  const prepare = (sql: string) => {
    let statement = statements.get(sql)
    if (!statement) {
      statement = db.prepare(sql)
      statements.set(sql, statement)
    }
    return statement
  }
  const executor: SqlExecutor = {
    async all(sql, params: readonly SqlValue[] = []) {
      const statement = prepare(sql)
      if (statement.reader) return statement.all(...params) as SqlRow[]
      statement.run(...params)
      return []
    },
    async run(sql, params: readonly SqlValue[] = []) {
      return prepare(sql).run(...params).changes
    },
  }

  const plain: SqlExecutor = {
    all: (sql, params) => whenFree(() => executor.all(sql, params)),
    run: (sql, params) => whenFree(() => executor.run(sql, params)),
  }

  // One connection: a transaction holds it across awaits, so everything else waits its turn.
  let queue: Promise<unknown> = Promise.resolve()
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const result = queue.then(fn, fn)
    queue = result.catch(() => undefined)
    return result
  }
  let closed = false

  return {
    dialect: 'sqlite',
    all: (sql, params) => exclusive(() => plain.all(sql, params)),
    run: (sql, params) => exclusive(() => plain.run(sql, params)),
    transaction: (fn) =>
      exclusive(async () => {
        await whenFree(async () => db.exec('BEGIN IMMEDIATE'))
        try {
          const result = await fn(executor)
          db.exec('COMMIT')
          return result
        } catch (error) {
          if (db.inTransaction) db.exec('ROLLBACK')
          throw error
        }
      }),
    close: () =>
      exclusive(async () => {
        if (closed) return
        closed = true
        db.close()
      }),
  }
}
