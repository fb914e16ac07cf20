import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { http, createPublicClient } from 'viem'
import { foundry } from 'viem/chains'
import { type NonceStore, createSiweAuth } from './siwe.js'
import { createSessionTokens } from './sessionToken.js'

/** The nonce table as a Map: the same contract as the index store's (put once, consume once). */
function memoryNonces(): NonceStore & { size(): number } {
  const nonces = new Map<string, Date>()
  return {
    async putNonce(nonce, expiresAt) {
      if (nonces.has(nonce)) throw new Error('duplicate nonce')
      nonces.set(nonce, expiresAt)
    },
    async consumeNonce(nonce, now) {
      const expiresAt = nonces.get(nonce)
      nonces.delete(nonce)
      return expiresAt !== undefined && expiresAt > now
    },
    size: () => nonces.size,
  }
}

describe('SIWE nonces', () => {
  // Finding: viem's generateSiweNonce slides a window over one Math.random buffer, so each nonce
  // was the previous one shifted by a character. A 16-character window is 64 bits: across 10,000
  // independent 128-bit nonces, a repeat by chance has odds of about 1 in 10^8.
  it('10,000 nonces: 128 bits each, all distinct, and no 16-character substring shared by any two', async () => {
    const siwe = createSiweAuth({
      publicClient: createPublicClient({ chain: foundry, transport: http('http://127.0.0.1:1') }),
      chainId: foundry.id,
      domains: ['localhost:1'],
      origins: ['http://localhost:1'],
      nonces: memoryNonces(),
      tokens: createSessionTokens(new Uint8Array(32), 60),
    })
    const WINDOW = 16
    const seen = new Map<string, number>()
    const all: string[] = []
    for (let i = 0; i < 10_000; i++) {
      const { nonce } = await siwe.nonce()
      assert.match(nonce, /^[0-9a-f]{32,}$/, 'at least 128 bits, hex (EIP-4361: alphanumeric, 8 or more)')
      all.push(nonce)
      for (let at = 0; at + WINDOW <= nonce.length; at++) {
        const piece = nonce.slice(at, at + WINDOW)
        const other = seen.get(piece)
        assert.ok(other === undefined || other === i, `nonces ${other} and ${i} share "${piece}"`)
        seen.set(piece, i)
      }
    }
    assert.equal(new Set(all).size, all.length)
  })
})
