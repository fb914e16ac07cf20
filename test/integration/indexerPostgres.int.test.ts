/**
 * The IndexStore behaviour suite against a real PostgreSQL (a throwaway cluster, see postgres.ts),
 * plus what only PostgreSQL has: several servers' stores on one database.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { openIndexStore, openPostgresIndex } from '../../src/indexer/index.js'
import { describeIndexStore, history, snapshot } from './indexerStoreSuite.js'
import { POSTGRES_MISSING, type TestPostgres, findPostgresBin, skipPostgres, startPostgres } from './postgres.js'

it('finds PostgreSQL (initdb, pg_ctl) to test against', { skip: skipPostgres ? 'MEDVAULT_SKIP_POSTGRES=1' : false }, () => {
  assert.ok(findPostgresBin(), POSTGRES_MISSING)
})

describe('PostgreSQL index', { skip: skipPostgres ? 'MEDVAULT_SKIP_POSTGRES=1' : false }, () => {
  let pg: TestPostgres
  before(async () => {
    pg = await startPostgres()
  })
  after(async () => {
    await pg?.stop()
  })

  describeIndexStore('PostgreSQL', () => openPostgresIndex(pg.url))

  it('is chosen by the config, and several stores on one database see the same index', async () => {
    const url = pg.createDatabase('shared')
    const [a, b] = await Promise.all([
      openIndexStore({ index: '/unused' }, { index: { kind: 'postgres', url } }),
      openIndexStore({ index: '/unused' }, { index: { kind: 'postgres', url } }),
    ])
    try {
      assert.equal(a.kind, 'postgres')
      // Two writers at once: exactly one batch lands, the other sees the cursor moved.
      const results = await Promise.all([a.applyBatch(history()), b.applyBatch(history())])
      assert.deepEqual(results.sort(), [false, true])
      assert.equal((await b.status()).counts.records, 4)
      assert.deepEqual(await snapshot(b), await snapshot(a))
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('says where it cannot connect, without the password', async () => {
    await assert.rejects(openPostgresIndex('postgres://medvault:hunter2@127.0.0.1:1/medvault'), (error: Error) => {
      assert.equal(error.name, 'IndexError')
      assert.match(error.message, /postgres:\/\/medvault:\*\*\*@127\.0\.0\.1:1\/medvault/)
      assert.doesNotMatch(`${error.message} ${(error as { details?: string }).details}`, /hunter2/)
      return true
    })
  })
})
