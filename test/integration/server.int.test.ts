import assert from 'node:assert/strict'
import { type AddressInfo, createServer as createNetServer } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { Bundle, OperationOutcome, Patient } from '@medplum/fhirtypes'
import { Client } from 'fhir-kit-client'
import { createGrant, revokeGrant } from '../../src/consent/grants.js'
import { authorizeProvider } from '../../src/directory/index.js'
import { syntheticPatientBundle } from '../../src/import/index.js'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import { postLogin, sessionToken, siweLogin, siweMessage } from './server.js'
import { PASSPHRASE, type TestStack, issueExample, openTestStack } from './stack.js'

type FhirError = { response: { status: number; data: OperationOutcome } }

async function fhirStatus(promise: Promise<unknown>): Promise<number> {
  try {
    await promise
    return 200
  } catch (error) {
    const { response } = error as FhirError
    assert.equal(response.data.resourceType, 'OperationOutcome')
    return response.status
  }
}

describe('the medvault server over a real socket', () => {
  let s: TestStack
  let server: MedvaultServer
  const a = (name: string) => s.accounts[name]!
  const tokens: Record<string, bigint> = {}
  const sessions: Record<string, string> = {}
  const fhir = (who: string) => new Client({ baseUrl: `${server.url}/fhir`, bearerToken: sessions[who]! })

  before(async () => {
    s = await openTestStack({ providers: { lab: 'City Lab', cardio: 'Heart Clinic' }, others: ['alice', 'mallory'] })
    tokens.glucose = await issueExample(s, 'glucose.json', 'lab', 'alice')
    tokens.therapy = await issueExample(s, 'therapy-note.json', 'lab', 'alice')
    tokens.immunization = await issueExample(s, 'immunization.json', 'lab', 'alice')
    await createGrant(s.mv, {
      grantor: a('alice'),
      patient: a('alice').address,
      grantee: a('cardio').address,
      terms: { scope: 'categories', categories: ['laboratory'] },
      expiresAt: new Date(Date.now() + 3600_000),
      purpose: 'treatment',
    })
    await authorizeProvider(s.mv, a('alice'), a('lab').address, new Date(Date.now() + 3600_000))
    server = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, indexMaxAgeMs: 0, limits: { bodyBytes: 64 * 1024 } })
    for (const name of ['alice', 'cardio', 'mallory', 'lab']) sessions[name] = await sessionToken(server.url, a(name).chainAccount)
  })
  after(async () => {
    await server?.close()
    await s?.dispose()
  })

  describe('Sign-In with Ethereum', () => {
    it('gives a session token for a valid message, and /api/me knows the account', async () => {
      const me = (await (
        await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${sessions.cardio}` } })
      ).json()) as Record<string, unknown>
      assert.equal(me.address, a('cardio').address)
      assert.equal(me.custodial, true)
      assert.deepEqual(me.provider, { name: 'Heart Clinic', status: 'active' })
    })

    for (const [name, overrides] of [
      ['a wrong domain', { domain: 'evil.example' }],
      ['a wrong chain id', { chainId: 1 }],
      ['an expired message', { expirationTime: new Date(Date.now() - 1000) }],
      ['a stale message without expiry', { issuedAt: new Date(Date.now() - 3600_000) }],
      ['a nonce the server never gave', { nonce: 'abcdefgh12345678' }],
    ] as const) {
      it(`refuses ${name} with 401 and an OperationOutcome`, async () => {
        const res = await siweLogin(server.url, a('alice').chainAccount, overrides)
        assert.equal(res.status, 401)
        const body = (await res.json()) as OperationOutcome
        assert.equal(body.resourceType, 'OperationOutcome')
        assert.equal(body.issue[0]?.code, 'login')
      })
    }

    it('refuses a replayed message: the nonce is single-use', async () => {
      const message = await siweMessage(server.url, a('alice').address)
      const signature = await a('alice').chainAccount.signMessage({ message })
      const [first, second] = await Promise.all([postLogin(server.url, message, signature), postLogin(server.url, message, signature)])
      assert.deepEqual([first.status, second.status].sort(), [200, 401])
    })

    it('refuses a signature by another key', async () => {
      const message = await siweMessage(server.url, a('alice').address)
      const res = await postLogin(server.url, message, await a('mallory').chainAccount.signMessage({ message }))
      assert.equal(res.status, 401)
    })

    it('refuses requests without a token, or with a forged one', async () => {
      assert.equal((await fetch(`${server.url}/api/me`)).status, 401)
      const forged = `${sessions.alice!.slice(0, -4)}AAAA`
      assert.equal((await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${forged}` } })).status, 401)
      assert.equal(await fhirStatus(new Client({ baseUrl: `${server.url}/fhir` }).read({ resourceType: 'Observation', id: '1' })), 401)
    })
  })

  describe('the FHIR facade, driven by fhir-kit-client', () => {
    it('serves a CapabilityStatement without sign-in', async () => {
      const cs = (await new Client({ baseUrl: `${server.url}/fhir` }).capabilityStatement()) as {
        resourceType: string
        fhirVersion: string
      }
      assert.equal(cs.resourceType, 'CapabilityStatement')
      assert.equal(cs.fhirVersion, '4.0.1')
    })

    it('gives a provider exactly the granted records in $everything: the lab result, not the therapy note or the vaccination', async () => {
      const bundle = (await fhir('cardio').operation({
        name: '$everything',
        resourceType: 'Patient',
        id: a('alice').address,
      })) as unknown as Bundle
      assert.equal(bundle.type, 'searchset')
      const ids = bundle.entry!.filter((e) => e.resource?.resourceType !== 'Patient').map((e) => e.resource!.id)
      assert.deepEqual(ids, [tokens.glucose!.toString()])
      const observation = bundle.entry!.find((e) => e.resource?.resourceType === 'Observation')!.resource!
      assert.ok(observation.meta?.tag?.some((t) => t.code === 'verified'))
    })

    it('gives the patient their whole history', async () => {
      const bundle = (await fhir('alice').operation({
        name: '$everything',
        resourceType: 'Patient',
        id: a('alice').address,
      })) as unknown as Bundle
      const ids = bundle
        .entry!.filter((e) => e.resource?.resourceType !== 'Patient')
        .map((e) => e.resource!.id)
        .sort()
      assert.deepEqual(ids, [tokens.glucose, tokens.therapy, tokens.immunization].map(String).sort())
    })

    it('refuses a stranger with 403 and records the attempt in the audit trail', async () => {
      const before = (await s.mv.auditLog.entries()).length
      assert.equal(
        await fhirStatus(fhir('mallory').operation({ name: '$everything', resourceType: 'Patient', id: a('alice').address })),
        403,
      )
      assert.equal(await fhirStatus(fhir('mallory').read({ resourceType: 'Observation', id: tokens.glucose!.toString() })), 403)
      const added = (await s.mv.auditLog.entries()).slice(before)
      assert.ok(
        added.some(
          (e) => e.actor === a('mallory').address && e.action === 'list' && e.patient === a('alice').address && e.outcome === 'denied',
        ),
      )
      assert.ok(
        added.some(
          (e) =>
            e.actor === a('mallory').address && e.action === 'read' && e.tokenId === tokens.glucose!.toString() && e.outcome === 'denied',
        ),
      )
    })

    it('reads one record by token id, and refuses the one not granted', async () => {
      const obs = (await fhir('cardio').read({ resourceType: 'Observation', id: tokens.glucose!.toString() })) as {
        resourceType: string
        id: string
      }
      assert.equal(obs.resourceType, 'Observation')
      assert.equal(obs.id, tokens.glucose!.toString())
      assert.equal(await fhirStatus(fhir('cardio').read({ resourceType: 'Observation', id: tokens.therapy!.toString() })), 403)
      assert.equal(await fhirStatus(fhir('alice').read({ resourceType: 'Immunization', id: tokens.glucose!.toString() })), 404)
      assert.equal(await fhirStatus(fhir('alice').read({ resourceType: 'Observation', id: '999999' })), 404)
    })

    it('searches by patient, category, code and date', async () => {
      const search = (params: Record<string, string>) =>
        fhir('alice').search({
          resourceType: 'Observation',
          searchParams: { patient: a('alice').address, ...params },
        }) as unknown as Promise<Bundle>
      const count = async (params: Record<string, string>) =>
        (await search(params)).entry?.filter((e) => e.search?.mode === 'match').length ?? 0
      assert.equal(await count({ category: 'laboratory' }), 1)
      assert.equal(await count({ category: 'imaging' }), 0)
      assert.equal(await count({ code: 'http://loinc.org|2345-7' }), 1)
      assert.equal(await count({ code: '0000-0' }), 0)
      assert.equal(await count({ date: 'ge2000-01-01' }), 1)
      assert.equal(await count({ date: 'lt2000-01-01' }), 0)
      const cardio = (await fhir('cardio').search({
        resourceType: 'Immunization',
        searchParams: { patient: a('alice').address },
      })) as unknown as Bundle
      assert.equal(cardio.entry?.length ?? 0, 0)
    })

    it('imports a transaction Bundle: every resource becomes a record of the patient it names', async () => {
      const bundle = syntheticPatientBundle({ resources: 12, seed: 7, type: 'transaction' })
      const patientEntry = bundle.entry!.find((e) => e.resource?.resourceType === 'Patient')!
      patientEntry.resource = {
        ...(patientEntry.resource as Patient),
        identifier: [{ system: 'urn:ietf:rfc:3986', value: `eip155:31337:${a('alice').address}` }],
      }
      const response = (await fhir('lab').transaction({ body: bundle as never })) as unknown as Bundle
      assert.equal(response.type, 'transaction-response')
      const created = response.entry!.filter((e) => e.response?.status === '201 Created')
      assert.equal(created.length, 12)
      const [type, id] = created[0]!.response!.location!.split('/')
      const read = (await fhir('alice').read({ resourceType: type!, id: id! })) as unknown as { id: string }
      assert.equal(read.id, id)
      // The same Bundle again: the import journal finds every record already there, none is minted twice.
      const again = (await fhir('lab').transaction({ body: bundle as never })) as unknown as Bundle
      assert.deepEqual(
        again.entry!.map((e) => e.response?.location),
        response.entry!.map((e) => e.response?.location),
      )
    })

    it('refuses a transaction it cannot use with the right 4xx', async () => {
      const post = (body: string, who = 'lab') =>
        fetch(`${server.url}/fhir`, {
          method: 'POST',
          headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${sessions[who]}` },
          body,
        })
      assert.equal((await post('{"resourceType": "Bundle", ')).status, 400)
      assert.equal((await post(JSON.stringify({ resourceType: 'Observation', status: 'final' }))).status, 422)
      assert.equal(
        (
          await post(
            JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Observation' } }] }),
          )
        ).status,
        422,
      )
      assert.equal((await post(JSON.stringify(syntheticPatientBundle({ resources: 2, type: 'transaction' })), 'mallory')).status, 403)
    })

    it('stops serving a record the moment its grant is revoked', async () => {
      const s2 = await createGrant(s.mv, {
        grantor: a('alice'),
        patient: a('alice').address,
        grantee: a('mallory').address,
        terms: { scope: 'records', tokenIds: [tokens.immunization!] },
        expiresAt: new Date(Date.now() + 3600_000),
        purpose: 'treatment',
      })
      const { releasePendingKeys } = await import('../../src/records/releaseKeys.js')
      await releasePendingKeys(s.mv, a('alice'), { grantId: s2.grantId })
      assert.equal(await fhirStatus(fhir('mallory').read({ resourceType: 'Immunization', id: tokens.immunization!.toString() })), 200)
      await revokeGrant(s.mv, { grantor: a('alice').chainAccount, grantId: s2.grantId })
      assert.equal(await fhirStatus(fhir('mallory').read({ resourceType: 'Immunization', id: tokens.immunization!.toString() })), 403)
    })
  })

  describe('bad input gets the right 4xx with an OperationOutcome, never a 500', () => {
    const post = (path: string, body: string, who = 'alice', type = 'application/json') =>
      fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${sessions[who]}` }, body })
    async function expectOutcome(res: Response, status: number) {
      assert.equal(res.status, status, await res.clone().text())
      const body = (await res.json()) as OperationOutcome
      assert.equal(body.resourceType, 'OperationOutcome')
      assert.ok(body.issue[0]?.diagnostics)
    }

    it('malformed JSON: 400', async () => {
      await expectOutcome(await post('/auth/login', '{"message": '), 400)
      await expectOutcome(await post('/api/grants', '{not json'), 400)
    })
    it('a body of the wrong shape: 422', async () => {
      await expectOutcome(await post('/api/grants', JSON.stringify({ grantee: 'nobody', scope: 'everything' })), 422)
    })
    it('a non-FHIR resource where FHIR is expected: 422', async () => {
      await expectOutcome(
        await post('/api/records', JSON.stringify({ patient: a('alice').address, resource: { resourceType: 'Nonsense', x: 1 } }), 'lab'),
        422,
      )
    })
    it('an oversized body: 413', async () => {
      await expectOutcome(await post('/api/grants', JSON.stringify({ pad: 'x'.repeat(100 * 1024) })), 413)
    })
    it('an unknown path or resource type: 404', async () => {
      await expectOutcome(await fetch(`${server.url}/nowhere`), 404)
      await expectOutcome(await fetch(`${server.url}/fhir/Spaceship/1`, { headers: { authorization: `Bearer ${sessions.alice}` } }), 404)
    })
    it('over the rate limit: 429 with Retry-After', async () => {
      const strict = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, limits: { requestsPerMinute: 5 } })
      try {
        const statuses: number[] = []
        for (let i = 0; i < 7; i++) statuses.push((await fetch(`${strict.url}/fhir/metadata`)).status)
        assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429])
        const res = await fetch(`${strict.url}/fhir/metadata`)
        await expectOutcome(res, 429)
        assert.ok(Number(res.headers.get('retry-after')) >= 1)
      } finally {
        await strict.close()
      }
    })

    it('on a port someone else holds: another port with portFallback (as `medvault start`), EADDRINUSE without', async () => {
      // Before, `medvault start` asked whether its port was free and then bound it: two starts at
      // once both heard yes, and one died with EADDRINUSE (seen in CI). Binding is the check now.
      const holder = createNetServer()
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
      const taken = (holder.address() as AddressInfo).port
      try {
        await assert.rejects(startServer(s.mv, { port: taken, passphrase: PASSPHRASE }), { code: 'EADDRINUSE' })
        const moved = await startServer(s.mv, { port: taken, portFallback: true, passphrase: PASSPHRASE })
        try {
          assert.notEqual(moved.port, taken)
          assert.equal(moved.url, `http://127.0.0.1:${moved.port}`)
          assert.equal((await fetch(`${moved.url}/fhir/metadata`)).status, 200)
          // Sign-in checks the domain in the message against the port the server got.
          assert.ok(await sessionToken(moved.url, a('alice').chainAccount))
        } finally {
          await moved.close()
        }
      } finally {
        holder.close()
      }
    })

    it('keeps serving afterwards', async () => {
      assert.equal((await fetch(`${server.url}/health`)).status, 200)
    })
  })

  describe('the REST API', () => {
    const get = (path: string, who: string) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${sessions[who]}` } })

    it('publishes an OpenAPI 3.1 document of its routes', async () => {
      const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> }
      assert.equal(doc.openapi, '3.1.0')
      for (const path of ['/auth/login', '/api/patients/{patient}/records', '/api/grants', '/fhir/Patient/{id}/$everything'])
        assert.ok(doc.paths[path], path)
    })

    it('lists what a grantee may see, and the patients who share with them', async () => {
      const body = (await (await get(`/api/patients/${a('alice').address}/records`, 'cardio')).json()) as {
        records: { tokenId: string; category: string }[]
      }
      const ids = body.records.map((r) => r.tokenId)
      assert.ok(ids.includes(tokens.glucose!.toString()))
      assert.ok(!ids.includes(tokens.therapy!.toString()) && !ids.includes(tokens.immunization!.toString()))
      assert.ok(body.records.every((r) => r.category === 'laboratory'))
      const patients = (await (await get('/api/patients', 'cardio')).json()) as { patients: { patient: string }[] }
      assert.deepEqual(
        patients.patients.map((p) => p.patient),
        [a('alice').address],
      )
    })

    it("names categories from the caller's tag table: the patient all, a grantee what it was given, never a guess", async () => {
      type Listed = { records: { tokenId: string; tag: string; category: string }[] }
      const own = (await (await get(`/api/patients/${a('alice').address}/records`, 'alice')).json()) as Listed
      const named = new Map(own.records.map((r) => [r.tokenId, r.category]))
      assert.equal(named.get(tokens.glucose!.toString()), 'laboratory')
      assert.equal(named.get(tokens.therapy!.toString()), 'mental-health')
      assert.equal(named.get(tokens.immunization!.toString()), 'immunization')
      assert.ok(
        own.records.every((r) => /^0x[0-9a-f]{16}$/.test(r.tag)),
        'each record carries its tag',
      )
      // A grant of listed records shares no tags: the grantee sees the record, not its category.
      const { grantId } = await createGrant(s.mv, {
        grantor: a('alice'),
        patient: a('alice').address,
        grantee: a('mallory').address,
        terms: { scope: 'records', tokenIds: [tokens.immunization!] },
        expiresAt: new Date(Date.now() + 3600_000),
        purpose: 'treatment',
      })
      const theirs = (await (await get(`/api/patients/${a('alice').address}/records`, 'mallory')).json()) as Listed
      assert.deepEqual(
        theirs.records.map((r) => [r.tokenId, r.category]),
        [[tokens.immunization!.toString(), 'unknown']],
      )
      await revokeGrant(s.mv, { grantor: a('alice').chainAccount, grantId })
    })

    it('lets a patient grant and revoke, and a provider issue, through the API', async () => {
      const post = (path: string, who: string, body: unknown) =>
        fetch(`${server.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${sessions[who]}` },
          body: JSON.stringify(body),
        })
      const issued = await post('/api/records', 'lab', {
        patient: a('alice').address,
        resource: {
          resourceType: 'Observation',
          status: 'final',
          category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
          code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] },
          valueQuantity: { value: 13.2, unit: 'g/dL' },
        },
      })
      assert.equal(issued.status, 201, await issued.clone().text())
      const { tokenId } = (await issued.json()) as { tokenId: string }
      const granted = await post('/api/grants', 'alice', {
        grantee: a('mallory').address,
        scope: 'records',
        tokenIds: [tokenId],
        expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      })
      assert.equal(granted.status, 201, await granted.clone().text())
      const { grant } = (await granted.json()) as { grant: { grantId: string } }
      assert.equal((await get(`/api/records/${tokenId}/content`, 'mallory')).status, 200)
      const revoked = await fetch(`${server.url}/api/grants/${grant.grantId}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${sessions.alice}` },
      })
      assert.equal(revoked.status, 200)
      assert.equal((await get(`/api/records/${tokenId}/content`, 'mallory')).status, 403)
      const audit = (await (await get('/api/audit?outcome=denied', 'alice')).json()) as { entries: { actor: string }[] }
      assert.ok(audit.entries.some((e) => e.actor === a('mallory').address))
    })

    it('lets a patient manage authorisations and delegates, prove treatment, read the access report and erase, through the API', async () => {
      const send = (method: string, path: string, who: string, body?: unknown) =>
        fetch(`${server.url}${path}`, {
          method,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${sessions[who]}` },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        })
      const issue = (value = 61) =>
        send('POST', '/api/records', 'cardio', {
          patient: a('alice').address,
          resource: {
            resourceType: 'Observation',
            status: 'final',
            code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
            valueQuantity: { value, unit: '/min' },
          },
        })
      assert.equal(
        (await send('PUT', `/api/authorizations/${a('cardio').address}`, 'alice', { until: new Date(Date.now() + 3600_000).toISOString() }))
          .status,
        200,
      )
      const issued = await issue()
      assert.equal(issued.status, 201, await issued.clone().text())
      assert.equal((await send('DELETE', `/api/authorizations/${a('cardio').address}`, 'alice')).status, 200)
      // The same request again is a retry: the record issued while authorised, not a second one.
      const replayed = (await (await issue()).json()) as { tokenId: string; outcome: string }
      assert.deepEqual(
        { tokenId: replayed.tokenId, outcome: replayed.outcome },
        { tokenId: ((await issued.json()) as { tokenId: string }).tokenId, outcome: 'done-before' },
      )
      const refused = await issue(62)
      assert.ok(refused.status >= 400 && refused.status < 500, `${refused.status}`)
      assert.equal(((await refused.json()) as OperationOutcome).resourceType, 'OperationOutcome')

      assert.equal((await send('PUT', `/api/delegates/${a('mallory').address}`, 'alice')).status, 200)
      assert.equal((await send('DELETE', `/api/delegates/${a('mallory').address}`, 'alice')).status, 200)
      // Finding 5: naming oneself answered about a "grant"; a zero patient address got a 422 about an "audit event".
      const diagnostics = async (res: Response) => ((await res.json()) as OperationOutcome).issue[0]?.diagnostics ?? ''
      const self = await send('PUT', `/api/delegates/${a('alice').address}`, 'alice')
      assert.equal(self.status, 422)
      const selfText = await diagnostics(self)
      assert.match(selfText, /cannot name your own account .* as your delegate/)
      assert.doesNotMatch(selfText, /grant/i)
      const zero = await send('GET', `/api/patients/0x${'0'.repeat(40)}/records`, 'mallory')
      assert.equal(zero.status, 400)
      const zeroText = await diagnostics(zero)
      assert.match(zeroText, /patient: an account, not the zero address/)
      assert.doesNotMatch(zeroText, /audit/i)

      const proved = await send('POST', '/api/claims', 'alice', {
        tokenIds: [tokens.glucose!.toString()],
        fields: ['/code'],
        audience: a('mallory').address,
      })
      assert.equal(proved.status, 201, await proved.clone().text())
      const verdict = await fetch(`${server.url}/verify/claim`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ presentation: await proved.json() }),
      })
      assert.equal(((await verdict.json()) as { valid: boolean }).valid, true)

      const report = (await (await send('GET', '/api/report', 'alice')).json()) as { summary: { records: number; denied: number } }
      assert.ok(report.summary.records >= 3)
      assert.ok(report.summary.denied >= 1, "the stranger's denied attempts are in the report")
      const pdf = Buffer.from(await (await send('GET', '/api/report?format=pdf', 'alice')).arrayBuffer())
      assert.equal(pdf.subarray(0, 5).toString(), '%PDF-')

      const erased = await send('POST', '/api/records/erase', 'alice', { tokenIds: [tokens.immunization!.toString()] })
      assert.equal(erased.status, 200, await erased.clone().text())
      const gone = await fetch(`${server.url}/fhir/Immunization/${tokens.immunization}`, {
        headers: { authorization: `Bearer ${sessions.alice}` },
      })
      assert.equal(gone.status, 410)
      assert.equal(((await gone.json()) as OperationOutcome).resourceType, 'OperationOutcome')
    })
  })
})
