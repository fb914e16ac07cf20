import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Bundle, DiagnosticReport, Immunization, Observation } from '@medplum/fhirtypes'
import { InvalidInputError } from '../errors.js'
import { ensureFhirDefinitions, fhirDefinitionsLoadMs } from './definitions.js'
import { parseFhirResource, validateFhirResource } from './validate.js'

/** Patient data that must never show up in an error message. */
const PATIENT = 'Jane Quincy Doe'
const LEAK = /Jane|Quincy|Doe/

const observation: Observation = {
  resourceType: 'Observation',
  id: 'glucose-1',
  status: 'final',
  category: [
    { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory', display: 'Laboratory' }] },
  ],
  code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma' }] },
  subject: { reference: 'Patient/p1', display: PATIENT },
  effectiveDateTime: '2024-03-01T08:30:00Z',
  valueQuantity: { value: 95, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  referenceRange: [
    {
      low: { value: 70, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
      high: { value: 99, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
    },
  ],
}

const immunization: Immunization = {
  resourceType: 'Immunization',
  status: 'completed',
  vaccineCode: {
    coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208', display: 'COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose' }],
  },
  patient: { reference: 'Patient/p1', display: PATIENT },
  occurrenceDateTime: '2021-04-12',
  lotNumber: 'EW0182',
  primarySource: true,
}

const report: DiagnosticReport = {
  resourceType: 'DiagnosticReport',
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '24323-8', display: 'Comprehensive metabolic 2000 panel' }] },
  subject: { reference: 'Patient/p1', display: PATIENT },
  effectiveDateTime: '2024-03-01',
  issued: '2024-03-01T12:00:00Z',
  result: [{ reference: 'Observation/glucose-1' }],
  conclusion: 'Within normal limits.',
}

/** Runs `fn`, expects an InvalidInputError, checks that no patient data leaked, returns the message and details. */
function rejects(fn: () => unknown): string {
  let caught: unknown
  try {
    fn()
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof InvalidInputError, `expected InvalidInputError, got ${String(caught)}`)
  assert.equal(caught.code, 'INVALID_INPUT')
  assert.doesNotMatch(caught.message, LEAK)
  assert.doesNotMatch(caught.details ?? '', LEAK)
  return `${caught.message}\n${caught.details ?? ''}`
}

describe('FHIR definitions', () => {
  it('load once, lazily, and are cached', (t) => {
    const first = ensureFhirDefinitions()
    const ms = fhirDefinitionsLoadMs()
    assert.ok(ms !== undefined && ms > 0)
    assert.equal(ensureFhirDefinitions(), first)
    assert.ok(first.resourceTypes.has('Observation') && first.resourceTypes.has('Bundle'))
    assert.ok(!first.resourceTypes.has('Project'), 'Medplum-only resource types are not loaded')
    assert.ok(!first.resourceTypes.has('DomainResource'), 'abstract types are not resource types')
    t.diagnostic(`FHIR R4 definitions first load: ${ms.toFixed(0)} ms`)
  })
})

describe('parseFhirResource: valid resources', () => {
  it('accepts an Observation with LOINC code, valueQuantity, referenceRange and subject', () => {
    assert.deepEqual(parseFhirResource(JSON.stringify(observation)), observation)
  })

  it('accepts UTF-8 bytes, pretty-printed JSON and a byte-order mark', () => {
    const text = JSON.stringify(observation, null, 2)
    assert.deepEqual(parseFhirResource(new TextEncoder().encode(text)), observation)
    assert.deepEqual(parseFhirResource(`\uFEFF${text}`), observation)
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(text)])
    assert.deepEqual(parseFhirResource(withBom), observation)
  })

  it('accepts an Immunization with a CVX code', () => {
    assert.deepEqual(parseFhirResource(JSON.stringify(immunization)), immunization)
  })

  it('accepts a DiagnosticReport', () => {
    assert.deepEqual(parseFhirResource(JSON.stringify(report)), report)
  })

  it('accepts collection, transaction and document Bundles', () => {
    const collection: Bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: observation }, { resource: immunization }, { resource: report }],
    }
    assert.deepEqual(parseFhirResource(JSON.stringify(collection)), collection)

    const transaction: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:3f1c2b9e-8d7a-4f5e-9c0b-1a2b3c4d5e6f',
          resource: observation,
          request: { method: 'POST', url: 'Observation' },
        },
        { resource: immunization, request: { method: 'POST', url: 'Immunization' } },
      ],
    }
    assert.deepEqual(parseFhirResource(JSON.stringify(transaction)), transaction)

    const document: Bundle = {
      resourceType: 'Bundle',
      type: 'document',
      identifier: { system: 'urn:ietf:rfc:3986', value: 'urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0' },
      timestamp: '2024-03-02T10:00:00Z',
      entry: [
        {
          fullUrl: 'urn:uuid:1b6c2f1e-5f0a-4c1e-8d53-8a5a4f3e9b10',
          resource: {
            resourceType: 'Composition',
            status: 'final',
            type: { coding: [{ system: 'http://loinc.org', code: '11488-4', display: 'Consult note' }] },
            subject: { reference: 'Patient/p1', display: PATIENT },
            date: '2024-03-02',
            author: [{ reference: 'Practitioner/dr1' }],
            title: 'Consult note',
          },
        },
        { fullUrl: 'urn:uuid:6f0d8e2a-3b4c-4d5e-8f9a-0b1c2d3e4f50', resource: observation },
      ],
    }
    assert.deepEqual(parseFhirResource(JSON.stringify(document)), document)
  })

  it('validateFhirResource takes an already-parsed value', () => {
    assert.equal(validateFhirResource(observation), observation)
  })
})

