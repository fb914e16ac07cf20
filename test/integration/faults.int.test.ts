/**
 * Faults, for real: the embedded IPFS repository's disk full (a 2 MB tmpfs) and made read-only
 * (the storage refusing writes), and the chain stopped and started again. Each gives a typed
 * error, keeps what was already stored, and clears by itself once the fault is gone: the same
 * store and the same chain clients work again without being re-created.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startAnvil } from '../../src/chain/anvil.js'
import { createChainClients } from '../../src/chain/clients.js'
import { toMedvaultError } from '../../src/chain/errors.js'
import { ChainUnavailableError, StorageError } from '../../src/errors.js'
import type { BlobStore } from '../../src/storage/index.js'
import { createHeliaStore } from '../../src/storage/heliaStore.js'
import { mountTmpfs } from './tmpfs.js'

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill)
async function* once(chunk: Uint8Array) {
  yield chunk
}
async function read(store: BlobStore, cid: Parameters<BlobStore['cat']>[0]) {
  const parts: Uint8Array[] = []
  for await (const part of store.cat(cid)) parts.push(part)
  return Buffer.concat(parts)
}

describe('storage faults on a real tmpfs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medvault-faults-'))
  const mnt = join(dir, 'ipfs')
  let mounted = false
  let store: BlobStore | undefined

  before(() => {
    mounted = mountTmpfs(mnt)
  })
  after(async () => {
    await store?.close()
    if (mounted) execFileSync('umount', [mnt])
    rmSync(dir, { recursive: true, force: true })
  })

  it('disk full: a typed storage error, nothing stored lost, and storing works again once space is freed', async (t) => {
    if (!mounted) return t.skip('mount is not permitted here')
    store = await createHeliaStore(mnt)
    const kept = await store.add(once(bytes(64 * 1024, 1)))
    const filler = join(mnt, 'filler')
    // Fill what is left of the 2 MB.
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'pipe' })
    } catch {
      // dd stops with "No space left on device": that is the point
    }
    await assert.rejects(store.add(once(bytes(512 * 1024, 2))), (e: unknown) => {
      assert.ok(e instanceof StorageError, String(e))
      assert.equal(e.exitCode, 7)
      assert.match(e.message, /disk is not full/)
      return true
    })
    assert.deepEqual(await read(store, kept), Buffer.from(bytes(64 * 1024, 1)), 'what was stored before is intact')
    rmSync(filler)
    const again = await store.add(once(bytes(512 * 1024, 2)))
    assert.deepEqual(await read(store, again), Buffer.from(bytes(512 * 1024, 2)))
  })

  it('storage refusing writes (read-only): a typed error, reads still served, writes work once it is writable again', async (t) => {
    if (!mounted || !store) return t.skip('mount is not permitted here')
    const kept = await store.add(once(bytes(1000, 3)))
    // The kernel does not remount a file system read-only while a file on it is open for writing,
    // and an open repository keeps its pin database open: so the store is closed, the disk turned
    // read-only, and the store opened again on it (a server started on a read-only disk).
    await store.close()
    execFileSync('mount', ['-o', 'remount,ro', mnt])
    try {
      store = await createHeliaStore(mnt)
      await assert.rejects(store.add(once(bytes(2000, 4))), StorageError)
      assert.deepEqual(await read(store, kept), Buffer.from(bytes(1000, 3)))
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', mnt])
    }
    const again = await store.add(once(bytes(2000, 4)))
    assert.deepEqual(await read(store, again), Buffer.from(bytes(2000, 4)))
  })
})

describe('the chain stopped, then started again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medvault-chain-fault-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('a typed ChainUnavailableError while it is down; the same clients work again once it is back, with nothing lost', async () => {
    const statePath = join(dir, 'state.json')
    let chain = await startAnvil({ statePath })
    const port = Number(new URL(chain.rpcUrl).port)
    process.env.MEDVAULT_RPC_TIMEOUT_MS = '2000'
    const { publicClient, walletFor } = createChainClients(chain.rpcUrl, 31337)
    const { privateKeyToAccount } = await import('viem/accounts')
    const dev = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')
    const hash = await walletFor(dev).sendTransaction({ to: dev.address, value: 1n })
    await publicClient.waitForTransactionReceipt({ hash })
    const height = await publicClient.getBlockNumber({ cacheTime: 0 })
    await chain.stop() // SIGTERM: anvil writes its state, as any orderly stop would
    try {
      const started = Date.now()
      const error = await publicClient.getBlockNumber({ cacheTime: 0 }).then(
        () => undefined,
        (e: unknown) => toMedvaultError(e),
      )
      assert.ok(error instanceof ChainUnavailableError, String(error))
      assert.equal(error.exitCode, 6)
      assert.match(error.message, /did not answer/)
      assert.ok(Date.now() - started >= 150 + 300, 'retried with backoff before giving up')
      writeFileSync(join(dir, 'marker'), '')
    } finally {
      chain = await startAnvil({ statePath, port })
    }
    try {
      assert.ok((await publicClient.getBlockNumber({ cacheTime: 0 })) >= height, 'the blocks mined before the stop are kept')
      assert.ok(await publicClient.getTransactionReceipt({ hash }), 'the transaction mined before the stop is kept')
    } finally {
      delete process.env.MEDVAULT_RPC_TIMEOUT_MS
      await chain.stop()
    }
  })
})
