import type { SqlExecutor, SqlRow, SqlValue } from './driver.js'
import { CHAIN_TABLES, type ChainTable } from './schema.js'
import { rowFromJson, rowToJson } from './values.js'

type Row = Record<string, SqlValue>

const IDENTIFIER = /^[a-z_]+$/

function checkTable(table: string): ChainTable {
  if (!Object.hasOwn(CHAIN_TABLES, table)) throw new Error(`Not an index table: ${table}`)
  return table as ChainTable
}

function columns(row: Row): string[] {
  const names = Object.keys(row)
  for (const name of names) if (!IDENTIFIER.test(name)) throw new Error(`Not a column name: ${name}`)
  return names
}

function keyOf(table: ChainTable, row: Row): Row {
  return Object.fromEntries(CHAIN_TABLES[table].map((column) => [column, row[column] ?? null]))
}

const where = (key: Row) =>
  columns(key)
    .map((c) => `${c} = ?`)
    .join(' AND ')

async function insert(tx: SqlExecutor, table: ChainTable, row: Row): Promise<void> {
  const names = columns(row)
  await tx.run(
    `INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
    names.map((n) => row[n] ?? null),
  )
}

async function remove(tx: SqlExecutor, table: ChainTable, key: Row): Promise<void> {
  await tx.run(`DELETE FROM ${table} WHERE ${where(key)}`, Object.values(key))
}

/**
 * Writes to the chain tables, keeping the previous version of each row it touches in a block that
 * is not final yet (above `finalBlock`), so that a reorg can be undone exactly (`undoAbove`).
 * Blocks at or below `finalBlock` are not expected to change; a reorg deeper than that rebuilds
 * the index instead.
 */
export function createJournal(tx: SqlExecutor, finalBlock: bigint) {
  async function find(table: ChainTable, key: Row): Promise<SqlRow | undefined> {
    const [row] = await tx.all(`SELECT * FROM ${table} WHERE ${where(key)}`, Object.values(key))
    return row
  }

  async function remember(block: bigint, table: ChainTable, key: Row, old: SqlRow | undefined) {
    if (block <= finalBlock) return
    await tx.run('INSERT INTO undo_log (block_number, tbl, row_key, old_row) VALUES (?, ?, ?, ?)', [
      block,
      table,
      rowToJson(key),
      old ? rowToJson(old) : null,
    ])
  }

  return {
    /** Inserts a row, or replaces the row with the same key. */
    async put(block: bigint, tableName: string, row: Row): Promise<void> {
      const table = checkTable(tableName)
      const key = keyOf(table, row)
      const old = await find(table, key)
      await remember(block, table, key, old)
      if (old) await remove(tx, table, key)
      await insert(tx, table, row)
    },

    /** Changes some columns of an existing row; does nothing if there is no such row. */
    async patch(block: bigint, tableName: string, key: Row, changes: Row): Promise<void> {
      const table = checkTable(tableName)
      const old = await find(table, key)
      if (!old) return
      await remember(block, table, key, old)
      const names = columns(changes)
      await tx.run(`UPDATE ${table} SET ${names.map((n) => `${n} = ?`).join(', ')} WHERE ${where(key)}`, [
        ...names.map((n) => changes[n] ?? null),
        ...Object.values(key),
      ])
    },

    /** Deletes a row if there is one. */
    async delete(block: bigint, tableName: string, key: Row): Promise<void> {
      const table = checkTable(tableName)
      const old = await find(table, key)
      if (!old) return
      await remember(block, table, key, old)
      await remove(tx, table, key)
    },
  }
}

export type Journal = ReturnType<typeof createJournal>

/**
 * Undoes every change made in blocks above `block`: restores the previous versions from the undo
 * log, newest first, then deletes any row created above it.
 */
export async function undoAbove(tx: SqlExecutor, block: bigint): Promise<void> {
  const entries = await tx.all('SELECT tbl, row_key, old_row FROM undo_log WHERE block_number > ? ORDER BY seq DESC', [block])
  for (const entry of entries) {
    const table = checkTable(String(entry.tbl))
    const key = rowFromJson(String(entry.row_key))
    await remove(tx, table, key)
    if (typeof entry.old_row === 'string') await insert(tx, table, rowFromJson(entry.old_row))
  }
  await tx.run('DELETE FROM undo_log WHERE block_number > ?', [block])
  for (const table of Object.keys(CHAIN_TABLES)) await tx.run(`DELETE FROM ${table} WHERE block_number > ?`, [block])
}
