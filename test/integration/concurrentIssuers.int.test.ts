/**
 * Many providers minting at once (issue 9): 50 issuers x 20 records, every record in flight at the
 * same time, on the real embedded chain and Helia store. The per-account nonces of
 * src/chain/transactions.ts are what keep one issuer's 20 concurrent transactions (and the
 * registrar's 50) from taking the same nonce or stranding one behind a gap.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Hex, bytesToHex, createTestClient, http, parseEventLogs } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import type { UnlockedAccount } from '../../src/accounts/index.js'
import { EMBEDDED_DEV_KEY, EMBEDDED_FUNDING } from '../../src/chain/embedded.js'
import { medicalRecordAbi } from '../../src/contracts/index.js'
import { encryptionKeyPairFromSeed, generateEncryptionSeed } from '../../src/crypto/hpke.js'
import { authorizeProvider, registerProvider } from '../../src/directory/index.js'
import { issueRecord, readRecord } from '../../src/records/index.js'
import { type TestStack, openTestStack } from './stack.js'

const ISSUERS = Number(process.env.ISSUERS ?? 50)
const RECORDS_EACH = 20
const PATIENTS = 5

/** An account held in memory: the keystore's scrypt would spend a minute on 55 accounts and is not under test here. */
async function memoryAccount(name: string): Promise<UnlockedAccount> {
  const encryptionSeed = generateEncryptionSeed()
  const { publicKey } = await encryptionKeyPairFromSeed(encryptionSeed)
  const chainAccount = privateKeyToAccount(generatePrivateKey())
  return {
    name,
    address: chainAccount.address,
    encryptionPublicKey: bytesToHex(publicKey),
    chainAccount,
    encryptionSeed,
    healthCardSeed: crypto.getRandomValues(new Uint8Array(32)),
    tagSecret: crypto.getRandomValues(new Uint8Array(32)),
  }
}

describe(`${ISSUERS} concurrent issuers x ${RECORDS_EACH} records each`, () => {
  let stack: TestStack
  let issuers: UnlockedAccount[]
  let patients: UnlockedAccount[]

  before(async () => {
    stack = await openTestStack()
    const { mv } = stack
    issuers = await Promise.all(Array.from({ length: ISSUERS }, (_, i) => memoryAccount(`issuer-${i}`)))
    patients = await Promise.all(Array.from({ length: PATIENTS }, (_, i) => memoryAccount(`patient-${i}`)))
    const test = createTestClient({ mode: 'anvil', chain: mv.chain, transport: http(mv.rpcUrl) })
    for (const a of [...issuers, ...patients]) await test.setBalance({ address: a.address, value: EMBEDDED_FUNDING })
    // The registrar's 50 registrations and each patient's 50 authorisations are concurrent too.
    const registrar = privateKeyToAccount(EMBEDDED_DEV_KEY)
    await Promise.all(
      issuers.map((p) => registerProvider(mv, registrar, { provider: p.address, name: p.name, encryptionKey: p.encryptionPublicKey })),
    )
    const until = new Date(Date.now() + 86_400_000)
    await Promise.all(patients.flatMap((pat) => issuers.map((p) => authorizeProvider(mv, pat, p.address, until))))
  })
  after(() => stack?.dispose())

  it('every record lands exactly once, with no nonce collision and nothing left pending', async () => {
    const { mv } = stack
    const fromBlock = await mv.publicClient.getBlockNumber()
    const started = performance.now()
    const settled = await Promise.allSettled(
      issuers.flatMap((issuer, i) =>
        Array.from({ length: RECORDS_EACH }, async (_, j) => {
          const patient = patients[(i + j) % PATIENTS]!
          const body = JSON.stringify({
            resourceType: 'Observation',
            status: 'final',
            id: `obs-${i}-${j}`,
            code: { text: `issuer ${i} record ${j}` },
          })
          const issued = await issueRecord(mv, {
            issuer,
            patient,
            content: { bytes: new TextEncoder().encode(body) },
            contentType: 'application/fhir+json',
            category: 'laboratory',
            consent: { standing: true },
          })
          return { ...issued, issuer: issuer.address, patient, body }
        }),
      ),
    )
    const seconds = (performance.now() - started) / 1000
    const failures = settled.filter((s) => s.status === 'rejected')
    assert.deepEqual(
      failures.slice(0, 3).map((f) => String((f as PromiseRejectedResult).reason)),
      [],
      `${failures.length} of ${settled.length} issues failed`,
    )
    const issued = settled.map(
      (s) =>
        (s as PromiseFulfilledResult<Awaited<ReturnType<typeof issueRecord>> & { issuer: Hex; patient: UnlockedAccount; body: string }>)
          .value,
    )
    console.log(
      `# ${issued.length} records from ${ISSUERS} concurrent issuers in ${seconds.toFixed(1)} s (${(issued.length / seconds).toFixed(1)} records/s)`,
    )

    // Once each: distinct token ids and transactions, and the chain's own event log agrees.
    assert.equal(new Set(issued.map((r) => r.tokenId)).size, ISSUERS * RECORDS_EACH)
    assert.equal(new Set(issued.map((r) => r.txHash)).size, ISSUERS * RECORDS_EACH)
    const logs = await mv.publicClient.getLogs({ address: mv.deployment.records, fromBlock, toBlock: 'latest' })
    const events = parseEventLogs({ abi: medicalRecordAbi, logs, eventName: 'RecordIssued' })
    assert.equal(events.length, ISSUERS * RECORDS_EACH, 'one RecordIssued per record, none duplicated')
    const byCommitment = new Map(events.map((e) => [e.args.commitment, e]))
    assert.equal(byCommitment.size, ISSUERS * RECORDS_EACH)
    for (const r of issued) {
      const event = byCommitment.get(r.commitment)
      assert.ok(event, `record ${r.tokenId} has its event`)
      assert.equal(event.args.tokenId, r.tokenId)
      assert.equal(event.args.issuer.toLowerCase(), r.issuer.toLowerCase())
    }

    // Per account: exactly 20 transactions mined, none pending, none stuck behind a nonce gap.
    for (const issuer of issuers) {
      const [mined, pending] = await Promise.all([
        mv.publicClient.getTransactionCount({ address: issuer.address, blockTag: 'latest' }),
        mv.publicClient.getTransactionCount({ address: issuer.address, blockTag: 'pending' }),
      ])
      assert.equal(mined, RECORDS_EACH, `${issuer.name} sent ${mined} transactions`)
      assert.equal(pending, mined, `${issuer.name} has transactions pending`)
    }

    // And they are records, not just tokens: a sample opens for its patient and matches what was issued.
    for (const r of issued.filter((_, k) => k % 97 === 0)) {
      const { bytes } = await readRecord(mv, { tokenId: r.tokenId, reader: r.patient })
      assert.equal(bytes.toString('utf8'), r.body)
    }
  })
})
