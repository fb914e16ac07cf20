import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { bytesToHex, getAddress } from 'viem'
import { encryptionKeyPairFromSeed, generateEncryptionSeed } from '../crypto/index.js'
import { AccessDeniedError, ChainError, TamperedRecordError } from '../errors.js'
import { createHeliaStore } from '../storage/index.js'
import { sealEnvelope } from './envelope.js'
import { checkReason, ciphertextCheck, failedReadCheck } from './verifyChecks.js'

async function* once(bytes: Uint8Array) {
  yield bytes
}

describe('shared verification checks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medvault-verify-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('the ciphertext check passes for a stored envelope, and fails for a missing blob or one that is no envelope', async () => {
    const store = await createHeliaStore(dir)
    try {
      const patient = getAddress(bytesToHex(randomBytes(20)))
      const { publicKey } = await encryptionKeyPairFromSeed(generateEncryptionSeed())
      const envelope = await sealEnvelope({
        meta: {
          v: 1,
          contentType: 'application/octet-stream',
          size: 3000,
          sha256: bytesToHex(randomBytes(32)),
          salt: bytesToHex(randomBytes(32)),
          patient,
          issuer: patient,
          category: 1,
          sensitivity: 0,
          tag: '0x0123456789abcdef',
          supersedes: '0',
          attestation: bytesToHex(randomBytes(65)),
        },
        content: once(randomBytes(3000)),
        recipients: [{ address: patient, encryptionPublicKey: bytesToHex(publicKey) }],
        segmentSize: 1024,
      })
      const cid = await store.add(envelope)
      assert.deepEqual(await ciphertextCheck({ store }, cid), {
        id: 'ciphertext',
        ok: true,
        message: `The encrypted document ${cid} is available and matches its content address.`,
      })

      const notAnEnvelope = await store.add(once(new TextEncoder().encode('plain text, not an envelope')))
      assert.equal((await ciphertextCheck({ store }, notAnEnvelope)).ok, false)

      await store.remove(cid)
      const missing = await ciphertextCheck({ store }, cid)
      assert.equal(missing.ok, false)
      assert.match(missing.message, /\S/)
    } finally {
      await store.close()
    }
  })

  it('a failed read names the check it failed', () => {
    assert.equal(failedReadCheck(new AccessDeniedError('no grant')), 'access')
    assert.equal(failedReadCheck(new TamperedRecordError('bad signature', { details: 'issuer-signature' })), 'issuer-signature')
    assert.equal(failedReadCheck(new TamperedRecordError('other content', { details: 'commitment' })), 'commitment')
    assert.equal(failedReadCheck(new TamperedRecordError('broken block')), 'ciphertext')
    assert.equal(failedReadCheck(new Error('disk')), 'ciphertext')
    assert.equal(checkReason(new ChainError('The chain is down.', { hint: 'Start it.' })), 'The chain is down.')
    assert.equal(checkReason('text'), 'text')
  })
})
