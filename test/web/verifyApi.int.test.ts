/**
 * The verifier's and the emergency provider's endpoints over a real socket: health cards and
 * proof-of-treatment presentations verified without sign-in (plain reasons, OperationOutcome on
 * bad input, the body capped), and an emergency window reported to the patient's access log only
 * by the provider who opened it, with the reason that hashes to the one on chain.
 */
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { privateKeyToAccount, generatePrivateKey } from 'viem/accounts'
import { type ClaimPresentation, proveClaim } from '../../src/claims/index.js'
import { commitEmergencyReason } from '../../src/consent/emergencyReason.js'
import { openEmergency, setEmergencyProvider } from '../../src/consent/grants.js'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import {
  ensureHealthCardKey,
  generateIssuerKey,
  healthCardFile,
  issueHealthCard,
  medvaultIssuerUrl,
  toQrNumeric,
} from '../../src/shc/index.js'
import { sessionToken } from '../integration/server.js'
import { PASSPHRASE, type TestStack, issueExample, openTestStack, registrar } from '../integration/stack.js'
import { cardBundle, tamperCard } from './fixtures.js'

type Answer = {
  valid: boolean
  summary: string
  cards: {
    valid: boolean
    issuer: { name: string } | null
    checks: { id: string; ok: boolean; message: string }[]
    contents: { person?: { name?: string; birthDate?: string }; facts: { kind: string; what: string; date?: string }[] } | null
  }[]
}

