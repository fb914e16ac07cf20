import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import type { Bundle, Observation } from '@medplum/fhirtypes'
import { MalformedBundleError } from '../errors.js'
import { canonicalFhirBytes, mapReferences } from '../fhir/index.js'
import { Sensitivity } from '../records/index.js'
import { parseImportBundle } from './parseBundle.js'
import { syntheticPatientBundle } from './syntheticBundle.js'

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value))

/** A value that must never appear in an error message (it stands for patient data). */
const SECRET = 'Jane-Secretname-1961'

const observation = (overrides: Partial<Observation> = {}): Observation => ({
  resourceType: 'Observation',
  id: 'glucose-1',
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '2339-0' }] },
  subject: { reference: 'Patient/p1' },
  valueQuantity: { value: 95, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  ...overrides,
})
const patient = { resourceType: 'Patient', id: 'p1', name: [{ family: SECRET }] }
const bundleOf = (resources: unknown[], type = 'collection'): Bundle =>
  ({ resourceType: 'Bundle', type, entry: resources.map((resource) => ({ resource })) }) as Bundle

function refused(input: unknown, pattern: RegExp): MalformedBundleError {
  let caught: unknown
  try {
    parseImportBundle(input instanceof Uint8Array ? input : bytes(input))
  } catch (error) {
    caught = error
  }
  assert.ok(caught instanceof MalformedBundleError, `expected MalformedBundleError, got ${String(caught)}`)
  assert.equal(caught.code, 'MALFORMED_BUNDLE')
  assert.equal(caught.exitCode, 2)
  assert.match(caught.message, pattern)
  assert.ok(!caught.message.includes(SECRET) && !(caught.details ?? '').includes(SECRET), 'the message must not echo patient data')
  return caught
}

describe('parseImportBundle', () => {
  it('turns each resource of a Synthea-style Bundle into an entry and skips the Patient', () => {
    const bundle = syntheticPatientBundle({ resources: 120, seed: 11 })
    const parsed = parseImportBundle(bytes(bundle))
    assert.equal(parsed.type, 'transaction')
    assert.equal(parsed.entries.length, 120)
    assert.deepEqual(parsed.skipped, [{ index: 0, resourceType: 'Patient', reason: 'patient' }])
    assert.deepEqual(
      parsed.entries.map((e) => e.index),
      Array.from({ length: 120 }, (_, i) => i + 1),
    )
    const target = new Map(bundle.entry!.map((e) => [e.fullUrl!, `${e.resource!.resourceType}/${e.resource!.id}`]))
    for (const entry of parsed.entries) {
      const resource = bundle.entry![entry.index]!.resource!
      assert.equal(entry.resourceType, resource.resourceType)
      // Its references resolved as a transaction resolves them (the generator's ids are its fullUrls').
      const linked = mapReferences(resource, (ref) => target.get(ref))
      assert.deepEqual(entry.content, canonicalFhirBytes(linked), 'content is the canonical form')
      assert.equal(entry.digest, `0x${createHash('sha256').update(entry.content).digest('hex')}`)
    }
  })

  it('derives category and sensitivity with the FHIR rules record add uses', () => {
    const sensitive = observation({
      id: 'psy',
      meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'PSY' }] },
    })
    const vitals = observation({
      id: 'hr',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    })
    const immunization = {
      resourceType: 'Immunization',
      status: 'completed',
      vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '140' }] },
      patient: { reference: 'Patient/p1' },
      occurrenceDateTime: '2024-01-01',
    }
    const parsed = parseImportBundle(bytes(bundleOf([patient, observation(), sensitive, vitals, immunization])))
    assert.deepEqual(
      parsed.entries.map((e) => [e.index, e.category, e.sensitivity]),
      [
        [1, 'laboratory', 0],
        [2, 'mental-health', Sensitivity.mentalHealth],
        [3, 'vital-signs', 0],
        [4, 'immunization', 0],
      ],
    )
  })

  for (const type of ['collection', 'transaction', 'batch', 'searchset']) {
    it(`accepts a ${type} Bundle`, () => {
      assert.equal(parseImportBundle(bytes(bundleOf([observation()], type))).type, type)
    })
  }

  it("skips a searchset's OperationOutcome entries", () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: [
        { resource: observation(), search: { mode: 'match' } },
        {
          resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'warning', code: 'informational' }] },
          search: { mode: 'outcome' },
        },
      ],
    }
    const parsed = parseImportBundle(bytes(bundle))
    assert.equal(parsed.entries.length, 1)
    assert.deepEqual(parsed.skipped, [{ index: 1, resourceType: 'OperationOutcome', reason: 'search-outcome' }])
  })

  it('names the bundle by the sha256 of its bytes', () => {
    const b = bytes(bundleOf([observation()]))
    assert.equal(parseImportBundle(b).bundleDigest, `0x${createHash('sha256').update(b).digest('hex')}`)
  })

  it('refuses what is not JSON, saying where, not what', () => {
    refused(new TextEncoder().encode(`{"resourceType": "Bundle", "x": ${SECRET}`), /^The Bundle is not valid JSON/)
    refused(new Uint8Array([0xff, 0xfe, 0x00]), /not valid UTF-8/)
  })

  it('refuses a single resource, and Bundle types that are not a history', () => {
    refused(observation(), /not a FHIR Bundle/)
    const document = refused(bundleOf([observation()], 'document'), /type "document" cannot be imported/)
    assert.match(document.message, /medvault record add/)
    refused(bundleOf([observation()], SECRET), /type cannot be imported: use a collection, transaction, batch or searchset Bundle/)
  })

  it('refuses a Bundle with no entries, or entries without a resource', () => {
    refused({ resourceType: 'Bundle', type: 'collection' }, /no entries/)
    refused({ resourceType: 'Bundle', type: 'collection', entry: [] }, /no entries/)
    refused({ resourceType: 'Bundle', type: 'collection', entry: {} }, /Bundle.entry must be a JSON array/)
    refused(
      {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ resource: observation() }, { request: { method: 'DELETE', url: 'Observation/1' } }],
      },
      /1 of 2 Bundle entries cannot be imported: entry\[1\]: no resource/,
    )
    refused(bundleOf([patient]), /no resources to import besides the Patient/)
  })

  it('refuses invalid resources, naming each entry and path, never a value', () => {
    const error = refused(
      bundleOf([
        observation(),
        observation({ valueQuantity: SECRET as never }),
        { ...observation(), status: undefined },
        { resourceType: SECRET, id: 'x' },
      ]),
      /3 of 4 Bundle entries cannot be imported: entry\[1\]: .*value\[x\]: expected a JSON object.*; entry\[2\]: .*status.*; entry\[3\]: .*unknown resourceType/,
    )
    assert.match(error.message, /Nothing was imported/)
  })

  it('lists five invalid entries and counts the rest', () => {
    const bad = Array.from({ length: 8 }, () => ({ ...observation(), status: undefined }))
    const error = refused(bundleOf(bad), /8 of 8 Bundle entries cannot be imported: .*; and 3 more\./)
    assert.equal(error.details?.split('\n').length, 8)
  })

  it("refuses a Bundle with several patients, or a resource about another patient than the Bundle's", () => {
    refused(bundleOf([patient, { ...patient, id: 'p2' }, observation()]), /holds 2 Patient resources \(entries 0, 1\)/)
    refused(
      bundleOf([patient, observation(), observation({ subject: { reference: 'Patient/p2' } })]),
      /entry\[2\] \(Observation\): its subject refers to another Patient/,
    )
    refused(
      bundleOf([
        patient,
        {
          resourceType: 'Immunization',
          status: 'completed',
          vaccineCode: { text: 'flu' },
          patient: { reference: 'https://ehr.example.org/fhir/Patient/p9' },
          occurrenceDateTime: '2024-01-01',
        },
      ]),
      /its patient refers to another Patient/,
    )
  })

  it("accepts references to the Bundle's Patient by id, by absolute URL or by its urn:uuid fullUrl", () => {
    const urn = 'urn:uuid:4f0d3f0e-1c2b-4a5d-9e8f-0a1b2c3d4e5f'
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { fullUrl: urn, resource: patient },
        { resource: observation({ subject: { reference: urn } }) },
        { resource: observation({ subject: { reference: 'Patient/p1' } }) },
        { resource: observation({ subject: { reference: 'https://ehr.example.org/fhir/Patient/p1/_history/2' } }) },
        { resource: observation({ subject: { reference: 'urn:uuid:0000aaaa-1c2b-4a5d-9e8f-0a1b2c3d4e5f' } }) },
      ],
    }
    assert.equal(parseImportBundle(bytes(bundle)).entries.length, 4)
  })
})

