import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { NotFoundError } from '../errors.js'
import { createHeliaStore } from './heliaStore.js'

async function collect(source: AsyncIterable<Uint8Array>) {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}

async function* once(data: Uint8Array) {
  yield data
}

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

  it('says clearly when it does not hold a CID', async () => {
    const store = await createHeliaStore(dir)
    const unknown = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    assert.equal(await store.has(unknown), false)
    await assert.rejects(collect(store.cat(unknown)), NotFoundError)
    await store.close()
  })
})
