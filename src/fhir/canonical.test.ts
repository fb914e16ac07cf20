import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import type { Observation, Resource } from '@medplum/fhirtypes'
import { InvalidInputError } from '../errors.js'
import { canonicalFhirBytes } from './canonical.js'

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

const observation: Observation = {
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  subject: { reference: 'Patient/p1', display: 'Zoë Müller' },
  valueQuantity: { value: 72, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
}

describe('canonicalFhirBytes', () => {
  it('writes sorted keys, no whitespace, UTF-8', () => {
    const bytes = canonicalFhirBytes(observation)
    assert.ok(bytes instanceof Uint8Array)
    assert.equal(
      decode(bytes),
      '{"code":{"coding":[{"code":"8867-4","display":"Heart rate","system":"http://loinc.org"}]},' +
        '"resourceType":"Observation","status":"final","subject":{"display":"Zoë Müller","reference":"Patient/p1"},' +
        '"valueQuantity":{"code":"/min","system":"http://unitsofmeasure.org","unit":"beats/minute","value":72}}',
    )
    // "ë" is two UTF-8 bytes, not a \u escape.
    assert.ok(decode(bytes).includes('Zoë') && bytes.length === new TextEncoder().encode(decode(bytes)).length)
  })

  it('is the same for any key order and whitespace', () => {
    const compact = JSON.stringify(observation)
    const pretty = JSON.stringify(observation, null, 4)
    const reordered = `{
      "valueQuantity": { "value": 72.0, "code": "/min", "unit": "beats/minute", "system": "http://unitsofmeasure.org" },
      "subject": {"reference":"Patient/p1",   "display":"Zo\\u00eb M\\u00fcller"},
      "status": "final",
      "resourceType": "Observation",
      "code": {"coding": [{"display": "Heart rate", "code": "8867-4", "system": "http://loinc.org"}]}
    }`
    const digests = [compact, pretty, reordered].map((text) => sha256(canonicalFhirBytes(JSON.parse(text) as Resource)))
    assert.equal(new Set(digests).size, 1)
  })

  it('keeps array order (order is meaningful in FHIR)', () => {
    const a = { ...observation, category: [{ text: 'first' }, { text: 'second' }] }
    const b = { ...observation, category: [{ text: 'second' }, { text: 'first' }] }
    assert.notEqual(sha256(canonicalFhirBytes(a)), sha256(canonicalFhirBytes(b)))
  })

  it('round-trips to the same resource', () => {
    assert.deepEqual(JSON.parse(decode(canonicalFhirBytes(observation))), observation)
  })

  it('matches the RFC 8785 examples for numbers, strings and key order', () => {
    // RFC 8785 section 3.2.2 (the input is not FHIR; only the serialization is under test).
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    ) as Resource
    assert.equal(
      decode(canonicalFhirBytes(input)),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' + '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    )
    // RFC 8785 section 3.2.3: keys sorted by UTF-16 code units.
    const keys = JSON.parse('{"\\u20ac":1,"\\r":2,"\\ufb33":3,"1":4,"\\ud83d\\ude00":5,"\\u0080":6,"\\u00f6":7}') as Resource
    assert.equal(decode(canonicalFhirBytes(keys)), '{"\\r":2,"1":4,"\u0080":6,"\u00f6":7,"\u20ac":1,"\ud83d\ude00":5,"\ufb33":3}')
  })

  it('does not keep decimal trailing zeros (JSON numbers are canonicalized as values)', () => {
    const a = JSON.parse('{"resourceType":"Observation","valueQuantity":{"value":1.50}}') as Resource
    const b = JSON.parse('{"resourceType":"Observation","valueQuantity":{"value":1.5}}') as Resource
    assert.deepEqual(canonicalFhirBytes(a), canonicalFhirBytes(b))
  })

  it('rejects what JSON cannot represent, without quoting values', () => {
    const cases: unknown[] = [
      { ...observation, valueQuantity: { value: Number.NaN } },
      { ...observation, valueQuantity: { value: Number.POSITIVE_INFINITY } },
      JSON.parse('{"resourceType":"Patient","name":[{"text":"Jane \\ud800 Doe"}]}'),
    ]
    for (const resource of cases) {
      assert.throws(
        () => canonicalFhirBytes(resource as Resource),
        (err: unknown) => err instanceof InvalidInputError && !/Jane|Doe/.test(err.message),
      )
    }
  })
})