describe('references between entries (resolved as a transaction resolves them)', () => {
  const patientAddress = '0x00000000000000000000000000000000000000aA'
  const linked = () =>
    new TextEncoder().encode(
      JSON.stringify({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111',
            resource: { resourceType: 'Patient', id: '11111111-1111-4111-8111-111111111111' },
          },
          {
            fullUrl: 'urn:uuid:22222222-2222-4222-8222-222222222222',
            resource: {
              resourceType: 'Encounter',
              status: 'finished',
              class: { code: 'AMB' },
              subject: { reference: 'urn:uuid:11111111-1111-4111-8111-111111111111' },
            },
          },
          {
            fullUrl: 'urn:uuid:33333333-3333-4333-8333-333333333333',
            resource: {
              resourceType: 'Observation',
              id: 'obs-1',
              status: 'final',
              code: { text: 'x' },
              subject: { reference: 'urn:uuid:11111111-1111-4111-8111-111111111111' },
              encounter: { reference: 'urn:uuid:22222222-2222-4222-8222-222222222222' },
              hasMember: [{ reference: 'urn:uuid:99999999-9999-4999-8999-999999999999' }],
            },
          },
        ],
      }),
    )
  const resources = (parsed: ReturnType<typeof parseImportBundle>) =>
    parsed.entries.map((e) => JSON.parse(Buffer.from(e.content).toString('utf8')) as Record<string, { reference?: string } & unknown>)

  it('gives each resource the id of its urn:uuid fullUrl (or keeps its own) and points references at Type/id', () => {
    const [encounter, observation] = resources(parseImportBundle(linked()))
    assert.equal(encounter!.id, '22222222-2222-4222-8222-222222222222')
    assert.equal(observation!.id, 'obs-1')
    assert.deepEqual(observation!.encounter, { reference: 'Encounter/22222222-2222-4222-8222-222222222222' })
    assert.deepEqual(observation!.subject, { reference: 'Patient/11111111-1111-4111-8111-111111111111' })
    assert.deepEqual(
      observation!.hasMember,
      [{ reference: 'urn:uuid:99999999-9999-4999-8999-999999999999' }],
      'not in the Bundle: left as it is',
    )
  })

  it("points references to the Bundle's Patient at the patient's account when it is known", () => {
    const parsed = parseImportBundle(linked(), { patient: patientAddress })
    assert.equal(parsed.patientReference, `Patient/${patientAddress}`)
    for (const r of resources(parsed)) assert.deepEqual(r.subject, { reference: `Patient/${patientAddress}` })
  })
})
