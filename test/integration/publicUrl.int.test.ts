/**
 * A server a stranger can use, end to end with the real CLI (dist/): behind a TLS proxy (node:https
 * with a self-signed certificate for localhost, made by openssl), `medvault start --public-url`
 * makes health cards carry issuer URLs on that host and serves the issuers' keys there; a verifier
 * that shares no code with medvault (jose, the JWKS fetched over https) checks a card. `shc issue`
 * warns when the issuer URL is one no outside verifier can reach. `GET /` tells curl where things are.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { type IncomingMessage, request as httpRequest } from 'node:http'
import { type Server, createServer, get as httpsGet } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inflateRawSync } from 'node:zlib'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { compactVerify, createLocalJWKSet } from 'jose'
import { freePort } from '../../src/chain/ports.js'
import { medvault, startMedvault } from './cli.js'

const example = (name: string) => fileURLToPath(new URL(`../../examples/fhir/${name}`, import.meta.url))
const openssl = spawnSync('openssl', ['version']).status === 0

/** GET over https, trusting only `ca` (the test's own certificate). */
function httpsGetText(
  url: string,
  ca: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca, headers }, (res: IncomingMessage) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }))
    }).on('error', reject)
  })
}

describe('issuer URLs a stranger can reach, and the server behind TLS', {
  skip: openssl ? false : 'openssl is not installed: `apt-get install openssl` to run these tests',
}, () => {
  const home = mkdtempSync(join(tmpdir(), 'medvault-public-'))
  const work = mkdtempSync(join(tmpdir(), 'medvault-public-out-'))
  const mv = (...args: string[]) => medvault(home, args)
  let cert = ''
  let proxy: Server | undefined
  let stop: (() => Promise<number>) | undefined
  let publicUrl = ''

  before(async () => {
    for (const name of ['lab-a', 'alice']) assert.equal((await mv('account', 'create', name, '--json')).code, 0)
    assert.equal((await mv('provider', 'register', 'lab-a', '--name', 'Lab A', '--json')).code, 0)
    const add = await mv('record', 'add', example('immunization.json'), '--patient', 'alice', '--as', 'lab-a', '--json')
    assert.equal(add.code, 0, add.stderr)
    assert.equal((await mv('grant', '--record', '1', '--to', 'lab-a', '--for', '1h', '--as', 'alice')).code, 0)
    writeFileSync(
      join(work, 'patient.json'),
      JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Example', given: ['Alice'] }], birthDate: '1990-04-01' }),
    )
    const tls = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        join(work, 'key.pem'),
        '-out',
        join(work, 'cert.pem'),
      ],
      { encoding: 'utf8' },
    )
    assert.equal(tls.status, 0, tls.stderr)
    cert = readFileSync(join(work, 'cert.pem'), 'utf8')
  })

  after(async () => {
    await stop?.()
    await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()))
    rmSync(home, { recursive: true, force: true })
    rmSync(work, { recursive: true, force: true })
  })

  it('a default install warns that its cards verify only here, and says how to fix it', async () => {
    const out = join(work, 'local-card')
    const r = await mv('shc', 'issue', '1', '--as', 'lab-a', '--patient-file', join(work, 'patient.json'), '--out', out, '--json')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.json.iss, /^https:\/\/localhost\/medvault\/issuers\/0x/)
    assert.match(r.json.warning, /Verifiers elsewhere cannot check this card: .*localhost.*--public-url https:\/\/HOST/)
    assert.match(r.stderr, /^Warning: Verifiers elsewhere cannot check this card/m)
    const human = await mv('shc', 'issue', '1', '--as', 'lab-a', '--patient-file', join(work, 'patient.json'), '--out', join(work, 'c2'))
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stderr, /names localhost, this machine/)
    assert.doesNotMatch(human.stdout, /Warning/)
  })

  it('start --public-url: cards carry that host, its keys are served there over https, and jose verifies a card', async () => {
    const [proxyPort, apiPort, chainPort, httpPort] = [await freePort(), await freePort(), await freePort(), await freePort()]
    publicUrl = `https://localhost:${proxyPort}`
    // The TLS proxy a deployment puts in front of the API.
    proxy = createServer({ cert, key: readFileSync(join(work, 'key.pem')) }, (req, res) => {
      const upstream = httpRequest({ host: '127.0.0.1', port: apiPort, path: req.url, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
      })
      upstream.on('error', () => res.writeHead(502).end())
      req.pipe(upstream)
    })
    await new Promise<void>((resolve) => proxy!.listen(proxyPort, '127.0.0.1', resolve))

    const started = await startMedvault(home, [
      '--public-url',
      publicUrl,
      '--api-port',
      String(apiPort),
      '--port',
      String(chainPort),
      '--http-port',
      String(httpPort),
    ])
    stop = started.stop
    assert.match(started.output(), new RegExp(`issued as ${publicUrl}/issuers/<provider address>`))
    assert.equal(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).healthCards.issuerBaseUrl, `${publicUrl}/issuers`)

    const out = join(work, 'public-card')
    const r = await mv('shc', 'issue', '1', '--as', 'lab-a', '--patient-file', join(work, 'patient.json'), '--out', out, '--json')
    assert.equal(r.code, 0, r.stderr)
    const iss = r.json.iss as string
    assert.match(iss, new RegExp(`^${publicUrl}/issuers/0x[0-9a-fA-F]{40}$`))

    // The verifier's side: only the card, the issuer URL in it, and https.
    const jws = JSON.parse(readFileSync(`${out}.smart-health-card`, 'utf8')).verifiableCredential[0] as string
    const jwksResponse = await httpsGetText(`${iss}/.well-known/jwks.json`, cert)
    assert.equal(jwksResponse.status, 200)
    const { payload, protectedHeader } = await compactVerify(jws, createLocalJWKSet(JSON.parse(jwksResponse.body)))
    assert.equal(protectedHeader.alg, 'ES256')
    const claims = JSON.parse(inflateRawSync(payload).toString('utf8'))
    assert.equal(claims.iss, iss)
    assert.ok(claims.vc.credentialSubject.fhirBundle.entry.some((e: any) => e.resource.resourceType === 'Immunization'))
    // A key set that is not the issuer's does not verify it.
    const stranger = await httpsGetText(`${publicUrl}/issuers/0x${'11'.repeat(20)}/.well-known/jwks.json`, cert)
    assert.equal(stranger.status, 404)
  })

  it('GET / answers curl with directions in plain text, and a browser with the portal', async () => {
    assert.ok(publicUrl, 'the previous test started the server')
    const curl = await httpsGetText(`${publicUrl}/`, cert, { accept: '*/*' })
    assert.equal(curl.status, 200)
    assert.match(curl.type, /^text\/plain/)
    assert.match(curl.body, new RegExp(`portal +${publicUrl}/ `))
    assert.match(curl.body, new RegExp(`${publicUrl}/openapi\\.json`))
    assert.match(curl.body, new RegExp(`${publicUrl}/fhir/metadata`))
    const browser = await httpsGetText(`${publicUrl}/`, cert, { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' })
    assert.equal(browser.status, 200)
    assert.match(browser.type, /^text\/html/)
    assert.match(browser.body, /<div id="root">|<!doctype html>/i)
    // FHIR and API paths keep their own answers.
    assert.equal((await httpsGetText(`${publicUrl}/fhir/metadata`, cert, { accept: '*/*' })).status, 200)
    assert.equal((await httpsGetText(`${publicUrl}/nothing-here`, cert, { accept: '*/*' })).status, 404)
  })
})
