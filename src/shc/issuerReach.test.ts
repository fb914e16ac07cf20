import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { issuerUrlReachProblem, issuerUrlWarning } from './issuerReach.js'

describe('issuer URLs an outside verifier can reach', () => {
  it('flags localhost, loopback, private and link-local addresses, non-public names and http', () => {
    for (const iss of [
      'https://localhost/medvault/issuers/0xabc',
      'https://api.localhost/issuers',
      'https://127.0.0.1:8443/issuers',
      'https://10.1.2.3/issuers',
      'https://172.20.0.5/issuers',
      'https://192.168.1.10/issuers',
      'https://169.254.0.1/issuers',
      'https://[::1]/issuers',
      'https://[fd00::1]/issuers',
      'https://[::ffff:127.0.0.1]/issuers',
      'https://medvault/issuers',
      'https://clinic.local/issuers',
      'http://records.example.org/issuers',
    ]) {
      assert.ok(issuerUrlReachProblem(iss), iss)
    }
  })

  it('accepts public names and addresses', () => {
    for (const iss of [
      'https://records.clinic.org/issuers',
      'https://8.8.8.8/issuers',
      'https://[2001:4860::1]/issuers',
      'https://172.32.0.1/x',
    ]) {
      assert.equal(issuerUrlReachProblem(iss), undefined, iss)
    }
  })

  it('the warning says what is wrong and how to fix it', () => {
    const w = issuerUrlWarning('https://localhost/medvault/issuers/0x1')!
    assert.match(w, /names localhost/)
    assert.match(w, /medvault start --public-url https:\/\/HOST/)
    assert.match(w, /healthCards\.issuerBaseUrl/)
    assert.equal(issuerUrlWarning('https://records.clinic.org/issuers/0x1'), undefined)
  })
})
