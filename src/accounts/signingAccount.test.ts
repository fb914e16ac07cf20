import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { keccak256, recoverAddress, toHex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { recordAttestationTypes, recordsDomain } from '../core/index.js'
import { libsecp256k1Signatures, signingAccount } from './signingAccount.js'

describe('signingAccount (libsecp256k1 in WebAssembly)', () => {
  it("gives viem's very signatures for hashes, messages and typed data (RFC 6979, low s)", async () => {
    for (let i = 0; i < 25; i++) {
      const key = generatePrivateKey()
      const viem = privateKeyToAccount(key)
      const fast = signingAccount(key)
      assert.equal(fast.address, viem.address)
      const hash = keccak256(toHex(`hash ${i}`))
      assert.equal(await fast.sign({ hash }), await viem.sign({ hash }))
      assert.equal(await fast.signMessage({ message: `message ${i}` }), await viem.signMessage({ message: `message ${i}` }))
      const typedData = {
        domain: recordsDomain(31337, '0x5FbDB2315678afecb367f032d93F642f64180aa3'),
        types: recordAttestationTypes,
        primaryType: 'RecordAttestation',
        message: {
          patient: viem.address,
          commitment: hash,
          category: i % 7,
          sensitivity: i % 3,
          tag: '0x0102030405060708',
          supersedes: BigInt(i),
        },
      } as const
      const signature = await fast.signTypedData(typedData)
      assert.equal(signature, await viem.signTypedData(typedData))
    }
    // The first two signatures of a process go through viem; the other 73 must not have.
    assert.equal(libsecp256k1Signatures(), 73)
  })

  it('signs so that the signer recovers, and leaves transactions to viem', async () => {
    const key = generatePrivateKey()
    const fast = signingAccount(key)
    const hash = keccak256('0x1234')
    assert.equal(await recoverAddress({ hash, signature: await fast.sign({ hash }) }), fast.address)
    const tx = { chainId: 31337, nonce: 0, to: fast.address, value: 1n, gas: 21_000n, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n } as const
    assert.equal(await fast.signTransaction(tx), await privateKeyToAccount(key).signTransaction(tx))
  })
})
