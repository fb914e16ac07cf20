/**
 * Faults of the running service, for real, on one external anvil this file stops and restarts on
 * the same port with its state file: the HTTP server while the chain is down (503 with
 * Retry-After, the process stays up, the same requests succeed once the chain is back), a slow
 * and a stalled RPC (through a delaying TCP proxy: bounded retries, nothing half-written), the
 * index behind the chain, an IPFS peer (`medvault ipfs serve`, its own process) stopped and
 * started again, a full disk under the record add, and retried REST writes with an
 * Idempotency-Key.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { OperationOutcome } from '@medplum/fhirtypes'
import { type Address, createTestClient, http } from 'viem'
import type { UnlockedAccount } from '../../src/accounts/index.js'
import { type EmbeddedChain, startAnvil } from '../../src/chain/anvil.js'
import { freePort } from '../../src/chain/ports.js'
import { createChainClients } from '../../src/chain/clients.js'
import { deployContracts } from '../../src/chain/deploy.js'
import { medicalRecordAbi } from '../../src/contracts/index.js'
import { authorizeProvider, publishEncryptionKey, registerProvider } from '../../src/directory/index.js'
import { ChainUnavailableError, StorageError, StoragePeersUnreachableError } from '../../src/errors.js'
import { DEFAULT_CONFIG, homePaths, saveConfig } from '../../src/home/config.js'
import { type Medvault, openMedvault } from '../../src/home/openMedvault.js'
import { openIndexStore } from '../../src/indexer/index.js'
import { issueRecordOnce } from '../../src/operations/index.js'
import { documentFromFhir, issueRecord, openRecord } from '../../src/records/index.js'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import { createHeliaStore } from '../../src/storage/heliaStore.js'
import { createKuboStore } from '../../src/storage/kuboStore.js'
import { lazyBlobStore } from '../../src/storage/lazyStore.js'
import { type DelayProxy, startDelayProxy } from './delayProxy.js'
import { type ServedNode, serveIpfs } from './ipfsServe.js'
import { sessionToken } from './server.js'
import { mountTmpfs } from './tmpfs.js'
import { PASSPHRASE, registrar } from './stack.js'

const example = (file: string) => documentFromFhir(readFileSync(new URL(`../../examples/fhir/${file}`, import.meta.url)))
/** A small FHIR Observation, different for each `n`, so each is its own record. */
const observation = (n: number) => ({
  resourceType: 'Observation',
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '2339-0', display: 'Glucose' }] },
  valueQuantity: { value: 90 + n, unit: 'mg/dL' },
})

async function* once(chunk: Uint8Array) {
  yield chunk
}

async function collect(source: AsyncIterable<Uint8Array>) {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}

