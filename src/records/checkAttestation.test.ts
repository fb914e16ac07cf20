/**
 * The attestation check with an issuer's key kept from an earlier recovery gives exactly the
 * answer a full recovery gives: the same signatures pass, and nothing else does.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type Address, type Hex, keccak256, recoverTypedDataAddress, toBytes } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { recordAttestationTypes, recordsDomain } from '../core/index.js'
import type { RecordsContext } from '../core/index.js'
import { attestationSigner, isAttestationBy } from './checkAttestation.js'

const records: Address = '0x5FbDB2315678afecb367f032d93F642f64180aa3'
const ctx = { deployment: { chainId: 31337, records } } as unknown as Pick<RecordsContext, 'deployment'>
const patient = privateKeyToAccount(generatePrivateKey()).address

const message = (i: number) => ({
  patient,
  commitment: keccak256(toBytes(`record ${i}`)),
  category: 3,
  sensitivity: 0,
  tag: `0x${(i + 1).toString(16).padStart(16, '0')}` as Hex,
  supersedes: BigInt(i % 2),
})

async function attest(key: Hex, i: number): Promise<Hex> {
  return privateKeyToAccount(key).signTypedData({
    domain: recordsDomain(31337, records),
    types: recordAttestationTypes,
    primaryType: 'RecordAttestation',
    message: message(i),
  })
}

/** The same signature with v flipped (27 <-> 28): a valid signature of some other key, never of the issuer. */
const flipV = (sig: Hex): Hex => `${sig.slice(0, 130)}${sig.endsWith('1b') ? '1c' : '1b'}` as Hex

describe('isAttestationBy', () => {
  it("agrees with a full recovery, before and after the issuer's key is known", async () => {
    const issuerKey = generatePrivateKey()
    const issuer = privateKeyToAccount(issuerKey).address
    const other = generatePrivateKey()
    for (let i = 0; i < 6; i++) {
      const sig = await attest(issuerKey, i)
      // The first pass recovers and keeps the key; every later one takes the fast check.
      assert.equal(await isAttestationBy(ctx, message(i), sig, issuer), true)
      assert.equal(await isAttestationBy(ctx, message(i), sig, issuer), true)
      assert.equal(await attestationSigner(ctx, message(i), sig), issuer)
      // Another record's message, a flipped v, another key's signature, a high s: all refused, as recovery refuses them.
      assert.equal(await isAttestationBy(ctx, message(i + 100), sig, issuer), false)
      // The same record with another tag: the signature binds the tag the chain holds.
      assert.equal(await isAttestationBy(ctx, { ...message(i), tag: message(i + 1).tag }, sig, issuer), false)
      assert.notEqual(
        await recoverTypedDataAddress({
          domain: recordsDomain(31337, records),
          types: recordAttestationTypes,
          primaryType: 'RecordAttestation',
          message: message(i),
          signature: flipV(sig),
        }),
        issuer,
      )
      assert.equal(await isAttestationBy(ctx, message(i), flipV(sig), issuer), false)
      assert.equal(await isAttestationBy(ctx, message(i), await attest(other, i), issuer), false)
      assert.equal(await isAttestationBy(ctx, message(i), '0x1234', issuer), false)
      assert.equal(await isAttestationBy(ctx, message(i), `0x${'00'.repeat(65)}`, issuer), false)
    }
  })

  it('accepts v as 0/1 as a full recovery does, and keeps each issuer apart', async () => {
    const a = generatePrivateKey()
    const b = generatePrivateKey()
    const addrA = privateKeyToAccount(a).address
    const addrB = privateKeyToAccount(b).address
    await isAttestationBy(ctx, message(0), await attest(a, 0), addrA)
    await isAttestationBy(ctx, message(0), await attest(b, 0), addrB)
    const sig = await attest(a, 7)
    const zeroOne = `${sig.slice(0, 130)}${sig.endsWith('1b') ? '00' : '01'}` as Hex
    assert.equal(await attestationSigner(ctx, message(7), zeroOne), addrA)
    assert.equal(await isAttestationBy(ctx, message(7), zeroOne, addrA), true)
    assert.equal(await isAttestationBy(ctx, message(7), sig, addrB), false)
    assert.equal(await isAttestationBy(ctx, message(7), await attest(b, 7), addrA), false)
  })
})
