/**
 * Issue 18's acceptance, as a FHIR developer would try it: fhir-kit-client against a real server
 * (real anvil, real Helia blockstore, real socket). A Synthea history goes in as a transaction
 * (the smallest fixture, 66 entries, to keep this under a minute; all six are imported and
 * checked for links in fhirLinks.int.test.ts), then the client pages, follows references,
 * creates, vreads, revalidates, batches and shares, each through the client's own calls.
 */
import assert from 'node:assert/strict'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Bundle, BundleEntry, Consent, Encounter, Observation, Patient, Resource } from '@medplum/fhirtypes'
import { Client } from 'fhir-kit-client'
import { listGrants } from '../../src/consent/index.js'
import { authorizeProvider } from '../../src/directory/index.js'
import { type MedvaultServer, startServer } from '../../src/server/index.js'
import { sessionToken } from './server.js'
import { PASSPHRASE, type TestStack, openTestStack } from './stack.js'

const FIXTURES = '/work/shared/fixtures/synthea'
const smallest = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.json'))
  .map((f) => join(FIXTURES, f))
  .sort((x, y) => statSync(x).size - statSync(y).size)[0]!

type HttpError = { response?: { status?: number; data?: Resource } }
const statusOf = async (p: Promise<unknown>) =>
  p.then(
    () => 200,
    (e: HttpError) => e.response?.status ?? 0,
  )