describe('service faults on one external chain, stopped and restarted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medvault-service-faults-'))
  const home = join(dir, 'home')
  const statePath = join(dir, 'state.json')
  let chain: EmbeddedChain
  let port: number
  let mv: Medvault
  const accounts: Record<string, UnlockedAccount> = {}
  const a = (name: string) => accounts[name]!
  let kept: bigint
  const timings: string[] = []

  /** Token ids of the patient's records, from the chain's RecordIssued events. */
  const mintedTo = async (patient: Address) => {
    const logs = await mv.publicClient.getContractEvents({
      address: mv.deployment.records,
      abi: medicalRecordAbi,
      eventName: 'RecordIssued',
      args: { patient },
      fromBlock: 0n,
    })
    return logs.map((l) => l.args.tokenId!)
  }
  const issueOnce = (ctx: Medvault, n: number, extra: Partial<Parameters<typeof issueRecordOnce>[1]> = {}) => {
    const doc = documentFromFhir(JSON.stringify(observation(n)))
    return issueRecordOnce(ctx, {
      issuer: a('lab'),
      patient: a('alice'),
      content: doc.content,
      contentType: doc.contentType,
      category: doc.category,
      consent: { standing: true },
      journalDir: mv.paths.operations,
      ...extra,
    })
  }

  before(async () => {
    chain = await startAnvil({ statePath })
    port = Number(new URL(chain.rpcUrl).port)
    // Short RPC timeouts, so a stalled node costs seconds here, not minutes.
    process.env.MEDVAULT_RPC_TIMEOUT_MS = '3000'
    const deployer = createChainClients(chain.rpcUrl, 31337)
    const deployment = await deployContracts(deployer.walletFor(registrar), deployer.publicClient)
    saveConfig(homePaths(home), { ...DEFAULT_CONFIG, chain: { kind: 'rpc', rpcUrl: chain.rpcUrl, chainId: 31337 }, deployment })
    mv = await openMedvault({ home })
    const test = createTestClient({ mode: 'anvil', transport: http(chain.rpcUrl) })
    for (const name of ['lab', 'alice']) {
      const created = await mv.keystore.create(name, PASSPHRASE)
      await test.setBalance({ address: created.address, value: 10n ** 20n })
      accounts[name] = await mv.keystore.unlock(name, PASSPHRASE)
      await publishEncryptionKey(mv, a(name).chainAccount, a(name).encryptionPublicKey)
    }
    await registerProvider(mv, registrar, { provider: a('lab').address, name: 'Fault Lab', encryptionKey: a('lab').encryptionPublicKey })
    await authorizeProvider(mv, a('alice'), a('lab').address, new Date(Date.now() + 3600_000))
    const doc = example('glucose.json')
    kept = (
      await issueRecord(mv, {
        issuer: a('lab'),
        patient: a('alice'),
        content: doc.content,
        contentType: doc.contentType,
        category: doc.category,
        consent: { standing: true },
      })
    ).tokenId
  })
  after(async () => {
    process.stdout.write(timings.map((t) => `# ${t}\n`).join(''))
    await mv?.close()
    await chain?.stop()
    delete process.env.MEDVAULT_RPC_TIMEOUT_MS
    rmSync(dir, { recursive: true, force: true })
  })

  describe('the HTTP server', () => {
    let server: MedvaultServer
    const errors: string[] = []
    const sessions: Record<string, string> = {}
    const send = (who: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${sessions[who]}`, 'content-type': 'application/json', ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    const issueBody = (n: number) => ({ patient: a('alice').address, resource: observation(n) })

    before(async () => {
      // The index may be 5 s old: long enough that a failed sync must not pass for a fresh one.
      server = await startServer(mv, {
        port: 0,
        passphrase: PASSPHRASE,
        indexMaxAgeMs: 5000,
        webRoot: false,
        logError: (l) => errors.push(l),
      })
      for (const name of ['lab', 'alice']) sessions[name] = await sessionToken(server.url, a(name).chainAccount)
    })
    after(async () => {
      await server?.close()
    })

    it('chain down: 503 with Retry-After and a clear OperationOutcome, the server stays up, and the same requests succeed once the chain is back', async () => {
      const before = await mintedTo(a('alice').address)
      await chain.stop()
      const down = Date.now()
      try {
        const list = await send('alice', 'GET', `/api/patients/${a('alice').address}/records`)
        assert.equal(list.status, 503)
        assert.equal(list.headers.get('retry-after'), '5')
        const outcome = (await list.json()) as OperationOutcome
        assert.equal(outcome.resourceType, 'OperationOutcome')
        assert.equal(outcome.issue[0]?.code, 'transient')
        assert.match(outcome.issue[0]?.diagnostics ?? '', /The chain did not answer .* run the command again once it is back/)
        // Asked at once of the index alone (who shares with me): still 503, not the old index passed off as current.
        const again = await send('lab', 'GET', '/api/patients')
        assert.equal(again.status, 503, 'a failed index sync must not count as a fresh one')

        const one = await send('alice', 'GET', `/api/records/${kept}`)
        assert.equal(one.status, 503)
        assert.equal(one.headers.get('retry-after'), '5')
        const issue = await send('lab', 'POST', '/api/records', issueBody(1), { 'idempotency-key': 'while-down-1' })
        assert.equal(issue.status, 503, await issue.clone().text())
        assert.equal((await fetch(`${server.url}/health`)).status, 200, 'the server process is still up')
      } finally {
        chain = await startAnvil({ statePath, port })
      }
      timings.push(`chain down for ${Date.now() - down} ms, 5 requests answered 503 meanwhile`)

      // No restart of the server: its clients and indexer reconnect by themselves.
      const list = await send('alice', 'GET', `/api/patients/${a('alice').address}/records`)
      assert.equal(list.status, 200, await list.clone().text())
      const { records } = (await list.json()) as { records: { tokenId: string }[] }
      assert.ok(
        records.some((r) => r.tokenId === String(kept)),
        'the record stored before the fault is there',
      )
      assert.equal((await send('alice', 'GET', `/api/records/${kept}`)).status, 200)
      const issue = await send('lab', 'POST', '/api/records', issueBody(1), { 'idempotency-key': 'while-down-1' })
      assert.equal(issue.status, 201, await issue.clone().text())
      const after = await mintedTo(a('alice').address)
      assert.equal(after.length, before.length + 1, 'the request refused while down minted nothing; its retry minted once')
      assert.ok(
        errors.some((l) => /GET \/api\/patients failed: ChainUnavailableError: The chain did not answer/.test(l)),
        `the operator's log names the fault: ${errors.join('\n')}`,
      )
    })

    it('a retried POST /api/records with the same Idempotency-Key mints once; the key reused for another body is refused; two at once make one record', async () => {
      const before = (await mintedTo(a('alice').address)).length
      const first = await send('lab', 'POST', '/api/records', issueBody(2), { 'idempotency-key': 'retry-2' })
      assert.equal(first.status, 201, await first.clone().text())
      const made = (await first.json()) as { tokenId: string; outcome: string }
      assert.equal(made.outcome, 'new')
      const retry = await send('lab', 'POST', '/api/records', issueBody(2), { 'idempotency-key': 'retry-2' })
      assert.equal(retry.status, 201)
      const again = (await retry.json()) as { tokenId: string; outcome: string }
      assert.equal(again.tokenId, made.tokenId)
      assert.equal(again.outcome, 'done-before')

      const misuse = await send('lab', 'POST', '/api/records', issueBody(3), { 'idempotency-key': 'retry-2' })
      assert.equal(misuse.status, 422)
      assert.match(((await misuse.json()) as OperationOutcome).issue[0]?.diagnostics ?? '', /already used for a different request/)

      // A client that timed out and retried while its first request still runs.
      const both = await Promise.all([0, 1].map(() => send('lab', 'POST', '/api/records', issueBody(4), { 'idempotency-key': 'retry-4' })))
      const statuses = both.map((r) => r.status).sort()
      const bodies = await Promise.all(both.map((r) => r.json() as Promise<{ tokenId?: string; issue?: { code: string }[] }>))
      assert.ok(statuses.includes(201), `statuses ${statuses}`)
      for (const [i, r] of both.entries()) {
        if (r.status === 409) assert.equal(bodies[i]!.issue?.[0]?.code, 'conflict')
        else assert.equal(r.status, 201, JSON.stringify(bodies[i]))
      }
      const ids = new Set(bodies.flatMap((b) => (b.tokenId ? [b.tokenId] : [])))
      assert.equal(ids.size, 1, 'the same record for both')
      assert.equal(
        (await mintedTo(a('alice').address)).length,
        before + 2,
        'one token for the retried request, one for the concurrent pair',
      )
    })

    it('the index behind: records minted while the server was stopped or its indexer paused are listed once, none lost or doubled', async () => {
      await server.close()
      const doc = example('immunization.json')
      const whileStopped = await issueRecord(mv, {
        issuer: a('lab'),
        patient: a('alice'),
        content: doc.content,
        contentType: doc.contentType,
        category: doc.category,
        consent: { standing: true },
      })
      const store = await openIndexStore(mv.paths, mv.config)
      const status = await store.status()
      const head = await mv.publicClient.getBlockNumber({ cacheTime: 0 })
      await store.close()
      assert.ok(status.lastBlock !== undefined && status.lastBlock < head, `the index is behind: ${status.lastBlock} < ${head}`)

      const started = Date.now()
      server = await startServer(mv, { port: 0, passphrase: PASSPHRASE, indexMaxAgeMs: 1000, webRoot: false })
      timings.push(`server restarted and caught up ${head - status.lastBlock!} blocks in ${Date.now() - started} ms`)
      for (const name of ['lab', 'alice']) sessions[name] = await sessionToken(server.url, a(name).chainAccount)
      await server.indexer.stop() // paused: no background sync
      const whilePaused = await issueOnce(mv, 5)

      // The list syncs the index first when it is older than the limit; within the limit it is served as is, so wait it out.
      await new Promise((resolve) => setTimeout(resolve, 1100))
      const list = await send('alice', 'GET', `/api/patients/${a('alice').address}/records`)
      assert.equal(list.status, 200)
      const listed = ((await list.json()) as { records: { tokenId: string }[] }).records.map((r) => r.tokenId)
      const onChain = (await mintedTo(a('alice').address)).map(String)
      assert.deepEqual([...listed].sort(), [...onChain].sort(), 'the index lists exactly what the chain holds')
      assert.equal(new Set(listed).size, listed.length, 'no record twice')
      assert.ok(listed.includes(String(whileStopped.tokenId)) && listed.includes(String(whilePaused.tokenId)))
    })

    it('an IPFS peer down: reads of what only it holds give 503 STORAGE_PEERS_UNREACHABLE; once it is back the same request succeeds', async () => {
      const repoPeer = join(dir, 'peer')
      const repoHere = join(dir, 'here')
      // The record's ciphertext goes into the peer's repository (written here, then served by its own process).
      const writer = await createHeliaStore(repoPeer)
      const doc = example('immunization.json')
      const onPeer = await issueRecord(
        { ...mv, store: writer },
        {
          issuer: a('lab'),
          patient: a('alice'),
          content: doc.content,
          contentType: doc.contentType,
          category: 'immunization',
          consent: { standing: true },
        },
      )
      await writer.close()
      const listen = `/ip4/127.0.0.1/tcp/${await freePort()}`
      let peer: ServedNode | undefined = await serveIpfs(['--repo', repoPeer, '--listen', listen])
      const here = await createHeliaStore(repoHere, {
        network: { listen: [], peers: peer.multiaddrs, timeoutMs: 3000, dialTimeoutMs: 2000 },
      })
      const peered = await startServer({ ...mv, store: here }, { port: 0, passphrase: PASSPHRASE, webRoot: false })
      try {
        const token = await sessionToken(peered.url, a('alice').chainAccount)
        const content = () =>
          fetch(`${peered.url}/api/records/${onPeer.tokenId}/content`, { headers: { authorization: `Bearer ${token}` } })
        assert.equal((await content()).status, 200, 'fetched from the peer')
        assert.ok((await here.gc()) > 0, 'the fetched copy is only a cache')

        assert.equal(await peer.stop(), 0)
        peer = undefined
        const started = Date.now()
        const down = await content()
        assert.equal(down.status, 503, await down.clone().text())
        assert.equal(down.headers.get('retry-after'), '5')
        assert.match(
          ((await down.json()) as OperationOutcome).issue[0]?.diagnostics ?? '',
          /none of its 1 IPFS peers answered.*medvault ipfs serve/,
        )
        assert.ok(Date.now() - started < 5000, 'within the dial timeout, not a hang')
        await assert.rejects(
          openRecord({ ...mv, store: here }, { tokenId: onPeer.tokenId, reader: a('alice') }),
          StoragePeersUnreachableError,
        )

        // The patient's own node still stores: a record add with the peer down is stored here and minted.
        const added = await issueOnce({ ...mv, store: here }, 6)
        assert.equal(added.outcome, 'new')
        assert.ok(await here.has(added.cid))

        peer = await serveIpfs(['--repo', repoPeer, '--listen', listen])
        const back = await content()
        assert.equal(back.status, 200, 'the same request, no restart of the server')
        assert.equal(JSON.parse(Buffer.from(await back.arrayBuffer()).toString()).resourceType, 'Immunization')
      } finally {
        await peered.close()
        await here.close()
        await peer?.stop()
      }
    })
  })

  describe('a slow and a stalled RPC (a delaying TCP proxy between medvault and anvil)', () => {
    let proxy: DelayProxy
    before(async () => {
      proxy = await startDelayProxy({ host: '127.0.0.1', port })
    })
    after(async () => {
      await proxy?.close()
    })

    it('each chunk delayed 100-400 ms: a record add still completes', async () => {
      const slow = { ...mv, ...createChainClients(proxy.url, 31337) }
      proxy.setDelay(100, 400)
      proxy.resetCount()
      const started = Date.now()
      const made = await issueOnce(slow, 7)
      const ms = Date.now() - started
      proxy.setDelay(0, 0)
      assert.equal(made.outcome, 'new')
      assert.ok((await mintedTo(a('alice').address)).includes(made.tokenId))
      timings.push(`record add through 100-400 ms per chunk: ${ms} ms, ${proxy.requests()} RPC requests`)
    })

    it('a node that stops answering mid-operation: a clear timeout after 3 bounded retries, nothing half-written, and the same call finishes once it answers', async () => {
      const previous = process.env.MEDVAULT_RPC_TIMEOUT_MS
      process.env.MEDVAULT_RPC_TIMEOUT_MS = '1000'
      const stalling = { ...mv, ...createChainClients(proxy.url, 31337) }
      process.env.MEDVAULT_RPC_TIMEOUT_MS = previous
      const before = await mintedTo(a('alice').address)
      let stalledAt = 0
      const started = Date.now()
      await assert.rejects(
        issueOnce(stalling, 8, {
          // Stored and journaled; the node stalls before the mint is sent.
          checkpoint: (point) => {
            if (point !== 'after-seal') return
            proxy.resetCount()
            proxy.stall(true)
            stalledAt = Date.now()
          },
        }),
        (error: unknown) => {
          assert.ok(error instanceof ChainUnavailableError, String(error))
          assert.match(error.message, /took too long to answer/)
          return true
        },
      )
      const waited = Date.now() - stalledAt
      const requests = proxy.requests()
      proxy.stall(false)
      timings.push(`stalled node: gave up after ${waited} ms and ${requests} requests (1 s timeout, 3 retries)`)
      assert.equal(requests, 4, 'one request and 3 retries, then a typed error')
      assert.ok(waited >= 4 * 1000 && waited < 4 * 1000 + 3000, `gave up after ${waited} ms`)
      assert.deepEqual(await mintedTo(a('alice').address), before, 'nothing minted')
      const journal = readdirSync(mv.paths.operations).find(
        (f) =>
          f.startsWith('record-add-') &&
          f.endsWith('.jsonl') &&
          readFileSync(join(mv.paths.operations, f), 'utf8').includes('"t":"sealed"') &&
          !readFileSync(join(mv.paths.operations, f), 'utf8').includes('"t":"done"'),
      )
      assert.ok(journal, 'the journal holds the sealed step, nothing after it')

      const done = await issueOnce(stalling, 8)
      assert.equal(done.outcome, 'resumed', 'the stored ciphertext is used again')
      assert.equal((await mintedTo(a('alice').address)).length, before.length + 1)
      assert.ok(Date.now() - started < 30_000)
    })
  })

  describe('a Kubo node that is not running (nothing listens on its API port)', () => {
    it('a record add fails with a StorageError naming the node, within seconds, and mints nothing', async () => {
      const store = createKuboStore(`http://127.0.0.1:${await freePort()}`)
      const before = await mintedTo(a('alice').address)
      const started = Date.now()
      await assert.rejects(issueOnce({ ...mv, store }, 10), (error: unknown) => {
        assert.ok(error instanceof StorageError, String(error))
        assert.match(error.message, /The IPFS node at http:\/\/127\.0\.0\.1:\d+ did not answer/)
        return true
      })
      assert.ok(Date.now() - started < 5000, `failed after ${Date.now() - started} ms`)
      assert.deepEqual(await mintedTo(a('alice').address), before)
    })
  })

  describe('the disk under the IPFS repository full (a 2 MB tmpfs)', () => {
    const mnt = join(dir, 'tmpfs')
    let mounted = false
    before(() => {
      mounted = mountTmpfs(mnt)
    })
    after(() => {
      if (mounted) execFileSync('umount', [mnt])
    })

    it('a record add that cannot store mints nothing, and the same call completes once space is freed', async (t) => {
      if (!mounted) return t.skip('mount is not permitted here')
      const store = await createHeliaStore(join(mnt, 'ipfs'))
      try {
        try {
          execFileSync('dd', ['if=/dev/zero', `of=${join(mnt, 'filler')}`, 'bs=64k'], { stdio: 'pipe' })
        } catch {
          // "No space left on device": the point
        }
        const before = await mintedTo(a('alice').address)
        await assert.rejects(issueOnce({ ...mv, store }, 9), (error: unknown) => {
          assert.ok(error instanceof StorageError, String(error))
          assert.match(error.message, /disk is not full/)
          return true
        })
        assert.deepEqual(await mintedTo(a('alice').address), before, 'nothing minted without the ciphertext stored')
        rmSync(join(mnt, 'filler'))
        const done = await issueOnce({ ...mv, store }, 9)
        assert.equal(done.outcome, 'resumed')
        assert.equal((await mintedTo(a('alice').address)).length, before.length + 1)
        const { content } = await openRecord({ ...mv, store }, { tokenId: done.tokenId, reader: a('alice') })
        assert.equal(JSON.parse((await collect(content)).toString()).valueQuantity.value, 99, 'the record reads back whole')
      } finally {
        await store.close()
      }
    })

    it('the repository cannot even be opened (storage read-only): a StorageError, and the same store opens by itself once it is writable', async (t) => {
      if (!mounted) return t.skip('mount is not permitted here')
      // As the server holds it: opened on first use, kept for the life of the process.
      const store = lazyBlobStore(() => createHeliaStore(join(mnt, 'late')))
      const bytes = new Uint8Array(4096).fill(7)
      execFileSync('mount', ['-o', 'remount,ro', mnt])
      try {
        await assert.rejects(store.add(once(bytes)), (error: unknown) => {
          assert.ok(error instanceof StorageError, String(error))
          assert.match(error.message, /Could not open the IPFS repository.*tries again/)
          return true
        })
      } finally {
        execFileSync('mount', ['-o', 'remount,rw', mnt])
      }
      try {
        const cid = await store.add(once(bytes))
        assert.deepEqual(await collect(store.cat(cid)), Buffer.from(bytes))
      } finally {
        await store.close()
      }
    })
  })
})
