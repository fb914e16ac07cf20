import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { type Hex, bytesToHex, hashTypedData } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { recordAttestationTypes, recordsDomain } from './attestation.js'
import { recordFieldsTypes } from './fields.js'
import { recordAttestationDigest, recordFieldsDigest } from './recordDigests.js'

const deployments = [
  { chainId: 31337, records: '0x5FbDB2315678afecb367f032d93F642f64180aa3' as const },
  { chainId: 1337, records: '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512' as const },
]
const hex = (n: number): Hex => bytesToHex(randomBytes(n))

describe('recordAttestationDigest and recordFieldsDigest', () => {
  it("equal viem's hashTypedData of the same statement, in each deployment's domain", () => {
    for (let i = 0; i < 40; i++) {
      const deployment = deployments[i % 2]!
      const domain = recordsDomain(deployment.chainId, deployment.records)
      const attestation = {
        patient: privateKeyToAccount(generatePrivateKey()).address,
        commitment: hex(32),
        category: i % 20,
        sensitivity: (i * 7) % 256,
        tag: hex(8),
        supersedes: BigInt(i * 1_000_003),
      }
      assert.equal(
        recordAttestationDigest(deployment, attestation),
        hashTypedData({ domain, types: recordAttestationTypes, primaryType: 'RecordAttestation', message: attestation }),
      )
      const fields = { commitment: hex(32), fieldsHash: hex(32) }
      assert.equal(
        recordFieldsDigest(deployment, fields),
        hashTypedData({ domain, types: recordFieldsTypes, primaryType: 'RecordFields', message: fields }),
      )
    }
  })

  it('differs between deployments, and refuses values that do not fit their types', () => {
    const message = {
      patient: privateKeyToAccount(generatePrivateKey()).address,
      commitment: hex(32),
      category: 1,
      sensitivity: 0,
      tag: hex(8),
      supersedes: 0n,
    }
    assert.notEqual(recordAttestationDigest(deployments[0]!, message), recordAttestationDigest(deployments[1]!, message))
    assert.throws(() => recordAttestationDigest(deployments[0]!, { ...message, tag: hex(32) }))
    assert.throws(() => recordAttestationDigest(deployments[0]!, { ...message, category: 256 }))
    assert.throws(() => recordAttestationDigest(deployments[0]!, { ...message, patient: '0x1234' }))
  })
})
