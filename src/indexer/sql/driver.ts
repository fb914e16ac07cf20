/** A value bound to a `?` placeholder. */
export type SqlValue = string | number | bigint | null

/** A result row; integers may come back as bigint (SQLite), string (PostgreSQL BIGINT) or number. */
export type SqlRow = Record<string, unknown>

export interface SqlExecutor {
  /** Runs a statement and returns its rows (none for a statement without RETURNING). */
  all(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>
  /** Runs a statement and returns how many rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>
}

/**
 * The little SQL both backends share: `?` placeholders, and one write transaction at a time (the
 * writer takes a lock, so several indexers on one database never interleave).
 */
export interface SqlDriver extends SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres'
  /** Runs `fn` in one write transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>
  close(): Promise<void>
}
