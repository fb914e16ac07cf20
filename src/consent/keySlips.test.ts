import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { getAddress } from 'viem'
import type { KeySlip } from '../core/index.js'
import { openKeySlipStore, readSlipsFor } from './keySlips.js'

const alice = getAddress(`0x${'a1'.repeat(20)}`)
const bob = getAddress(`0x${'b2'.repeat(20)}`)
const issuer = getAddress(`0x${'c3'.repeat(20)}`)

/** A slip whose ct is a recognisable 48-byte pattern, to look for in the files afterwards. */
function slip(tokenId: number, grantee: string, fill: string): KeySlip {
  return {
    v: 1,
    tokenId: String(tokenId),
    cid: `bafk${tokenId}`,
    grantee,
    enc: `0x${'0e'.repeat(32)}`,
    ct: `0x${fill.repeat(48)}`,
    wrappedBy: issuer,
    createdAt: '2026-12-06T00:00:00.000Z',
  }
}

describe('the key slip store', () => {
  const root = mkdtempSync(join(tmpdir(), 'medvault-slips-'))
  after(() => rmSync(root, { recursive: true, force: true }))

  it('puts, replaces, gets and lists slips by record and by grantee', async () => {
    const path = join(root, 'a', 'keyslips.sqlite')
    const store = await openKeySlipStore(path)
    try {
      await store.putMany([slip(10, alice, '11'), slip(10, bob, '22'), slip(9, alice, '33')])
      await store.put(slip(2, alice, '44'))
      await store.put({ ...slip(10, alice, '55') }) // replaces the first
      assert.equal((await store.get(10n, alice))?.ct, `0x${'55'.repeat(48)}`)
      assert.equal(await store.get(11n, alice), undefined)
      assert.deepEqual(await store.holders(10n), [alice, bob].sort())
      assert.deepEqual(
        (await store.slipsFor(alice)).map((s) => s.tokenId),
        ['2', '9', '10'],
        'in token order, numerically',
      )
      // A lower-case grantee finds the same slips.
      assert.equal((await store.slipsFor(bob.toLowerCase() as typeof bob)).length, 1)
    } finally {
      store.close()
    }
    // Durable across a reopen, and readable by the owner only.
    assert.equal((await readSlipsFor(path, alice)).length, 3)
    assert.equal(statSync(path).mode & 0o777, 0o600)
  })

  it('deletes every slip of a record and leaves none of its bytes in the database or its log', async () => {
    const path = join(root, 'b', 'keyslips.sqlite')
    const store = await openKeySlipStore(path)
    try {
      await store.putMany([slip(7, alice, 'de'), slip(7, bob, 'ad'), slip(8, alice, '77')])
      assert.equal(await store.delete(7n), 2)
      assert.equal(await store.delete(7n), 0, 'a second run finds nothing left')
      assert.deepEqual(await store.holders(7n), [])
      assert.equal((await store.slipsFor(alice)).length, 1)
    } finally {
      store.close()
    }
    const folder = join(root, 'b')
    for (const file of readdirSync(folder)) {
      const text = readFileSync(join(folder, file)).toString('latin1')
      assert.ok(!text.includes('de'.repeat(48)) && !text.includes('ad'.repeat(48)), `${file} still holds a deleted slip`)
    }
    assert.ok(readFileSync(path).toString('latin1').includes('77'.repeat(48)), 'the scan can find a slip that is there')
  })

  it("moves an older home's slip files in, then removes their folder", async () => {
    const legacyDir = join(root, 'c', 'keyslips')
    mkdirSync(join(legacyDir, '3'), { recursive: true })
    writeFileSync(join(legacyDir, '3', `${alice}.json`), `${JSON.stringify(slip(3, alice, '99'))}\n`)
    writeFileSync(join(legacyDir, '3', `${bob}.json`), '{"damaged') // left out, as reading it was
    const path = join(root, 'c', 'keyslips.sqlite')
    assert.equal((await readSlipsFor(path, alice, { legacyDir })).length, 1)
    assert.equal(existsSync(legacyDir), false)
    const store = await openKeySlipStore(path, { legacyDir })
    try {
      assert.deepEqual(await store.holders(3n), [alice])
    } finally {
      store.close()
    }
  })

  it('reads nothing, and creates nothing, for a home without slips', async () => {
    const path = join(root, 'd', 'keyslips.sqlite')
    assert.deepEqual(await readSlipsFor(path, alice), [])
    assert.equal(existsSync(path), false)
  })
})
