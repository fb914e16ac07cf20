import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { after, describe, it } from 'node:test'
import { filesUnder as everyFileUnder } from '../../test/integration/fileScan.js'
import { base32upper } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import { NotFoundError } from '../errors.js'
import { createHeliaStore } from './heliaStore.js'
import { openSqliteDatastore } from './sqliteDatastore.js'

async function collect(source: AsyncIterable<Uint8Array>) {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}

async function* once(data: Uint8Array) {
  yield data
}

/** The keys of the repository's datastore (its pins and pin counts), read through a second connection. */
async function pinKeys(repo: string): Promise<string[]> {
  const datastore = await openSqliteDatastore(join(repo, 'datastore.sqlite'))
  try {
    const keys: string[] = []
    for await (const key of datastore.queryKeys({})) keys.push(key.toString())
    return keys
  } finally {
    datastore.close()
  }
}

/** Every file under `dir`, as paths relative to it. */
const filesUnder = (dir: string) => everyFileUnder(dir).map((file) => relative(dir, file))

describe('embedded Helia blob store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medvault-helia-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('stores on disk, survives a reopen, and returns CIDv1 sha2-256', async () => {
    const small = randomBytes(1000)
    const large = randomBytes(3 * 1024 * 1024 + 17)
    let store = await createHeliaStore(dir)
    const smallCid = await store.add(once(small))
    const largeCid = await store.add(once(large))
    assert.equal(smallCid.version, 1)
    assert.equal(largeCid.multihash.code, 0x12)
    assert.equal(await store.add(once(small)).then(String), smallCid.toString(), 'adding twice is idempotent')
    await store.close()

    store = await createHeliaStore(dir)
    assert.deepEqual(await collect(store.cat(smallCid)), small)
    assert.deepEqual(await collect(store.cat(largeCid)), large)
    await store.close()
  })

  it('remove() unpins and deletes every block of one blob, leaves the others, and can run again', async () => {
    const removeDir = mkdtempSync(join(tmpdir(), 'medvault-helia-rm-'))
    try {
      const store = await createHeliaStore(removeDir)
      const kept = randomBytes(5000)
      const keptCid = await store.add(once(kept))
      const blocksBefore = filesUnder(join(removeDir, 'blocks'))
      const pinsBefore = await pinKeys(removeDir)
      const gone = randomBytes(2 * 1024 * 1024 + 5) // a dag-pb root over three 1 MiB raw leaves
      const goneCid = await store.add(once(gone))
      assert.equal(filesUnder(join(removeDir, 'blocks')).length, blocksBefore.length + 4)
      assert.ok((await pinKeys(removeDir)).length > pinsBefore.length, 'what is stored is pinned')

      await store.remove(goneCid)
      assert.equal(await store.has(goneCid), false)
      await assert.rejects(collect(store.cat(goneCid)), NotFoundError)
      assert.deepEqual(filesUnder(join(removeDir, 'blocks')), blocksBefore, 'exactly the blocks of the removed blob are gone')
      assert.deepEqual(await pinKeys(removeDir), pinsBefore, 'its pin and pin counts are gone')
      await store.remove(goneCid) // nothing left: still succeeds
      assert.deepEqual(await collect(store.cat(keptCid)), kept)

      // Stored again, it is pinned again from scratch.
      assert.equal((await store.add(once(gone))).toString(), goneCid.toString())
      assert.deepEqual(await collect(store.cat(goneCid)), gone)
      await store.close()
    } finally {
      rmSync(removeDir, { recursive: true, force: true })
    }
  })

  it('remove() finishes a removal a crash interrupted (some leaves already deleted, the root still there)', async () => {
    const removeDir = mkdtempSync(join(tmpdir(), 'medvault-helia-rm-'))
    try {
      const store = await createHeliaStore(removeDir)
      const blocksDir = join(removeDir, 'blocks')
      await store.add(once(randomBytes(100)))
      const before = new Set(filesUnder(blocksDir))
      const cid = await store.add(once(randomBytes(6 * 1024 * 1024)))
      const rootFile = `${base32upper.encode(cid.multihash.bytes)}.data`
      const leaves = filesUnder(blocksDir).filter((f) => !before.has(f) && !f.endsWith(rootFile))
      assert.equal(leaves.length, 6)
      for (const leaf of leaves.slice(0, leaves.length / 2)) rmSync(join(blocksDir, leaf))

      await store.remove(cid)
      assert.deepEqual(
        filesUnder(blocksDir).filter((f) => !before.has(f)),
        [],
      )
      assert.equal(await store.has(cid), false)
      await store.close()
    } finally {
      rmSync(removeDir, { recursive: true, force: true })
    }
  })

  it('says clearly when it does not hold a CID', async () => {
    const store = await createHeliaStore(dir)
    const unknown = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    assert.equal(await store.has(unknown), false)
    await assert.rejects(collect(store.cat(unknown)), NotFoundError)
    await store.close()
  })
})
