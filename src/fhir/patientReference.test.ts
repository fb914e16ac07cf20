import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InvalidInputError } from '../errors.js'
import { checkPatientOf, patientAccountOf } from './patientReference.js'

const alice = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const bob = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'

describe('the patient a resource names', () => {
  it('refuses a subject, patient or identifier naming another account, naming the element only', () => {
    for (const resource of [
      { resourceType: 'Observation', subject: { reference: `Patient/${bob}` } },
      { resourceType: 'Immunization', patient: { reference: `https://elsewhere.example/fhir/Patient/${bob.toLowerCase()}` } },
      { resourceType: 'Coverage', beneficiary: { identifier: { value: `eip155:31337:${bob}` } } },
    ]) {
      assert.throws(
        () => checkPatientOf(resource, alice, 31337),
        (e: unknown) => e instanceof InvalidInputError && !e.message.includes(bob) && /names a different patient/.test(e.message),
      )
    }
  })

  it('accepts the patient itself and references that name no account', () => {
    checkPatientOf({ resourceType: 'Observation', subject: { reference: `Patient/${alice.toLowerCase()}` } }, alice, 31337)
    checkPatientOf({ resourceType: 'Observation', subject: { reference: 'urn:uuid:1f3e' } }, alice, 31337)
    checkPatientOf({ resourceType: 'Observation', subject: { reference: 'Patient/example' } }, alice, 31337)
    // Another chain's identifier is not this chain's account.
    checkPatientOf({ resourceType: 'Observation', subject: { identifier: { value: `eip155:1:${bob}` } } }, alice, 31337)
    assert.equal(patientAccountOf({ resourceType: 'Observation', subject: { reference: `Patient/${alice}` } }, 31337), alice)
    assert.equal(patientAccountOf({ resourceType: 'Observation' }, 31337), undefined)
  })
})
