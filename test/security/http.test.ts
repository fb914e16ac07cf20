/**
 * The HTTP surface under attack, over a real socket against a real chain: sign-in replays and
 * forgeries, oversized and deeply nested bodies, and the headers that keep browsers safe. Each
 * test names the mechanism it depends on; without that mechanism it fails.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { request } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import { postLogin, sessionToken, siweLogin, siweMessage } from '../integration/server.js'
import { PASSPHRASE, type TestStack, openTestStack } from '../integration/stack.js'

const SIXTEEN_MIB = 16 * 1024 * 1024

/**
 * POSTs a body the way curl does: the status is taken as soon as the server answers, even while the
 * body is still being sent (the server refuses an oversized body from its Content-Length and closes
 * the connection, which makes fetch report only the broken pipe).
 */
function postEarly(
  url: string,
  headers: Record<string, string>,
  body: string,
  { chunked = false } = {},
): Promise<{ status: number; text: string }> {
  // Chunked: no content-length, so the server learns the size only by reading.
  const length = chunked ? {} : { 'content-length': String(Buffer.byteLength(body)) }
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, ...length } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (text += d))
      const done = () => {
        resolve({ status: res.statusCode ?? 0, text })
        req.destroy() // stop sending the rest of the body
      }
      res.on('end', done)
      res.on('error', done)
    })
    // A broken pipe while the body is still going out is expected once the server has answered;
    // without any answer it is a failure.
    req.on('error', (error) => setTimeout(() => reject(error), 1000))
    req.on('socket', (socket) => socket.on('error', () => undefined))
    req.end(body)
  })
}

