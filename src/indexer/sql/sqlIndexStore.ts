import { type Address, type Hex, getAddress } from 'viem'
import { InvalidInputError } from '../../errors.js'
import { IndexError } from '../errors.js'
import type { IndexBatch, IndexCursor, IndexScope, IndexStatus, IndexStore, RecordFilter, SharingPatient } from '../types.js'
import { applyEvents } from './applyEvents.js'
import type { SqlDriver, SqlExecutor, SqlValue } from './driver.js'
import { createJournal, undoAbove } from './journal.js'
import { delegateFromRow, emergencyFromRow, grantFromRow, providerFromRow, recordFromRow } from './rows.js'
import { CHAIN_TABLES } from './schema.js'
import { big, dateOf, maxBig, minBig, num, seconds } from './values.js'

/** Active at time `t` (seconds): created, not expired, not revoked. Mirrors ConsentRegistry `_isActive`. */
const ACTIVE_AT = 'created_at <= ? AND expires_at > ? AND (revoked_at IS NULL OR revoked_at > ?)'

const MAX_NONCE_LENGTH = 256

async function readCursor(db: SqlExecutor): Promise<IndexCursor | undefined> {
  const [row] = await db.all('SELECT block_number, block_hash FROM sync_cursor WHERE id = 1')
  return row ? { block: big(row.block_number), hash: String(row.block_hash) as Hex } : undefined
}

function checkNonce(nonce: string) {
  if (nonce.length === 0 || nonce.length > MAX_NONCE_LENGTH) {
    throw new InvalidInputError(`A nonce must be 1 to ${MAX_NONCE_LENGTH} characters long.`)
  }
}

/** Deletes everything read from the chain (not the deployment it belongs to, nor the nonces). */
async function resetChainData(tx: SqlExecutor): Promise<void> {
  for (const table of [...Object.keys(CHAIN_TABLES), 'undo_log', 'blocks', 'sync_cursor']) await tx.run(`DELETE FROM ${table}`)
}

/**
 * An IndexStore over either SQL backend. Queries are plain SQL both SQLite and PostgreSQL accept;
 * the driver supplies the connection and the write transaction.
 */
