/**
 * The attestation pool answers exactly as the main thread does, tampered signatures and messages
 * included, and falls back to the main thread when its workers cannot start or go away.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type Address, type Hex, keccak256, toBytes } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { recordAttestationTypes, recordsDomain } from '../core/index.js'
import { createAttestationPool } from './attestationPool.js'
import { type AttestationMessage, isAttestationBy } from './checkAttestation.js'

const records: Address = '0x5FbDB2315678afecb367f032d93F642f64180aa3'
const deployment = { chainId: 31337, records }
const patient = privateKeyToAccount(generatePrivateKey()).address
const issuerKey = generatePrivateKey()
const issuer = privateKeyToAccount(issuerKey).address
const otherKey = generatePrivateKey()

const message = (i: number): AttestationMessage => ({
  patient,
  commitment: keccak256(toBytes(`record ${i}`)),
  category: 3,
  sensitivity: i % 2,
  tag: `0x${(i + 1).toString(16).padStart(16, '0')}`,
  supersedes: BigInt(i % 3),
})
const attest = (key: Hex, i: number): Promise<Hex> =>
  privateKeyToAccount(key).signTypedData({
    domain: recordsDomain(31337, records),
    types: recordAttestationTypes,
    primaryType: 'RecordAttestation',
    message: message(i),
  })

/** Valid attestations and every way of spoiling one, each with the arguments of one check. */
async function cases(): Promise<{ name: string; message: AttestationMessage; signature: Hex; issuer: Address }[]> {
  const out: { name: string; message: AttestationMessage; signature: Hex; issuer: Address }[] = []
  for (let i = 0; i < 12; i++) {
    const sig = await attest(issuerKey, i)
    const flipByte = (at: number) => `${sig.slice(0, at)}${sig[at] === 'f' ? 'e' : 'f'}${sig.slice(at + 1)}` as Hex
    out.push(
      { name: `valid ${i}`, message: message(i), signature: sig, issuer },
      { name: `tampered r ${i}`, message: message(i), signature: flipByte(10), issuer },
      { name: `tampered s ${i}`, message: message(i), signature: flipByte(80), issuer },
      { name: `flipped v ${i}`, message: message(i), signature: `${sig.slice(0, 130)}${sig.endsWith('1b') ? '1c' : '1b'}` as Hex, issuer },
      { name: `v as 0/1 ${i}`, message: message(i), signature: `${sig.slice(0, 130)}${sig.endsWith('1b') ? '00' : '01'}` as Hex, issuer },
      { name: `another record's message ${i}`, message: message(i + 100), signature: sig, issuer },
      { name: `another key ${i}`, message: message(i), signature: await attest(otherKey, i), issuer },
      { name: `another issuer named ${i}`, message: message(i), signature: sig, issuer: patient },
      { name: `short ${i}`, message: message(i), signature: '0x1234', issuer },
      { name: `zeros ${i}`, message: message(i), signature: `0x${'00'.repeat(65)}`, issuer },
    )
  }
  return out
}

describe('the attestation pool', () => {
  it('gives the main thread’s answer for each check, valid or tampered, sent many at once', async () => {
    const all = await cases()
    const expected = await Promise.all(all.map((c) => isAttestationBy({ deployment }, c.message, c.signature, c.issuer)))
    assert.ok(expected.includes(true) && expected.includes(false))
    const pool = createAttestationPool({ size: 2 })
    try {
      await pool.ready()
      assert.equal(pool.workers, 2)
      // Twice: the workers learn the issuer's key in the first round and take the fast check in the second.
      for (let round = 0; round < 2; round++) {
        const got = await Promise.all(all.map((c) => pool.isAttestationBy(deployment, c.message, c.signature, c.issuer)))
        for (const [i, c] of all.entries()) assert.equal(got[i], expected[i], `${c.name}, round ${round}`)
      }
      // A message that viem cannot even hash is refused in the worker as on the main thread.
      const broken = { ...message(0), supersedes: 'not a number' } as unknown as AttestationMessage
      assert.equal(await pool.isAttestationBy(deployment, broken, all[0]!.signature, issuer), false)
      assert.equal(pool.workers, 2, 'no worker failed along the way')
    } finally {
      await pool.close()
    }
  })

  it('answers on the main thread when its worker cannot start, exits with checks owed, or cannot answer', async () => {
    const all = await cases()
    const expected = await Promise.all(all.map((c) => isAttestationBy({ deployment }, c.message, c.signature, c.issuer)))
    const worker = (source: string) => new URL(`data:text/javascript,${encodeURIComponent(source)}`)
    const ready = "import { parentPort } from 'node:worker_threads'; parentPort.postMessage('ready');"
    const pools = {
      missing: createAttestationPool({ size: 1, workerUrl: new URL('./noSuchWorker.js', import.meta.url) }),
      'exits at once': createAttestationPool({ size: 1, workerUrl: worker('process.exit(3)') }),
      'exits with checks owed': createAttestationPool({
        size: 1,
        workerUrl: worker(`${ready} parentPort.on('message', () => process.exit(3))`),
      }),
      'throws on every check': createAttestationPool({
        size: 1,
        workerUrl: worker(`${ready} parentPort.on('message', (jobs) => parentPort.postMessage(jobs.map((j) => ({ id: j.id }))))`),
      }),
    }
    try {
      for (const [name, pool] of Object.entries(pools)) {
        await pool.ready()
        const got = await Promise.all(all.map((c) => pool.isAttestationBy(deployment, c.message, c.signature, c.issuer)))
        assert.deepEqual(got, expected, name)
        // Once a worker is gone the pool checks on the main thread from the start.
        assert.equal(await pool.isAttestationBy(deployment, all[0]!.message, all[0]!.signature, issuer), expected[0], name)
      }
      assert.equal(pools['exits with checks owed'].workers, 0)
      assert.equal(pools['throws on every check'].workers, 1, 'a worker that answers is kept, and its unanswered checks rerun here')
    } finally {
      await Promise.all(Object.values(pools).map((p) => p.close()))
    }
  })

  it('answers after it is closed, on the main thread', async () => {
    const pool = createAttestationPool({ size: 1 })
    await pool.close()
    const sig = await attest(issuerKey, 1)
    assert.equal(await pool.isAttestationBy(deployment, message(1), sig, issuer), true)
    assert.equal(await pool.isAttestationBy(deployment, message(2), sig, issuer), false)
  })
})
