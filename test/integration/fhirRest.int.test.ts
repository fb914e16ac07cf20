/**
 * The FHIR facade as R4's RESTful API has it (http.html, search.html), over a real socket, a real
 * anvil chain and a real Helia blockstore, driven by fhir-kit-client where a client library would be used.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Bundle, CapabilityStatement, Consent, Observation, OperationOutcome, Resource } from '@medplum/fhirtypes'
import { Client } from 'fhir-kit-client'
import { getGrant, listGrants } from '../../src/consent/index.js'
import { authorizeProvider } from '../../src/directory/index.js'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import { sessionToken } from './server.js'
import { PASSPHRASE, type TestStack, openTestStack } from './stack.js'

describe('the FHIR REST API as the spec has it', () => {
  let s: TestStack
  let server: MedvaultServer
  const a = (name: string) => s.accounts[name]!
  const sessions: Record<string, string> = {}
  const fhir = (who: string) => new Client({ baseUrl: `${server.url}/fhir`, bearerToken: sessions[who]! })
  const send = (method: string, path: string, who: string, init: { body?: string; headers?: Record<string, string> } = {}) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${sessions[who]}`, 'content-type': 'application/fhir+json', ...init.headers },
      ...(init.body !== undefined ? { body: init.body } : {}),
    })
  const patientRef = (name: string) => ({ reference: `Patient/${a(name).address}` })
  const heartRate = (name: string, date: string, bpm: number): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
    subject: patientRef(name),
    effectiveDateTime: date,
    valueQuantity: { value: bpm, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  })
  const consentOf = (patient: string, grantee: string, provision: Record<string, unknown> = {}) => ({
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/${patient}` },
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    provision: {
      type: 'permit',
      period: { end: new Date(Date.now() + 86_400_000).toISOString() },
      actor: [
        {
          role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
          reference: { reference: `Practitioner/${grantee}` },
        },
      ],
      purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }],
      code: [{ coding: [{ system: 'https://medvault.dev/fhir/CodeSystem/category', code: 'laboratory' }] }],
      ...provision,
    },
  })
  const created: { id: string; date: string }[] = []

  async function create(resource: Resource, who = 'lab'): Promise<Response> {
    return send('POST', `/fhir/${resource.resourceType}`, who, { body: JSON.stringify(resource) })
  }
  async function outcomeOf(res: Response, status: number): Promise<OperationOutcome> {
    assert.equal(res.status, status)
    const body = (await res.json()) as OperationOutcome
    assert.equal(body.resourceType, 'OperationOutcome')
    return body
  }
  const idsOf = (bundle: Bundle) => (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id!)

  before(async () => {
    s = await openTestStack({ providers: { lab: 'City Lab' }, others: ['alice', 'bob'] })
    await authorizeProvider(s.mv, a('alice'), a('lab').address, new Date(Date.now() + 3600_000))
    server = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, indexMaxAgeMs: 0 })
    for (const name of ['alice', 'bob', 'lab']) sessions[name] = await sessionToken(server.url, a(name).chainAccount)
    // Dates out of issue order, so sorting by date differs from sorting by id.
    for (const [i, date] of ['2024-03-05', '2023-01-10', '2024-11-20', '2022-06-01', '2024-01-15', '2023-08-30', '2021-02-02'].entries()) {
      const res = await create(heartRate('alice', date, 60 + i))
      assert.equal(res.status, 201, await res.clone().text())
      const body = (await res.json()) as unknown as Observation
      created.push({ id: body.id!, date })
    }
  })
  after(async () => {
    await server?.close()
    await s?.dispose()
  })

  describe('create', () => {
    it('answers 201 with Location, ETag, Last-Modified and the resource, which a read returns', async () => {
      const res = await create(heartRate('alice', '2025-01-01', 72))
      assert.equal(res.status, 201)
      const body = (await res.json()) as unknown as Observation
      assert.match(body.id!, /^\d+$/)
      assert.equal(res.headers.get('location'), `${server.url}/fhir/Observation/${body.id}`)
      assert.equal(res.headers.get('etag'), 'W/"1"')
      assert.ok(!Number.isNaN(Date.parse(res.headers.get('last-modified')!)))
      const read = (await fhir('alice').read({ resourceType: 'Observation', id: body.id! })) as unknown as Observation
      assert.equal(read.valueQuantity?.value, 72)
      assert.deepEqual(read.subject, patientRef('alice'))
      created.push({ id: body.id!, date: '2025-01-01' })
    })

    it('refuses a resource that names no patient, or whose type is not the URL’s, with nothing issued', async () => {
      const { subject: _, ...noSubject } = heartRate('alice', '2025-01-01', 70)
      const o = await outcomeOf(await create(noSubject as Observation), 422)
      assert.match(o.issue[0]!.diagnostics!, /does not say which patient/)
      await outcomeOf(await send('POST', '/fhir/Condition', 'lab', { body: JSON.stringify(heartRate('alice', '2025-01-01', 70)) }), 400)
      const total = (await fhir('alice').search({ resourceType: 'Observation', searchParams: { _summary: 'count' } })) as unknown as Bundle
      assert.equal(total.total, created.length)
    })

    it('refuses create by an account that is not a provider (403)', async () => {
      await outcomeOf(await create(heartRate('alice', '2025-01-01', 70), 'bob'), 403)
    })
  })

  describe('validation: nothing invalid is stored', () => {
    const count = async () =>
      ((await fhir('alice').search({ resourceType: 'Observation', searchParams: { _summary: 'count' } })) as unknown as Bundle).total
    const apiIssue = (resource: unknown) =>
      send('POST', '/api/records', 'lab', {
        body: JSON.stringify({ patient: a('alice').address, resource }),
        headers: { 'content-type': 'application/json' },
      })

    it('refuses a code outside a required value set (create, /api/records, transaction): 422 naming the path, not the value', async () => {
      const before = await count()
      const bogus = { ...heartRate('alice', '2024-01-01', 70), status: 'bogus' }
      for (const res of [
        await create(bogus as Observation),
        await apiIssue(bogus),
        await send('POST', '/fhir', 'lab', {
          body: JSON.stringify({
            resourceType: 'Bundle',
            type: 'transaction',
            entry: [
              { resource: { resourceType: 'Patient', id: a('alice').address }, request: { method: 'POST', url: 'Patient' } },
              { resource: bogus, request: { method: 'POST', url: 'Observation' } },
            ],
          }),
        }),
      ]) {
        const o = await outcomeOf(res, 422)
        assert.match(o.issue[0]!.diagnostics!, /status: not a code of the required value set observation-status/)
        assert.doesNotMatch(o.issue[0]!.diagnostics!, /bogus/)
      }
      assert.equal(await count(), before)
    })

    it('refuses a resource whose subject is another medvault patient than the one it is issued to', async () => {
      const before = await count()
      const o = await outcomeOf(await apiIssue(heartRate('bob', '2024-01-01', 70)), 422)
      assert.match(o.issue[0]!.diagnostics!, /subject names a different patient/)
      assert.doesNotMatch(o.issue[0]!.diagnostics!, new RegExp(a('bob').address, 'i'))
      assert.equal(await count(), before)
    })
  })

  describe('batch and transaction', () => {
    const count = async () =>
      ((await fhir('alice').search({ resourceType: 'Observation', searchParams: { _summary: 'count' } })) as unknown as Bundle).total!
    const bundleOf = (type: 'batch' | 'transaction', resources: Resource[]) => ({
      resourceType: 'Bundle',
      type,
      entry: [
        { resource: { resourceType: 'Patient', id: a('alice').address }, request: { method: 'POST', url: 'Patient' } },
        ...resources.map((resource) => ({ resource, request: { method: 'POST', url: resource.resourceType } })),
      ],
    })
    const bad = () => ({ ...heartRate('alice', '2024-02-02', 61), status: 'bogus' }) as unknown as Observation
    const foreign = () => heartRate('bob', '2024-02-02', 62)

    it('answers a batch entry by entry: the good ones issued (201), each bad one its own status and OperationOutcome', async () => {
      const before = await count()
      const res = await send('POST', '/fhir', 'lab', {
        body: JSON.stringify(
          bundleOf('batch', [heartRate('alice', '2024-02-01', 60), bad(), heartRate('alice', '2024-02-03', 63), foreign()]),
        ),
      })
      assert.equal(res.status, 200)
      const body = (await res.json()) as Bundle
      assert.equal(body.type, 'batch-response')
      const statuses = body.entry!.map((e) => e.response!.status)
      assert.deepEqual(statuses, ['200 OK', '201 Created', '422 Unprocessable Entity', '201 Created', '422 Unprocessable Entity'])
      assert.match((body.entry![2]!.response!.outcome as OperationOutcome).issue[0]!.diagnostics!, /Observation\.status/)
      assert.match((body.entry![4]!.response!.outcome as OperationOutcome).issue[0]!.diagnostics!, /subject names a different patient/)
      for (const i of [1, 3]) {
        const [type, id] = body.entry![i]!.response!.location!.split('/')
        const read = (await fhir('alice').read({ resourceType: type!, id: id! })) as unknown as Observation
        assert.equal(read.effectiveDateTime, i === 1 ? '2024-02-01' : '2024-02-03')
        created.push({ id: id!, date: read.effectiveDateTime! })
      }
      assert.equal(await count(), before + 2)
    })

    it('keeps a transaction all or nothing: one bad entry and nothing is issued', async () => {
      const before = await count()
      const res = await send('POST', '/fhir', 'lab', {
        body: JSON.stringify(bundleOf('transaction', [heartRate('alice', '2024-02-04', 64), bad()])),
      })
      await outcomeOf(res, 422)
      assert.equal(await count(), before)
    })
  })

  describe('interactions that are not offered', () => {
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      it(`${method} on a resource and on a type is 405 with Allow`, async () => {
        const one = await send(method, `/fhir/Observation/${created[0]!.id}`, 'alice', { body: '{}' })
        await outcomeOf(one, 405)
        assert.equal(one.headers.get('allow'), 'GET')
        const type = await send(method, '/fhir/Observation', 'alice', { body: '{}' })
        await outcomeOf(type, 405)
        assert.equal(type.headers.get('allow'), 'GET, POST')
      })
    }

    it('GET [base], type and system history, and Patient history are 405', async () => {
      const base = await send('GET', '/fhir', 'alice')
      await outcomeOf(base, 405)
      assert.equal(base.headers.get('allow'), 'POST')
      await outcomeOf(await send('GET', '/fhir/_history', 'alice'), 405)
      await outcomeOf(await send('GET', '/fhir/Observation/_history', 'alice'), 405)
      await outcomeOf(await send('GET', `/fhir/Patient/${a('alice').address}/_history`, 'alice'), 405)
    })

    it('XML is 406 by _format or Accept, and an XML body is 415', async () => {
      await outcomeOf(await send('GET', `/fhir/Observation/${created[0]!.id}?_format=xml`, 'alice'), 406)
      await outcomeOf(await send('GET', `/fhir/Observation?_format=application/fhir%2Bxml`, 'alice'), 406)
      await outcomeOf(
        await send('GET', `/fhir/Observation/${created[0]!.id}`, 'alice', { headers: { accept: 'application/fhir+xml' } }),
        406,
      )
      const json = await send('GET', `/fhir/Observation/${created[0]!.id}?_format=json`, 'alice', {
        headers: { accept: 'application/fhir+json, application/fhir+xml;q=0.5' },
      })
      assert.equal(json.status, 200)
      await outcomeOf(
        await send('POST', '/fhir/Observation', 'lab', { body: '<Observation/>', headers: { 'content-type': 'application/fhir+xml' } }),
        415,
      )
    })
  })

  describe('search', () => {
    it('pages with _count: a client follows next to the end and sees every record once, even with records issued meanwhile', async () => {
      const client = fhir('alice')
      let bundle = (await client.search({ resourceType: 'Observation', searchParams: { _count: 3 } })) as unknown as Bundle
      assert.equal(bundle.total, created.length)
      assert.equal(idsOf(bundle).length, 3)
      const seen = [...idsOf(bundle)]
      // Issued between two pages: it sorts after every record seen so far (by token id), so it shows on a later page.
      const extra = (await (await create(heartRate('alice', '2020-01-01', 99))).json()) as unknown as Observation
      created.push({ id: extra.id!, date: '2020-01-01' })
      let pages = 1
      for (;;) {
        const next = client.nextPage({ bundle: bundle as never })
        if (!next) break
        bundle = (await next) as unknown as Bundle
        pages++
        seen.push(...idsOf(bundle))
        assert.ok(pages < 10)
      }
      assert.deepEqual(
        seen,
        created.map((c) => c.id),
      )
      // And back: previous from the last page gives the page before it.
      const previous = (await client.prevPage({ bundle: bundle as never })) as unknown as Bundle
      assert.deepEqual(idsOf(previous), seen.slice(-idsOf(bundle).length - 3, -idsOf(bundle).length))
    })

    it('sorts by date, both ways, and pages in that order', async () => {
      const client = fhir('alice')
      const byDate = [...created].sort((x, y) => x.date.localeCompare(y.date)).map((c) => c.id)
      const first = (await client.search({ resourceType: 'Observation', searchParams: { _sort: 'date', _count: 4 } })) as unknown as Bundle
      const second = (await client.nextPage({ bundle: first as never })) as unknown as Bundle
      assert.deepEqual([...idsOf(first), ...idsOf(second)], byDate.slice(0, 8))
      const desc = (await client.search({
        resourceType: 'Observation',
        searchParams: { _sort: '-date', _count: 100 },
      })) as unknown as Bundle
      assert.deepEqual(idsOf(desc), [...byDate].reverse())
    })

    it('answers _summary=count with the total only, _elements with a SUBSETTED subset, _id with that record', async () => {
      const client = fhir('alice')
      const count = (await client.search({ resourceType: 'Observation', searchParams: { _summary: 'count' } })) as unknown as Bundle
      assert.equal(count.total, created.length)
      assert.equal(count.entry, undefined)
      const subset = (await client.search({
        resourceType: 'Observation',
        searchParams: { _elements: 'code', _count: 1 },
      })) as unknown as Bundle
      const r = subset.entry![0]!.resource as Observation
      assert.ok(r.code && r.id && !r.valueQuantity && !r.subject)
      assert.ok(r.meta?.tag?.some((t) => t.code === 'SUBSETTED'))
      const one = (await client.search({ resourceType: 'Observation', searchParams: { _id: created[2]!.id } })) as unknown as Bundle
      assert.deepEqual(idsOf(one), [created[2]!.id])
    })

    it('leaves unsupported parameters out of the self link, and refuses them under Prefer: handling=strict', async () => {
      const lenient = await send('GET', '/fhir/Observation?code:text=heart&_count=2&foo=bar&_summary=text', 'alice')
      assert.equal(lenient.status, 200)
      const bundle = (await lenient.json()) as unknown as Bundle
      const self = new URL(bundle.link!.find((l) => l.relation === 'self')!.url)
      assert.deepEqual([...self.searchParams.keys()], ['_count'])
      for (const query of ['code:text=heart', 'foo=bar', '_summary=text', '_sort=status', 'date:missing=true']) {
        const strict = await send('GET', `/fhir/Observation?${query}`, 'alice', { headers: { prefer: 'handling=strict' } })
        const o = await outcomeOf(strict, 400)
        assert.equal(o.issue[0]!.code, 'not-supported', query)
      }
      await outcomeOf(await send('GET', '/fhir/Observation?_count=abc', 'alice'), 400)
    })

    it('searches the Patient compartment and by POST _search, with the same result as GET', async () => {
      const query = 'date=ge2023-01-01&date=lt2024-06-01&_sort=date'
      const byGet = (await (
        await send('GET', `/fhir/Observation?patient=${a('alice').address}&${query}`, 'alice')
      ).json()) as unknown as Bundle
      const compartment = (await fhir('alice').compartmentSearch({
        resourceType: 'Observation',
        compartment: { resourceType: 'Patient', id: a('alice').address },
        searchParams: { date: ['ge2023-01-01', 'lt2024-06-01'], _sort: 'date' },
      })) as unknown as Bundle
      const byPost = (await (
        await send('POST', '/fhir/Observation/_search', 'alice', {
          body: `patient=${a('alice').address}&${query}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        })
      ).json()) as unknown as Bundle
      const expected = created
        .filter((c) => c.date >= '2023-01-01' && c.date < '2024-06-01')
        .sort((x, y) => x.date.localeCompare(y.date))
        .map((c) => c.id)
      assert.deepEqual(idsOf(byGet), expected)
      assert.deepEqual(idsOf(compartment), expected)
      assert.deepEqual(idsOf(byPost), expected)
    })

    it('gives $everything a self link', async () => {
      const bundle = (await fhir('alice').operation({
        name: '$everything',
        resourceType: 'Patient',
        id: a('alice').address,
      })) as unknown as Bundle
      assert.equal(bundle.link?.[0]?.relation, 'self')
    })
  })

  describe('the CapabilityStatement', () => {
    /** A minimal valid resource of each listed type, for the patient. */
    const examples = (patient: string): Record<string, Record<string, unknown>> => {
      const subject = { reference: `Patient/${patient}` }
      const code = { coding: [{ system: 'http://snomed.info/sct', code: '38341003' }] }
      return {
        Observation: { status: 'final', code, subject },
        Consent: consentOf(patient, a('bob').address),
        DiagnosticReport: { status: 'final', code, subject },
        Condition: { subject, code },
        Immunization: { status: 'completed', vaccineCode: code, patient: subject, occurrenceDateTime: '2024-01-01' },
        MedicationRequest: { status: 'active', intent: 'order', medicationCodeableConcept: code, subject },
        MedicationStatement: { status: 'active', medicationCodeableConcept: code, subject },
        Procedure: { status: 'completed', subject, code },
        Encounter: { status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject },
        AllergyIntolerance: {
          patient: subject,
          code,
          clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
        },
        DocumentReference: { status: 'current', subject, content: [{ attachment: { contentType: 'text/plain', data: 'aGk=' } }] },
        ImagingStudy: { status: 'available', subject },
      }
    }

    it('lists exactly the interactions that work: each listed one answers, each unlisted one is 405', async () => {
      const cs = (await fhir('alice').capabilityStatement()) as unknown as CapabilityStatement
      const rest = cs.rest![0]!
      const all = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'] as const
      for (const resource of rest.resource!) {
        const type = resource.type!
        const listed = new Set(resource.interaction!.map((i) => i.code))
        let id: string | undefined = type === 'Patient' ? a('alice').address : undefined
        if (listed.has('create')) {
          const res = await create(
            { resourceType: type, ...examples(a('alice').address)[type] } as Resource,
            type === 'Consent' ? 'alice' : 'lab',
          )
          assert.equal(res.status, 201, `create ${type}: ${await res.clone().text()}`)
          id = ((await res.json()) as Resource).id!
        }
        if (type === 'Binary') id = undefined
        for (const interaction of all) {
          const request: Record<(typeof all)[number], [string, string]> = {
            read: ['GET', `/fhir/${type}/${id ?? '1'}`],
            vread: ['GET', `/fhir/${type}/${id ?? '1'}/_history/1`],
            update: ['PUT', `/fhir/${type}/${id ?? '1'}`],
            patch: ['PATCH', `/fhir/${type}/${id ?? '1'}`],
            delete: ['DELETE', `/fhir/${type}/${id ?? '1'}`],
            'history-instance': ['GET', `/fhir/${type}/${id ?? '1'}/_history`],
            'history-type': ['GET', `/fhir/${type}/_history`],
            create: ['POST', `/fhir/${type}`],
            'search-type': ['GET', `/fhir/${type}`],
          }
          const [method, path] = request[interaction]
          if (listed.has(interaction)) {
            if (interaction === 'create') continue // done above
            if (['read', 'vread', 'history-instance'].includes(interaction) && !id) continue // no Binary record here to read
            const update = { resourceType: type, ...examples(a('alice').address)[type], id, status: 'inactive' }
            const res = await send(method, path, 'alice', method === 'PUT' ? { body: JSON.stringify(update) } : {})
            assert.equal(res.status, 200, `${interaction} ${type}: ${await res.clone().text()}`)
          } else {
            const res = await send(method, path, method === 'POST' ? 'lab' : 'alice', method === 'GET' ? {} : { body: '{}' })
            assert.equal(res.status, 405, `${interaction} ${type} is not listed, so it must be 405`)
          }
        }
        for (const param of resource.searchParam ?? []) {
          const value = {
            _id: id ?? '1',
            patient: a('alice').address,
            subject: a('alice').address,
            category: 'laboratory',
            code: '38341003',
            date: 'ge2020',
            actor: a('bob').address,
            status: 'active',
          }[param.name!]
          assert.ok(value, `a test value for ${param.name}`)
          if (type === 'Patient') continue
          const res = await send('GET', `/fhir/${type}?${param.name}=${value}`, 'alice', { headers: { prefer: 'handling=strict' } })
          assert.equal(res.status, 200, `search ${type} by ${param.name}`)
        }
      }
      for (const op of rest.resource!.flatMap((r) => (r.operation ?? []).map((o) => [r.type!, o.name!] as const))) {
        assert.equal((await send('GET', `/fhir/${op[0]}/${a('alice').address}/$${op[1]}`, 'alice')).status, 200)
      }
    })
  })

  describe('versions: an amendment is a new version of the same logical resource', () => {
    let id = ''
    let amendment = ''
    before(async () => {
      const res = await create(heartRate('alice', '2020-05-05', 80))
      id = ((await res.json()) as Resource).id!
      const amended = await send('POST', '/api/records', 'lab', {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ patient: a('alice').address, resource: heartRate('alice', '2020-05-05', 88), supersedes: id }),
      })
      assert.equal(amended.status, 201, await amended.clone().text())
      amendment = ((await amended.json()) as { tokenId: string }).tokenId
    })

    it('read serves the current version under the logical id, with versionId, ETag and Last-Modified', async () => {
      const res = await send('GET', `/fhir/Observation/${id}`, 'alice')
      assert.equal(res.status, 200)
      const body = (await res.json()) as Observation
      assert.equal(body.id, id)
      assert.equal(body.valueQuantity?.value, 88)
      assert.equal(body.meta?.versionId, '2')
      assert.equal(res.headers.get('etag'), 'W/"2"')
      assert.ok(!Number.isNaN(Date.parse(res.headers.get('last-modified')!)))
      assert.ok(!body.meta?.tag?.some((t) => t.code === 'superseded'))
    })

    it('If-None-Match with the current version is 304; with an older one, 200', async () => {
      const same = await send('GET', `/fhir/Observation/${id}`, 'alice', { headers: { 'if-none-match': 'W/"2"' } })
      assert.equal(same.status, 304)
      assert.equal(same.headers.get('etag'), 'W/"2"')
      assert.equal(await same.text(), '')
      assert.equal((await send('GET', `/fhir/Observation/${id}`, 'alice', { headers: { 'if-none-match': 'W/"1"' } })).status, 200)
    })

    it('vread serves each version; the superseded one says so', async () => {
      const first = (await fhir('alice').vread({ resourceType: 'Observation', id, version: '1' })) as unknown as Observation
      assert.equal(first.id, id)
      assert.equal(first.valueQuantity?.value, 80)
      assert.equal(first.meta?.versionId, '1')
      assert.ok(first.meta?.tag?.some((t) => t.code === 'superseded'))
      const second = await send('GET', `/fhir/Observation/${id}/_history/2`, 'alice')
      assert.equal(second.headers.get('etag'), 'W/"2"')
      assert.equal(((await second.json()) as Observation).valueQuantity?.value, 88)
      await outcomeOf(await send('GET', `/fhir/Observation/${id}/_history/3`, 'alice'), 404)
    })

    it('_history lists the versions, newest first', async () => {
      const history = (await fhir('alice').history({ resourceType: 'Observation', id })) as unknown as Bundle
      assert.equal(history.type, 'history')
      assert.deepEqual(
        history.entry!.map((e) => [e.resource!.meta!.versionId, e.response!.etag, e.fullUrl]),
        [
          ['2', 'W/"2"', `${server.url}/fhir/Observation/${id}`],
          ['1', 'W/"1"', `${server.url}/fhir/Observation/${id}`],
        ],
      )
    })

    it('search returns the current version only, under the logical id', async () => {
      const bundle = (await fhir('alice').search({ resourceType: 'Observation', searchParams: { _id: id } })) as unknown as Bundle
      assert.deepEqual(idsOf(bundle), [id])
      assert.equal((bundle.entry![0]!.resource as Observation).valueQuantity?.value, 88)
      const all = (await fhir('alice').search({ resourceType: 'Observation', searchParams: { _count: '500' } })) as unknown as Bundle
      assert.ok(!idsOf(all).includes(amendment), 'the amendment is not a resource of its own')
      assert.equal(idsOf(all).filter((x) => x === id).length, 1)
    })

    it("a later version's token id is not a logical id: 404 naming the resource", async () => {
      const outcome = await outcomeOf(await send('GET', `/fhir/Observation/${amendment}`, 'alice'), 404)
      assert.match(JSON.stringify(outcome), new RegExp(`Observation/${id}`))
    })
  })
  describe('Consent: grants as R4 Consent resources', () => {
    let consentId = ''
    let observationId = ''
    before(async () => {
      const res = await create(heartRate('alice', '2019-09-09', 61))
      observationId = ((await res.json()) as Resource).id!
    })

    it('a patient creates a grant with POST /fhir/Consent; medvault grants (listGrants) shows it; the grantee can read', async () => {
      const denied = await send('GET', `/fhir/Observation/${observationId}`, 'bob')
      assert.equal(denied.status, 403)
      const body = consentOf(a('alice').address, a('bob').address, {
        code: undefined,
        data: [{ meaning: 'instance', reference: { reference: `Observation/${observationId}` } }],
      })
      const res = await send('POST', '/fhir/Consent', 'alice', { body: JSON.stringify(body) })
      assert.equal(res.status, 201, await res.clone().text())
      const location = res.headers.get('location')!
      consentId = location.split('/').at(-1)!
      const read = (await (await send('GET', new URL(location).pathname, 'alice')).json()) as Consent
      assert.equal(read.status, 'active')
      assert.equal(read.patient?.reference, `Patient/${a('alice').address}`)
      assert.equal(read.provision?.actor?.[0]?.reference.identifier?.value, `eip155:${s.mv.deployment.chainId}:${a('bob').address}`)
      assert.equal(read.provision?.purpose?.[0]?.code, 'TREAT')
      assert.ok(read.provision?.period?.end)
      assert.equal(
        read.provision?.data?.[0]?.reference.identifier?.value,
        `eip155:${s.mv.deployment.chainId}:${s.mv.deployment.records}/${observationId}`,
      )
      const grants = await listGrants(s.mv, a('alice').address)
      const grant = grants.find((g) => g.grantId.toString() === consentId)
      assert.ok(grant?.active)
      assert.equal(grant.grantee, a('bob').address)
      assert.equal(grant.scope, 'records')
      assert.equal((await send('GET', `/fhir/Observation/${observationId}`, 'bob')).status, 200)
    })

    it('is searchable by the patient and by the grantee, by status and actor', async () => {
      const mine = (await (await send('GET', `/fhir/Consent?status=active&actor=${a('bob').address}`, 'alice')).json()) as Bundle
      assert.ok(mine.entry!.some((e) => e.resource!.id === consentId))
      const toBob = (await (await send('GET', '/fhir/Consent', 'bob')).json()) as Bundle
      assert.ok(toBob.entry!.some((e) => e.resource!.id === consentId))
      const inactive = (await (await send('GET', '/fhir/Consent?status=inactive', 'alice')).json()) as Bundle
      assert.ok(!inactive.entry!.some((e) => e.resource!.id === consentId))
      assert.equal((await send('GET', `/fhir/Consent/${consentId}`, 'lab')).status, 404, 'not the patient nor the grantee')
      const post = await send('POST', '/fhir/Consent/_search', 'alice', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      })
      await outcomeOf(post, 405)
    })

    it('refuses what a grant cannot say, and grants for someone else', async () => {
      const noEnd = consentOf(a('alice').address, a('bob').address, { period: undefined })
      await outcomeOf(await send('POST', '/fhir/Consent', 'alice', { body: JSON.stringify(noEnd) }), 422)
      const forAlice = consentOf(a('alice').address, a('bob').address)
      await outcomeOf(await send('POST', '/fhir/Consent', 'bob', { body: JSON.stringify(forAlice) }), 422)
      const inactive = { ...consentOf(a('alice').address, a('bob').address), status: 'inactive' }
      await outcomeOf(await send('POST', '/fhir/Consent', 'alice', { body: JSON.stringify(inactive) }), 422)
    })

    it('revokes by an update to status inactive; other updates are refused', async () => {
      const path = `/fhir/Consent/${consentId}`
      const current = (await (await send('GET', path, 'alice')).json()) as Consent
      await outcomeOf(await send('PUT', path, 'alice', { body: JSON.stringify(current) }), 422)
      await outcomeOf(await send('PUT', path, 'bob', { body: JSON.stringify({ ...current, status: 'inactive' }) }), 403)
      const res = await send('PUT', path, 'alice', { body: JSON.stringify({ ...current, status: 'inactive' }) })
      assert.equal(res.status, 200, await res.clone().text())
      assert.equal(((await res.json()) as Consent).status, 'inactive')
      assert.equal((await getGrant(s.mv, BigInt(consentId))).active, false)
      assert.equal((await send('GET', `/fhir/Observation/${observationId}`, 'bob')).status, 403)
      await outcomeOf(await send('DELETE', path, 'alice'), 405)
    })
  })
})
