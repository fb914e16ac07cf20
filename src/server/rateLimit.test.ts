import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createRateLimiter } from './rateLimit.js'

describe('createRateLimiter', () => {
  it('allows a burst of the per-minute budget, then refuses with the seconds to wait', () => {
    const limiter = createRateLimiter(60)
    const t = 1_000_000
    for (let i = 0; i < 60; i++) assert.equal(limiter.take('a', t).ok, true)
    const refused = limiter.take('a', t)
    assert.deepEqual(refused, { ok: false, retryAfterSeconds: 1 })
  })

  it('refills at the per-minute rate, and keeps accounts apart', () => {
    const limiter = createRateLimiter(60)
    const t = 1_000_000
    for (let i = 0; i < 60; i++) limiter.take('a', t)
    assert.equal(limiter.take('b', t).ok, true)
    assert.equal(limiter.take('a', t + 500).ok, false)
    assert.equal(limiter.take('a', t + 1000).ok, true)
    assert.equal(limiter.take('a', t + 1000).ok, false)
  })
})
