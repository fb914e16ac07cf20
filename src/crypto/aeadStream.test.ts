import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { InvalidInputError, TamperedRecordError } from '../errors.js'
import { decryptStream, encryptStream } from './aeadStream.js'

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const part of source) parts.push(part)
  return Buffer.concat(parts)
}

async function* chunks(data: Uint8Array, size: number) {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size)
}

const key = randomBytes(32)
const aad = Buffer.from('header-hash')
const segmentSize = 64

describe('encryptStream / decryptStream', () => {
  for (const length of [0, 1, 63, 64, 65, 128, 1000]) {
    it(`round-trips ${length} bytes across odd chunk sizes`, async () => {
      const data = randomBytes(length)
      const sealed = await collect(encryptStream(chunks(data, 7), { key, aad, segmentSize }))
      const segments = Math.max(1, Math.ceil(length / segmentSize))
      assert.equal(sealed.length, length + 16 * segments)
      const opened = await collect(decryptStream(chunks(sealed, 13), { key, aad, segmentSize }))
      assert.deepEqual(opened, data)
    })
  }

  it('detects a flipped byte, a wrong key, a wrong aad, truncation and reordering', async () => {
    const data = randomBytes(200)
    const sealed = await collect(encryptStream(chunks(data, 50), { key, aad, segmentSize }))
    const flipped = Buffer.from(sealed)
    flipped[100]! ^= 1
    const seg = segmentSize + 16
    const reordered = Buffer.concat([sealed.subarray(seg, 2 * seg), sealed.subarray(0, seg), sealed.subarray(2 * seg)])
    const cases: [string, Uint8Array, Uint8Array, Uint8Array][] = [
      ['flipped', flipped, key, aad],
      ['wrong key', sealed, randomBytes(32), aad],
      ['wrong aad', sealed, key, Buffer.from('other')],
      ['truncated at a segment boundary', sealed.subarray(0, 2 * seg), key, aad],
      ['truncated mid-segment', sealed.subarray(0, 2 * seg + 5), key, aad],
      ['reordered', reordered, key, aad],
    ]
    for (const [name, bytes, k, a] of cases) {
      await assert.rejects(collect(decryptStream(chunks(bytes, 33), { key: k, aad: a, segmentSize })), TamperedRecordError, name)
    }
  })

  it('is not fooled by a source that refills one buffer for every chunk', async () => {
    const data = randomBytes(5 * segmentSize + 9)
    async function* reusing() {
      const buffer = Buffer.alloc(23)
      for (let i = 0; i < data.length; i += 23) {
        const n = data.copy(buffer, 0, i, i + 23)
        yield buffer.subarray(0, n)
      }
    }
    const sealed = await collect(encryptStream(reusing(), { key, aad, segmentSize }))
    assert.deepEqual(await collect(decryptStream(chunks(sealed, 31), { key, aad, segmentSize })), data)
  })

  it('releases no plaintext from a segment that fails its tag', async () => {
    const data = randomBytes(3 * segmentSize)
    const sealed = await collect(encryptStream(chunks(data, 64), { key, aad, segmentSize }))
    sealed[segmentSize + 16 + 3]! ^= 1 // second segment
    const released: Uint8Array[] = []
    await assert.rejects(async () => {
      for await (const part of decryptStream(chunks(sealed, 64), { key, aad, segmentSize })) released.push(part)
    }, TamperedRecordError)
    assert.deepEqual(Buffer.concat(released), data.subarray(0, segmentSize))
  })

  it('with several segments in flight, releases exactly the segments before a tampered one', async () => {
    const data = randomBytes(12 * segmentSize + 5)
    const sealed = await collect(encryptStream(chunks(data, 100), { key, aad, segmentSize }))
    const seg = segmentSize + 16
    for (const bad of [0, 1, 6, 12]) {
      const copy = Buffer.from(sealed)
      copy[bad * seg + 2]! ^= 1
      const released: Uint8Array[] = []
      await assert.rejects(async () => {
        for await (const part of decryptStream(chunks(copy, 1000), { key, aad, segmentSize })) released.push(part)
      }, TamperedRecordError)
      assert.deepEqual(Buffer.concat(released), data.subarray(0, bad * segmentSize), `segment ${bad}`)
    }
  })

  it('drops a segment from the middle or swaps the last two: both fail', async () => {
    const data = randomBytes(6 * segmentSize)
    const sealed = await collect(encryptStream(chunks(data, 64), { key, aad, segmentSize }))
    const seg = segmentSize + 16
    const dropped = Buffer.concat([sealed.subarray(0, 2 * seg), sealed.subarray(3 * seg)])
    const swapped = Buffer.concat([sealed.subarray(0, 4 * seg), sealed.subarray(5 * seg), sealed.subarray(4 * seg, 5 * seg)])
    for (const bytes of [dropped, swapped]) {
      await assert.rejects(collect(decryptStream(chunks(bytes, 77), { key, aad, segmentSize })), TamperedRecordError)
    }
  })
})

describe('encryptStream with the plaintext length given', () => {
  async function* chunked(bytes: Uint8Array, sizes: number[]) {
    let offset = 0
    for (let i = 0; offset < bytes.length; i++) {
      const n = sizes[i % sizes.length]!
      yield bytes.subarray(offset, offset + n)
      offset += n
    }
  }

  it('gives the same ciphertext as gathering segments, at any length and chunking', async () => {
    const key = randomBytes(32)
    const aad = randomBytes(32)
    const segmentSize = 64
    for (const length of [0, 1, 63, 64, 65, 128, 129, 300]) {
      const bytes = randomBytes(length)
      for (const sizes of [[length || 1], [1], [7, 64, 3], [64], [200]]) {
        const gathered = await collect(encryptStream(chunked(bytes, sizes), { key, aad, segmentSize }))
        const streamed = await collect(encryptStream(chunked(bytes, sizes), { key, aad, segmentSize, size: length }))
        assert.deepEqual(streamed, gathered, `length ${length}, chunks ${sizes}`)
        const opened = await collect(decryptStream(chunked(streamed, [50]), { key, aad, segmentSize }))
        assert.deepEqual(opened, Buffer.from(bytes))
      }
    }
  })

  it('refuses content longer or shorter than declared', async () => {
    const key = randomBytes(32)
    const aad = randomBytes(32)
    const bytes = randomBytes(100)
    await assert.rejects(collect(encryptStream(chunked(bytes, [30]), { key, aad, segmentSize: 64, size: 99 })), InvalidInputError)
    await assert.rejects(collect(encryptStream(chunked(bytes, [30]), { key, aad, segmentSize: 64, size: 101 })), InvalidInputError)
  })
})