describe('security: the HTTP API and FHIR facade', () => {
  let s: TestStack
  let server: MedvaultServer
  let proxied: MedvaultServer
  let token: string
  const webRoot = mkdtempSync(join(tmpdir(), 'medvault-sec-web-'))
  const alice = () => s.accounts.alice!.chainAccount

  before(async () => {
    writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>portal</title>')
    s = await openTestStack({ providers: { lab: 'City Lab' }, others: ['alice'] })
    // Default limits: the 16 MiB body limit is what is tested.
    server = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, indexMaxAgeMs: 0, webRoot })
    proxied = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, publicUrl: 'https://records.example.org' })
    token = await sessionToken(server.url, alice())
  })
  after(async () => {
    await server?.close()
    await proxied?.close()
    await s?.dispose()
    rmSync(webRoot, { recursive: true, force: true })
  })
  const authed = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, ...extra })

  describe('Sign-In with Ethereum', () => {
    // Mechanism: the nonce is used up atomically on the first login (siwe.ts, IndexStore.consumeNonce).
    it('the same message and signature twice: 200, then 401', async () => {
      const message = await siweMessage(server.url, alice().address)
      const signature = await alice().signMessage({ message })
      assert.equal((await postLogin(server.url, message, signature)).status, 200)
      const replay = await postLogin(server.url, message, signature)
      assert.equal(replay.status, 401)
      assert.match(JSON.stringify(await replay.json()), /nonce/i)
    })

    // Mechanism: siwe.ts checks expirationTime, domain and chainId against the server's own.
    for (const [name, overrides] of [
      ['an expired message', { expirationTime: new Date(Date.now() - 60_000) }],
      ['a message for another domain', { domain: 'records.evil.example' }],
      ['a message for another chain', { chainId: 1 }],
    ] as const) {
      it(`${name}: 401, and the nonce it carried is not spent on it`, async () => {
        const res = await siweLogin(server.url, alice(), overrides)
        assert.equal(res.status, 401)
      })
    }

    // Mechanism: siwe.ts checks the message's `uri` against this server's own origins (EIP-4361: the relying party checks it).
    it('a message whose URI is on another origin: 401', async () => {
      const res = await siweLogin(server.url, alice(), { uri: 'https://records.evil.example/login' })
      assert.equal(res.status, 401)
      assert.match(JSON.stringify(await res.json()), /URI/)
    })

    // Finding 1 (nonce burning). Mechanism: nonces are 128 bits from node:crypto (siwe.ts generateNonce). With viem's
    // generateSiweNonce each nonce was the last one shifted by a hex character, so 16 guesses spent the next user's nonce.
    it("a stranger who guesses the next nonce from their own cannot burn another user's sign-in", async () => {
      const mallory = privateKeyToAccount(generatePrivateKey())
      const theirs = (await (await fetch(`${server.url}/auth/nonce`)).json()) as { nonce: string }
      const message = await siweMessage(server.url, alice().address)
      const signature = await alice().signMessage({ message })
      for (const next of '0123456789abcdef') {
        const guess = await siweLogin(server.url, mallory, { nonce: `${theirs.nonce.slice(1)}${next}` })
        assert.equal(guess.status, 401, 'a guessed nonce signs no one in')
      }
      assert.equal((await postLogin(server.url, message, signature)).status, 200)
    })

    // Mechanism: behind a TLS proxy the sign-in domain is the public host, so a message signed for the local address is refused there.
    it('behind a proxy, a message names the public host', async () => {
      const nonce = (await (await fetch(`${proxied.url}/auth/nonce`)).json()) as { domain: string; uri: string }
      assert.equal(nonce.domain, 'records.example.org')
      assert.equal(nonce.uri, 'https://records.example.org')
      assert.equal((await siweLogin(proxied.url, alice(), { domain: 'attacker.example.org' })).status, 401)
      assert.equal((await siweLogin(proxied.url, alice())).status, 200)
    })
  })

  describe('bodies', () => {
    // Mechanism: hono's bodyLimit at DEFAULT_LIMITS.bodyBytes (16 MiB), before any route reads the body.
    for (const [path, type] of [
      ['/api/records', 'application/json'],
      ['/fhir', 'application/fhir+json'],
    ] as const) {
      it(`a body over 16 MiB on ${path}: 413 OperationOutcome, and the server still serves`, async () => {
        const body = `{"resourceType":"Bundle","type":"transaction","pad":"${'x'.repeat(SIXTEEN_MIB)}"}`
        const res = await postEarly(`${server.url}${path}`, authed({ 'content-type': type }), body)
        assert.equal(res.status, 413)
        assert.equal((JSON.parse(res.text) as { resourceType: string }).resourceType, 'OperationOutcome')
        assert.equal((await fetch(`${server.url}/health`)).status, 200)
      })
    }

    // Mechanism: jsonDepthLimit (src/server/jsonDepth.ts) refuses nesting past 100 levels before any parse or validation.
    // Without it V8 parses the body, and the validators' recursive walks overflow the stack: a 500, or a crash.
    for (const [path, type, signedIn] of [
      ['/api/records', 'application/json', true],
      ['/fhir', 'application/fhir+json', true],
      ['/api/grants', 'application/json', true],
      ['/auth/login', 'application/json', false],
      ['/verify/claim', 'application/json', false],
    ] as const) {
      it(`100,000 levels of [ on ${path}: 400 at once, and the server still serves`, async () => {
        const body = `${'['.repeat(100_000)}${']'.repeat(100_000)}`
        const started = performance.now()
        const res = await fetch(`${server.url}${path}`, {
          method: 'POST',
          headers: signedIn ? authed({ 'content-type': type }) : { 'content-type': type },
          body,
        })
        const ms = performance.now() - started
        assert.equal(res.status, 400)
        const outcome = (await res.json()) as { resourceType: string; issue: { code: string; diagnostics: string }[] }
        assert.equal(outcome.resourceType, 'OperationOutcome')
        assert.match(outcome.issue[0]!.diagnostics, /nests deeper than 100 levels/)
        assert.ok(ms < 2000, `answered in ${ms.toFixed(0)} ms`)
        assert.equal((await fetch(`${server.url}/health`)).status, 200)
      })
    }

    // The same depth inside a body of the right shape, where it reaches FHIR validation and canonical JSON (both recursive).
    for (const [path, type, wrap] of [
      [
        '/api/records',
        'application/json',
        (deep: string) =>
          `{"patient":"0x${'11'.repeat(20)}","resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"extension":${deep}}}`,
      ],
      [
        '/fhir',
        'application/fhir+json',
        (deep: string) =>
          `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Observation","x":${deep}}}]}`,
      ],
    ] as const) {
      it(`100,000 levels inside a ${path} body of the right shape: 400, and the server still serves`, async () => {
        const res = await fetch(`${server.url}${path}`, {
          method: 'POST',
          headers: authed({ 'content-type': type }),
          body: wrap(`${'['.repeat(100_000)}${']'.repeat(100_000)}`),
        })
        assert.equal(res.status, 400)
        assert.match(await res.text(), /nests deeper than 100 levels/)
        assert.equal((await fetch(`${server.url}/health`)).status, 200)
      })
    }

    // Mechanism: one bodyLimit per request (src/server/app.ts). A body of unknown length (chunked, no
    // content-length) was re-wrapped by the global limit and then by /verify's own, whose reader found
    // the stream locked: a 500 on DELETE /verify/x and on a chunked POST /verify/claim.
    for (const [method, path, expected] of [
      ['DELETE', '/verify/x', 404],
      ['POST', '/verify/claim', 422],
      ['POST', '/verify/health-card', 422],
    ] as const) {
      it(`a streamed body of unknown length on ${method} ${path}: ${expected}, not a 500`, async () => {
        const body = new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"not":"a card"}'))
            controller.close()
          },
        })
        const res = await fetch(`${server.url}${path}`, {
          method,
          headers: { 'content-type': 'application/json' },
          body,
          duplex: 'half',
        } as RequestInit)
        assert.equal(res.status, expected, await res.clone().text())
        assert.equal(((await res.json()) as { resourceType: string }).resourceType, 'OperationOutcome')
      })
    }

    it('a chunked body over the /verify limit (256 KiB): 413, and the server still serves', async () => {
      const res = await postEarly(`${server.url}/verify/claim`, { 'content-type': 'application/json' }, 'x'.repeat(512 * 1024), {
        chunked: true,
      })
      assert.equal(res.status, 413)
      assert.equal((await fetch(`${server.url}/health`)).status, 200)
    })

    it('a real FHIR resource nested a few levels passes the depth check (it reaches the route)', async () => {
      const res = await fetch(`${server.url}/api/records`, {
        method: 'POST',
        headers: authed({ 'content-type': 'application/json' }),
        body: JSON.stringify({ patient: alice().address, resource: { resourceType: 'Observation', a: [[[{ b: [[1]] }]]] } }),
      })
      assert.notEqual(res.status, 400)
    })
  })

  describe('paths', () => {
    // Finding 3. Mechanism: staticWeb.ts decodes the path inside a guard; an unguarded decodeURIComponent threw a URIError: a 500.
    for (const path of ['/%ff', '/%E0%A4%A', '/assets/%c0%af', '/%']) {
      it(`GET ${path} (a malformed percent-escape, no sign-in): 400 OperationOutcome`, async () => {
        const res = await fetch(`${server.url}${path}`, { headers: { accept: 'text/html' } })
        assert.equal(res.status, 400)
        const outcome = (await res.json()) as { resourceType: string; issue: { diagnostics: string }[] }
        assert.equal(outcome.resourceType, 'OperationOutcome')
        assert.match(outcome.issue[0]!.diagnostics, /malformed percent-escape/)
      })
    }
  })

  describe('headers', () => {
    // Mechanism: no CORS middleware on the API: the portal is same-origin, so no other origin is ever allowed to read with a session.
    it('CORS: a foreign Origin gets no Access-Control-Allow-Origin, on a preflight or a real request, and never a wildcard with credentials', async () => {
      const origin = 'https://evil.example'
      const preflight = await fetch(`${server.url}/api/me`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      })
      const real = await fetch(`${server.url}/api/me`, { headers: authed({ origin }) })
      assert.equal(real.status, 200)
      for (const res of [preflight, real]) {
        assert.equal(res.headers.get('access-control-allow-origin'), null)
        assert.equal(res.headers.get('access-control-allow-credentials'), null)
      }
      const fhir = await fetch(`${server.url}/fhir/metadata`, { headers: { origin } })
      assert.equal(fhir.headers.get('access-control-allow-origin'), null)
    })

    // Mechanism: hono's secureHeaders in app.ts with the portal's CSP.
    it('HTML carries a CSP (self only, no framing, no plugins) and nosniff; JSON carries nosniff and no-store', async () => {
      const html = await fetch(`${server.url}/records/1`, { headers: { accept: 'text/html' } })
      assert.equal(html.status, 200)
      assert.match(html.headers.get('content-type') ?? '', /text\/html/)
      const csp = html.headers.get('content-security-policy') ?? ''
      assert.match(csp, /default-src 'self'/)
      assert.match(csp, /frame-ancestors 'none'/)
      assert.match(csp, /object-src 'none'/)
      assert.match(csp, /base-uri 'none'/)
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/)
      assert.equal(html.headers.get('x-content-type-options'), 'nosniff')
      assert.equal(html.headers.get('x-frame-options'), 'SAMEORIGIN')
      const api = await fetch(`${server.url}/api/me`, { headers: authed() })
      assert.equal(api.headers.get('x-content-type-options'), 'nosniff')
      assert.equal(api.headers.get('cache-control'), 'no-store')
    })

    // Mechanism: app.ts sends HSTS only when the public base URL is https (startServer's publicUrl, a TLS proxy in front).
    it('HSTS only behind TLS: none over plain HTTP, max-age of two years behind an https proxy', async () => {
      assert.equal((await fetch(`${server.url}/health`)).headers.get('strict-transport-security'), null)
      const hsts = (await fetch(`${proxied.url}/health`)).headers.get('strict-transport-security') ?? ''
      assert.match(hsts, /max-age=63072000/)
      await assert.rejects(startServer(s.mv, { port: 0, publicUrl: 'http://records.example.org' }), /must be an https:\/\/ URL/)
    })
  })
})
