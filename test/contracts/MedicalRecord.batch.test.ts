import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Log, parseEventLogs } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { medicalRecordAbi } from '../../src/contracts/index.js'
import { Sensitivity } from '../../src/core/categories.js'
import {
  type Deployed,
  type Env,
  eventNames,
  expectRevert,
  type MintRequest,
  mintRequest,
  patientTags,
  registerProvider,
  skipGasFigures,
  startEnv,
  ZERO_ADDRESS,
  ZERO_BYTES32,
} from './fixture.js'

const MAX_BATCH_SIZE = 100

describe('MedicalRecord.mintBatch', () => {
  let env: Env
  before(async () => {
    env = await startEnv()
  })
  after(async () => {
    await env?.stop()
  })

  /** Patient authorises `provider` for an hour; returns `until`. */
  async function authorize(d: Deployed, patient: PrivateKeyAccount, provider: PrivateKeyAccount, seconds = 3600n): Promise<bigint> {
    const until = (await env.latestTimestamp()) + seconds
    await env.mined(d.recordsAs(patient).write.authorizeProvider([provider.address, until]))
    return until
  }

  const requestsFor = (patient: PrivateKeyAccount, n: number): MintRequest[] =>
    Array.from({ length: n }, () => mintRequest(patient.address))

  describe('a batch under a standing authorisation', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let requests: MintRequest[]
    let receipt: Awaited<ReturnType<Env['mined']>>
    let firstTokenId: bigint
    let nonceBefore: bigint

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'Lab A')
      patient = await env.newAccount()
      await authorize(d, patient, provider)
      // One record first, so the batch does not start at token 1.
      await env.mined(d.recordsAs(provider).write.mint([mintRequest(patient.address), 0n, '0x']))
      const tags = patientTags()
      requests = [
        mintRequest(patient.address, { tag: tags.tag('laboratory') }),
        mintRequest(patient.address, { tag: tags.tag('mental-health', Sensitivity.mentalHealth) }),
        mintRequest(patient.address, { tag: tags.tag('immunization', Sensitivity.restricted), cidCodec: 0x70 }),
      ]
      nonceBefore = await d.records.read.nonces([patient.address])
      const simulated = await d.recordsAs(provider).simulate.mintBatch([requests], { account: provider })
      firstTokenId = simulated.result
      receipt = await env.mined(d.recordsAs(provider).write.mintBatch([requests]))
    })

    it('returns the first new token id', () => {
      assert.equal(firstTokenId, 2n)
    })

    it('emits Transfer, RecordIssued and Locked for each record, in request order', () => {
      assert.deepEqual(
        eventNames(receipt, medicalRecordAbi),
        requests.flatMap(() => ['Transfer', 'RecordIssued', 'Locked']),
      )
    })

    it('emits RecordIssued with each request, the issuer, consecutive token ids, supersedes = 0 and the block time', async () => {
      const issuedAt = Number(await env.timestampOf(receipt))
      const issued = parseEventLogs({ abi: medicalRecordAbi, logs: receipt.logs as Log[], eventName: 'RecordIssued' })
      assert.deepEqual(
        issued.map((log) => log.args),
        requests.map((r, i) => ({
          tokenId: firstTokenId + BigInt(i),
          patient: patient.address,
          issuer: provider.address,
          commitment: r.commitment,
          cidDigest: r.cidDigest,
          cidCodec: r.cidCodec,
          tag: r.tag,
          supersedes: 0n,
          issuedAt,
        })),
      )
      const transfers = parseEventLogs({ abi: medicalRecordAbi, logs: receipt.logs as Log[], eventName: 'Transfer' })
      assert.deepEqual(
        transfers.map((log) => log.args),
        requests.map((_, i) => ({ from: ZERO_ADDRESS, to: patient.address, id: firstTokenId + BigInt(i) })),
      )
      const locked = parseEventLogs({ abi: medicalRecordAbi, logs: receipt.logs as Log[], eventName: 'Locked' })
      assert.deepEqual(
        locked.map((log) => log.args),
        requests.map((_, i) => ({ tokenId: firstTokenId + BigInt(i) })),
      )
    })

    it('gives every token to the patient and stores its fields', async () => {
      const issuedAt = Number(await env.timestampOf(receipt))
      for (const [i, r] of requests.entries()) {
        const tokenId = firstTokenId + BigInt(i)
        assert.equal(await d.records.read.ownerOf([tokenId]), patient.address)
        assert.equal(await d.records.read.locked([tokenId]), true)
        assert.deepEqual(await d.records.read.recordOf([tokenId]), {
          owner: patient.address,
          issuer: provider.address,
          tag: r.tag,
          supersededBy: 0n,
          erasedAt: 0,
        })
        const issued = await d.issuedOf(tokenId)
        assert.deepEqual(
          [issued.commitment, issued.cidDigest, issued.cidCodec, issued.issuedAt],
          [r.commitment, r.cidDigest, r.cidCodec, issuedAt],
        )
      }
      assert.equal(await d.records.read.balanceOf([patient.address]), 4n)
      assert.equal(await d.records.read.lastTokenId(), 4n)
    })

    it('uses no consent nonce', async () => {
      assert.equal(await d.records.read.nonces([patient.address]), nonceBefore)
    })

    it('accepts several patients in one batch when each authorised the provider', async () => {
      const bob = await env.newAccount()
      await authorize(d, bob, provider)
      const mixed = [mintRequest(patient.address), mintRequest(bob.address), mintRequest(patient.address)]
      const r = await env.mined(d.recordsAs(provider).write.mintBatch([mixed]))
      const issued = parseEventLogs({ abi: medicalRecordAbi, logs: r.logs as Log[], eventName: 'RecordIssued' })
      assert.deepEqual(
        issued.map((log) => [log.args.patient, log.args.commitment]),
        mixed.map((m) => [m.patient, m.commitment]),
      )
      assert.equal(await d.records.read.ownerOf([issued[1]!.args.tokenId]), bob.address)
    })

    it('reads MAX_BATCH_SIZE', async () => {
      assert.equal(await d.records.read.MAX_BATCH_SIZE(), BigInt(MAX_BATCH_SIZE))
    })

    it('accepts exactly MAX_BATCH_SIZE requests, for less gas per record than single mints', { skip: skipGasFigures }, async () => {
      const before = await d.records.read.lastTokenId()
      const r = await env.mined(d.recordsAs(provider).write.mintBatch([requestsFor(patient, MAX_BATCH_SIZE)]))
      assert.equal(await d.records.read.lastTokenId(), before + BigInt(MAX_BATCH_SIZE))
      const single = await env.mined(d.recordsAs(provider).write.mint([mintRequest(patient.address), 0n, '0x']))
      assert.ok(
        r.gasUsed / BigInt(MAX_BATCH_SIZE) < single.gasUsed,
        `batch ${r.gasUsed / BigInt(MAX_BATCH_SIZE)} per record vs single ${single.gasUsed}`,
      )
    })
  })

  describe('refusals', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'Lab A')
      patient = await env.newAccount()
      await authorize(d, patient, provider)
    })

    /** Asserts that nothing was minted by a refused call. */
    async function nothingMinted(before: bigint) {
      assert.equal(await d.records.read.lastTokenId(), before)
    }

    it('refuses an empty batch (MedicalRecordEmptyBatch)', async () => {
      await expectRevert(d.recordsAs(provider).write.mintBatch([[]]), 'MedicalRecordEmptyBatch')
    })

    it('refuses a batch over MAX_BATCH_SIZE (MedicalRecordBatchTooLarge)', async () => {
      await expectRevert(d.recordsAs(provider).write.mintBatch([requestsFor(patient, MAX_BATCH_SIZE + 1)]), 'MedicalRecordBatchTooLarge', [
        BigInt(MAX_BATCH_SIZE + 1),
        BigInt(MAX_BATCH_SIZE),
      ])
    })

    it('refuses a provider the patient never authorised (MedicalRecordInvalidConsent)', async () => {
      const before = await d.records.read.lastTokenId()
      const other = await registerProvider(env, d, 'Lab B')
      await expectRevert(d.recordsAs(other).write.mintBatch([requestsFor(patient, 3)]), 'MedicalRecordInvalidConsent', [
        patient.address,
        other.address,
      ])
      await nothingMinted(before)
    })

    it('refuses the whole batch when one patient in it has not authorised the provider', async () => {
      const before = await d.records.read.lastTokenId()
      const stranger = await env.newAccount()
      const requests = [mintRequest(patient.address), mintRequest(patient.address), mintRequest(stranger.address)]
      await expectRevert(d.recordsAs(provider).write.mintBatch([requests]), 'MedicalRecordInvalidConsent', [
        stranger.address,
        provider.address,
      ])
      await nothingMinted(before)
    })

    it('checks each patient again when patients alternate (A, B, A)', async () => {
      const before = await d.records.read.lastTokenId()
      const stranger = await env.newAccount()
      const requests = [mintRequest(stranger.address), mintRequest(patient.address), mintRequest(stranger.address)]
      await expectRevert(d.recordsAs(provider).write.mintBatch([requests]), 'MedicalRecordInvalidConsent', [
        stranger.address,
        provider.address,
      ])
      await nothingMinted(before)
    })

    it('refuses after the authorisation ends, and after it is revoked', async () => {
      const lab = await registerProvider(env, d, 'Lab C')
      const until = await authorize(d, patient, lab, 60n)
      assert.ok((await env.advance(61)) > until)
      await expectRevert(d.recordsAs(lab).write.mintBatch([requestsFor(patient, 2)]), 'MedicalRecordInvalidConsent', [
        patient.address,
        lab.address,
      ])
      await authorize(d, patient, lab)
      await env.mined(d.recordsAs(patient).write.revokeProvider([lab.address]))
      await expectRevert(d.recordsAs(lab).write.mintBatch([requestsFor(patient, 2)]), 'MedicalRecordInvalidConsent', [
        patient.address,
        lab.address,
      ])
    })

    it('refuses an unregistered caller and a suspended provider (MedicalRecordInactiveIssuer)', async () => {
      const stranger = await env.newAccount()
      await env.mined(d.recordsAs(patient).write.authorizeProvider([stranger.address, (await env.latestTimestamp()) + 3600n]))
      await expectRevert(d.recordsAs(stranger).write.mintBatch([requestsFor(patient, 2)]), 'MedicalRecordInactiveIssuer', [
        stranger.address,
      ])
      const lab = await registerProvider(env, d, 'Lab D')
      await authorize(d, patient, lab)
      await env.mined(d.registry.write.suspend([lab.address]))
      await expectRevert(d.recordsAs(lab).write.mintBatch([requestsFor(patient, 2)]), 'MedicalRecordInactiveIssuer', [lab.address])
    })

    it('refuses the whole batch when one request is invalid (MedicalRecordInvalidRequest)', async () => {
      const before = await d.records.read.lastTokenId()
      const bad: MintRequest[][] = [
        [mintRequest(patient.address), mintRequest(patient.address, { commitment: ZERO_BYTES32 })],
        [mintRequest(patient.address), mintRequest(patient.address, { tag: '0x0000000000000000' })],
        [mintRequest(patient.address, { cidCodec: 0x80 })],
      ]
      for (const requests of bad) {
        await expectRevert(d.recordsAs(provider).write.mintBatch([requests]), 'MedicalRecordInvalidRequest')
      }
      await nothingMinted(before)
    })
  })
})
