import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SignJWT } from 'jose'
import { HttpError } from '../outcomes.js'
import { createSessionTokens } from './sessionToken.js'

const ALICE = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const secret = new Uint8Array(32).fill(7)
const refused = (error: unknown) => error instanceof HttpError && error.status === 401

describe('session tokens', () => {
  it('a verified token is accepted again until the second it expires, then refused though it was kept', async () => {
    let clock = Date.UTC(2026, 0, 1, 12, 0, 0, 250)
    const tokens = createSessionTokens(secret, 60, () => clock)
    const { token, expiresAt } = await tokens.issue(ALICE, 31337)
    assert.deepEqual(await tokens.verify(token), { address: ALICE, chainId: 31337, expiresAt })
    assert.deepEqual(await tokens.verify(token), { address: ALICE, chainId: 31337, expiresAt })
    clock = expiresAt.getTime() - 1 // the last millisecond of its last second
    assert.equal((await tokens.verify(token)).address, ALICE)
    clock = expiresAt.getTime()
    await assert.rejects(tokens.verify(token), refused)
    // Refused for good: the expired token left the cache and jose refuses it too.
    await assert.rejects(tokens.verify(token), refused)
    const fresh = createSessionTokens(secret, 60, () => expiresAt.getTime())
    await assert.rejects(fresh.verify(token), refused, 'jose refuses it at the same second')
  })

  it('a token altered in any part, or signed with another secret, is refused, also after the real one was accepted', async () => {
    const tokens = createSessionTokens(secret, 60)
    const { token } = await tokens.issue(ALICE, 31337)
    await tokens.verify(token)
    const [header, payload, signature] = token.split('.') as [string, string, string]
    // The first character: all six of its bits are signature. The last one of a 32-byte HMAC in
    // base64url carries two padding bits, so changing it could leave the same bytes (a flaky test).
    const flip = (s: string) => `${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>
    const otherSub = Buffer.from(JSON.stringify({ ...claims, sub: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' })).toString('base64url')
    for (const forged of [`${header}.${payload}.${flip(signature)}`, `${header}.${otherSub}.${signature}`, `${token}x`]) {
      await assert.rejects(tokens.verify(forged), refused)
    }
    const elsewhere = createSessionTokens(new Uint8Array(32).fill(8), 60)
    await assert.rejects(elsewhere.verify(token), refused)
    assert.equal((await tokens.verify(token)).address, ALICE)
  })

  it('a token with a not-before time is checked in full every time (it is not kept)', async () => {
    let clock = Date.UTC(2026, 0, 1, 12, 0, 0)
    const tokens = createSessionTokens(secret, 60, () => clock)
    const second = Math.floor(clock / 1000)
    const token = await new SignJWT({ chainId: 1 })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(ALICE)
      .setIssuer('medvault')
      .setAudience('medvault-api')
      .setIssuedAt(second)
      .setNotBefore(second)
      .setExpirationTime(second + 60)
      .sign(secret)
    assert.equal((await tokens.verify(token)).address, ALICE)
    clock -= 10_000 // before its not-before time: jose refuses it, and no kept answer says otherwise
    await assert.rejects(tokens.verify(token), refused)
  })
})
