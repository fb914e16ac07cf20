import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { shouldAnchor } from './policy.js'

const policy = { batchSize: 100, intervalSeconds: 600 }
const now = new Date('2025-06-01T12:00:00.000Z')
const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000)

describe('shouldAnchor', () => {
  it('never anchors nothing', () => {
    assert.equal(shouldAnchor({ pending: 0, oldestPendingAt: ago(10_000) }, policy, now), false)
  })
  it('anchors a full batch at once', () => {
    assert.equal(shouldAnchor({ pending: 100, oldestPendingAt: ago(1) }, policy, now), true)
    assert.equal(shouldAnchor({ pending: 250 }, policy, now), true)
  })
  it('anchors a partial batch once its oldest entry is interval old', () => {
    assert.equal(shouldAnchor({ pending: 3, oldestPendingAt: ago(599) }, policy, now), false)
    assert.equal(shouldAnchor({ pending: 3, oldestPendingAt: ago(600) }, policy, now), true)
    assert.equal(shouldAnchor({ pending: 3, oldestPendingAt: ago(601).toISOString() }, policy, now), true)
    assert.equal(shouldAnchor({ pending: 3 }, policy, now), false)
  })
  it('anchors when the oldest time is unreadable rather than wait forever', () => {
    assert.equal(shouldAnchor({ pending: 1, oldestPendingAt: 'yesterday-ish' }, policy, now), true)
  })
  it('defaults to the current time', () => {
    assert.equal(shouldAnchor({ pending: 1, oldestPendingAt: new Date(Date.now() - 700_000) }, policy), true)
  })
})
