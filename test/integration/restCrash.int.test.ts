/**
 * The crash matrix of the REST API: the server process killed with SIGKILL at each journal point
 * of `POST /api/records`, `POST /api/grants`, `DELETE /api/grants/{id}` and `PUT /api/delegates/{d}` (`MEDVAULT_FAULT`), started again, and the same
 * request sent again. Each cell passes when the killed request got no answer, the retry succeeded,
 * and the chain holds exactly one result (one token, one grant) whose record reads and whose keys
 * were released. The chain (an external anvil) runs in this process and outlives the server's
 * crashes, as a node would; the server is test/integration/restServerProcess.ts.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type Address, createTestClient, http } from 'viem'
import type { UnlockedAccount } from '../../src/accounts/index.js'
import { type EmbeddedChain, createChainClients, deployContracts, freePort, startAnvil } from '../../src/chain/index.js'
import { consentRegistryAbi, medicalRecordAbi } from '../../src/contracts/index.js'
import { authorizeProvider, publishEncryptionKey, registerProvider } from '../../src/directory/index.js'
import { DEFAULT_CONFIG, type Medvault, homePaths, openMedvault, saveConfig } from '../../src/home/index.js'
import { createGrant } from '../../src/consent/index.js'
import { OPERATION_POINTS } from '../../src/operations/index.js'
import { openRecord } from '../../src/records/index.js'
import { nodeArgsFor } from './childScript.js'
import { sessionToken } from './server.js'
import { PASSPHRASE, registrar } from './stack.js'

const SERVER = fileURLToPath(new URL('./restServerProcess.ts', import.meta.url))

type Server = { url: string; child: ChildProcess; exited: Promise<NodeJS.Signals | number | null> }

function startServerProcess(home: string, port: number, fault?: string): Promise<Server> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  if (fault) env.MEDVAULT_FAULT = fault
  else delete env.MEDVAULT_FAULT
  const child = spawn(process.execPath, [...nodeArgsFor(SERVER), home, String(port)], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)))
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`the server did not come up:\n${out}`)), 60_000)
    const onData = (d: Buffer) => {
      out += d
      const ready = /ready (\S+)/.exec(out)
      if (ready) {
        clearTimeout(timer)
        resolve({ url: ready[1]!, child, exited })
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    void exited.then((how) => {
      clearTimeout(timer)
      reject(new Error(`the server exited (${String(how)}) before it served:\n${out}`))
    })
  })
}

const observation = (n: number) => ({
  resourceType: 'Observation',
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '2339-0', display: 'Glucose' }] },
  valueQuantity: { value: 90 + n, unit: 'mg/dL' },
})

describe('the REST crash matrix: the server killed at each journal point, the request sent again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medvault-rest-crash-'))
  const home = join(dir, 'home')
  let chain: EmbeddedChain
  let mv: Medvault
  let port: number
  const accounts: Record<string, UnlockedAccount> = {}
  const a = (name: string) => accounts[name]!
  const results: string[] = []

  async function createFunded(name: string) {
    const created = await mv.keystore.create(name, PASSPHRASE)
    await createTestClient({ mode: 'anvil', transport: http(chain.rpcUrl) }).setBalance({ address: created.address, value: 10n ** 20n })
    accounts[name] = await mv.keystore.unlock(name, PASSPHRASE)
    await publishEncryptionKey(mv, a(name).chainAccount, a(name).encryptionPublicKey)
    return a(name)
  }

  /** Sends the request to a server started with the fault (it must die by SIGKILL, unanswered), then the same to a fresh one. */
  async function killThenRetry(
    fault: string,
    who: UnlockedAccount,
    path: string,
    body: unknown,
    { method = 'POST', status = 201 }: { method?: string; status?: number } = {},
  ) {
    const send = async (server: Server) =>
      fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${await sessionToken(server.url, who.chainAccount)}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    const doomed = await startServerProcess(home, port, fault)
    const answer = await send(doomed).then(
      (r) => `answered ${r.status}`,
      () => undefined,
    )
    assert.equal(answer, undefined, `the request was answered though the server was to die at ${fault}`)
    assert.equal(await doomed.exited, 'SIGKILL', `the server died by SIGKILL at ${fault}`)
    const server = await startServerProcess(home, port)
    try {
      const retry = await send(server)
      const json = (await retry.json()) as any
      assert.equal(retry.status, status, `the retry after ${fault}: ${JSON.stringify(json)}`)
      return json
    } finally {
      server.child.kill('SIGTERM')
      await server.exited
    }
  }

  const issuedTo = (patient: Address) =>
    mv.publicClient.getContractEvents({
      address: mv.deployment.records,
      abi: medicalRecordAbi,
      eventName: 'RecordIssued',
      args: { patient },
      fromBlock: 0n,
      toBlock: 'latest',
    })
  const grantsOf = (patient: Address) =>
    mv.publicClient.getContractEvents({
      address: mv.deployment.consent,
      abi: consentRegistryAbi,
      eventName: 'GrantCreated',
      args: { patient },
      fromBlock: 0n,
      toBlock: 'latest',
    })
  async function reads(tokenId: bigint, reader: UnlockedAccount) {
    const opened = await openRecord(mv, { tokenId, reader })
    for await (const _ of opened.content) {
      // to the end: the commitment is checked there
    }
  }

  before(async () => {
    chain = await startAnvil({ statePath: join(dir, 'state.json') })
    const deployer = createChainClients(chain.rpcUrl, 31337)
    const deployment = await deployContracts(deployer.walletFor(registrar), deployer.publicClient)
    saveConfig(homePaths(home), { ...DEFAULT_CONFIG, chain: { kind: 'rpc', rpcUrl: chain.rpcUrl, chainId: 31337 }, deployment })
    mv = await openMedvault({ home })
    port = await freePort()
    for (const name of ['lab', 'reader']) await createFunded(name)
    await registerProvider(mv, registrar, { provider: a('lab').address, name: 'Crash Lab', encryptionKey: a('lab').encryptionPublicKey })
  })
  after(async () => {
    process.stdout.write(`\nREST crash matrix:\n${results.join('\n')}\n`)
    await mv?.close()
    await chain?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  for (const point of OPERATION_POINTS['record-add']) {
    it(`POST /api/records killed at ${point}: exactly one record, readable`, async () => {
      const started = Date.now()
      const patient = await createFunded(`add-${point}`)
      await authorizeProvider(mv, patient, a('lab').address, new Date(Date.now() + 3600_000))
      const json = await killThenRetry(`record-add:${point}`, a('lab'), '/api/records', {
        patient: patient.address,
        resource: observation(OPERATION_POINTS['record-add'].indexOf(point)),
      })
      const issued = await issuedTo(patient.address)
      assert.equal(issued.length, 1, 'exactly one token')
      assert.equal(String(issued[0]!.args.tokenId), String(json.tokenId))
      assert.ok(['resumed', 'done-before'].includes(json.outcome), `the retry finished the killed request, not a new one: ${json.outcome}`)
      await reads(BigInt(json.tokenId), patient)
      assert.ok((await mv.keySlips!.holders(BigInt(json.tokenId))).includes(mv.keyRelease!.escrow.address), "the escrow's key slip")
      results.push(`POST /api/records × ${point}: ✓ (${Date.now() - started} ms)`)
    })
  }

  for (const point of OPERATION_POINTS.grant) {
    it(`POST /api/grants killed at ${point}: exactly one grant, keys released`, async () => {
      const started = Date.now()
      const patient = await createFunded(`grant-${point}`)
      await authorizeProvider(mv, patient, a('lab').address, new Date(Date.now() + 3600_000))
      const server = await startServerProcess(home, port)
      let tokenId: bigint
      try {
        const issued = await fetch(`${server.url}/api/records`, {
          method: 'POST',
          headers: { authorization: `Bearer ${await sessionToken(server.url, a('lab').chainAccount)}`, 'content-type': 'application/json' },
          body: JSON.stringify({ patient: patient.address, resource: observation(100) }),
        })
        assert.equal(issued.status, 201, await issued.clone().text())
        tokenId = BigInt(((await issued.json()) as { tokenId: string }).tokenId)
      } finally {
        server.child.kill('SIGTERM')
        await server.exited
      }
      const body = {
        grantee: a('reader').address,
        scope: 'records',
        tokenIds: [String(tokenId)],
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      }
      const json = await killThenRetry(`grant:${point}`, patient, '/api/grants', body)
      const created = await grantsOf(patient.address)
      assert.equal(created.length, 1, 'exactly one grant')
      assert.equal(String(created[0]!.args.grantId), String(json.grant.grantId))
      assert.ok(await mv.keySlips!.get(tokenId, a('reader').address), "the grantee's key slip was written")
      await reads(tokenId, a('reader'))
      results.push(`POST /api/grants × ${point}: ✓ (${Date.now() - started} ms)`)
    })
  }

  for (const point of OPERATION_POINTS.revoke) {
    it(`DELETE /api/grants/{id} killed at ${point}: revoked exactly once`, async () => {
      const started = Date.now()
      const patient = await createFunded(`revoke-${point}`)
      const { grantId } = await createGrant(mv, {
        grantor: patient,
        patient: patient.address,
        grantee: a('reader').address,
        terms: { scope: 'all' },
        expiresAt: new Date(Date.now() + 86_400_000),
        purpose: 'treatment',
      })
      const json = await killThenRetry(`revoke:${point}`, patient, `/api/grants/${grantId}`, undefined, { method: 'DELETE', status: 200 })
      const revoked = await mv.publicClient.getContractEvents({
        address: mv.deployment.consent,
        abi: consentRegistryAbi,
        eventName: 'GrantRevoked',
        args: { grantId },
        fromBlock: 0n,
        toBlock: 'latest',
      })
      assert.equal(revoked.length, 1, 'revoked exactly once')
      assert.equal(revoked[0]!.transactionHash, json.txHash)
      assert.equal(json.grant.active, false)
      results.push(`DELETE /api/grants × ${point}: ✓ (${Date.now() - started} ms)`)
    })
  }

  for (const point of OPERATION_POINTS.delegate) {
    it(`PUT /api/delegates/{delegate} killed at ${point}: named exactly once`, async () => {
      const started = Date.now()
      const patient = await createFunded(`delegate-${point}`)
      const carer = a('reader').address
      const json = await killThenRetry(`delegate:${point}`, patient, `/api/delegates/${carer}`, undefined, { method: 'PUT', status: 200 })
      const added = await mv.publicClient.getContractEvents({
        address: mv.deployment.consent,
        abi: consentRegistryAbi,
        eventName: 'DelegateAdded',
        args: { patient: patient.address },
        fromBlock: 0n,
        toBlock: 'latest',
      })
      assert.equal(added.length, 1, 'named exactly once')
      assert.equal(added[0]!.transactionHash, json.txHash)
      results.push(`PUT /api/delegates × ${point}: ✓ (${Date.now() - started} ms)`)
    })
  }

  it('the same POST /api/grants sent twice makes one grant (a retried request used to make a second one)', async () => {
    const patient = await createFunded('grant-twice')
    await authorizeProvider(mv, patient, a('lab').address, new Date(Date.now() + 3600_000))
    const server = await startServerProcess(home, port)
    try {
      const post = async (who: UnlockedAccount, path: string, body: unknown) =>
        fetch(`${server.url}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${await sessionToken(server.url, who.chainAccount)}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      const issued = await post(a('lab'), '/api/records', { patient: patient.address, resource: observation(200) })
      const { tokenId } = (await issued.json()) as { tokenId: string }
      const body = {
        grantee: a('reader').address,
        scope: 'records',
        tokenIds: [tokenId],
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      }
      const first = (await (await post(patient, '/api/grants', body)).json()) as any
      const second = (await (await post(patient, '/api/grants', body)).json()) as any
      assert.equal(second.grant.grantId, first.grant.grantId)
      assert.equal(second.outcome, 'done-before')
      assert.equal((await grantsOf(patient.address)).length, 1, 'exactly one grant on chain')
    } finally {
      server.child.kill('SIGTERM')
      await server.exited
    }
  })
})
