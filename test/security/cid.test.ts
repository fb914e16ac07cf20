/**
 * Malicious content addresses, against a real Helia repository and a real chain: a block that does
 * not hash to its CID, an identity-hash CID (its "content" is inside the CID), CIDs of a codec or
 * hash medvault never writes, an overlong CID string, and a record minted on chain with a codec
 * medvault does not store. Each read fails with a clear error and fetches nothing. Each test names
 * the mechanism it depends on; without that mechanism it fails.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { medicalRecordAbi } from '../../src/contracts/index.js'
import { authorizeProvider } from '../../src/directory/index.js'
import { TamperedRecordError } from '../../src/errors.js'
import { getOnChainRecord } from '../../src/records/onChainRecord.js'
import { readRecord } from '../../src/records/openRecord.js'
import type { BlobStore } from '../../src/storage/blobStore.js'
import { createHeliaStore } from '../../src/storage/heliaStore.js'
import { MAX_CID_LENGTH, parseRecordCid } from '../../src/storage/recordCid.js'
import { type TestStack, openTestStack } from '../integration/stack.js'

const RAW = 0x55
const DAG_CBOR = 0x71
const bytes = (text: string) => new TextEncoder().encode(text)

async function catAll(store: BlobStore, cid: CID): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const part of store.cat(cid)) parts.push(part)
  return Buffer.concat(parts)
}

const refusedAddress = (e: unknown) => {
  assert.ok(e instanceof TamperedRecordError, `expected TamperedRecordError, got ${String(e)}`)
  assert.match(e.message, /is not one medvault stores records under .*it was not fetched/)
  return true
}

describe('security: malicious CIDs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medvault-sec-cid-'))
  let store: BlobStore

  before(async () => {
    store = await createHeliaStore(dir)
  })
  after(async () => {
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  // Mechanism: VerifyingFsBlockstore re-hashes every block it returns.
  it('a block whose content does not hash to its CID: TamperedRecordError, not the swapped bytes', async () => {
    const content = bytes('the ciphertext of a record, stored as one raw block')
    const cid = await store.add(
      (async function* () {
        yield content
      })(),
    )
    assert.deepEqual(new Uint8Array(await catAll(store, cid)), content)
    const blocks = join(dir, 'blocks')
    const files: string[] = []
    const walk = (d: string) => {
      for (const f of readdirSync(d)) statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : files.push(join(d, f))
    }
    walk(blocks)
    const file = files.find((f) => Buffer.from(readFileSync(f)).equals(Buffer.from(content)))
    assert.ok(file, 'the block is on disk')
    writeFileSync(file, bytes('other bytes an attacker put in its place, same len'))
    await assert.rejects(catAll(store, cid), (e: unknown) => {
      assert.ok(e instanceof TamperedRecordError)
      assert.match(e.message, /does not match its content address/)
      return true
    })
  })

  // Mechanism: checkRecordCid in the store's cat. Helia answers an identity CID from the CID itself,
  // so without it the "record" would be whatever the CID's author wrote into it.
  it('an identity-hash CID is refused, not answered from its own bytes', async () => {
    const cid = CID.createV1(RAW, identity.digest(bytes('{"resourceType":"Observation","forged":true}')))
    await assert.rejects(catAll(store, cid), refusedAddress)
  })

  // Mechanism: checkRecordCid: CIDv1, raw or dag-pb, sha2-256 only.
  it('a CID of another codec, another hash, or CIDv0 is refused before the store is asked', async () => {
    const block = bytes('some block')
    for (const cid of [
      CID.createV1(DAG_CBOR, await sha256.digest(block)),
      CID.createV1(RAW, await sha512.digest(block)),
      CID.createV0(await sha256.digest(block)),
    ]) {
      await assert.rejects(catAll(store, cid), refusedAddress)
    }
  })

  // Mechanism: parseRecordCid's length bound, checked before the string is decoded.
  it('a huge CID string is refused at once', () => {
    const huge = `b${'a'.repeat(5_000_000)}`
    assert.throws(() => parseRecordCid('b'.repeat(MAX_CID_LENGTH + 1)), refusedAddress) // warm up the error path
    // Without the bound, decoding this string alone takes most of a second of CPU. (CPU time, not wall
    // time: on a busy machine the process may wait for a core.)
    const started = process.cpuUsage()
    assert.throws(() => parseRecordCid(huge), refusedAddress)
    const used = process.cpuUsage(started)
    const ms = (used.user + used.system) / 1000
    assert.ok(ms < 100, `refused in ${ms.toFixed(1)} ms of CPU`)
    assert.throws(() => parseRecordCid('not-a-cid'), refusedAddress)
    assert.equal(parseRecordCid('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy').code, RAW)
  })
})

describe('security: a record minted on chain with a codec medvault does not store', () => {
  let s: TestStack

  before(async () => {
    s = await openTestStack({ providers: { lab: 'City Lab' }, others: ['alice'] })
  })
  after(() => s?.dispose())

  // Mechanism: checkRecordCid in the store's cat, reached through readRecord: the envelope is never fetched.
  it('reading it fails with a clear error, and nothing is fetched', async () => {
    const lab = s.accounts.lab!
    const alice = s.accounts.alice!
    await authorizeProvider(s.mv, alice, lab.address, new Date(Date.now() + 3600_000))
    const digest = await sha256.digest(bytes('a dag-cbor block that links elsewhere'))
    const request = {
      patient: alice.address,
      commitment: `0x${'cd'.repeat(32)}` as const,
      cidDigest: `0x${Buffer.from(digest.digest).toString('hex')}` as const,
      cidCodec: DAG_CBOR,
      tag: '0x1ab0000000000001' as const,
    }
    const hash = await s.mv.walletFor(lab.chainAccount).writeContract({
      address: s.mv.deployment.records,
      abi: medicalRecordAbi,
      functionName: 'mint',
      args: [request, 0n, '0x'],
    })
    await s.mv.publicClient.waitForTransactionReceipt({ hash })
    const tokenId = await s.mv.publicClient.readContract({
      address: s.mv.deployment.records,
      abi: medicalRecordAbi,
      functionName: 'lastTokenId',
    })
    // Mechanism: the codec travels in RecordIssued only (storage keeps no CID), so a non-raw codec
    // must come back whole from the event the reader reads, or the check below would see a raw CID and fetch it.
    const onChain = await getOnChainRecord(s.mv, tokenId)
    const cid = onChain.cid
    assert.equal(cid.code, DAG_CBOR)
    assert.deepEqual(cid.multihash.bytes, digest.bytes)
    await assert.rejects(readRecord(s.mv, { tokenId, reader: alice }), refusedAddress)
  })
})
