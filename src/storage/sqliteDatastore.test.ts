import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { FsDatastore } from 'datastore-fs'
import { Key } from 'interface-datastore'
import { openSqliteDatastore } from './sqliteDatastore.js'

const bytes = (...values: number[]) => new Uint8Array(values)

async function keysOf(source: AsyncIterable<Key> | Iterable<Key>) {
  const keys: string[] = []
  for await (const key of source) keys.push(key.toString())
  return keys
}

describe('the SQLite datastore under Helia', () => {
  const root = mkdtempSync(join(tmpdir(), 'medvault-datastore-'))
  after(() => rmSync(root, { recursive: true, force: true }))

  it('puts, gets, replaces and deletes; a missing key fails with the NotFoundError Helia looks for', async () => {
    const store = await openSqliteDatastore(join(root, 'a.sqlite'))
    try {
      await store.put(new Key('/pin/one'), bytes(1))
      await store.put(new Key('/pin/one'), bytes(2))
      assert.deepEqual(new Uint8Array(await store.get(new Key('/pin/one'))), bytes(2))
      assert.equal(await store.has(new Key('/pin/one')), true)
      await store.delete(new Key('/pin/one'))
      assert.equal(await store.has(new Key('/pin/one')), false)
      await assert.rejects(store.get(new Key('/pin/one')), (e: Error) => e.name === 'NotFoundError')
      await store.delete(new Key('/pin/one')) // deleting what is not there is not an error
    } finally {
      store.close()
    }
  })

  it('queries by prefix, in key order, with the filters, offsets and limits of the interface', async () => {
    const store = await openSqliteDatastore(join(root, 'b.sqlite'))
    try {
      const batch = store.batch()
      for (const k of ['/pin/b', '/pin/a', '/pinned-block/x', '/other/c', '/pin/c']) batch.put(new Key(k), bytes(k.length))
      batch.delete(new Key('/pin/c'))
      await batch.commit()
      assert.deepEqual(await keysOf(store.queryKeys({ prefix: '/pin/' })), ['/pin/a', '/pin/b'])
      assert.deepEqual(await keysOf(store.queryKeys({ prefix: '/pin' })), ['/pin/a', '/pin/b', '/pinned-block/x'])
      assert.deepEqual(await keysOf(store.queryKeys({})), ['/other/c', '/pin/a', '/pin/b', '/pinned-block/x'])
      assert.deepEqual(await keysOf(store.queryKeys({ offset: 1, limit: 2 })), ['/pin/a', '/pin/b'])
      const pairs = []
      for await (const pair of store.query({ prefix: '/pinned-block/', filters: [(p) => p.value.length > 0] })) pairs.push(pair)
      assert.deepEqual(
        pairs.map((p) => [p.key.toString(), [...p.value]]),
        [['/pinned-block/x', ['/pinned-block/x'.length]]],
      )
      const many = []
      for await (const key of store.putMany([{ key: new Key('/m/1'), value: bytes(1) }])) many.push(key.toString())
      assert.deepEqual(many, ['/m/1'])
    } finally {
      store.close()
    }
  })

  it('is shared by two connections at once (a server and a CLI command on one home)', async () => {
    const path = join(root, 'c.sqlite')
    const [first, second] = await Promise.all([openSqliteDatastore(path), openSqliteDatastore(path)])
    try {
      await first.put(new Key('/pin/shared'), bytes(7))
      assert.deepEqual(new Uint8Array(await second.get(new Key('/pin/shared'))), bytes(7))
      await second.delete(new Key('/pin/shared'))
      assert.equal(await first.has(new Key('/pin/shared')), false)
    } finally {
      first.close()
      second.close()
    }
  })

  it("moves an older repository's datastore-fs folder in, then removes the folder", async () => {
    const legacyDir = join(root, 'repo', 'datastore')
    const legacy = new FsDatastore(legacyDir)
    await legacy.open()
    await legacy.put(new Key('/pin/bafyold'), bytes(1, 2, 3))
    await legacy.put(new Key('/pinned-block/CIQold'), bytes(4))
    await legacy.close()
    const store = await openSqliteDatastore(join(root, 'repo', 'datastore.sqlite'), { legacyDir })
    try {
      assert.equal(existsSync(legacyDir), false)
      assert.deepEqual(new Uint8Array(await store.get(new Key('/pin/bafyold'))), bytes(1, 2, 3))
      assert.deepEqual(await keysOf(store.queryKeys({})), ['/pin/bafyold', '/pinned-block/CIQold'])
    } finally {
      store.close()
    }
  })
})
