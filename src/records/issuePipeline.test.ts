import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { Sensitivity, categoryCode } from '../core/index.js'
import { issueTerms, mintCall, mintConsent, mintRequestFor } from './issuePipeline.js'

const patient = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const commitment = `0x${'ab'.repeat(32)}` as const

describe('the issue pipeline steps', () => {
  it("terms carry the category's code and always its own sensitivity flag", () => {
    assert.deepEqual(issueTerms({ category: 'laboratory' }), { category: categoryCode('laboratory'), sensitivity: 0, supersedes: 0n })
    const mental = issueTerms({ category: 'mental-health', sensitivity: Sensitivity.genetic, supersedes: 7n })
    assert.equal(mental.sensitivity, Sensitivity.mentalHealth | Sensitivity.genetic)
    assert.equal(mental.supersedes, 7n)
  })

  it('mints a new record and amends a correction, with the same request, deadline and consent', () => {
    const request = mintRequestFor({ patient, commitment, cid: CID.parse('bafkqaaa'), terms: issueTerms({ category: 'laboratory' }) })
    assert.deepEqual(mintCall({ supersedes: 0n }, request, 5n, '0x01'), { functionName: 'mint', args: [request, 5n, '0x01'] })
    assert.deepEqual(mintCall({ supersedes: 3n }, request, 5n, '0x01'), { functionName: 'amend', args: [3n, request, 5n, '0x01'] })
  })

  it("the mint request names the stored ciphertext by its CID's digest and codec", async () => {
    const cid = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode('ciphertext')))
    const terms = issueTerms({ category: 'imaging', sensitivity: Sensitivity.restricted })
    const request = mintRequestFor({ patient, commitment, cid, terms })
    assert.equal(request.cidCodec, 0x55)
    assert.equal(request.cidDigest, `0x${Buffer.from(cid.multihash.digest).toString('hex')}`)
    assert.equal(CID.createV1(request.cidCodec, cid.multihash).equals(cid), true)
    assert.equal(request.sensitivity, terms.sensitivity)
    assert.equal(request.category, terms.category)
  })

  it('under a standing authorisation there is no consent to sign', async () => {
    // No chain is touched: a standing authorisation needs neither the nonce nor a signature.
    const ctx = {} as Parameters<typeof mintConsent>[0]
    assert.deepEqual(
      await mintConsent(ctx, { consent: { standing: true }, issuer: patient, commitment, terms: issueTerms({ category: 'laboratory' }) }),
      {
        deadline: 0n,
        consent: '0x',
      },
    )
  })
})
