import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { after, describe, it } from 'node:test'
import { filesUnder as everyFileUnder } from '../../test/integration/fileScan.js'
import { NextToLast } from 'blockstore-fs/sharding'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { SMALL_BLOCK, VerifyingFsBlockstore } from './verifyingBlockstore.js'

const cidOf = (bytes: Uint8Array) => CID.createV1(raw.code, createDigest(0x12, createHash('sha256').update(bytes).digest()))

async function read(store: VerifyingFsBlockstore, cid: CID): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const part of store.get(cid)) parts.push(part)
  return Buffer.concat(parts)
}

/** Every file under `dir`, as paths relative to it. */
const filesUnder = (dir: string) => everyFileUnder(dir).map((file) => relative(dir, file))

describe('VerifyingFsBlockstore', () => {
  const root = mkdtempSync(join(tmpdir(), 'medvault-blocks-'))
  after(() => rmSync(root, { recursive: true, force: true }))
  const layout = new NextToLast()

  it('writes a small block where blockstore-fs would, whole, with no temporary file left', async () => {
    const dir = join(root, 'small')
    const store = new VerifyingFsBlockstore(dir)
    const bytes = randomBytes(4096)
    const cid = cidOf(bytes)
    assert.equal(await store.has(cid), false)
    await store.put(cid, bytes)
    assert.equal(await store.has(cid), true)
    const { dir: shard, file } = layout.encode(cid)
    assert.deepEqual(readFileSync(join(dir, shard, file)), bytes)
    assert.deepEqual(filesUnder(dir), [join(shard, file)])
    assert.deepEqual(await read(store, cid), bytes)
    await store.put(cid, bytes)
    assert.deepEqual(filesUnder(dir), [join(shard, file)], 'a second put of the same block leaves one file')
  })

  it('writes large blocks (over the small-block size) through blockstore-fs, readable the same way', async () => {
    const dir = join(root, 'large')
    const store = new VerifyingFsBlockstore(dir)
    const bytes = randomBytes(SMALL_BLOCK + 1)
    const cid = cidOf(bytes)
    await store.put(cid, bytes)
    assert.deepEqual(await read(store, cid), bytes)
    assert.equal(filesUnder(dir).length, 1)
  })

  it('recreates a shard folder removed after it was first used', async () => {
    const dir = join(root, 'removed')
    const store = new VerifyingFsBlockstore(dir)
    // Two blocks in one shard: the second put finds the folder it remembers gone.
    const blocks: Buffer[] = []
    const wanted = new Map<string, Buffer[]>()
    while (blocks.length < 2) {
      const bytes = randomBytes(100)
      const shard = layout.encode(cidOf(bytes)).dir
      const list = wanted.get(shard) ?? []
      list.push(bytes)
      wanted.set(shard, list)
      if (list.length === 2) blocks.push(...list)
    }
    const [first, second] = blocks as [Buffer, Buffer]
    await store.put(cidOf(first), first)
    rmSync(join(dir, layout.encode(cidOf(first)).dir), { recursive: true })
    await store.put(cidOf(second), second)
    assert.deepEqual(await read(store, cidOf(second)), second)
    assert.equal(await store.has(cidOf(first)), false)
  })

  it('fails a write it cannot make with PutFailedError and leaves no temporary file', async () => {
    const dir = join(root, 'blocked')
    const store = new VerifyingFsBlockstore(dir)
    const bytes = randomBytes(100)
    const cid = cidOf(bytes)
    const { dir: shard } = layout.encode(cid)
    // A file where the block's shard folder should be: nothing can be written under it.
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, shard), 'not a folder')
    await assert.rejects(store.put(cid, bytes), { name: 'PutFailedError' })
    assert.deepEqual(filesUnder(dir), [shard])
  })

  it('refuses a small block altered on disk', async () => {
    const dir = join(root, 'tampered')
    const store = new VerifyingFsBlockstore(dir)
    const bytes = randomBytes(500)
    const cid = cidOf(bytes)
    await store.put(cid, bytes)
    const { dir: shard, file } = layout.encode(cid)
    const altered = Buffer.from(bytes)
    altered[0]! ^= 1
    writeFileSync(join(dir, shard, file), altered)
    await assert.rejects(read(store, cid), { name: 'TamperedRecordError' })
  })
})
