import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { bytesToHex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { randomBytes } from 'node:crypto'
import { createFileTagTableStore, shareTagTable, tagTableFor } from '../consent/tagTables.js'
import { Sensitivity, buildTagTable, categoryCode, categoryTag } from '../core/index.js'
import { MissingTagsError } from '../errors.js'
import { encryptionKeyPairFromSeed, generateEncryptionSeed } from '../crypto/index.js'
import { createHeliaStore } from '../storage/index.js'
import { openEnvelope } from './envelope.js'
import { issueTerms, mintCall, mintConsent, mintRequestFor, sealForIssue, shareTagsWithIssuer, tagForIssue } from './issuePipeline.js'
import { commitContent } from './sealRecord.js'

async function collect(source: AsyncIterable<Uint8Array>) {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}

const patient = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const commitment = `0x${'ab'.repeat(32)}` as const
const tag = '0x0123456789abcdef' as const

describe('the issue pipeline steps', () => {
  it("terms carry the category's code, always its own sensitivity flag, and the given tag", () => {
    assert.deepEqual(issueTerms({ category: 'laboratory', tag }), {
      category: categoryCode('laboratory'),
      sensitivity: 0,
      tag,
      supersedes: 0n,
    })
    const mental = issueTerms({ category: 'mental-health', sensitivity: Sensitivity.genetic, supersedes: 7n, tag })
    assert.equal(mental.sensitivity, Sensitivity.mentalHealth | Sensitivity.genetic)
    assert.equal(mental.supersedes, 7n)
  })

  it('mints a new record and amends a correction, with the same request, deadline and consent', () => {
    const request = mintRequestFor({ patient, commitment, cid: CID.parse('bafkqaaa'), terms: issueTerms({ category: 'laboratory', tag }) })
    assert.deepEqual(mintCall({ supersedes: 0n }, request, 5n, '0x01'), { functionName: 'mint', args: [request, 5n, '0x01'] })
    assert.deepEqual(mintCall({ supersedes: 3n }, request, 5n, '0x01'), { functionName: 'amend', args: [3n, request, 5n, '0x01'] })
  })

  it("the mint request names the stored ciphertext by its CID's digest and codec", async () => {
    const cid = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode('ciphertext')))
    const terms = issueTerms({ category: 'imaging', sensitivity: Sensitivity.restricted, tag })
    const request = mintRequestFor({ patient, commitment, cid, terms })
    assert.equal(request.cidCodec, 0x55)
    assert.equal(request.cidDigest, `0x${Buffer.from(cid.multihash.digest).toString('hex')}`)
    assert.equal(CID.createV1(request.cidCodec, cid.multihash).equals(cid), true)
    // Only the tag reaches the chain: the category and flags stay in the sealed envelope.
    assert.equal(request.tag, tag)
    assert.equal('category' in request || 'sensitivity' in request, false)
  })

  it('under a standing authorisation there is no consent to sign', async () => {
    // No chain is touched: a standing authorisation needs neither the nonce nor a signature.
    const ctx = {} as Parameters<typeof mintConsent>[0]
    assert.deepEqual(
      await mintConsent(ctx, {
        consent: { standing: true },
        issuer: patient,
        commitment,
        terms: issueTerms({ category: 'laboratory', tag }),
      }),
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
        const terms = issueTerms({ category: 'mental-health', supersedes: 4n, tag })
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
          assert.equal(opened.meta.tag, tag)
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

  describe("the record's tag", () => {
    const dir = mkdtempSync(join(tmpdir(), 'medvault-tags-'))
    after(() => rmSync(dir, { recursive: true, force: true }))

    async function accountOf() {
      const chainAccount = privateKeyToAccount(generatePrivateKey())
      const encryptionSeed = generateEncryptionSeed()
      const encryptionPublicKey = bytesToHex((await encryptionKeyPairFromSeed(encryptionSeed)).publicKey)
      return { address: chainAccount.address, chainAccount, encryptionSeed, encryptionPublicKey, tagSecret: randomBytes(32) }
    }

    it("is the patient's own when they consent now, and then their table is shared with the issuer", async () => {
      const ctx = { tagTables: createFileTagTableStore(join(dir, 'consent')) }
      const [alice, lab] = [await accountOf(), await accountOf()]
      const consent = { patient: alice }
      const got = await tagForIssue(ctx, { issuer: lab, patient: alice.address, consent, category: 'mental-health' })
      assert.equal(got, categoryTag(alice.tagSecret, 'mental-health', Sensitivity.mentalHealth))
      // Not the issuer's own tag for that class: tags are per patient.
      assert.notEqual(got, categoryTag(lab.tagSecret, 'mental-health', Sensitivity.mentalHealth))

      assert.equal(await tagTableFor(ctx, { patient: alice.address, reader: lab }), undefined)
      await shareTagsWithIssuer(ctx, { consent, issuer: lab })
      const shared = await tagTableFor(ctx, { patient: alice.address, reader: lab })
      assert.deepEqual(shared, buildTagTable(alice.tagSecret))
    })

    it('under a standing authorisation comes from the table the patient shared, and is refused without one', async () => {
      const ctx = { tagTables: createFileTagTableStore(join(dir, 'standing')) }
      const [alice, lab, clinic] = [await accountOf(), await accountOf(), await accountOf()]
      const standing = { standing: true } as const
      await shareTagTable(ctx.tagTables, {
        patient: alice.address,
        tagSecret: alice.tagSecret,
        reader: lab.address,
        readerPublicKey: lab.encryptionPublicKey,
      })
      const params = { patient: alice.address, consent: standing, category: 'imaging', sensitivity: Sensitivity.restricted } as const
      assert.equal(await tagForIssue(ctx, { ...params, issuer: lab }), categoryTag(alice.tagSecret, 'imaging', Sensitivity.restricted))
      // The clinic was never given Alice's tags: it cannot guess one.
      await assert.rejects(tagForIssue(ctx, { ...params, issuer: clinic }), MissingTagsError)
      // Standing consent shares nothing (there is no patient key at hand).
      await shareTagsWithIssuer(ctx, { consent: standing, issuer: clinic })
      assert.equal(await tagTableFor(ctx, { patient: alice.address, reader: clinic }), undefined)
    })
  })
})
