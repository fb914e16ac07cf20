import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { zeroHash } from 'viem'
import { criteriaHash, criteriaOf, meetsCriteria, protocolWithDescription } from './protocol.js'
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

describe('study protocol description', () => {
  const json = (o: unknown) => Buffer.from(JSON.stringify(o))
  const parse = (b: Uint8Array) => JSON.parse(Buffer.from(b).toString('utf8'))

  it('writes the description into a JSON protocol that has none, keeping the rest', () => {
    const { bytes, description } = protocolWithDescription(json({ title: 't', criteria: [loinc] }), 'HbA1c study')
    assert.equal(description, 'HbA1c study')
    assert.deepEqual(parse(bytes), { title: 't', criteria: [loinc], description: 'HbA1c study' })
    assert.deepEqual(criteriaOf(bytes), [loinc])
  })

  it("takes a JSON protocol's own description, and refuses a different one given beside it", () => {
    const protocol = json({ description: 'In the document' })
    assert.deepEqual(protocolWithDescription(protocol, undefined), { bytes: protocol, description: 'In the document' })
    assert.deepEqual(protocolWithDescription(protocol, 'In the document'), { bytes: protocol, description: 'In the document' })
    assert.throws(() => protocolWithDescription(protocol, 'Another'), { name: 'InvalidInputError', message: /differs/ })
    assert.throws(() => protocolWithDescription(json({ description: 7 }), undefined), { name: 'InvalidInputError' })
  })

  it('stores any other document as given, and then needs the description beside it', () => {
    const pdf = Buffer.from('%PDF-1.7 not json')
    assert.deepEqual(protocolWithDescription(pdf, 'A PDF study'), { bytes: pdf, description: 'A PDF study' })
    assert.throws(() => protocolWithDescription(pdf, undefined), { name: 'InvalidInputError', message: /needs a short description/ })
    assert.throws(() => protocolWithDescription(json({}), '  '), { name: 'InvalidInputError' })
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