describe('issue 18 acceptance with fhir-kit-client', () => {
  let s: TestStack
  let server: MedvaultServer
  const a = (name: string) => s.accounts[name]!
  const clients: Record<string, Client> = {}
  const tokens: Record<string, string> = {}
  const synthea = JSON.parse(readFileSync(smallest, 'utf8')) as Bundle
  const observations = synthea.entry!.filter((e) => e.resource?.resourceType === 'Observation').length
  const heartRate = (bpm: number): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
    subject: { reference: `Patient/${a('alice').address}` },
    effectiveDateTime: '2025-06-01',
    valueQuantity: { value: bpm, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  })

  before(async () => {
    s = await openTestStack({ providers: { lab: 'City Lab' }, others: ['alice', 'bob'] })
    await authorizeProvider(s.mv, a('alice'), a('lab').address, new Date(Date.now() + 3600_000))
    server = await startServer(s.mv, { port: 0, passphrase: PASSPHRASE, indexMaxAgeMs: 0 })
    for (const name of ['alice', 'bob', 'lab']) {
      tokens[name] = await sessionToken(server.url, a(name).chainAccount)
      clients[name] = new Client({ baseUrl: `${server.url}/fhir`, bearerToken: tokens[name] })
    }
  })
  after(async () => {
    await server?.close()
    await s?.dispose()
  })

  it('imports a Synthea history as a transaction', async () => {
    // The Patient entry says whose history it is with medvault's identifier; everything else is Synthea's.
    const patient = synthea.entry!.find((e) => e.resource?.resourceType === 'Patient')!.resource as Patient
    patient.identifier = [
      ...(patient.identifier ?? []),
      { system: 'urn:ietf:rfc:3986', value: `eip155:${s.mv.deployment.chainId}:${a('alice').address}` },
    ]
    const response = (await clients.lab!.transaction({ body: synthea as never })) as unknown as Bundle
    assert.equal(response.type, 'transaction-response')
    assert.equal(response.entry!.filter((e) => e.response?.status === '201 Created').length, synthea.entry!.length - 1)
  })

  it('pages a search to the end with nextPage, every Observation once', async () => {
    const seen: string[] = []
    let page = (await clients.alice!.search({ resourceType: 'Observation', searchParams: { _count: '10' } })) as unknown as
      | Bundle
      | undefined
    let pages = 0
    while (page) {
      pages++
      seen.push(...(page.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id!))
      page = (await clients.alice!.nextPage({ bundle: page as never })) as unknown as Bundle | undefined
    }
    assert.equal(seen.length, observations)
    assert.equal(new Set(seen).size, observations)
    assert.equal(pages, Math.ceil(observations / 10))
  })

  it("follows an Observation's references to its Encounter and its Patient", async () => {
    const bundle = (await clients.alice!.search({ resourceType: 'Observation', searchParams: { _count: '1' } })) as unknown as Bundle
    const observation = bundle.entry![0]!.resource as Observation
    const encounter = (await clients.alice!.resolve({ reference: observation.encounter!.reference! })) as unknown as Encounter
    assert.equal(encounter.resourceType, 'Encounter')
    assert.equal(encounter.subject?.reference, `Patient/${a('alice').address}`)
    const patient = (await clients.alice!.resolve({ reference: observation.subject!.reference! })) as unknown as Patient
    assert.equal(patient.id, a('alice').address)
  })

  let created = ''
  it('creates with POST and reads the resource back from Location', async () => {
    const result = await clients.lab!.create({ resourceType: 'Observation', body: heartRate(70) as never })
    const location = Client.httpFor(result).response!.headers.get('location')!
    assert.match(location, /\/fhir\/Observation\/\d+$/)
    const read = (await clients.alice!.request(location)) as unknown as Observation
    assert.equal(read.valueQuantity?.value, 70)
    created = read.id!
  })

  it("vreads an amended record's first version, and gets 304 with If-None-Match", async () => {
    const amended = await fetch(`${server.url}/api/records`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.lab}`, 'content-type': 'application/json' },
      body: JSON.stringify({ patient: a('alice').address, resource: heartRate(74), supersedes: created }),
    })
    assert.equal(amended.status, 201, await amended.clone().text())
    const first = (await clients.alice!.vread({ resourceType: 'Observation', id: created, version: '1' })) as unknown as Observation
    assert.equal(first.valueQuantity?.value, 70)
    assert.equal(first.meta?.versionId, '1')
    const current = await clients.alice!.read({ resourceType: 'Observation', id: created })
    assert.equal((current as unknown as Observation).valueQuantity?.value, 74)
    const etag = Client.httpFor(current).response!.headers.get('etag')!
    assert.equal(etag, 'W/"2"')
    const again = clients.alice!.read({ resourceType: 'Observation', id: created, options: { headers: { 'if-none-match': etag } } })
    assert.equal(await statusOf(again), 304)
  })

  it('sends a batch with one bad entry and gets a result per entry', async () => {
    const entry = (resource: Resource): BundleEntry => ({ resource, request: { method: 'POST', url: resource.resourceType } })
    const body = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        entry({ resourceType: 'Patient', id: a('alice').address }),
        entry(heartRate(71)),
        entry({ ...heartRate(72), status: 'bogus' } as unknown as Observation),
        entry(heartRate(73)),
      ],
    }
    const response = (await clients.lab!.batch({ body: body as never })) as unknown as Bundle
    assert.equal(response.type, 'batch-response')
    const statuses = response.entry!.map((e) => e.response!.status)
    assert.deepEqual(statuses.slice(1), ['201 Created', '422 Unprocessable Entity', '201 Created'])
    assert.equal(response.entry![2]!.response!.outcome?.resourceType, 'OperationOutcome')
  })

  it('creates a Consent, and medvault grants (listGrants) shows the grant', async () => {
    const consent: Consent = {
      resourceType: 'Consent',
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { reference: `Patient/${a('alice').address}` },
      policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
      provision: {
        type: 'permit',
        period: { end: new Date(Date.now() + 7 * 86_400_000).toISOString() },
        actor: [
          {
            role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
            reference: { reference: `Practitioner/${a('bob').address}` },
          },
        ],
        purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }],
        data: [{ meaning: 'instance', reference: { reference: `Observation/${created}` } }],
      },
    }
    const made = (await clients.alice!.create({ resourceType: 'Consent', body: consent as never })) as unknown as Consent
    assert.equal(made.status, 'active')
    const grant = (await listGrants(s.mv, a('alice').address)).find((g) => g.grantId.toString() === made.id)
    assert.ok(grant?.active)
    assert.equal(grant.grantee, a('bob').address)
    assert.equal(grant.purpose, 'treatment')
    // The grant covers both versions of the record: bob reads the current one and the first.
    assert.equal(
      ((await clients.bob!.read({ resourceType: 'Observation', id: created })) as unknown as Observation).valueQuantity?.value,
      74,
    )
    assert.equal(await statusOf(clients.bob!.vread({ resourceType: 'Observation', id: created, version: '1' })), 200)
  })
})