describe('verification and emergency endpoints', () => {
  let s: TestStack
  let server: MedvaultServer
  let glucose: bigint
  let jws: string
  const a = (name: string) => s.accounts[name]!

  before(async () => {
    s = await openTestStack({ providers: { lab: 'City Lab', er: 'City ER' }, others: ['alice', 'insurer'] })
    glucose = await issueExample(s, 'glucose.json', 'lab', 'alice')
    const key = await ensureHealthCardKey(s.mv, a('lab'))
    const iss = medvaultIssuerUrl(s.mv.config.healthCards.issuerBaseUrl, a('lab').address)
    jws = (
      await issueHealthCard({
        bundle: cardBundle,
        issuerUrl: iss,
        privateJwk: key.privateJwk,
        types: ['https://smarthealth.cards#immunization'],
      })
    ).jws
    server = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, indexMaxAgeMs: 0, webRoot: false })
  })
  after(async () => {
    await server?.close()
    await s?.dispose()
  })

  const post = (path: string, body: unknown, token?: string) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
  /** On a connection of its own: the server answers 413 before reading the whole body, and closes it. */
  const postOnce = (path: string, body: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${server.url}${path}`,
        { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
        (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => {
            text += chunk
          })
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
        },
      )
      req.on('error', reject)
      req.end(body)
    })
  const verifyCard = async (card: unknown) => {
    const res = await post('/verify/health-card', { card })
    assert.equal(res.status, 200)
    return (await res.json()) as Answer
  }

  describe('POST /verify/health-card', () => {
    it('finds a card valid without sign-in, as a JWS, as QR text and as a .smart-health-card file, and says what it holds', async () => {
      for (const card of [jws, toQrNumeric(jws), JSON.stringify(healthCardFile([jws])), healthCardFile([jws])]) {
        const answer = await verifyCard(card)
        assert.equal(answer.valid, true, JSON.stringify(answer.cards[0]?.checks))
        assert.match(answer.summary, /^Valid: issued by City Lab/)
        const [result] = answer.cards
        assert.equal(result!.issuer?.name, 'City Lab')
        assert.ok(result!.checks.some((c) => c.id === 'signature' && c.ok && /nothing on the card was changed/.test(c.message)))
        assert.deepEqual(result!.contents?.person, { name: 'Alice Example', birthDate: '1990-04-01' })
        assert.equal(result!.contents?.facts[0]?.kind, 'immunization')
        assert.match(result!.contents?.facts[0]?.what ?? '', /COVID-19/)
        assert.equal(result!.contents?.facts[0]?.date, '2026-10-02')
      }
    })

    it('finds a tampered card invalid, says why, and does not repeat its claims', async () => {
      const answer = await verifyCard(tamperCard(jws))
      assert.equal(answer.valid, false)
      assert.match(answer.summary, /^Not valid: The digital signature does not match/)
      assert.equal(answer.cards[0]!.checks.find((c) => c.id === 'signature')?.ok, false)
      assert.equal(answer.cards[0]!.contents, null)
    })

    it('finds a card from an issuer outside the registry invalid', async () => {
      const stranger = await generateIssuerKey()
      const iss = medvaultIssuerUrl(s.mv.config.healthCards.issuerBaseUrl, privateKeyToAccount(generatePrivateKey()).address)
      const forged = await issueHealthCard({ bundle: cardBundle, issuerUrl: iss, privateJwk: stranger.privateJwk })
      const answer = await verifyCard(forged.jws)
      assert.equal(answer.valid, false)
      assert.match(answer.summary, /is not a provider this service trusts/)
    })

    it('is described in the OpenAPI document as needing no session', async () => {
      const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, { post?: { security?: unknown } }> }
      for (const path of ['/verify/health-card', '/verify/claim']) {
        assert.ok(doc.paths[path]?.post, path)
        assert.equal(doc.paths[path]?.post?.security, undefined)
      }
      assert.ok(doc.paths['/api/emergency'] && doc.paths['/api/emergencies'])
    })

    it('says plainly when the text is not a card at all', async () => {
      const answer = await verifyCard('hello, I am vaccinated')
      assert.equal(answer.valid, false)
      assert.match(answer.summary, /not a readable SMART Health Card/)
    })

    it('answers bad requests with OperationOutcomes: malformed JSON 400, wrong shape 422, too large 413', async () => {
      const malformed = await post('/verify/health-card', '{"card":')
      assert.equal(malformed.status, 400)
      assert.equal(((await malformed.json()) as { resourceType: string }).resourceType, 'OperationOutcome')
      const wrong = await post('/verify/health-card', { card: 42 })
      assert.equal(wrong.status, 422)
      assert.match(((await wrong.json()) as { issue: { diagnostics: string }[] }).issue[0]!.diagnostics, /body\.card/)
      const huge = await postOnce('/verify/health-card', JSON.stringify({ card: 'x'.repeat(300 * 1024) }))
      assert.equal(huge.status, 413)
      assert.equal((JSON.parse(huge.body) as { issue: { code: string }[] }).issue[0]!.code, 'too-costly')
    })
  })

  describe('POST /verify/claim', () => {
    let presentation: ClaimPresentation
    before(async () => {
      presentation = await proveClaim(s.mv, {
        patient: a('alice'),
        tokenIds: [glucose],
        fields: ['/code/coding/0/code', '/effectiveDateTime'],
        audience: a('insurer').address,
      })
    })

    it('finds a presentation valid for the insurer it names, without sign-in, with the disclosed facts', async () => {
      const res = await post('/verify/claim', { presentation })
      assert.equal(res.status, 200)
      const answer = (await res.json()) as {
        valid: boolean
        summary: string
        disclosed: { issuer: string; fields: Record<string, unknown> }[]
      }
      assert.equal(answer.valid, true, JSON.stringify(answer))
      assert.match(answer.summary, /disclosed 2 fact/)
      assert.equal(answer.disclosed[0]!.issuer, 'City Lab')
      assert.equal(answer.disclosed[0]!.fields['/code/coding/0/code'], '2345-7')
    })

    it('finds an altered fact, a wrong nonce and a presentation for someone else invalid, with reasons', async () => {
      const altered = structuredClone(presentation)
      altered.items[0]!.disclosures[1]!.value = '2026-11-01T08:30:00Z'
      const forged = (await (await post('/verify/claim', { presentation: altered })).json()) as {
        valid: boolean
        checks: { ok: boolean; message: string }[]
      }
      assert.equal(forged.valid, false)
      assert.ok(forged.checks.some((c) => !c.ok && /was changed after it was issued/.test(c.message)))

      const nonce = (await (await post('/verify/claim', { presentation, nonce: `0x${'00'.repeat(32)}` })).json()) as { summary: string }
      assert.match(nonce.summary, /nonce differs/)

      const other = await sessionToken(server.url, a('er').chainAccount)
      const elsewhere = (await (await post('/verify/claim', { presentation }, other)).json()) as { valid: boolean; summary: string }
      assert.equal(elsewhere.valid, false)
      assert.match(elsewhere.summary, /addressed to someone else/)
    })

    it('refuses a body that is not a presentation with a 422 OperationOutcome', async () => {
      const res = await post('/verify/claim', { presentation: { ...presentation, items: [{ tokenId: 'abc' }] } })
      assert.equal(res.status, 422)
      assert.equal(((await res.json()) as { resourceType: string }).resourceType, 'OperationOutcome')
    })
  })

  it('rate-limits the open endpoints per client address, like the rest of the API', async () => {
    const strict = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, webRoot: false, limits: { requestsPerMinute: 2 } })
    try {
      const ask = () =>
        fetch(`${strict.url}/verify/health-card`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ card: jws }),
        })
      assert.equal((await ask()).status, 200)
      assert.equal((await ask()).status, 200)
      const third = await ask()
      assert.equal(third.status, 429)
      assert.ok(Number(third.headers.get('retry-after')) >= 1)
      assert.equal(((await third.json()) as { issue: { code: string }[] }).issue[0]!.code, 'throttled')
    } finally {
      await strict.close()
    }
  })

  describe('emergency access', () => {
    it('logs a window for the patient only when reported by its provider with the reason hashed on chain; the patient lists it from the chain', async () => {
      await setEmergencyProvider(s.mv, { registrar, provider: a('er').address, allowed: true })
      const reason = 'unresponsive: brought in unconscious after a fall'
      const { txHash, reasonSalt } = await openEmergency(s.mv, { provider: a('er').chainAccount, patient: a('alice').address, reason })
      const er = await sessionToken(server.url, a('er').chainAccount)
      const lab = await sessionToken(server.url, a('lab').chainAccount)
      const alice = await sessionToken(server.url, a('alice').chainAccount)
      const report = (body: object, token: string) =>
        post('/api/emergency', { patient: a('alice').address, txHash, reasonCode: 'unresponsive', reason, reasonSalt, ...body }, token)

      assert.equal((await post('/api/emergency', { patient: a('alice').address, txHash, reasonCode: 'unresponsive', reason })).status, 401)
      assert.equal((await report({}, lab)).status, 422, 'not the provider who opened it')
      assert.equal((await report({ reason: 'unresponsive: something else' }, er)).status, 422, 'not the reason on chain')
      assert.equal((await report({ reasonCode: 'other-urgent' }, er)).status, 422, 'not the code of the reason')
      assert.equal((await report({ reasonSalt: `0x${'ab'.repeat(32)}` }, er)).status, 422, 'not the salt of the commitment')
      const ok = await report({}, er)
      assert.equal(ok.status, 201)
      assert.ok(Date.parse(((await ok.json()) as { until: string }).until) > Date.now() + 23 * 3600_000)

      const log = (await (await fetch(`${server.url}/api/audit`, { headers: { authorization: `Bearer ${alice}` } })).json()) as {
        entries: { actor: string; action: string; reason?: string; purpose?: string }[]
      }
      const entry = log.entries.find((e) => e.action === 'emergency')
      assert.equal(entry?.actor, a('er').address)
      assert.equal(entry?.reason, 'unresponsive')
      assert.ok(!JSON.stringify(log).includes('fall'), 'the free text is not logged')

      const listed = (await (await fetch(`${server.url}/api/emergencies`, { headers: { authorization: `Bearer ${alice}` } })).json()) as {
        emergencies: { providerName: string; open: boolean }[]
      }
      assert.deepEqual(
        listed.emergencies.map((e) => [e.providerName, e.open]),
        [['City ER', true]],
      )

      // The patient's report releases the salt kept with the provider's log entry, so a reason the provider states can be checked.
      const accessReport = (await (await fetch(`${server.url}/api/report`, { headers: { authorization: `Bearer ${alice}` } })).json()) as {
        emergencies: { reasonHash: string; reasonSalt?: string }[]
      }
      const [window] = accessReport.emergencies
      assert.equal(window?.reasonSalt, reasonSalt)
      assert.equal(commitEmergencyReason(reason, window!.reasonSalt as `0x${string}`), window!.reasonHash)
      assert.ok(!JSON.stringify(accessReport).includes('fall'), 'the free text is not in the report')
    })
  })
})
