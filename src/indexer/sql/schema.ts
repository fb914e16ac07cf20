import { IndexError } from '../errors.js'
import type { SqlDriver } from './driver.js'

/**
 * The index's tables. Everything in them is on chain already (addresses, token ids, the
 * patients' blinded category tags, hashes, block numbers and times); no health data, which the
 * chain does not hold either. Times are Unix seconds, except nonce expiries (milliseconds).
 */
const V1 = (serial: string) => [
  'CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
  `CREATE TABLE sync_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    block_number BIGINT NOT NULL,
    block_hash TEXT NOT NULL,
    head_block BIGINT NOT NULL,
    final_block BIGINT NOT NULL,
    synced_at BIGINT NOT NULL
  )`,
  // Hashes of recent indexed blocks, to find where a reorg forked.
  'CREATE TABLE blocks (number BIGINT PRIMARY KEY, hash TEXT NOT NULL)',
  // Previous versions of rows changed in blocks that are not final yet, to undo them after a reorg.
  `CREATE TABLE undo_log (
    seq ${serial},
    block_number BIGINT NOT NULL,
    tbl TEXT NOT NULL,
    row_key TEXT NOT NULL,
    old_row TEXT
  )`,
  'CREATE INDEX undo_log_block ON undo_log (block_number)',
  `CREATE TABLE records (
    token_id BIGINT PRIMARY KEY,
    patient TEXT NOT NULL,
    issuer TEXT NOT NULL,
    category INTEGER NOT NULL,
    sensitivity INTEGER NOT NULL,
    issued_at BIGINT NOT NULL,
    cid TEXT NOT NULL,
    commitment TEXT NOT NULL,
    supersedes BIGINT,
    superseded_by BIGINT,
    block_number BIGINT NOT NULL,
    log_index INTEGER NOT NULL,
    tx_hash TEXT NOT NULL
  )`,
  'CREATE INDEX records_patient ON records (patient, issued_at)',
  'CREATE INDEX records_issuer ON records (issuer)',
  'CREATE INDEX records_block ON records (block_number)',
  `CREATE TABLE grants (
    grant_id BIGINT PRIMARY KEY,
    patient TEXT NOT NULL,
    grantee TEXT NOT NULL,
    grantor TEXT NOT NULL,
    scope TEXT NOT NULL,
    categories INTEGER NOT NULL,
    sensitive INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT,
    block_number BIGINT NOT NULL,
    log_index INTEGER NOT NULL,
    tx_hash TEXT NOT NULL
  )`,
  'CREATE INDEX grants_patient ON grants (patient)',
  'CREATE INDEX grants_grantee ON grants (grantee, expires_at)',
  'CREATE INDEX grants_block ON grants (block_number)',
  `CREATE TABLE grant_records (
    grant_id BIGINT NOT NULL,
    token_id BIGINT NOT NULL,
    block_number BIGINT NOT NULL,
    PRIMARY KEY (grant_id, token_id)
  )`,
  'CREATE INDEX grant_records_block ON grant_records (block_number)',
  `CREATE TABLE providers (
    address TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    encryption_key TEXT NOT NULL,
    status TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    updated_block BIGINT NOT NULL,
    block_number BIGINT NOT NULL,
    log_index INTEGER NOT NULL
  )`,
  `CREATE TABLE emergency_providers (
    address TEXT PRIMARY KEY,
    allowed INTEGER NOT NULL,
    updated_block BIGINT NOT NULL,
    block_number BIGINT NOT NULL
  )`,
  `CREATE TABLE delegates (
    patient TEXT NOT NULL,
    delegate TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    block_number BIGINT NOT NULL,
    PRIMARY KEY (patient, delegate)
  )`,
  `CREATE TABLE emergency_accesses (
    block_number BIGINT NOT NULL,
    log_index INTEGER NOT NULL,
    patient TEXT NOT NULL,
    provider TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    open_until BIGINT NOT NULL,
    reason_hash TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
  )`,
  'CREATE INDEX emergency_accesses_patient ON emergency_accesses (patient)',
  // Sign-In with Ethereum nonces: not chain data, kept here because the server keeps no other state.
  'CREATE TABLE nonces (nonce TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)',
  'CREATE INDEX nonces_expiry ON nonces (expires_at)',
]

