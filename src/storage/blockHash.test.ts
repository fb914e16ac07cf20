import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 as multiformatsSha256 } from 'multiformats/hashes/sha2'
import { TamperedRecordError } from '../errors.js'
import { checkBlock, sha256 } from './blockHash.js'

describe('block hashing', () => {
  it('gives SHA-256 for blocks on both sides of the thread-pool threshold', async () => {
    for (const size of [0, 1, 4096, 16 * 1024 - 1, 16 * 1024, 1 << 20]) {
      const block = randomBytes(size)
      assert.deepEqual(await sha256(block), new Uint8Array(createHash('sha256').update(block).digest()), `${size} bytes`)
    }
  })

  it('accepts a block that matches its CID and refuses one that does not, small or large', async () => {
    for (const size of [100, 1 << 20]) {
      const block = randomBytes(size)
      const cid = CID.createV1(raw.code, await multiformatsSha256.digest(block))
      await checkBlock(cid, block)
      block[0] = block[0]! ^ 1
      await assert.rejects(checkBlock(cid, block), TamperedRecordError)
    }
  })
})
