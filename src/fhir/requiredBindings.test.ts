import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InvalidInputError } from '../errors.js'
import { validateFhirResource } from './validate.js'

const observation = (extra: Record<string, unknown>) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { text: 'Heart rate' },
  ...extra,
})

function rejects(resource: unknown, path: RegExp) {
  assert.throws(
    () => validateFhirResource(resource),
    (error: unknown) => {
      assert.ok(error instanceof InvalidInputError)
      assert.match(error.message, path)
      // The offending value is never echoed.
      assert.doesNotMatch(error.message, /bogus/)
      return true
    },
  )
}

describe('required bindings', () => {
  it('refuses a code outside its required value set, naming the path', () => {
    rejects(observation({ status: 'bogus' }), /Observation\.status: not a code of the required value set observation-status/)
  })

  it('checks nested elements, Codings and CodeableConcepts, and resources inside a Bundle', () => {
    rejects(
      observation({ component: [{ code: { text: 'x' }, valueQuantity: { value: 1, comparator: 'bogus' } }] }),
      /Observation\.component\[0\]\.valueQuantity\.comparator/,
    )
    rejects(
      {
        resourceType: 'AllergyIntolerance',
        patient: { reference: 'Patient/1' },
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'bogus' }] },
      },
      /AllergyIntolerance\.clinicalStatus: not a code/,
    )
    rejects(
      { resourceType: 'Bundle', type: 'collection', entry: [{ resource: observation({ status: 'bogus' }) }] },
      /Bundle\.entry\[0\]\.resource\.status/,
    )
    rejects({ resourceType: 'Bundle', type: 'bogus' }, /Bundle\.type/)
  })

  it('accepts codes of the value set, and leaves value sets it cannot expand (SNOMED CT, filters) alone', () => {
    for (const status of ['registered', 'preliminary', 'final', 'amended', 'corrected', 'cancelled', 'entered-in-error', 'unknown'])
      validateFhirResource(observation({ status }))
    validateFhirResource({
      resourceType: 'Condition',
      subject: { reference: 'Patient/1' },
      code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003' }] },
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    })
  })
})
