import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { bytesToHex, encodePacked, hexToBytes, keccak256 } from 'viem'
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

  it('opens a key wrapped before the suite moved from @hpke/core to hpke, and derives the same public key', async () => {
    // Made with @hpke/core 1.9.0 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, the same
    // info): every home holds keys wrapped that way, and they must keep opening.
    const seed = new Uint8Array(32).map((_, i) => i + 1)
    const context = new TextEncoder().encode('0x00000000000000000000000000000000000000aa')
    const wrapped = {
      enc: hexToBytes('0x4d2b9d987a6cf7d6648fe558c79137645ef5b9da3a0ef5dd0216f223052bf460'),
      ct: hexToBytes('0xeacaae2e4ab504f7430c2042236b65d8f992473dcfc48f1d2f5b6177392e960162287ac689a0d01dea018e2ad98dc270'),
    }
    const { publicKey } = await encryptionKeyPairFromSeed(seed)
    assert.equal(bytesToHex(publicKey), '0x49e4874e25fe389ed3c9fa2fd09d077907ecc5809c8619e2127128b6a72c7c7a')
    assert.deepEqual(
      await unwrapKey(seed, wrapped, context),
      new Uint8Array(32).map((_, i) => 0xa0 + i),
    )
    const tampered = { ...wrapped, ct: wrapped.ct.map((b, i) => (i === 0 ? b ^ 1 : b)) }
    await assert.rejects(unwrapKey(seed, tampered, context), WrongKeyError)
  })

  it('gives each wrap of the same key a fresh encapsulation', async () => {
    const { publicKey } = await encryptionKeyPairFromSeed(generateEncryptionSeed())
    const key = randomKey()
    const a = await wrapKey(publicKey, key, aad)
    const b = await wrapKey(publicKey, key, aad)
    assert.notDeepEqual(a.enc, b.enc)
    assert.notDeepEqual(a.ct, b.ct)
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
