import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { CID } from 'multiformats/cid'
import { createTestClient, http } from 'viem'
import { type EmbeddedChain, startAnvil } from '../../src/chain/anvil.js'
import { freePort } from '../../src/chain/ports.js'
import { NotFoundError, StoragePeersUnreachableError } from '../../src/errors.js'
import { type HeliaBlobStore, createHeliaStore } from '../../src/storage/heliaStore.js'
import { medvault } from './cli.js'
import { type ServedNode, serveIpfs } from './ipfsServe.js'

const example = (name: string) => fileURLToPath(new URL(`../../examples/fhir/${name}`, import.meta.url))
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

async function collect(source: AsyncIterable<Uint8Array>) {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}

async function* once(data: Uint8Array) {
  yield data
}

describe('two Helia nodes in two processes, blocks exchanged over libp2p on loopback', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medvault-peers-'))
  const repoA = join(dir, 'a')
  const repoB = join(dir, 'b')
  let b: ServedNode
  let a: HeliaBlobStore
  // One ciphertext-sized blob per direction: 1 MiB plus a tail, so a dag-pb root over two raw leaves.
  const fromA = randomBytes(1024 * 1024 + 123)
  const fromB = randomBytes(1024 * 1024 + 321)
  let cidFromA: CID
  let cidFromB: CID

  before(async () => {
    b = await serveIpfs(['--repo', repoB, '--listen', '/ip4/127.0.0.1/tcp/0'])
    // A generous idle timeout for the fetches that must succeed: on a loaded 2-core machine the peer
    // process can go seconds without sending a block (a 3 s timeout failed there). The timeout itself
    // is tested below with a node of its own.
    a = await createHeliaStore(repoA, {
      network: { listen: ['/ip4/127.0.0.1/tcp/0'], peers: b.multiaddrs, timeoutMs: 30_000, dialTimeoutMs: 3000 },
    })
  })
  after(async () => {
    await a?.close()
    await b?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('listens on loopback only, under a peer id kept in the repository', async () => {
    assert.ok(b.multiaddrs.length > 0)
    for (const address of [...b.multiaddrs, ...a.multiaddrs()]) assert.match(address, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3Koo/)
    const id = await medvault(dir, ['ipfs', 'id', '--repo', repoB, '--json'])
    assert.equal(id.code, 0, id.stderr)
    assert.equal(id.json.peerId, b.peerId, 'the same key the serving process uses, read from the repository')
  })

  it('a ciphertext added on A is fetched by B (another process, its own repository) by CID, and the bytes verify', async () => {
    cidFromA = await a.add(once(fromA))
    const out = join(dir, 'fetched-by-b')
    const cat = await medvault(dir, [
      'ipfs',
      'cat',
      cidFromA.toString(),
      '--repo',
      repoB,
      '--peer',
      a.multiaddrs()[0]!,
      '--out',
      out,
      '--json',
    ])
    assert.equal(cat.code, 0, cat.stderr || cat.stdout)
    assert.equal(cat.json.fetched, true, 'B did not hold it before')
    assert.equal(cat.json.bytes, fromA.length)
    assert.equal(cat.json.sha256, sha256(fromA))
    assert.deepEqual(readFileSync(out), fromA)
  })

  it('a ciphertext added on B is fetched by A by CID, and the bytes verify', async () => {
    const file = join(dir, 'to-add-on-b')
    writeFileSync(file, fromB)
    const add = await medvault(dir, ['ipfs', 'add', file, '--repo', repoB, '--json'])
    assert.equal(add.code, 0, add.stderr)
    cidFromB = CID.parse(add.json.cid)
    assert.equal(await a.has(cidFromB), false)
    const started = performance.now()
    const fetched = await collect(a.cat(cidFromB))
    const ms = performance.now() - started
    assert.equal(sha256(fetched), sha256(fromB))
    assert.equal(await a.has(cidFromB), true, 'the fetched blocks are kept, as a cache')
    process.stdout.write(`# fetched 1 MiB from a peer process over loopback in ${ms.toFixed(0)} ms\n`)
  })

  it('garbage collection drops the fetched copy and keeps every block of a pinned record', async () => {
    const removed = await a.gc()
    assert.equal(removed, 3, 'the root and two leaves fetched from B, none of the pinned ones')
    assert.equal(await a.has(cidFromB), false)
    assert.deepEqual(await collect(a.cat(cidFromA)), fromA, 'the record A stored is still whole after gc')

    // Pinning what it fetches makes A keep a copy of B's record through gc.
    await a.pin(cidFromB)
    assert.equal(await a.gc(), 0)
    assert.deepEqual(await collect(a.cat(cidFromB)), fromB)

    // Erasure unpins and deletes: nothing is left for gc to find, and the other record stays.
    await a.remove(cidFromB)
    assert.equal(await a.has(cidFromB), false)
    assert.equal(await a.gc(), 0)
    assert.deepEqual(await collect(a.cat(cidFromA)), fromA)
  })

  it('content no peer holds fails with NotFoundError after the idle timeout, not a hang', async () => {
    const nobody = await createHeliaStore(join(dir, 'scratch'))
    const absent = await nobody.add(once(randomBytes(64)))
    await nobody.close()
    const asker = await createHeliaStore(join(dir, 'asker'), {
      network: { listen: ['/ip4/127.0.0.1/tcp/0'], peers: b.multiaddrs, timeoutMs: 3000, dialTimeoutMs: 3000 },
    })
    try {
      const started = Date.now()
      await assert.rejects(collect(asker.cat(absent)), (error: unknown) => {
        assert.ok(error instanceof NotFoundError, String(error))
        assert.match(error.message, /No IPFS peer sent the blocks of .* within 3 s/)
        return true
      })
      const ms = Date.now() - started
      assert.ok(ms >= 2900 && ms < 10_000, `failed after ${ms} ms`)
    } finally {
      await asker.close()
    }
  })

  it('with the peer down, a read of content A lacks fails with StoragePeersUnreachableError within the dial timeout', async () => {
    assert.equal(await b.stop(), 0, 'the serving process stops cleanly on SIGINT')
    const started = Date.now()
    await assert.rejects(collect(a.cat(cidFromB)), (error: unknown) => {
      assert.ok(error instanceof StoragePeersUnreachableError, String(error))
      assert.equal(error.code, 'STORAGE_PEERS_UNREACHABLE')
      assert.equal(error.exitCode, 7)
      assert.match(error.message, /none of its 1 IPFS peers answered/)
      assert.match(error.message, /medvault ipfs serve/)
      return true
    })
    assert.ok(Date.now() - started < 5000, `failed after ${Date.now() - started} ms`)
    assert.deepEqual(await collect(a.cat(cidFromA)), fromA, 'what A holds still reads with no peer')
  })
})

describe('a record issued in one home reads in another whose IPFS node peers with it (same external chain)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medvault-peer-homes-'))
  const homeA = join(dir, 'hospital')
  const homeB = join(dir, 'clinic')
  let chain: EmbeddedChain
  let servedA: ServedNode | undefined

  before(async () => {
    chain = await startAnvil({ chainId: 4343, blockTime: 1 })
  })
  after(async () => {
    await servedA?.stop()
    await chain.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('issues with home A, serves A, reads and verifies with home B over libp2p, and fails clearly once A is gone', async () => {
    const listenA = `/ip4/127.0.0.1/tcp/${await freePort()}`
    const initA = await medvault(homeA, ['init', '--rpc-url', chain.rpcUrl, '--chain-id', '4343', '--ipfs-listen', listenA, '--json'])
    assert.equal(initA.code, 0, initA.stderr)
    assert.deepEqual(initA.json.config.storage, { kind: 'helia-peer', listen: [listenA], peers: [], timeoutSeconds: 30 })

    const test = createTestClient({ mode: 'anvil', transport: http(chain.rpcUrl) })
    for (const name of ['admin', 'lab', 'pat']) {
      const created = await medvault(homeA, ['account', 'create', name, '--json'])
      assert.equal(created.code, 0, created.stderr)
      await test.setBalance({ address: created.json.account.address, value: 10n ** 18n })
    }
    assert.equal((await medvault(homeA, ['deploy', '--as', 'admin'])).code, 0)
    for (const name of ['lab', 'pat']) assert.equal((await medvault(homeA, ['account', 'publish', name])).code, 0)
    assert.equal((await medvault(homeA, ['provider', 'register', 'lab', '--name', 'Peered Lab', '--as', 'admin'])).code, 0)

    // Home B: the same chain and contracts, the patient's keys, and an empty IPFS repository that peers with A.
    const initB = await medvault(homeB, [
      'init',
      '--rpc-url',
      chain.rpcUrl,
      '--chain-id',
      '4343',
      '--ipfs-listen',
      '/ip4/127.0.0.1/tcp/0',
      '--json',
    ])
    assert.equal(initB.code, 0, initB.stderr)
    const configA = JSON.parse(readFileSync(join(homeA, 'config.json'), 'utf8'))
    const configB = JSON.parse(readFileSync(join(homeB, 'config.json'), 'utf8'))
    writeFileSync(join(homeB, 'config.json'), JSON.stringify({ ...configB, deployment: configA.deployment }))
    cpSync(join(homeA, 'accounts'), join(homeB, 'accounts'), { recursive: true })
    const idA = await medvault(homeA, ['ipfs', 'id', '--json'])
    assert.equal(idA.code, 0, idA.stderr)
    assert.deepEqual(idA.json.addresses, [`${listenA}/p2p/${idA.json.peerId}`])
    const added = await medvault(homeB, ['ipfs', 'peer', 'add', idA.json.addresses[0], '--json'])
    assert.equal(added.code, 0, added.stderr)
    assert.equal((await medvault(homeB, ['ipfs', 'peer', 'add', listenA])).code, 2, 'an address without a peer id is refused')

    const issued = await medvault(homeA, ['record', 'add', example('immunization.json'), '--patient', 'pat', '--as', 'lab', '--json'])
    assert.equal(issued.code, 0, issued.stderr)

    servedA = await serveIpfs(['--home', homeA])
    assert.equal(servedA.peerId, idA.json.peerId)
    assert.deepEqual(servedA.multiaddrs, idA.json.addresses)

    const read = await medvault(homeB, ['record', 'get', issued.json.tokenId, '--as', 'pat', '--json'])
    assert.equal(read.code, 0, read.stderr || read.stdout)
    assert.equal(read.json.document.resourceType, 'Immunization')
    const verify = await medvault(homeB, ['record', 'verify', issued.json.tokenId, '--json'])
    assert.equal(verify.json.valid, true, JSON.stringify(verify.json))

    // A stops serving; B's cached copy goes with gc; the next read names the unreachable peer, quickly.
    await servedA.stop()
    servedA = undefined
    const gc = await medvault(homeB, ['ipfs', 'gc', '--json'])
    assert.equal(gc.code, 0, gc.stderr)
    assert.ok(gc.json.removed >= 1)
    const started = Date.now()
    const down = await medvault(homeB, ['record', 'get', issued.json.tokenId, '--as', 'pat', '--json'])
    assert.equal(down.code, 7, down.stdout)
    assert.equal(down.json.error.code, 'STORAGE_PEERS_UNREACHABLE')
    assert.ok(Date.now() - started < 30_000)

    // Home A still holds its pinned record after its own gc.
    const gcA = await medvault(homeA, ['ipfs', 'gc', '--json'])
    assert.equal(gcA.json.removed, 0)
    const readA = await medvault(homeA, ['record', 'get', issued.json.tokenId, '--as', 'pat', '--json'])
    assert.equal(readA.code, 0, readA.stderr || readA.stdout)
  })
})
