import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Hex } from 'viem'
import { queryAuditLog } from '../../src/audit/index.js'
import { type ClaimPresentation, proveClaim, verifyClaim } from '../../src/claims/index.js'
import { type TestStack, issueExample, openTestStack } from './stack.js'

describe('proof of treatment: selective disclosure for an insurer', () => {
  let s: TestStack
  let glucose: bigint
  const mv = () => s.mv

  before(async () => {
    s = await openTestStack({ providers: { lab: 'Lab A' }, others: ['alice', 'insurer', 'other-insurer'] })
    glucose = await issueExample(s, 'glucose.json', 'lab', 'alice')
  })
  after(() => s.dispose())

  const prove = (nonce?: Hex) =>
    proveClaim(mv(), {
      patient: s.accounts.alice!,
      tokenIds: [glucose],
      fields: ['/code/coding/0/code', '/effectiveDateTime'],
      audience: s.accounts.insurer!.address,
      ...(nonce ? { nonce } : {}),
    })

  it('the insurer sees exactly the disclosed fields, and undisclosed values appear nowhere in the presentation', async () => {
    const presentation = await prove()
    // Digests, salts and signatures are hex and may contain any digits by chance; everything else is searched.
    const text = JSON.stringify(presentation, (_k, v) => (typeof v === 'string' && /^0x[0-9a-fA-F]+$/.test(v) ? '<hex>' : v))
    for (const hidden of ['Alice Example', 'mg/dL', '112', 'Glucose', '2026-11-20T14:02:00Z', 'Patient/example']) {
      assert.equal(text.includes(hidden), false, `"${hidden}" must not be in the presentation`)
    }
    const verdict = await verifyClaim(mv(), { presentation, verifier: s.accounts.insurer!.address })
    assert.equal(verdict.valid, true, JSON.stringify(verdict.checks))
    assert.deepEqual(verdict.disclosed[0]!.fields, { '/code/coding/0/code': '2345-7', '/effectiveDateTime': '2026-11-20T08:30:00Z' })
    assert.equal(verdict.disclosed[0]!.issuer, 'Lab A')
    const trail = await queryAuditLog(mv().paths.audit, { tokenId: glucose.toString() })
    assert.ok(trail.some((e) => e.actor === s.accounts.insurer!.address && e.action === 'verify' && e.outcome === 'allowed'))
  })

  it('fails when replayed to another insurer, replayed to the same one, or with an altered field', async () => {
    const presentation = await prove()
    const elsewhere = await verifyClaim(mv(), { presentation, verifier: s.accounts['other-insurer']!.address })
    assert.equal(elsewhere.valid, false)
    assert.equal(elsewhere.checks.find((c) => c.id === 'audience')?.ok, false)
    assert.deepEqual(elsewhere.disclosed, [])

    const seen = new Set<string>()
    const once = async (nonce: Hex) => {
      const used = seen.has(nonce)
      seen.add(nonce)
      return used
    }
    assert.equal((await verifyClaim(mv(), { presentation, verifier: s.accounts.insurer!.address, seenNonce: once })).valid, true)
    assert.equal((await verifyClaim(mv(), { presentation, verifier: s.accounts.insurer!.address, seenNonce: once })).valid, false)

    const altered: ClaimPresentation = structuredClone(presentation)
    altered.items[0]!.disclosures[1]!.value = '2026-11-01T08:30:00Z'
    const forged = await verifyClaim(mv(), { presentation: altered, verifier: s.accounts.insurer!.address })
    assert.equal(forged.valid, false)

    const wrongNonce = await verifyClaim(mv(), {
      presentation,
      verifier: s.accounts.insurer!.address,
      expectedNonce: `0x${'00'.repeat(32)}`,
    })
    assert.equal(wrongNonce.valid, false)
  })

  it("a presentation by someone other than the record's owner is refused", async () => {
    const presentation = await prove()
    const byInsurer = await s.accounts.insurer!.chainAccount.signTypedData({
      domain: { name: 'medvault', version: '1', chainId: mv().deployment.chainId, verifyingContract: mv().deployment.records },
      types: {
        ClaimPresentation: [
          { name: 'audience', type: 'address' },
          { name: 'nonce', type: 'bytes32' },
          { name: 'itemsHash', type: 'bytes32' },
        ],
      },
      primaryType: 'ClaimPresentation',
      message: { audience: presentation.audience, nonce: presentation.nonce, itemsHash: `0x${'11'.repeat(32)}` },
    })
    const verdict = await verifyClaim(mv(), {
      presentation: { ...presentation, signature: byInsurer },
      verifier: s.accounts.insurer!.address,
    })
    assert.equal(verdict.valid, false)
  })
})