describe('parseFhirResource: invalid input', () => {
  it('rejects bad JSON without quoting it', () => {
    assert.match(
      rejects(() => parseFhirResource(`{"resourceType": "Patient", "name": [{"text": "${PATIENT}"}]`)),
      /not valid JSON/,
    )
    assert.match(
      rejects(() => parseFhirResource(PATIENT)),
      /not valid JSON/,
    )
    assert.match(
      rejects(() => parseFhirResource('')),
      /not valid JSON/,
    )
  })

  it('rejects bytes that are not UTF-8', () => {
    assert.match(
      rejects(() => parseFhirResource(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))),
      /UTF-8/,
    )
  })

  it('rejects JSON that is not an object', () => {
    for (const text of ['[]', '42', 'null', `"${PATIENT}"`]) {
      assert.match(
        rejects(() => parseFhirResource(text)),
        /must be a JSON object/,
      )
    }
  })

  it('rejects a missing, non-string or unknown resourceType without echoing it', () => {
    assert.match(
      rejects(() => parseFhirResource(JSON.stringify({ name: [{ text: PATIENT }] }))),
      /no resourceType/,
    )
    assert.match(
      rejects(() => parseFhirResource(JSON.stringify({ resourceType: 7 }))),
      /must be a string/,
    )
    assert.match(
      rejects(() => parseFhirResource(JSON.stringify({ resourceType: PATIENT }))),
      /unknown resourceType/,
    )
    assert.match(
      rejects(() => parseFhirResource(JSON.stringify({ resourceType: 'Observaton', status: 'final' }))),
      /unknown resourceType/,
    )
    // Medplum's own resource types are not FHIR R4.
    assert.match(
      rejects(() => parseFhirResource(JSON.stringify({ resourceType: 'Project', name: PATIENT }))),
      /unknown resourceType/,
    )
  })

  it('rejects a value of the wrong JSON type, naming the path', () => {
    const message = rejects(() => parseFhirResource(JSON.stringify({ ...observation, status: 42 })))
    assert.match(message, /Observation\.status: Invalid JSON type: expected string, but got number/)
  })

  it('rejects an Observation without status and code, naming both', () => {
    const { status: _status, code: _code, ...rest } = observation
    const message = rejects(() => parseFhirResource(JSON.stringify(rest)))
    assert.match(message, /Observation\.status: Missing required property/)
    assert.match(message, /Observation\.code: Missing required property/)
  })

  it('rejects a complex element given as a string or number (which Medplum alone lets through)', () => {
    const message = rejects(() => parseFhirResource(JSON.stringify({ ...observation, code: PATIENT, valueQuantity: 95 })))
    assert.match(message, /Observation\.code: expected a JSON object \(CodeableConcept\)/)
    assert.match(message, /Observation\.value\[x\]: expected a JSON object \(Quantity\)/)
  })

  it('rejects malformed primitives (dates, ids) without quoting them', () => {
    const message = rejects(() => parseFhirResource(JSON.stringify({ ...observation, id: PATIENT, effectiveDateTime: PATIENT })))
    assert.match(message, /Observation\.id: Invalid id format/)
    assert.match(message, /Observation\.effective\[x\]: Invalid dateTime format/)
  })

  it('rejects unknown fields, naming the field only when it looks like an element name', () => {
    assert.match(
      rejects(() => parseFhirResource(JSON.stringify({ ...observation, colour: 'red' }))),
      /Observation\.colour: Invalid additional property/,
    )
    const message = rejects(() => parseFhirResource(JSON.stringify({ ...observation, [PATIENT]: true })))
    assert.match(message, /Observation\.<invalid name>: Invalid additional property/)
  })

  it('reports failed invariants with their FHIRPath expression', () => {
    const message = rejects(() => parseFhirResource(JSON.stringify({ ...observation, dataAbsentReason: { text: 'not done' } })))
    assert.match(message, /Constraint obs-6 not met/)
    assert.match(message, /\[dataAbsentReason\.empty\(\) or value\.empty\(\)\]/)
  })

  it('validates Bundle entries and Bundle rules', () => {
    const badEntry = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: immunization }, { resource: { ...observation, status: 42 } }],
    }
    assert.match(
      rejects(() => parseFhirResource(JSON.stringify(badEntry))),
      /Bundle\.entry\[1\]\.resource\.status: Invalid JSON type/,
    )

    const unknownEntry = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: PATIENT } }] }
    assert.match(
      rejects(() => parseFhirResource(JSON.stringify(unknownEntry))),
      /Bundle\.entry\[0\]\.resource: unknown or missing FHIR R4 resourceType/,
    )

    const transactionWithoutRequests = { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: observation }] }
    assert.match(
      rejects(() => parseFhirResource(JSON.stringify(transactionWithoutRequests))),
      /Constraint bdl-3 not met/,
    )

    const documentWithoutIdentifier = { resourceType: 'Bundle', type: 'document', entry: [{ resource: observation }] }
    assert.match(
      rejects(() => parseFhirResource(JSON.stringify(documentWithoutIdentifier))),
      /Constraint bdl-9 not met/,
    )
  })

  it('rejects absurdly deep nesting before it can exhaust the stack', () => {
    let deep: unknown = { text: PATIENT }
    for (let i = 0; i < 5000; i++) deep = { extension: [deep] }
    assert.match(
      rejects(() => validateFhirResource({ resourceType: 'Basic', code: { text: 'x' }, extension: [deep] })),
      /nested more than/,
    )
  })

  it('lists at most ten problems in the message and all of them in details', () => {
    const bad = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: Array.from({ length: 12 }, () => ({ resource: { ...observation, status: 42 } })),
    }
    let caught: unknown
    try {
      parseFhirResource(JSON.stringify(bad))
    } catch (err) {
      caught = err
    }
    assert.ok(caught instanceof InvalidInputError)
    assert.match(caught.message, /and 2 more\.$/)
    assert.equal(caught.details?.split('\n').length, 12)
  })
})
