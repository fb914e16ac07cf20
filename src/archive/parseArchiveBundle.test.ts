import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type Address, getAddress } from 'viem'
import { MalformedBundleError } from '../errors.js'
import { ACCOUNT_IDENTIFIER_SYSTEM, archiveEntriesFromResources, parseArchiveBundle } from './parseArchiveBundle.js'
import { syntheticArchiveBundle } from './syntheticArchive.js'

const ALICE: Address = getAddress('0x70997970c51812dc3a010c7d01b50e20d17dc79c')
const BOB: Address = getAddress('0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc')
const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value))

const observation = (subject: string) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '2339-0' }] },
  subject: { reference: subject },
  valueQuantity: { value: 95, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
})
const patient = (id: string, account?: Address, chainId = 31337) => ({
  resourceType: 'Patient',
  id,
  ...(account ? { identifier: [{ system: ACCOUNT_IDENTIFIER_SYSTEM, value: `eip155:${chainId}:${account}` }] } : {}),
})

describe('parseArchiveBundle', () => {
  it('gives each resource to the Patient its subject names, by fullUrl or Patient/<id>, and skips the Patients', () => {
    const parsed = parseArchiveBundle(
      bytes({
        resourceType: 'Bundle',
        type: 'collection',
        entry: [
          { fullUrl: 'urn:uuid:a', resource: patient('a', ALICE) },
          { fullUrl: 'urn:uuid:b', resource: patient('b', BOB) },
          { resource: observation('urn:uuid:a') },
          { resource: observation('Patient/b') },
          { resource: observation('https://ehr.example/fhir/Patient/a') },
        ],
      }),
      { chainId: 31337 },
    )
    assert.deepEqual(parsed.patients, [ALICE, BOB])
    assert.deepEqual(
      parsed.entries.map((e) => [e.index, e.patient, e.category]),
      [
        [2, ALICE, 'other'],
        [3, BOB, 'other'],
        [4, ALICE, 'other'],
      ],
    )
    assert.deepEqual(
      parsed.skipped.map((s) => s.index),
      [0, 1],
    )
  })

  it('reads the synthetic several-patient archive', () => {
    const parsed = parseArchiveBundle(bytes(syntheticArchiveBundle({ patients: [ALICE, BOB], resourcesPerPatient: 10, chainId: 5 })), {
      chainId: 5,
    })
    assert.equal(parsed.entries.length, 20)
    assert.equal(parsed.entries.filter((e) => e.patient === BOB).length, 10)
  })

  it('refuses, naming entries and never values: a Patient without an account here, a resource naming no Patient, an invalid resource', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { fullUrl: 'urn:uuid:a', resource: patient('a', ALICE, 1) },
        { fullUrl: 'urn:uuid:b', resource: patient('b', BOB) },
        { resource: observation('Patient/secret-id-123') },
        { resource: { ...observation('Patient/b'), valueQuantity: 'not-a-quantity-xyz' } },
      ],
    }
    assert.throws(
      () => parseArchiveBundle(bytes(bundle), { chainId: 31337 }),
      (e: unknown) => {
        assert.ok(e instanceof MalformedBundleError)
        assert.match(e.message, /^3 of 4 Bundle entries cannot be archived/)
        assert.match(e.message, /entry\[0\] \(Patient\): no identifier/)
        assert.match(e.message, /entry\[2\] \(Observation\): its subject or patient names none of the Bundle's Patients/)
        assert.match(e.message, /entry\[3\]/)
        assert.doesNotMatch(e.message, /secret-id-123|not-a-quantity-xyz/)
        return true
      },
    )
  })

  it('refuses what is not an archive Bundle', () => {
    assert.throws(() => parseArchiveBundle(bytes({ resourceType: 'Patient' }), { chainId: 1 }), MalformedBundleError)
    assert.throws(
      () => parseArchiveBundle(bytes({ resourceType: 'Bundle', type: 'document', entry: [] }), { chainId: 1 }),
      MalformedBundleError,
    )
    assert.throws(
      () => parseArchiveBundle(bytes({ resourceType: 'Bundle', type: 'collection', entry: [] }), { chainId: 1 }),
      MalformedBundleError,
    )
    assert.throws(() => parseArchiveBundle(new TextEncoder().encode('{'), { chainId: 1 }), MalformedBundleError)
  })
})

describe('archiveEntriesFromResources', () => {
  it('validates and categorises a list of resources with their patients', () => {
    const entries = archiveEntriesFromResources([
      { patient: ALICE, resource: observation('Patient/x') },
      { patient: BOB, resource: observation('Patient/y') },
    ])
    assert.deepEqual(
      entries.map((e) => [e.index, e.patient]),
      [
        [0, ALICE],
        [1, BOB],
      ],
    )
  })

  it('names the positions of bad items: a patient that is not an address, something that is not a resource', () => {
    assert.throws(
      () =>
        archiveEntriesFromResources([
          { patient: 'alice' as Address, resource: observation('Patient/x') },
          { patient: BOB, resource: 'text' },
        ]),
      /2 of 2 resources cannot be archived: resource 0: .*; resource 1: /,
    )
  })
})
