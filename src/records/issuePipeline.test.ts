import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { bytesToHex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { Sensitivity, categoryCode } from '../core/index.js'
import { encryptionKeyPairFromSeed, generateEncryptionSeed } from '../crypto/index.js'
import { createHeliaStore } from '../storage/index.js'
import { openEnvelope } from './envelope.js'
import { issueTerms, mintCall, mintConsent, mintRequestFor, sealForIssue } from './issuePipeline.js'
import { commitContent } from './sealRecord.js'

async function collect(source: AsyncIterable<Uint8Array>) {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}

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

  describe('the seal step', () => {
    const dir = mkdtempSync(join(tmpdir(), 'medvault-pipeline-'))
    after(() => rmSync(dir, { recursive: true, force: true }))

    it('seals an amendment for the patient under the resolved terms, and its request names the stored ciphertext', async () => {
      const store = await createHeliaStore(dir)
      try {
        const ctx = { deployment: { chainId: 31337, records: '0x5FbDB2315678afecb367f032d93F642f64180aa3' as const }, store }
        const issuer = privateKeyToAccount(generatePrivateKey())
        const patientAccount = privateKeyToAccount(generatePrivateKey())
        const seed = generateEncryptionSeed()
        const patientRecipient = {
          address: patientAccount.address,
          encryptionPublicKey: bytesToHex((await encryptionKeyPairFromSeed(seed)).publicKey),
        }
        const bytes = new TextEncoder().encode('{"resourceType":"Observation","status":"final"}')
        const terms = issueTerms({ category: 'mental-health', supersedes: 4n })
        const committed = await commitContent({ bytes })
        const sealed = await sealForIssue(ctx as never, {
          issuer,
          input: { patient: patientRecipient, content: { bytes }, contentType: 'application/json' },
          terms,
          committed,
        })
        try {
          assert.equal(sealed.commitment, committed.commitment)
          assert.deepEqual(
            sealed.request,
            mintRequestFor({ patient: patientAccount.address, commitment: committed.commitment, cid: sealed.cid, terms }),
          )
          const opened = await openEnvelope(store.cat(sealed.cid), { address: patientAccount.address, encryptionSeed: seed })
          assert.equal(opened.meta.category, categoryCode('mental-health'))
          assert.equal(opened.meta.sensitivity, Sensitivity.mentalHealth)
          assert.equal(opened.meta.supersedes, '4')
          assert.equal(opened.meta.issuer, issuer.address)
          assert.equal(opened.meta.contentType, 'application/json')
          assert.deepEqual(await collect(opened.content), Buffer.from(bytes))
        } finally {
          sealed.recordKey.fill(0)
        }
      } finally {
        await store.close()
      }
    })
  })
})
