import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InvalidInputError } from '../errors.js'
import { faultCheckpoint } from './faults.js'

describe('faultCheckpoint (MEDVAULT_FAULT)', () => {
  it('does nothing without a spec, or for another component', () => {
    assert.equal(faultCheckpoint(undefined), undefined)
    assert.equal(faultCheckpoint(''), undefined)
    assert.equal(faultCheckpoint('server:after-start:1'), undefined)
  })

  it('kills the n-th time the named point is reached, and only then', () => {
    const kills: string[] = []
    const checkpoint = faultCheckpoint('import:after-submit:3', () => kills.push('kill'))!
    checkpoint('after-submit', 1)
    checkpoint('after-submit', 2)
    checkpoint('before-send', 3)
    assert.deepEqual(kills, [])
    checkpoint('after-submit', 3)
    assert.deepEqual(kills, ['kill'])
  })

  it('refuses a malformed spec', () => {
    for (const spec of ['import:after-lunch:1', 'import:after-seal', 'import:after-seal:0', 'import:after-seal:x']) {
      assert.throws(() => faultCheckpoint(spec, () => undefined), InvalidInputError, spec)
    }
  })
})
