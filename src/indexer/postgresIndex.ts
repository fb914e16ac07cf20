import type { Pool, PoolClient } from 'pg'
import { IndexError } from './errors.js'
import type { SqlDriver, SqlExecutor, SqlValue } from './sql/driver.js'
import { migrate } from './sql/schema.js'
import { createSqlIndexStore } from './sql/sqlIndexStore.js'
import type { IndexStore } from './types.js'

/** Advisory lock held by each write transaction: several indexers on one database take turns. */
const WRITER_LOCK = [0x6d76, 1] as const

/** A PostgreSQL URL fit to print: the password replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return 'postgres://(unparseable URL)'
  }
}

/**
 * Opens the index in PostgreSQL (a connection pool), creating or updating its schema. Use it when
 * several servers share one index behind a load balancer.
 *
 * @param url - a `postgres://user:password@host:port/database` URL.
 * @example
 * const store = await openPostgresIndex('postgres://medvault@db.internal/medvault')
 */
export async function openPostgresIndex(url: string, options: { maxConnections?: number } = {}): Promise<IndexStore> {
  const location = redactUrl(url)
  const { default: pg } = await import('pg')
  const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 10 })
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined)
  const driver = postgresDriver(pool)
  try {
    await migrate(driver)
  } catch (error) {
    await driver.close()
    if (error instanceof IndexError) throw error
    throw new IndexError(`Cannot open the index database at ${location}.`, {
      cause: error,
      details: error instanceof Error ? error.message : String(error),
      hint: 'Check that PostgreSQL is running and the URL (`index.url` in config.json) is right.',
    })
  }
  return createSqlIndexStore(driver, { location })
}

/** `?` placeholders → `$1, $2, …` (the index's SQL has no `?` inside literals). */
function numbered(sql: string): string {
  let n = 0
  return sql.replace(/\?/g, () => `$${++n}`)
}

const toParams = (params: readonly SqlValue[]) => params.map((p) => (typeof p === 'bigint' ? p.toString() : p))

function executorOf(client: Pool | PoolClient): SqlExecutor {
  return {
    async all(sql, params = []) {
      return (await client.query(numbered(sql), toParams(params))).rows
    },
    async run(sql, params = []) {
      return (await client.query(numbered(sql), toParams(params))).rowCount ?? 0
    },
  }
}

function postgresDriver(pool: Pool): SqlDriver {
  let closed = false
  return {
    dialect: 'postgres',
    ...executorOf(pool),
    async transaction(fn) {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        await client.query('SELECT pg_advisory_xact_lock($1, $2)', [...WRITER_LOCK])
        const result = await fn(executorOf(client))
        await client.query('COMMIT')
        return result
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined)
        throw error
      } finally {
        client.release()
      }
    },
    async close() {
      if (closed) return
      closed = true
      await pool.end()
    },
  }
}
