import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { unixfs } from '@helia/unixfs'
import type { CID } from 'multiformats/cid'
import { createHeliaStore } from './heliaStore.js'
import { loadHeliaLight } from './heliaLight.js'
import { WrittenBlocks, rawLeafImporter, startAhead } from './writtenBlocks.js'

const MiB = 1024 * 1024

async function collect(source: AsyncIterable<Uint8Array>) {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}

async function* inChunks(data: Uint8Array, size: number) {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size)
}

/** A blockstore in memory that counts the blocks read from it. */
function countingBlockstore() {
  const blocks = new Map<string, Uint8Array>()
  const reads: string[] = []
  return {
    reads,
    async put(cid: CID, bytes: Uint8Array) {
      blocks.set(cid.toString(), bytes)
      return cid
    },
    async *get(cid: CID) {
      reads.push(cid.toString())
      const bytes = blocks.get(cid.toString())
      if (!bytes) throw new Error('not found')
      yield bytes
    },
    async has(cid: CID) {
      return blocks.has(cid.toString())
    },
  }
}

describe('storing without reading back (WrittenBlocks, rawLeafImporter)', () => {
  it('builds the same DAG as the default importer, and the pin walk reads no block it wrote', async () => {
    const helia = (await loadHeliaLight()).create({ blockBrokers: [], routers: [] })
    const data = randomBytes(3 * MiB + 100)
    const options = { cidVersion: 1 as const, rawLeaves: true }
    const expected = await unixfs({ blockstore: countingBlockstore() }).addByteStream(inChunks(data, 300_000), options)

    const inner = countingBlockstore()
    const written = new WrittenBlocks(inner, helia.getCodec)
    const cid = await unixfs({ blockstore: written }).addByteStream(inChunks(data, 300_000), {
      ...options,
      bufferImporter: rawLeafImporter(2),
      blockWriteConcurrency: 1,
    })
    assert.equal(cid.toString(), expected.toString())

    const walk = async (walker: WrittenBlocks) => {
      const seen: string[] = []
      for await (const node of walker
        .pinWalker()({ blockstore: inner as never, getCodec: helia.getCodec })
        .walk(cid)) {
        seen.push(node.block.cid.toString())
      }
      return seen
    }
    const seen = await walk(written)
    assert.equal(seen.length, 5, 'a dag-pb root and four raw leaves')
    assert.equal(seen[0], cid.toString())
    assert.deepEqual(inner.reads, [], 'nothing read back')

    // Blocks it did not write itself (another import's) are read from the blockstore: the root
    // only; the leaves are checked to be there.
    const other = await walk(new WrittenBlocks(inner, helia.getCodec))
    assert.deepEqual(other, seen)
    assert.deepEqual(inner.reads, [cid.toString()])
  })

  it('the Helia store gives the CID @helia/unixfs gives, and pins every block: garbage collection keeps them all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medvault-pin-'))
    after(() => rmSync(dir, { recursive: true, force: true }))
    const store = await createHeliaStore(dir)
    const data = randomBytes(4 * MiB + 7)
    const cid = await store.add(inChunks(data, 1000 * 1000))
    const expected = await unixfs({ blockstore: countingBlockstore() }).addByteStream(inChunks(data, 4096))
    assert.equal(cid.toString(), expected.toString())
    assert.equal(await store.gc(), 0)
    assert.deepEqual(await collect(store.cat(cid)), data)
    await store.close()
  })
})

describe('startAhead', () => {
  it('starts jobs as items arrive, at most `window` ahead, and yields them in order', async () => {
    let running = 0
    let most = 0
    async function* items() {
      for (let i = 0; i < 20; i++) yield i
    }
    const results: number[] = []
    for await (const { job } of startAhead(items(), 3, async (i) => {
      running++
      most = Math.max(most, running)
      await new Promise((resolve) => setTimeout(resolve, (i * 7) % 5))
      running--
      return i * 2
    })) {
      results.push(await job)
    }
    assert.deepEqual(
      results,
      Array.from({ length: 20 }, (_, i) => i * 2),
    )
    assert.ok(most <= 4, `at most window + the one being awaited ran at once, saw ${most}`)
  })

  it('fails a job when it is awaited, and a failing source after the jobs before it', async () => {
    async function* failing() {
      yield 1
      yield 2
      throw new Error('source broke')
    }
    const seen: number[] = []
    await assert.rejects(async () => {
      for await (const { job } of startAhead(failing(), 4, async (i) => i)) seen.push(await job)
    }, /source broke/)
    assert.deepEqual(seen, [1, 2])

    async function* three() {
      yield* [1, 2, 3]
    }
    const got: number[] = []
    await assert.rejects(async () => {
      for await (const { job } of startAhead(three(), 4, async (i) => {
        if (i === 2) throw new Error('job 2 failed')
        return i
      })) {
        got.push(await job)
      }
    }, /job 2 failed/)
    assert.deepEqual(got, [1])
  })
})
