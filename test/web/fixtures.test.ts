import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { storedSecrets } from './fixtures.js'

/** A dump of localStorage as the portal's history cache leaves it: a sealed value in base64. */
const dump = (ciphertext: string) => JSON.stringify({ 'medvault.history.v1.0xabc': JSON.stringify({ iv: '0x00', ciphertext }) })

describe('storedSecrets, the browser tests’ scan of localStorage', () => {
  it('does not take random ciphertext that happens to hold "eyJ" for a token', () => {
    // Base64 whose bytes spell "eyJ" at a 4-character boundary, inside 16 KiB of random ones.
    const sealed = Buffer.concat([randomBytes(8_190), Buffer.from('eyJA', 'base64'), randomBytes(8_190)]).toString('base64')
    assert.ok(sealed.includes('eyJ'))
    assert.deepEqual(storedSecrets(dump(sealed)), [])
  })

  it('finds a session token kept in the clear', () => {
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIweGFiYyJ9.c2lnbmF0dXJl'
    assert.deepEqual(storedSecrets(JSON.stringify({ session: jwt })), ['a token (eyJhbGciOiJF…)'])
  })

  it('finds plaintext health data and key names', () => {
    assert.deepEqual(storedSecrets('{"display":"Glucose","unit":"mg/dL","privateKey":"0x1"}'), ['Glucose', 'mg/dL', 'privateKey'])
  })
})
