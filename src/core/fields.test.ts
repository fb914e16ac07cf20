import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { commitFields, disclosureDigest, fieldsHash, leavesOf } from './fields.js'

const observation = {
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  valueQuantity: { value: 72, unit: '/min' },
  note: [{ text: 'a/b~c' }],
}

describe('commitFields', () => {
  it('gives every leaf its own 16-byte salt, and the digests hash to the signed value', () => {
    const { salts, digests, hash } = commitFields(observation)
    const leaves = leavesOf(observation)
    assert.deepEqual(
      Object.keys(salts),
      leaves.map((l) => l.path),
    )
    assert.ok(leaves.some((l) => l.path === '/note/0/text'))
    for (const salt of Object.values(salts)) assert.match(salt, /^0x[0-9a-f]{32}$/)
    assert.equal(new Set(Object.values(salts)).size, leaves.length)
    assert.deepEqual(
      digests,
      leaves.map((l) => disclosureDigest(salts[l.path] as `0x${string}`, l.path, l.value)),
    )
    assert.equal(hash, fieldsHash(digests))
  })

  it('draws fresh salts each time, so two commitments of one resource differ', () => {
    const a = commitFields(observation)
    const b = commitFields(observation)
    assert.notEqual(a.hash, b.hash)
    for (const path of Object.keys(a.salts)) assert.notEqual(a.salts[path], b.salts[path])
  })
})