export function createSqlIndexStore(db: SqlDriver, where: { location: string }): IndexStore {
  /** Wraps driver failures in an IndexError that says what to do; our own errors pass through. */
  async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      if (error instanceof IndexError || error instanceof InvalidInputError) throw error
      throw new IndexError(`The index database failed while ${what}.`, {
        cause: error,
        details: error instanceof Error ? error.message : String(error),
        hint: 'Check that the database is reachable; the index can always be rebuilt with `medvault index rebuild`.',
      })
    }
  }

  async function grantsWhere(condition: string, params: SqlValue[]) {
    const rows = await db.all(`SELECT * FROM grants WHERE ${condition} ORDER BY grant_id`, params)
    const tokens = await db.all(
      `SELECT grant_id, token_id FROM grant_records WHERE grant_id IN (SELECT grant_id FROM grants WHERE ${condition}) ORDER BY token_id`,
      params,
    )
    const byGrant = new Map<bigint, bigint[]>()
    for (const t of tokens) {
      const id = big(t.grant_id)
      byGrant.set(id, [...(byGrant.get(id) ?? []), big(t.token_id)])
    }
    return rows.map((r) => grantFromRow(r, byGrant.get(big(r.grant_id)) ?? []))
  }

  return {
    kind: db.dialect,

    recordsOf: (patient: Address, filter: RecordFilter = {}) =>
      guard('listing records', async () => {
        const conditions = ['patient = ?']
        const params: SqlValue[] = [getAddress(patient)]
        if (filter.tags !== undefined) {
          // No tag of the category known to the viewer: nothing it may call that category.
          if (filter.tags.length === 0) return []
          conditions.push(`tag IN (${filter.tags.map(() => '?').join(', ')})`)
          params.push(...filter.tags.map((t) => t.toLowerCase()))
        }
        if (filter.issuedFrom) {
          conditions.push('issued_at >= ?')
          params.push(seconds(filter.issuedFrom))
        }
        if (filter.issuedTo) {
          conditions.push('issued_at <= ?')
          params.push(seconds(filter.issuedTo))
        }
        if (filter.issuer) {
          conditions.push('issuer = ?')
          params.push(getAddress(filter.issuer))
        }
        if (!filter.includeSuperseded) conditions.push('superseded_by IS NULL')
        if (!filter.includeErased) conditions.push('erased_at IS NULL')
        const rows = await db.all(`SELECT * FROM records WHERE ${conditions.join(' AND ')} ORDER BY token_id`, params)
        return rows.map(recordFromRow)
      }),

    record: (tokenId) =>
      guard('reading a record', async () => {
        const [row] = await db.all('SELECT * FROM records WHERE token_id = ?', [tokenId])
        return row ? recordFromRow(row) : undefined
      }),

    grantsOf: (patient) => guard('listing grants', () => grantsWhere('patient = ?', [getAddress(patient)])),

    grantsTo: (grantee, options = {}) =>
      guard('listing grants', () => {
        if (!options.activeAt) return grantsWhere('grantee = ?', [getAddress(grantee)])
        const t = seconds(options.activeAt)
        return grantsWhere(`grantee = ? AND ${ACTIVE_AT}`, [getAddress(grantee), t, t, t])
      }),

    patientsSharingWith: (grantee, now) =>
      guard('listing patients', async () => {
        const t = seconds(now)
        const rows = await db.all(
          `SELECT patient, COUNT(*) AS grants, MAX(expires_at) AS latest_expiry FROM grants
           WHERE grantee = ? AND ${ACTIVE_AT} GROUP BY patient ORDER BY patient`,
          [getAddress(grantee), t, t, t],
        )
        return rows.map(
          (r): SharingPatient => ({ patient: getAddress(String(r.patient)), grants: num(r.grants), latestExpiry: dateOf(r.latest_expiry) }),
        )
      }),

    delegatesOf: (patient) =>
      guard('listing delegates', async () => {
        const rows = await db.all('SELECT * FROM delegates WHERE patient = ? ORDER BY block_number, delegate', [getAddress(patient)])
        return rows.map(delegateFromRow)
      }),

    emergenciesOf: (patient) =>
      guard('listing emergency access', async () => {
        const rows = await db.all('SELECT * FROM emergency_accesses WHERE patient = ? ORDER BY block_number DESC, log_index DESC', [
          getAddress(patient),
        ])
        return rows.map(emergencyFromRow)
      }),

    providers: () =>
      guard('listing providers', async () => {
        const rows = await db.all(
          `SELECT p.*, e.allowed FROM providers p LEFT JOIN emergency_providers e ON e.address = p.address
           ORDER BY p.block_number, p.log_index`,
        )
        return rows.map(providerFromRow)
      }),

    status: () =>
      guard('reading its status', async (): Promise<IndexStatus> => {
        const [c] = await db.all('SELECT * FROM sync_cursor WHERE id = 1')
        const [counts] = await db.all(
          `SELECT (SELECT COUNT(*) FROM records) AS records, (SELECT COUNT(*) FROM grants) AS grants,
                  (SELECT COUNT(*) FROM providers) AS providers`,
        )
        const lastBlock = c ? big(c.block_number) : undefined
        const headBlock = c ? big(c.head_block) : undefined
        return {
          kind: db.dialect,
          location: where.location,
          lastBlock,
          lastBlockHash: c ? (String(c.block_hash) as Hex) : undefined,
          headBlock,
          lag: lastBlock !== undefined && headBlock !== undefined ? (headBlock > lastBlock ? headBlock - lastBlock : 0n) : undefined,
          finalBlock: c ? big(c.final_block) : undefined,
          syncedAt: c ? new Date(num(c.synced_at)) : undefined,
          counts: { records: num(counts?.records ?? 0), grants: num(counts?.grants ?? 0), providers: num(counts?.providers ?? 0) },
        }
      }),

    putNonce: (nonce, expiresAt) =>
      guard('storing a nonce', async () => {
        checkNonce(nonce)
        const added = await db.run('INSERT INTO nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING', [
          nonce,
          expiresAt.getTime(),
        ])
        if (added !== 1) throw new IndexError('That nonce is already in use.', { hint: 'Generate a fresh random nonce.' })
      }),

    // One DELETE decides: the database lets exactly one statement remove the row.
    consumeNonce: (nonce, now) =>
      guard('using a nonce', async () => {
        checkNonce(nonce)
        return (await db.run('DELETE FROM nonces WHERE nonce = ? AND expires_at > ?', [nonce, now.getTime()])) === 1
      }),

    pruneNonces: (now) => guard('pruning nonces', () => db.run('DELETE FROM nonces WHERE expires_at <= ?', [now.getTime()])),

    bindScope: (scope: IndexScope) =>
      guard('binding it to the deployment', () =>
        db.transaction(async (tx) => {
          const wanted: Record<string, string> = {
            chain_id: String(scope.chainId),
            registry: getAddress(scope.registry),
            records: getAddress(scope.records),
            consent: getAddress(scope.consent),
            deployed_at_block: scope.deployedAtBlock,
          }
          const rows = await tx.all('SELECT key, value FROM meta')
          const stored = Object.fromEntries(rows.map((r) => [String(r.key), String(r.value)]))
          const same = Object.entries(wanted).every(([k, v]) => stored[k] === v)
          if (same) return false
          const hadData = rows.length > 0 || (await readCursor(tx)) !== undefined
          await resetChainData(tx)
          await tx.run('DELETE FROM meta')
          for (const [key, value] of Object.entries(wanted)) await tx.run('INSERT INTO meta (key, value) VALUES (?, ?)', [key, value])
          return hadData
        }),
      ),

    cursor: () => guard('reading the cursor', () => readCursor(db)),

    recentBlocks: () =>
      guard('reading block hashes', async () => {
        const rows = await db.all('SELECT number, hash FROM blocks ORDER BY number DESC')
        return rows.map((r) => ({ block: big(r.number), hash: String(r.hash) as Hex }))
      }),

    applyBatch: (batch: IndexBatch) =>
      guard('writing indexed blocks', () =>
        db.transaction(async (tx) => {
          const cursor = await readCursor(tx)
          if (cursor?.block !== batch.expectedCursor) return false
          const previousFinal = await tx.all('SELECT final_block FROM sync_cursor WHERE id = 1')
          const finalBlock = maxBig(minBig(batch.finalBlock, batch.toBlock), ...previousFinal.map((r) => big(r.final_block)))
          await applyEvents(createJournal(tx, finalBlock), batch.events)
          for (const b of batch.blocks) {
            await tx.run('INSERT INTO blocks (number, hash) VALUES (?, ?) ON CONFLICT (number) DO UPDATE SET hash = excluded.hash', [
              b.block,
              b.hash,
            ])
          }
          await tx.run(
            `INSERT INTO sync_cursor (id, block_number, block_hash, head_block, final_block, synced_at) VALUES (1, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET block_number = excluded.block_number, block_hash = excluded.block_hash,
               head_block = excluded.head_block, final_block = excluded.final_block, synced_at = excluded.synced_at`,
            [batch.toBlock, batch.toHash, batch.headBlock, finalBlock, Date.now()],
          )
          // Final blocks are not undone: drop their undo entries, and all their hashes but the newest (the anchor a deep reorg check needs).
          await tx.run('DELETE FROM undo_log WHERE block_number <= ?', [finalBlock])
          const [anchor] = await tx.all('SELECT MAX(number) AS number FROM blocks WHERE number <= ?', [finalBlock])
          if (anchor?.number !== null && anchor?.number !== undefined)
            await tx.run('DELETE FROM blocks WHERE number < ?', [big(anchor.number)])
          return true
        }),
      ),

    rollbackTo: (block) =>
      guard('undoing orphaned blocks', () =>
        db.transaction(async (tx) => {
          const [kept] = await tx.all('SELECT hash FROM blocks WHERE number = ?', [block])
          if (!kept) throw new IndexError(`Block ${block} is not among the index's stored blocks, so it cannot roll back to it.`)
          await undoAbove(tx, block)
          await tx.run('DELETE FROM blocks WHERE number > ?', [block])
          await tx.run(
            'UPDATE sync_cursor SET block_number = ?, block_hash = ?, final_block = CASE WHEN final_block > ? THEN ? ELSE final_block END',
            [block, String(kept.hash), block, block],
          )
        }),
      ),

    reset: () => guard('emptying it', () => db.transaction(resetChainData)),

    close: () => db.close(),
  }
}
