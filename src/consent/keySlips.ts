/**
 * Key slips: a record key wrapped (HPKE) to one grantee, kept apart from the immutable envelope so
 * it can be created after the fact (at grant time) and handed out only after the chain says the
 * grantee may read (`canAccess`). A slip is useless to anyone but its grantee, and is bound to the
 * record's CID and the grantee's address.
 *
 * A home keeps them in one SQLite database (`<home>/keyslips.sqlite`). They used to be a file
 * each, in a folder per record: creating files and folders was most of the kernel time of an
 * import, and these were two of the five a record made (docs/benchmarks.md#import), where a row
 * costs a few microseconds and a batch of them one transaction. Slips are primary data (the escrow's copy
 * cannot be made again without the patient), so every commit is synced to disk.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { type Address, getAddress } from 'viem'
import { type KeySlip, type KeySlipStore, keySlipSchema as slipSchema } from '../core/index.js'
import { HomeError } from '../errors.js'

export type { KeySlip, KeySlipStore } from '../core/index.js'
export { unwrapKeySlip, wrapKeySlip } from '../core/index.js'

/** A slip store with a database behind it, closed with the home. */
export type ClosableKeySlipStore = KeySlipStore & { close(): void }

type Row = { body: string }

/**
 * Opens (creating if needed) the key slip database at `path`. Slips left by an older home in
 * `legacyDir` (a folder of `<tokenId>/<grantee>.json` files) are moved in first; the folder goes
 * once they are all in, so a crash half-way only repeats the move.
 *
 * @example
 * const slips = await openKeySlipStore(mv.paths.keySlips, { legacyDir: mv.paths.legacyKeySlips })
 */
export async function openKeySlipStore(path: string, options: { legacyDir?: string } = {}): Promise<ClosableKeySlipStore> {
  let db: BetterSqlite3.Database
  try {
    const { default: Database } = await import('better-sqlite3')
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    // Owner-only, as the slip files were; SQLite gives its log files the database file's mode.
    closeSync(openSync(path, 'a', 0o600))
    db = new Database(path)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    // A deleted slip's bytes are overwritten in the database file, not left in a free page: an
    // erasure must not leave a wrapped key behind (test/integration/erasure.int.test.ts scans for it).
    db.pragma('secure_delete = ON')
    // Statements here never hold a transaction across an await, so waiting on another process's lock is safe.
    db.pragma('busy_timeout = 10000')
    db.exec(`CREATE TABLE IF NOT EXISTS key_slips (
      token TEXT NOT NULL,
      grantee TEXT NOT NULL,
      body TEXT NOT NULL,
      PRIMARY KEY (token, grantee)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS key_slips_by_grantee ON key_slips (grantee);`)
  } catch (cause) {
    throw new HomeError(`Cannot open the key slip database ${path}.`, {
      cause,
      hint: 'Check that the home folder is writable and not on a network share that lacks file locks.',
    })
  }
  const insert = db.prepare<[string, string, string]>('INSERT OR REPLACE INTO key_slips (token, grantee, body) VALUES (?, ?, ?)')
  const selectOne = db.prepare<[string, string], Row>('SELECT body FROM key_slips WHERE token = ? AND grantee = ?')
  const selectHolders = db.prepare<[string], { grantee: string }>('SELECT grantee FROM key_slips WHERE token = ? ORDER BY grantee')
  const selectFor = db.prepare<[string], Row>('SELECT body FROM key_slips WHERE grantee = ?')
  const remove = db.prepare<[string]>('DELETE FROM key_slips WHERE token = ?')
  const removeOne = db.prepare<[string, string]>('DELETE FROM key_slips WHERE token = ? AND grantee = ?')
  const putAll = db.transaction((slips: readonly KeySlip[]) => {
    for (const slip of slips) insert.run(slip.tokenId, getAddress(slip.grantee), JSON.stringify(slip))
  })

  /** A stored slip, or undefined (and the row dropped: the next key release makes it again) when it does not parse. */
  const parse = (tokenId: string, grantee: string, body: string): KeySlip | undefined => {
    const parsed = slipSchema.safeParse(safeJson(body))
    if (parsed.success) return parsed.data
    removeOne.run(tokenId, grantee)
    return undefined
  }

  if (options.legacyDir && existsSync(options.legacyDir)) {
    putAll(readLegacySlips(options.legacyDir))
    rmSync(options.legacyDir, { recursive: true, force: true })
  }

  return {
    async put(slip) {
      putAll([slip])
    },
    async putMany(slips) {
      if (slips.length > 0) putAll(slips)
    },
    async get(tokenId, grantee) {
      const token = tokenId.toString()
      const who = getAddress(grantee)
      const row = selectOne.get(token, who)
      return row ? parse(token, who, row.body) : undefined
    },
    async holders(tokenId) {
      return selectHolders.all(tokenId.toString()).map((r) => getAddress(r.grantee))
    },
    async slipsFor(grantee) {
      const slips = selectFor
        .all(getAddress(grantee))
        .map((r) => slipSchema.safeParse(safeJson(r.body)))
        .flatMap((p) => (p.success ? [p.data] : []))
      return slips.sort((a, b) => (BigInt(a.tokenId) < BigInt(b.tokenId) ? -1 : BigInt(a.tokenId) > BigInt(b.tokenId) ? 1 : 0))
    },
    async delete(tokenId) {
      const { changes } = remove.run(tokenId.toString())
      // The write-ahead log still holds the deleted rows' pages until a checkpoint: copy them into
      // the database (where secure_delete zeroed them) and cut the log to nothing.
      if (changes > 0) db.pragma('wal_checkpoint(TRUNCATE)')
      return changes
    },
    close() {
      if (db.open) db.close()
    },
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Every readable slip in an older home's folder of slip files (damaged ones are left out, as `get` did). */
function readLegacySlips(dir: string): KeySlip[] {
  const slips: KeySlip[] = []
  for (const token of readdirSync(dir)) {
    const folder = join(dir, token)
    let files: string[]
    try {
      files = readdirSync(folder)
    } catch {
      continue
    }
    for (const file of files.filter((f) => f.endsWith('.json'))) {
      const parsed = slipSchema.safeParse(safeJson(readFileSync(join(folder, file), 'utf8')))
      if (parsed.success) slips.push(parsed.data)
    }
  }
  return slips
}

/**
 * The slips wrapped to `grantee` in the home at `path` (for a backup or `account remove`), without
 * keeping the database open; none when the home has no slip database yet.
 */
export async function readSlipsFor(path: string, grantee: Address, options: { legacyDir?: string } = {}): Promise<KeySlip[]> {
  if (!existsSync(path) && !(options.legacyDir && existsSync(options.legacyDir))) return []
  const store = await openKeySlipStore(path, options)
  try {
    return await store.slipsFor(grantee)
  } finally {
    store.close()
  }
}
