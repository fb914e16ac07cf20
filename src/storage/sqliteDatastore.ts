/**
 * Helia's datastore (its pins and pin counts) in one SQLite file instead of a file per key.
 *
 * datastore-fs writes each key as a file of its own, so every record stored made two new files
 * beside its block (`/pin/<root>` and `/pinned-block/<block>`), and creating files was most of the
 * kernel time of an import (docs/benchmarks.md#import). Written here because no maintained
 * interface-datastore on SQLite exists, and the one Helia suggests, datastore-level, lets a single
 * process open a repository while a medvault home is opened by its server and its CLI at once.
 * SQLite in WAL mode serves several processes. datastore-core's BaseDatastore supplies query
 * filters, orders, offsets and limits; this class adds the storage, a prefix pushed down into the
 * SQL, and batches as transactions.
 *
 * Durability is datastore-fs's: a write survives the process being killed (it is in the
 * database's log when `put` returns) but the log is synced at checkpoints, not on every commit.
 *
 * Storage that refuses writes: a repository on a read-only disk still serves reads, as one of
 * files did. SQLite cannot open a database in WAL mode there (it needs its shared-memory file), so
 * `close` turns the file back to a rollback journal when it is the last connection, and a
 * connection that cannot write opens the file read-only; it tries to become writable again at
 * the next write, so a long-running server recovers once the disk is writable.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { BaseDatastore } from 'datastore-core'
import { FsDatastore } from 'datastore-fs'
import { type Batch, Key, type KeyQuery, type Pair, type Query } from 'interface-datastore'
import { NotFoundError, OpenFailedError } from 'interface-store'

// Signals are not looked at: every call is one short synchronous statement.
type AbortOptions = { signal?: AbortSignal }

type Row = { key: string; value: Uint8Array }

/** What sorts after every key that starts with a prefix (keys are `/`-separated text). */
const END = '\u{10FFFF}'

export class SqliteDatastore extends BaseDatastore {
  private db: BetterSqlite3.Database
  private statements: ReturnType<typeof prepare>
  /** Opened read-only because the storage refused writes (see the file comment). */
  private readOnly = false

  /** Use {@link openSqliteDatastore}: loading better-sqlite3 is asynchronous. */
  constructor(
    private readonly Database: typeof BetterSqlite3,
    readonly path: string,
  ) {
    super()
    try {
      this.db = this.openWritable()
    } catch (cause) {
      // A database that is there but cannot be written (read-only storage) is still read.
      if (!existsSync(path)) throw new OpenFailedError(`Cannot open the datastore ${path}: ${String(cause)}`)
      try {
        this.db = new Database(path, { readonly: true, fileMustExist: true })
        this.readOnly = true
      } catch {
        throw new OpenFailedError(`Cannot open the datastore ${path}: ${String(cause)}`)
      }
    }
    this.statements = prepare(this.db)
  }

