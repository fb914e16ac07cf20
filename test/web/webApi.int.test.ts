/**
 * The server side of the web portal over a real socket: the JSON-RPC relay passes reads and the
 * caller's own transactions to medvault contracts and nothing else; key slips are stored only by
 * a record's owner for someone the chain lets read it; the portal's files are served with an SPA
 * fallback that leaves API 404s alone.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { encodeFunctionData, parseEther } from 'viem'
import { createGrant } from '../../src/consent/grants.js'
import { sharedTagTable } from '../../src/consent/tagTables.js'
import { buildTagTable, categoryTag, sealTagTable } from '../../src/core/index.js'
import { wrapKeySlip } from '../../src/core/keySlipFormat.js'
import { consentRegistryAbi } from '../../src/contracts/index.js'
import { randomKey } from '../../src/crypto/index.js'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import { sessionToken } from '../integration/server.js'
import { PASSPHRASE, type TestStack, issueExample, openTestStack } from '../integration/stack.js'

describe('the web portal API', () => {
  let s: TestStack
  let server: MedvaultServer
  let webRoot: string
  const sessions: Record<string, string> = {}
  const a = (name: string) => s.accounts[name]!
  let token: bigint

  before(async () => {
    webRoot = mkdtempSync(join(tmpdir(), 'medvault-webroot-'))
    mkdirSync(join(webRoot, 'assets'))
    writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>portal</title>')
    writeFileSync(join(webRoot, 'assets', 'app-1234.js'), 'console.log(1)')
    s = await openTestStack({ providers: { lab: 'City Lab', cardio: 'Heart Clinic' }, others: ['alice', 'mallory'] })
    token = await issueExample(s, 'glucose.json', 'lab', 'alice')
    server = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, indexMaxAgeMs: 0, webRoot })
    for (const name of ['alice', 'cardio', 'mallory']) sessions[name] = await sessionToken(server.url, a(name).chainAccount)
  })
  after(async () => {
    await server?.close()
    await s?.dispose()
    rmSync(webRoot, { recursive: true, force: true })
  })

  const post = (path: string, who: string, body: unknown) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${sessions[who]}` },
      body: JSON.stringify(body),
    })
  const rpc = async (who: string, method: string, params: unknown[] = []) =>
    (await (await post('/api/rpc', who, { jsonrpc: '2.0', id: 1, method, params })).json()) as {
      result?: unknown
      error?: { code: number; message: string }
    }

  async function signed(who: string, to: `0x${string}`, data: `0x${string}` = '0x', value = 0n) {
    const account = a(who).chainAccount
    const nonce = Number(BigInt((await rpc(who, 'eth_getTransactionCount', [account.address, 'pending'])).result as string))
    return account.signTransaction({
      to,
      data,
      value,
      nonce,
      gas: 200_000n,
      maxFeePerGas: parseEther('0.00000005'),
      maxPriorityFeePerGas: 1n,
      chainId: s.mv.deployment.chainId,
      type: 'eip1559',
    })
  }

  describe('POST /api/rpc', () => {
    it('needs a session', async () => {
      const res = await fetch(`${server.url}/api/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId' }),
      })
      assert.equal(res.status, 401)
    })

    it('passes reads, single and batched', async () => {
      assert.equal(Number((await rpc('alice', 'eth_chainId')).result), s.mv.deployment.chainId)
      const batch = (await (
        await post('/api/rpc', 'alice', [
          { jsonrpc: '2.0', id: 1, method: 'eth_blockNumber' },
          { jsonrpc: '2.0', id: 2, method: 'eth_getCode', params: [s.mv.deployment.consent, 'latest'] },
        ])
      ).json()) as { id: number; result: string }[]
      assert.deepEqual(
        batch.map((r) => r.id),
        [1, 2],
      )
      assert.ok(batch[1]!.result.length > 2)
    })

    it('refuses methods that are not reads, receipts or raw transactions', async () => {
      for (const method of ['eth_sendTransaction', 'anvil_setBalance', 'evm_mine', 'eth_sign', 'debug_traceTransaction']) {
        assert.equal((await rpc('alice', method, [])).error?.code, -32601, method)
      }
    })

    it("relays the caller's own transaction to a medvault contract", async () => {
      const data = encodeFunctionData({
        abi: consentRegistryAbi,
        functionName: 'grant',
        args: [
          {
            patient: a('alice').address,
            grantee: a('cardio').address,
            scope: 1,
            tokenIds: [],
            tags: [categoryTag(a('alice').tagSecret, 'laboratory', 0)],
            expiresAt: Math.floor(Date.now() / 1000) + 3600,
            purpose: 0,
          },
        ],
      })
      const answer = await rpc('alice', 'eth_sendRawTransaction', [await signed('alice', s.mv.deployment.consent, data)])
      assert.match(String(answer.result), /^0x[0-9a-f]{64}$/, JSON.stringify(answer.error))
    })

    it('refuses a transaction signed by another account than the session', async () => {
      const raw = await signed('mallory', s.mv.deployment.consent)
      assert.equal((await rpc('alice', 'eth_sendRawTransaction', [raw])).error?.code, -32003)
    })

    it('refuses a transaction to anything but the medvault contracts (no ether transfers through the relay)', async () => {
      const raw = await signed('alice', a('mallory').address, '0x', 1n)
      assert.equal((await rpc('alice', 'eth_sendRawTransaction', [raw])).error?.code, -32003)
    })
  })

  describe('PUT /api/tag-tables/{reader}', () => {
    const put = (path: string, who: string, body: unknown) =>
      fetch(`${server.url}${path}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${sessions[who]}` },
        body: JSON.stringify(body),
      })

    it("stores the caller's own table sealed in its browser, which only the reader opens", async () => {
      const table = buildTagTable(a('alice').tagSecret, ['laboratory'])
      const sealed = await sealTagTable(table, {
        patient: a('alice').address,
        reader: a('cardio').address,
        readerPublicKey: a('cardio').encryptionPublicKey,
      })
      const res = await put(`/api/tag-tables/${a('cardio').address}`, 'alice', { sealed: Buffer.from(sealed).toString('base64') })
      assert.equal(res.status, 201)
      const opened = await sharedTagTable(s.mv.tagTables!, {
        patient: a('alice').address,
        reader: a('cardio').address,
        readerSeed: a('cardio').encryptionSeed,
      })
      assert.deepEqual(opened, table)
      // Stored under the caller only: mallory cannot put a table in alice's name.
      assert.equal(await s.mv.tagTables!.get(a('mallory').address, a('cardio').address), undefined)
      // The reader's browser fetches what was sealed to it; anyone else finds nothing.
      const get = (who: string) =>
        fetch(`${server.url}/api/tag-tables/${a('alice').address}`, { headers: { authorization: `Bearer ${sessions[who]}` } })
      const fetched = (await (await get('cardio')).json()) as { sealed: string }
      assert.equal(fetched.sealed, Buffer.from(sealed).toString('base64'))
      assert.deepEqual(await (await get('mallory')).json(), { sealed: null })
    })

    it('refuses a table for the caller itself, an oversized one, and a caller not signed in', async () => {
      assert.equal((await put(`/api/tag-tables/${a('alice').address}`, 'alice', { sealed: 'AAAA' })).status, 422)
      assert.equal((await put(`/api/tag-tables/${a('cardio').address}`, 'alice', { sealed: 'A'.repeat(20_000) })).status, 422)
      const anonymous = await fetch(`${server.url}/api/tag-tables/${a('cardio').address}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sealed: 'AAAA' }),
      })
      assert.equal(anonymous.status, 401)
    })
  })

  describe('POST /api/key-slips', () => {
    const slipFor = async (grantee: string, wrappedBy: string) =>
      wrapKeySlip({
        recordKey: randomKey(),
        tokenId: token,
        cid: 'bafy-replaced-below',
        grantee: a(grantee).address,
        granteeKey: a(grantee).encryptionPublicKey,
        wrappedBy: a(wrappedBy).address,
      })

    it('refuses anyone but the record owner', async () => {
      const res = await post('/api/key-slips', 'mallory', { slips: [await slipFor('mallory', 'mallory')] })
      assert.equal(res.status, 403)
    })

    it('refuses a slip for someone the chain does not let read the record', async () => {
      const record = await (await import('../../src/records/onChainRecord.js')).getOnChainRecord(s.mv, token)
      const slip = { ...(await slipFor('mallory', 'alice')), cid: record.cid.toString() }
      const res = await post('/api/key-slips', 'alice', { slips: [slip] })
      assert.equal(res.status, 403)
    })

    it("stores the owner's slip for a grantee, which the grantee then gets", async () => {
      const record = await (await import('../../src/records/onChainRecord.js')).getOnChainRecord(s.mv, token)
      await createGrant(s.mv, {
        grantor: a('alice'),
        patient: a('alice').address,
        grantee: a('mallory').address,
        terms: { scope: 'records', tokenIds: [token] },
        expiresAt: new Date(Date.now() + 3600_000),
        purpose: 'treatment',
      })
      const slip = { ...(await slipFor('mallory', 'alice')), cid: record.cid.toString() }
      assert.equal((await post('/api/key-slips', 'alice', { slips: [{ ...slip, cid: 'bafyother' }] })).status, 422)
      assert.equal((await post('/api/key-slips', 'alice', { slips: [slip] })).status, 201)
      const got = (await (
        await fetch(`${server.url}/api/records/${token}/key-slip`, { headers: { authorization: `Bearer ${sessions.mallory}` } })
      ).json()) as { slip: { ct: string } }
      assert.equal(got.slip.ct, slip.ct)
    })
  })

  describe('the portal files', () => {
    it('serves index.html for pages a browser asks for, with a self-only CSP and no caching', async () => {
      for (const path of ['/', '/records/7', '/share']) {
        const res = await fetch(`${server.url}${path}`, { headers: { accept: 'text/html' } })
        assert.equal(res.status, 200, path)
        assert.match(await res.text(), /<title>portal<\/title>/)
        const csp = res.headers.get('content-security-policy') ?? ''
        assert.match(csp, /default-src 'self'/)
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
        assert.equal(res.headers.get('cache-control'), 'no-store')
      }
    })

    it('answers curl at / (Accept: */*) with plain-text directions, not a FHIR 404', async () => {
      const res = await fetch(`${server.url}/`, { headers: { accept: '*/*' } })
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
      const text = await res.text()
      for (const where of ['/ ', '/openapi.json', '/fhir/metadata'])
        assert.ok(text.includes(`${server.url}${where}`), `${where} in:\n${text}`)
    })

    it('serves built assets as immutable', async () => {
      const res = await fetch(`${server.url}/assets/app-1234.js`)
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type') ?? '', /javascript/)
      assert.match(res.headers.get('cache-control') ?? '', /immutable/)
    })

    it('leaves the API, FHIR and unknown non-HTML paths to their own answers', async () => {
      const html = { accept: 'text/html' }
      assert.equal((await fetch(`${server.url}/api/nowhere`, { headers: html })).status, 401)
      assert.equal((await fetch(`${server.url}/nowhere`)).status, 404)
      assert.equal(((await (await fetch(`${server.url}/openapi.json`)).json()) as { openapi: string }).openapi, '3.1.0')
      assert.equal(
        (await fetch(`${server.url}/fhir/metadata`, { headers: html })).headers.get('content-type'),
        'application/fhir+json; charset=utf-8',
      )
    })

    it('never serves a file outside the portal folder', async () => {
      for (const path of ['/..%2f..%2fpackage.json', '/assets/..%2f..%2f..%2fetc%2fpasswd', '/%2e%2e/%2e%2e/etc/passwd']) {
        const res = await fetch(`${server.url}${path}`)
        assert.ok(res.status === 404 || res.status === 400, `${path}: ${res.status}`)
      }
    })
  })
})
