import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { CLINIC, LAB, PATIENT, describeIndexStore, history } from '../../test/integration/indexerStoreSuite.js'
import { homePaths, loadConfig } from '../home/config.js'
import { openIndexStore } from './openIndexStore.js'
import { redactUrl } from './postgresIndex.js'
import { openSqliteIndex } from './sqliteIndex.js'

const dir = mkdtempSync(join(tmpdir(), 'medvault-index-'))
after(() => rmSync(dir, { recursive: true, force: true }))

describeIndexStore('SQLite', () => openSqliteIndex(join(dir, 'suite', 'index.sqlite')))

describe('SQLite index file', () => {
  it('is created in WAL mode with the current schema version', async () => {
    const path = join(dir, 'wal', 'index.sqlite')
    const store = await openSqliteIndex(path)
    await store.close()
    const db = new Database(path, { readonly: true })
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
      assert.deepEqual(db.prepare('SELECT version FROM schema_version ORDER BY version').all(), [
        { version: 1 },
        { version: 2 },
        { version: 3 },
      ])
    } finally {
      db.close()
    }
  })

  it('brings a version-2 index (categories in clear) to version 3 by dropping its chain data, to be read again from the chain', async () => {
    const path = join(dir, 'v2.sqlite')
    const scope = { chainId: 31337, registry: PATIENT, records: LAB, consent: CLINIC, deployedAtBlock: '1' }
    const store = await openSqliteIndex(path)
    await store.bindScope(scope)
    assert.equal(await store.applyBatch(history()), true)
    await store.close()
    const db = new Database(path)
    db.prepare('DELETE FROM schema_version WHERE version = 3').run()
    db.close()
    const reopened = await openSqliteIndex(path)
    try {
      assert.equal(await reopened.cursor(), undefined, 'the next sync starts from the deployment again')
      assert.deepEqual((await reopened.status()).counts, { records: 0, grants: 0, providers: 0 })
      assert.equal(await reopened.bindScope(scope), false, 'still bound to its deployment')
      assert.equal(await reopened.applyBatch(history()), true)
      assert.equal((await reopened.recordsOf(PATIENT)).length, 3)
    } finally {
      await reopened.close()
    }
  })

  it('refuses an index made by a newer medvault, saying how to rebuild it', async () => {
    const path = join(dir, 'newer.sqlite')
    await (await openSqliteIndex(path)).close()
    const db = new Database(path)
    db.prepare('INSERT INTO schema_version (version) VALUES (99)').run()
    db.close()
    await assert.rejects(openSqliteIndex(path), (error: Error & { hint?: string }) => {
      assert.equal(error.name, 'IndexError')
      assert.match(error.message, /schema version 99/)
      assert.match(error.hint ?? '', /medvault index rebuild/)
      return true
    })
  })

  it('says which file it cannot open', async () => {
    const path = join(dir, 'not-a-db.sqlite')
    writeFileSync(path, 'this is not a database, just some text that is long enough to be read as a header')
    await assert.rejects(openSqliteIndex(path), (error: Error) => error.name === 'IndexError' && error.message.includes(path))
  })

  it('is where the config says: <home>/index.sqlite by default', async () => {
    const home = join(dir, 'home')
    const paths = homePaths(home)
    assert.equal(paths.index, join(home, 'index.sqlite'))
    const store = await openIndexStore(paths, { index: { kind: 'sqlite' } })
    try {
      await store.applyBatch(history())
      assert.equal((await store.status()).location, paths.index)
    } finally {
      await store.close()
    }
    const reopened = await openSqliteIndex(paths.index)
    assert.equal((await reopened.status()).counts.records, 4)
    await reopened.close()
  })
})

describe('index config', () => {
  const withConfig = (config: unknown) => {
    const home = mkdtempSync(join(dir, 'config-'))
    writeFileSync(join(home, 'config.json'), JSON.stringify(config))
    return loadConfig(homePaths(home))
  }
  const base = { version: 1, chain: { kind: 'embedded', chainId: 31337 }, storage: { kind: 'embedded' } }

  it('defaults to SQLite when a config has no index section', () => {
    assert.deepEqual(withConfig(base)?.index, { kind: 'sqlite' })
  })

  it('takes a PostgreSQL URL, and refuses anything else', () => {
    const url = 'postgres://medvault:secret@db.internal:5432/medvault'
    assert.deepEqual(withConfig({ ...base, index: { kind: 'postgres', url } })?.index, { kind: 'postgres', url })
    assert.throws(() => withConfig({ ...base, index: { kind: 'postgres', url: 'http://db' } }), /unexpected settings: index.url/)
    assert.throws(() => withConfig({ ...base, index: { kind: 'postgres' } }), /index.url/)
    assert.throws(() => withConfig({ ...base, index: { kind: 'mysql' } }), /index/)
  })

  it('never prints a PostgreSQL password', () => {
    assert.equal(redactUrl('postgres://medvault:secret@db.internal:5432/medvault'), 'postgres://medvault:***@db.internal:5432/medvault')
    assert.equal(redactUrl('postgresql://db.internal/medvault'), 'postgresql://db.internal/medvault')
    assert.doesNotMatch(redactUrl('not a url secret'), /secret/)
  })
})
