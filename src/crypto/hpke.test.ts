import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { bytesToHex, encodePacked, keccak256 } from 'viem'
import { WrongKeyError } from '../errors.js'
import { computeCommitment, randomSalt } from './commitment.js'
import { encryptionKeyPairFromSeed, generateEncryptionSeed, randomKey, unwrapKey, wrapKey } from './hpke.js'

const aad = new TextEncoder().encode('0xpatient')

describe('HPKE key wrapping', () => {
  it('derives a stable X25519 key pair from a seed', async () => {
    const seed = generateEncryptionSeed()
    const a = await encryptionKeyPairFromSeed(seed)
    const b = await encryptionKeyPairFromSeed(seed)
    assert.equal(a.publicKey.length, 32)
    assert.deepEqual(a.publicKey, b.publicKey)
  })

  it('unwraps for the recipient and refuses another key or another context', async () => {
    const seed = generateEncryptionSeed()
    const { publicKey } = await encryptionKeyPairFromSeed(seed)
    const key = randomKey()
    const wrapped = await wrapKey(publicKey, key, aad)
    assert.deepEqual(await unwrapKey(seed, wrapped, aad), key)
    await assert.rejects(unwrapKey(generateEncryptionSeed(), wrapped, aad), WrongKeyError)
    await assert.rejects(unwrapKey(seed, wrapped, new TextEncoder().encode('0xsomeone-else')), WrongKeyError)
  })
})

describe('computeCommitment', () => {
  it('differs by salt for the same content, so a guess cannot be confirmed', () => {
    const digest = new Uint8Array(32).fill(7)
    const salt = randomSalt()
    assert.equal(computeCommitment(salt, digest), computeCommitment(salt, digest))
    assert.notEqual(computeCommitment(salt, digest), computeCommitment(randomSalt(), digest))
    assert.match(computeCommitment(salt, digest), /^0x[0-9a-f]{64}$/)
  })

  it('is Solidity\'s keccak256(abi.encodePacked("medvault.commitment.v1", salt, digest)), as viem computes it', () => {
    // The commitment is hashed with @noble/hashes to keep viem out of a store's memory; records
    // committed before that were hashed with viem, and must keep verifying.
    for (let i = 0; i < 20; i++) {
      const salt = randomSalt()
      const digest = randomSalt()
      const expected = keccak256(
        encodePacked(['string', 'bytes32', 'bytes32'], ['medvault.commitment.v1', bytesToHex(salt), bytesToHex(digest)]),
      )
      assert.equal(computeCommitment(salt, digest), expected)
    }
  })
})