  private openWritable(): BetterSqlite3.Database {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 })
    const db = new this.Database(this.path)
    try {
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = NORMAL')
      // Transactions here never span an await, so waiting for another process's lock is safe.
      db.pragma('busy_timeout = 10000')
      db.exec('CREATE TABLE IF NOT EXISTS datastore (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID')
      return db
    } catch (error) {
      db.close()
      throw error
    }
  }

  /** Before a write: a read-only connection tries to become writable (the storage may be back). */
  private writable(): void {
    if (!this.readOnly) return
    const db = this.openWritable()
    this.db.close()
    this.db = db
    this.statements = prepare(db)
    this.readOnly = false
  }

  override async put(key: Key, value: Uint8Array, _options?: AbortOptions): Promise<Key> {
    this.writable()
    this.statements.put.run(key.toString(), value)
    return key
  }

  override async get(key: Key, _options?: AbortOptions): Promise<Uint8Array> {
    const row = this.statements.get.get(key.toString())
    // The error Helia looks for by name when a key is not held.
    if (!row) throw new NotFoundError(`No datastore entry for ${key.toString()}`)
    return row.value
  }

  override async has(key: Key, _options?: AbortOptions): Promise<boolean> {
    return this.statements.has.get(key.toString()) !== undefined
  }

  override async delete(key: Key, _options?: AbortOptions): Promise<void> {
    this.writable()
    this.statements.delete.run(key.toString())
  }

  override async *putMany(source: Iterable<Pair> | AsyncIterable<Pair>): AsyncGenerator<Key> {
    const pairs: Pair[] = []
    for await (const pair of source) pairs.push(pair)
    this.transaction(() => {
      for (const { key, value } of pairs) this.statements.put.run(key.toString(), value)
    })
    yield* pairs.map((p) => p.key)
  }

  override batch(): Batch {
    const puts: Pair[] = []
    const deletes: Key[] = []
    return {
      put: (key, value) => void puts.push({ key, value }),
      delete: (key) => void deletes.push(key),
      commit: async () => {
        this.transaction(() => {
          for (const { key, value } of puts.splice(0)) this.statements.put.run(key.toString(), value)
          for (const key of deletes.splice(0)) this.statements.delete.run(key.toString())
        })
      },
    }
  }

  override async *_all(q: Query): AsyncGenerator<Pair> {
    for (const row of this.rows(q.prefix)) yield { key: new Key(row.key), value: row.value }
  }

  override async *_allKeys(q: KeyQuery): AsyncGenerator<Key> {
    for (const row of this.rows(q.prefix)) yield new Key(row.key)
  }

  close(): void {
    if (!this.db.open) return
    if (!this.readOnly) {
      try {
        // Back to a rollback journal, which read-only storage can open; refused (and harmless)
        // while another connection has the database open.
        this.db.pragma('busy_timeout = 0')
        this.db.pragma('journal_mode = DELETE')
      } catch {
        // another process holds it: it stays in WAL mode
      }
    }
    this.db.close()
  }

  /** The rows under `prefix` (all without one), read at once: an iterator kept open would hold the database's read lock across awaits. */
  private rows(prefix: string | undefined): Row[] {
    return prefix ? this.statements.range.all(prefix, `${prefix}${END}`) : this.statements.all.all()
  }

  private transaction(fn: () => void): void {
    this.writable()
    this.db.transaction(fn)()
  }
}

function prepare(db: BetterSqlite3.Database) {
  return {
    put: db.prepare<[string, Uint8Array]>('INSERT OR REPLACE INTO datastore (key, value) VALUES (?, ?)'),
    get: db.prepare<[string], { value: Uint8Array }>('SELECT value FROM datastore WHERE key = ?'),
    has: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM datastore WHERE key = ?'),
    delete: db.prepare<[string]>('DELETE FROM datastore WHERE key = ?'),
    all: db.prepare<[], Row>('SELECT key, value FROM datastore ORDER BY key'),
    range: db.prepare<[string, string], Row>('SELECT key, value FROM datastore WHERE key >= ? AND key < ? ORDER BY key'),
  }
}

/**
 * Opens (creating if needed) the datastore at `path`. The entries of an older repository's
 * datastore-fs folder `legacyDir` are copied in first and the folder removed once they are all in,
 * so a crash half-way only repeats the copy.
 */
export async function openSqliteDatastore(path: string, options: { legacyDir?: string } = {}): Promise<SqliteDatastore> {
  const { default: Database } = await import('better-sqlite3')
  const store = new SqliteDatastore(Database, path)
  const { legacyDir } = options
  if (legacyDir && existsSync(legacyDir)) {
    const legacy = new FsDatastore(legacyDir, { createIfMissing: false })
    try {
      await legacy.open()
      const batch = store.batch()
      for await (const { key, value } of legacy.query({})) batch.put(key, value)
      await batch.commit()
    } catch (cause) {
      store.close()
      throw new OpenFailedError(`Cannot move the pins of ${legacyDir} into ${path}: ${String(cause)}`)
    }
    rmSync(legacyDir, { recursive: true, force: true })
  }
  return store
}