/** Version 2: records a patient erased (crypto-shredded): the token stays, nothing can open it. */
const V2 = () => ['ALTER TABLE records ADD COLUMN erased_at BIGINT']

/**
 * Version 3 (issue 22, blinded categories): a record has the patient's tag instead of a category
 * code and flags, a grant the tags it lists instead of a mask. The chain no longer says what the
 * old columns held, so nothing can be converted: the chain data is dropped, and the next sync
 * reads it all again from the deployment's first block (the index is a cache of the chain; the
 * binding to its deployment and the nonces stay).
 */
const V3 = () => [
  'DELETE FROM grant_records',
  'DELETE FROM providers',
  'DELETE FROM emergency_providers',
  'DELETE FROM delegates',
  'DELETE FROM emergency_accesses',
  'DELETE FROM undo_log',
  'DELETE FROM blocks',
  'DELETE FROM sync_cursor',
  'DROP TABLE records',
  `CREATE TABLE records (
    token_id BIGINT PRIMARY KEY,
    patient TEXT NOT NULL,
    issuer TEXT NOT NULL,
    tag TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    cid TEXT NOT NULL,
    commitment TEXT NOT NULL,
    supersedes BIGINT,
    superseded_by BIGINT,
    erased_at BIGINT,
    block_number BIGINT NOT NULL,
    log_index INTEGER NOT NULL,
    tx_hash TEXT NOT NULL
  )`,
  'CREATE INDEX records_patient ON records (patient, issued_at)',
  'CREATE INDEX records_patient_tag ON records (patient, tag)',
  'CREATE INDEX records_issuer ON records (issuer)',
  'CREATE INDEX records_block ON records (block_number)',
  'DROP TABLE grants',
  // `tags`: the listed tags, lower-case hex joined by commas (at most 256, ConsentRegistry.MAX_TAGS).
  `CREATE TABLE grants (
    grant_id BIGINT PRIMARY KEY,
    patient TEXT NOT NULL,
    grantee TEXT NOT NULL,
    grantor TEXT NOT NULL,
    scope TEXT NOT NULL,
    tags TEXT NOT NULL,
    purpose TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT,
    block_number BIGINT NOT NULL,
    log_index INTEGER NOT NULL,
    tx_hash TEXT NOT NULL
  )`,
  'CREATE INDEX grants_patient ON grants (patient)',
  'CREATE INDEX grants_grantee ON grants (grantee, expires_at)',
  'CREATE INDEX grants_block ON grants (block_number)',
]

/** Migrations in order; migration n brings the schema to version n. Never edit one that shipped: add the next. */
const MIGRATIONS: ((serial: string) => string[])[] = [V1, V2, V3]

export const SCHEMA_VERSION = MIGRATIONS.length

/**
 * Tables whose rows come from the chain, with their key columns. Rollback and reset touch these
 * and nothing else.
 */
export const CHAIN_TABLES = {
  records: ['token_id'],
  grants: ['grant_id'],
  grant_records: ['grant_id', 'token_id'],
  providers: ['address'],
  emergency_providers: ['address'],
  delegates: ['patient', 'delegate'],
  emergency_accesses: ['block_number', 'log_index'],
} as const satisfies Record<string, readonly string[]>

export type ChainTable = keyof typeof CHAIN_TABLES

/** Creates the schema, or brings an older one up to date, in one transaction. */
export async function migrate(driver: SqlDriver): Promise<void> {
  const serial = driver.dialect === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT'
  await driver.transaction(async (tx) => {
    await tx.run('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)')
    const [row] = await tx.all('SELECT MAX(version) AS version FROM schema_version')
    const current = Number(row?.version ?? 0)
    if (current > SCHEMA_VERSION) {
      throw new IndexError(`The index has schema version ${current}, newer than this medvault knows (${SCHEMA_VERSION}).`, {
        hint: 'Upgrade medvault, or delete the index and run `medvault index rebuild`.',
      })
    }
    for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
      for (const statement of MIGRATIONS[version - 1]!(serial)) await tx.run(statement)
      await tx.run('INSERT INTO schema_version (version) VALUES (?)', [version])
    }
  })
}
