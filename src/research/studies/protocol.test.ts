import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { zeroHash } from 'viem'
import { criteriaHash, criteriaOf, meetsCriteria } from './protocol.js'
import { datasetCommitment, studyPseudonymKey } from './dataset.js'

const loinc = { system: 'http://loinc.org', code: '2345-7' }
const cvx = { system: 'http://hl7.org/fhir/sid/cvx', code: '208' }

describe('study protocol criteria', () => {
  it('reads coded criteria from a JSON protocol, none from any other document', () => {
    assert.deepEqual(criteriaOf(Buffer.from(JSON.stringify({ title: 't', criteria: [loinc, { ...cvx, display: 'x' }] }))), [loinc, cvx])
    assert.deepEqual(criteriaOf(Buffer.from('%PDF-1.7 not json')), [])
    assert.deepEqual(criteriaOf(Buffer.from('{"title": "no criteria"}')), [])
  })

  it('refuses malformed criteria', () => {
    assert.throws(() => criteriaOf(Buffer.from('{"criteria": [{"system": "http://loinc.org"}]}')), { name: 'InvalidInputError' })
    assert.throws(() => criteriaOf(Buffer.from('{"criteria": "2345-7"}')), { name: 'InvalidInputError' })
  })

  it('hashes criteria independently of their order, and no criteria to the zero hash', () => {
    assert.equal(criteriaHash([loinc, cvx]), criteriaHash([cvx, loinc]))
    assert.notEqual(criteriaHash([loinc]), criteriaHash([cvx]))
    assert.equal(criteriaHash([]), zeroHash)
  })

  it('matches a coding anywhere in a resource, by system and code together', () => {
    const glucose = { resourceType: 'Observation', code: { coding: [loinc] } }
    assert.equal(meetsCriteria(glucose, [cvx, loinc]), true)
    assert.equal(meetsCriteria(glucose, [cvx]), false)
    assert.equal(
      meetsCriteria({ resourceType: 'Observation', code: { coding: [{ system: 'http://snomed.info/sct', code: '2345-7' }] } }, [loinc]),
      false,
    )
    assert.equal(meetsCriteria(glucose, []), true, 'a study without coded criteria takes any record of its categories')
  })
})

describe('study datasets', () => {
  it('derives one stable pseudonym key per seed, different across seeds and not the seed itself', () => {
    const seed = new Uint8Array(32).fill(7)
    assert.deepEqual(studyPseudonymKey(seed), studyPseudonymKey(Uint8Array.from(seed)))
    assert.notDeepEqual(studyPseudonymKey(seed), studyPseudonymKey(new Uint8Array(32).fill(8)))
    assert.notDeepEqual(studyPseudonymKey(seed), seed)
  })

  it('commits to the NDJSON with its SHA-256', () => {
    assert.equal(datasetCommitment(Buffer.from('abc')), '0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })
})
