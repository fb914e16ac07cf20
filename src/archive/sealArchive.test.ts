import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { bytesToHex, getAddress } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { Sensitivity, categoryCode } from '../core/index.js'
import { encryptionKeyPairFromSeed, generateEncryptionSeed } from '../crypto/index.js'
import { NO_TAG, issueTerms, mintRequestFor, openEnvelope } from '../records/index.js'
import { createHeliaStore } from '../storage/index.js'
import { sealArchive } from './sealArchive.js'

describe('sealArchive', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medvault-seal-archive-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it("seals through the issue pipeline: a leaf holds what the token's mint request would, the category's own flag included", async () => {
    const store = await createHeliaStore(dir)
    try {
      const ctx = { deployment: { chainId: 31337, records: '0x5FbDB2315678afecb367f032d93F642f64180aa3' as const }, store }
      const issuer = privateKeyToAccount(generatePrivateKey())
      const patient = privateKeyToAccount(generatePrivateKey())
      const seed = generateEncryptionSeed()
      const recipient = { address: patient.address, encryptionPublicKey: bytesToHex((await encryptionKeyPairFromSeed(seed)).publicKey) }
      const bytes = new TextEncoder().encode('{"resourceType":"Observation","status":"final"}')
      // A caller's entry that names a sensitive category without its flag: a token could never be
      // minted so (MedicalRecord refuses it), so neither may a leaf be sealed so.
      const [sealed] = await sealArchive(ctx as never, {
        issuer,
        entries: [{ index: 3, patient: patient.address, content: bytes, category: 'mental-health', sensitivity: 0 }],
        recipients: new Map([[getAddress(patient.address), recipient]]),
        issuedAt: 1_700_000_000,
      })
      assert.ok(sealed)
      const terms = issueTerms({ category: 'mental-health', tag: NO_TAG })
      const cid = CID.parse(sealed.cid)
      const { tag: _none, ...request } = mintRequestFor({ patient: patient.address, commitment: sealed.record.commitment, cid, terms })
      assert.equal(sealed.entry, 3)
      assert.deepEqual(sealed.record, {
        ...request,
        category: terms.category,
        sensitivity: terms.sensitivity,
        issuer: issuer.address,
        issuedAt: 1_700_000_000,
      })
      const opened = await openEnvelope(store.cat(cid), { address: patient.address, encryptionSeed: seed })
      assert.equal(opened.meta.category, categoryCode('mental-health'))
      assert.equal(opened.meta.sensitivity, Sensitivity.mentalHealth)
      assert.equal(opened.meta.issuer, issuer.address)
      // Never minted, so no tag: the zero tag the contract refuses, so it cannot pass as a token's content.
      assert.equal(opened.meta.tag, NO_TAG)
    } finally {
      await store.close()
    }
  })
})
