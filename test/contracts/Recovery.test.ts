/**
 * Key recovery and rotation on chain: MedicalRecord's guardians, approvals, delay, cancel, paged
 * execution and rotation, and ConsentRegistry's moveGrants and retired accounts. Each revert is
 * named with its custom error and arguments, each event with its arguments.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Address, Hex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { consentRegistryAbi, medicalRecordAbi } from '../../src/contracts/index.js'
import {
  DEFAULT_TAG,
  type Deployed,
  type Env,
  expectEvent,
  expectRevert,
  mintRequest,
  mintWithConsent,
  registerProvider,
  skipGasFigures,
  startEnv,
  ZERO_ADDRESS,
} from './fixture.js'
import type { GrantStruct } from '../../src/consent/grantTerms.js'

const DAY = 86_400
const Scope = { Records: 0, Categories: 1, All: 2 } as const

const APPROVAL_TYPES = {
  RecoveryApproval: [
    { name: 'patient', type: 'address' },
    { name: 'newAccount', type: 'address' },
    { name: 'round', type: 'uint32' },
    { name: 'deadline', type: 'uint256' },
  ],
} as const

describe('Recovery', () => {
  let env: Env
  before(async () => {
    env = await startEnv()
  })
  after(async () => {
    await env?.stop()
  })

  /** A deployment, a provider, a patient with `records` tokens (minted in batches) and three guardians. */
  async function setup(records = 3) {
    const d = await env.deploy()
    const provider = await registerProvider(env, d)
    const patient = await env.newAccount()
    const guardians = [await env.newAccount(), await env.newAccount(), await env.newAccount()]
    const newAccount = await env.newAccount()
    const until = Number(await env.latestTimestamp()) + 30 * DAY
    await env.mined(d.recordsAs(patient).write.authorizeProvider([provider.address, BigInt(until)]))
    const tokenIds: bigint[] = []
    for (let left = records; left > 0; left -= 100) {
      const n = Math.min(100, left)
      const receipt = await env.mined(
        d.recordsAs(provider).write.mintBatch([Array.from({ length: n }, () => mintRequest(patient.address))], { gas: 15_000_000n }),
      )
      const first = (await d.records.read.lastTokenId()) - BigInt(n) + 1n
      assert.equal(receipt.status, 'success')
      for (let i = 0; i < n; i++) tokenIds.push(first + BigInt(i))
    }
    return { d, provider, patient, guardians, newAccount, tokenIds }
  }

  async function withGuardians(s: Awaited<ReturnType<typeof setup>>, threshold = 2, delay = DAY) {
    await env.mined(s.d.recordsAs(s.patient).write.setGuardians([s.guardians.map((g) => g.address), threshold, delay]))
  }

  async function approve(d: Deployed, guardian: PrivateKeyAccount, patient: Address, newAccount: Address) {
    return env.mined(d.recordsAs(guardian).write.approveRecovery([patient, newAccount]))
  }

  describe('setGuardians', () => {
    it('records the guardians, threshold and delay (GuardiansSet)', async () => {
      const s = await setup(0)
      const addresses = s.guardians.map((g) => g.address)
      const receipt = await env.mined(s.d.recordsAs(s.patient).write.setGuardians([addresses, 2, 2 * DAY]))
      const event = expectEvent(receipt, medicalRecordAbi, s.d.records.address, 'GuardiansSet')
      assert.deepEqual(event, { patient: s.patient.address, guardians: addresses, threshold: 2, delay: 2 * DAY })
      const [guardians, threshold, delay] = await s.d.records.read.guardiansOf([s.patient.address])
      assert.deepEqual([guardians, threshold, delay], [addresses, 2, 2 * DAY])
    })

    it('refuses a bad set: threshold 0 or above n, the patient, zero, a duplicate, too many; a delay out of bounds', async () => {
      const s = await setup(0)
      const [a, b] = s.guardians.map((g) => g.address) as [Address, Address]
      const as = s.d.recordsAs(s.patient)
      await expectRevert(as.write.setGuardians([[a, b], 0, DAY]), 'MedicalRecordInvalidGuardians')
      await expectRevert(as.write.setGuardians([[a, b], 3, DAY]), 'MedicalRecordInvalidGuardians')
      await expectRevert(as.write.setGuardians([[a, s.patient.address], 1, DAY]), 'MedicalRecordInvalidGuardians')
      await expectRevert(as.write.setGuardians([[a, ZERO_ADDRESS], 1, DAY]), 'MedicalRecordInvalidGuardians')
      await expectRevert(as.write.setGuardians([[a, b, a], 2, DAY]), 'MedicalRecordInvalidGuardians')
      await expectRevert(as.write.setGuardians([Array.from({ length: 11 }, () => a), 2, DAY]), 'MedicalRecordInvalidGuardians')
      await expectRevert(as.write.setGuardians([[a, b], 2, DAY - 1]), 'MedicalRecordInvalidDelay', [DAY - 1])
      await expectRevert(as.write.setGuardians([[a, b], 2, 31 * DAY]), 'MedicalRecordInvalidDelay', [31 * DAY])
    })
  })

  describe('approveRecovery', () => {
    it('refuses a recovery by anyone who is not a guardian (MedicalRecordNotGuardian), the new account too', async () => {
      const s = await setup()
      await withGuardians(s)
      const stranger = await env.newAccount()
      await expectRevert(s.d.recordsAs(stranger).write.approveRecovery([s.patient.address, stranger.address]), 'MedicalRecordNotGuardian', [
        s.patient.address,
        stranger.address,
      ])
      await expectRevert(
        s.d.recordsAs(s.newAccount).write.approveRecovery([s.patient.address, s.newAccount.address]),
        'MedicalRecordNotGuardian',
        [s.patient.address, s.newAccount.address],
      )
      // A patient with no guardians cannot be recovered at all.
      const other = await env.newAccount()
      await expectRevert(
        s.d.recordsAs(s.guardians[0]!).write.approveRecovery([other.address, s.newAccount.address]),
        'MedicalRecordNotGuardian',
        [other.address, s.guardians[0]!.address],
      )
    })

    it('with fewer than k approvals nothing is pending and nothing can be executed', async () => {
      const s = await setup()
      await withGuardians(s, 2)
      const receipt = await approve(s.d, s.guardians[0]!, s.patient.address, s.newAccount.address)
      assert.deepEqual(expectEvent(receipt, medicalRecordAbi, s.d.records.address, 'RecoveryApproved'), {
        patient: s.patient.address,
        guardian: s.guardians[0]!.address,
        newAccount: s.newAccount.address,
        approvals: 1,
      })
      assert.equal((await s.d.records.read.recoveryOf([s.patient.address])).newAccount, ZERO_ADDRESS)
      await expectRevert(
        s.d.recordsAs(s.guardians[0]!).write.approveRecovery([s.patient.address, s.newAccount.address]),
        'MedicalRecordAlreadyApproved',
        [s.patient.address, s.guardians[0]!.address, s.newAccount.address],
      )
      await env.advance(40 * DAY)
      await expectRevert(s.d.records.write.executeRecovery([s.patient.address, s.tokenIds]), 'MedicalRecordNoRecovery', [s.patient.address])
      // Approvals split over two accounts do not add up.
      const other = await env.newAccount()
      await approve(s.d, s.guardians[1]!, s.patient.address, other.address)
      assert.equal((await s.d.records.read.recoveryOf([s.patient.address])).newAccount, ZERO_ADDRESS)
      assert.equal(await s.d.records.read.approvalsFor([s.patient.address, s.newAccount.address]), 1)
    })

    it('a guardian that approves another account moves its approval: the first account loses it', async () => {
      const s = await setup(1)
      await withGuardians(s, 2)
      const other = await env.newAccount()
      await approve(s.d, s.guardians[0]!, s.patient.address, s.newAccount.address)
      assert.equal(await s.d.records.read.approvalsFor([s.patient.address, s.newAccount.address]), 1)
      await approve(s.d, s.guardians[0]!, s.patient.address, other.address)
      assert.equal(await s.d.records.read.approvalsFor([s.patient.address, s.newAccount.address]), 0)
      assert.equal(await s.d.records.read.approvalsFor([s.patient.address, other.address]), 1)
      // One changed vote plus another guardian's is not two approvals for the first account.
      await approve(s.d, s.guardians[1]!, s.patient.address, s.newAccount.address)
      assert.equal((await s.d.records.read.recoveryOf([s.patient.address])).newAccount, ZERO_ADDRESS)
    })

    it('k approvals start a recovery; executing before the delay is refused; after it the tokens move and the old account is retired', async () => {
      const s = await setup()
      await withGuardians(s, 2, 2 * DAY)
      await approve(s.d, s.guardians[0]!, s.patient.address, s.newAccount.address)
      const receipt = await approve(s.d, s.guardians[2]!, s.patient.address, s.newAccount.address)
      const started = expectEvent(receipt, medicalRecordAbi, s.d.records.address, 'RecoveryStarted')
      const readyAt = Number(await env.timestampOf(receipt)) + 2 * DAY
      assert.deepEqual(started, { patient: s.patient.address, newAccount: s.newAccount.address, readyAt })
      // A third approval, for anyone, is refused while one is pending.
      await expectRevert(
        s.d.recordsAs(s.guardians[1]!).write.approveRecovery([s.patient.address, s.guardians[1]!.address]),
        'MedicalRecordRecoveryPending',
        [s.patient.address, s.newAccount.address, readyAt],
      )
      await expectRevert(s.d.records.write.executeRecovery([s.patient.address, s.tokenIds]), 'MedicalRecordRecoveryNotReady', [
        s.patient.address,
        readyAt,
      ])
      await env.advance(2 * DAY - 60)
      await expectRevert(s.d.records.write.executeRecovery([s.patient.address, s.tokenIds]), 'MedicalRecordRecoveryNotReady', [
        s.patient.address,
        readyAt,
      ])
      await env.advance(60)

      // Paged: one token, then the rest; anyone may execute.
      const stranger = await env.newAccount()
      await env.mined(s.d.recordsAs(stranger).write.executeRecovery([s.patient.address, s.tokenIds.slice(0, 1)]))
      assert.equal(await s.d.records.read.ownerOf([s.tokenIds[0]!]), s.newAccount.address)
      assert.equal(await s.d.records.read.successorOf([s.patient.address]), ZERO_ADDRESS)
      // Once tokens move, the old key can no longer cancel.
      await expectRevert(s.d.recordsAs(s.patient).write.cancelRecovery(), 'MedicalRecordRecoveryInProgress', [
        s.patient.address,
        s.newAccount.address,
      ])
      const last = await env.mined(s.d.recordsAs(stranger).write.executeRecovery([s.patient.address, s.tokenIds.slice(1)]))
      assert.deepEqual(expectEvent(last, medicalRecordAbi, s.d.records.address, 'AccountMoved'), {
        from: s.patient.address,
        to: s.newAccount.address,
        byGuardians: true,
      })
      for (const id of s.tokenIds) assert.equal(await s.d.records.read.ownerOf([id]), s.newAccount.address)
      assert.equal(await s.d.records.read.balanceOf([s.patient.address]), 0n)
      assert.equal(await s.d.records.read.successorOf([s.patient.address]), s.newAccount.address)
      assert.equal(await s.d.records.read.locked([s.tokenIds[0]!]), true)

      // Double execution: nothing is pending any more.
      await expectRevert(s.d.records.write.executeRecovery([s.patient.address, []]), 'MedicalRecordNoRecovery', [s.patient.address])
      // The tokens stay soulbound for their new owner.
      await expectRevert(
        s.d.recordsAs(s.newAccount).write.transferFrom([s.newAccount.address, stranger.address, s.tokenIds[0]!]),
        'MedicalRecordSoulbound',
        [s.tokenIds[0]!],
      )
      // The old key can do nothing: no new guardians, no rotation, no mint to it.
      await expectRevert(s.d.recordsAs(s.patient).write.setGuardians([[stranger.address], 1, DAY]), 'MedicalRecordAccountRetired', [
        s.patient.address,
        s.newAccount.address,
      ])
      await expectRevert(s.d.recordsAs(s.patient).write.rotate([stranger.address, []]), 'MedicalRecordAccountRetired', [
        s.patient.address,
        s.newAccount.address,
      ])
      await expectRevert(s.d.recordsAs(s.provider).write.mint([mintRequest(s.patient.address), 0n, '0x']), 'MedicalRecordAccountRetired', [
        s.patient.address,
        s.newAccount.address,
      ])
      // And no one can recover to a retired account.
      await expectRevert(s.d.recordsAs(s.newAccount).write.rotate([s.patient.address, []]), 'MedicalRecordInvalidSuccessor', [
        s.patient.address,
      ])
    })

    it('a tampered page is refused: a token the patient does not own (ERC721IncorrectOwner)', async () => {
      const s = await setup(2)
      await withGuardians(s, 1)
      await approve(s.d, s.guardians[0]!, s.patient.address, s.newAccount.address)
      await env.advance(DAY)
      const other = await env.newAccount()
      const { tokenId } = await mintWithConsent(env, s.d, s.provider, other, mintRequest(other.address))
      await expectRevert(s.d.records.write.executeRecovery([s.patient.address, [tokenId]]), 'ERC721IncorrectOwner', [
        s.patient.address,
        tokenId,
        other.address,
      ])
      await expectRevert(
        s.d.records.write.executeRecovery([s.patient.address, Array.from({ length: 501 }, () => 1n)]),
        'MedicalRecordBatchTooLarge',
        [501n, 500n],
      )
    })
  })

  describe('cancelRecovery', () => {
    it('lets the old key cancel during the delay (RecoveryCancelled) and voids the approvals', async () => {
      const s = await setup()
      await withGuardians(s, 2)
      await approve(s.d, s.guardians[0]!, s.patient.address, s.newAccount.address)
      await approve(s.d, s.guardians[1]!, s.patient.address, s.newAccount.address)
      await expectRevert(s.d.recordsAs(s.guardians[0]!).write.cancelRecovery(), 'MedicalRecordNoRecovery', [s.guardians[0]!.address])
      const receipt = await env.mined(s.d.recordsAs(s.patient).write.cancelRecovery())
      assert.deepEqual(expectEvent(receipt, medicalRecordAbi, s.d.records.address, 'RecoveryCancelled'), {
        patient: s.patient.address,
        newAccount: s.newAccount.address,
      })
      await env.advance(DAY + 1)
      await expectRevert(s.d.records.write.executeRecovery([s.patient.address, s.tokenIds]), 'MedicalRecordNoRecovery', [s.patient.address])
      assert.equal(await s.d.records.read.approvalsFor([s.patient.address, s.newAccount.address]), 0)
      // A new round needs k fresh approvals.
      await approve(s.d, s.guardians[0]!, s.patient.address, s.newAccount.address)
      assert.equal((await s.d.records.read.recoveryOf([s.patient.address])).newAccount, ZERO_ADDRESS)
      for (const id of s.tokenIds) assert.equal(await s.d.records.read.ownerOf([id]), s.patient.address)
      await expectRevert(s.d.recordsAs(s.patient).write.cancelRecovery(), 'MedicalRecordNoRecovery', [s.patient.address])
    })

    it('removing a guardian voids its approval and it can no longer approve', async () => {
      const s = await setup()
      await withGuardians(s, 2)
      const [a, b, c] = s.guardians as [PrivateKeyAccount, PrivateKeyAccount, PrivateKeyAccount]
      await approve(s.d, a, s.patient.address, s.newAccount.address)
      await env.mined(s.d.recordsAs(s.patient).write.setGuardians([[b.address, c.address], 2, DAY]))
      assert.equal(await s.d.records.read.approvalOf([s.patient.address, a.address]), ZERO_ADDRESS)
      await expectRevert(s.d.recordsAs(a).write.approveRecovery([s.patient.address, s.newAccount.address]), 'MedicalRecordNotGuardian', [
        s.patient.address,
        a.address,
      ])
      await approve(s.d, b, s.patient.address, s.newAccount.address)
      assert.equal((await s.d.records.read.recoveryOf([s.patient.address])).newAccount, ZERO_ADDRESS, 'a removed guardian does not count')
      await approve(s.d, c, s.patient.address, s.newAccount.address)
      assert.equal((await s.d.records.read.recoveryOf([s.patient.address])).newAccount, s.newAccount.address)
    })
  })

  describe('approveRecoveryBySig', () => {
    it('counts a paper guardian signature once, and never after a cancel or from someone else', async () => {
      const s = await setup()
      await withGuardians(s, 2)
      const domain = { name: 'medvault', version: '1', chainId: env.chainId, verifyingContract: s.d.records.address } as const
      const deadline = BigInt(Number(await env.latestTimestamp()) + DAY)
      const sign = (signer: PrivateKeyAccount, round: number): Promise<Hex> =>
        signer.signTypedData({
          domain,
          types: APPROVAL_TYPES,
          primaryType: 'RecoveryApproval',
          message: { patient: s.patient.address, newAccount: s.newAccount.address, round, deadline },
        })
      const paper = s.guardians[0]!
      const signature = await sign(paper, 1)
      const args = [s.patient.address, paper.address, s.newAccount.address, deadline, signature] as const
      // Anyone submits it (here the new account, which pays the gas).
      await env.mined(s.d.recordsAs(s.newAccount).write.approveRecoveryBySig(args))
      assert.equal(await s.d.records.read.approvalOf([s.patient.address, paper.address]), s.newAccount.address)
      await expectRevert(s.d.recordsAs(s.newAccount).write.approveRecoveryBySig(args), 'MedicalRecordAlreadyApproved', [
        s.patient.address,
        paper.address,
        s.newAccount.address,
      ])
      // Signed by another key than the guardian's.
      const forged = await sign(s.guardians[1]!, 1)
      await expectRevert(
        s.d
          .recordsAs(s.newAccount)
          .write.approveRecoveryBySig([s.patient.address, s.guardians[2]!.address, s.newAccount.address, deadline, forged]),
        'MedicalRecordInvalidApproval',
        [s.patient.address, s.guardians[2]!.address],
      )
      // After a new round (new settings or a cancel) the old signature is dead.
      await withGuardians(s, 2)
      await expectRevert(s.d.recordsAs(s.newAccount).write.approveRecoveryBySig(args), 'MedicalRecordInvalidApproval', [
        s.patient.address,
        paper.address,
      ])
      await env.advance(DAY + 1)
      await expectRevert(
        s.d
          .recordsAs(s.newAccount)
          .write.approveRecoveryBySig([s.patient.address, paper.address, s.newAccount.address, deadline, await sign(paper, 2)]),
        'MedicalRecordConsentExpired',
        [deadline],
      )
    })
  })

  describe('rotate', () => {
    it('moves every token to the new account at once, without guardians or delay (RotationStarted, AccountMoved)', async () => {
      const s = await setup(5)
      await withGuardians(s, 2)
      await approve(s.d, s.guardians[0]!, s.patient.address, s.guardians[0]!.address)
      await approve(s.d, s.guardians[1]!, s.patient.address, s.guardians[0]!.address)
      // A pending guardian recovery is cancelled by the rotation.
      const receipt = await env.mined(s.d.recordsAs(s.patient).write.rotate([s.newAccount.address, s.tokenIds]))
      assert.deepEqual(expectEvent(receipt, medicalRecordAbi, s.d.records.address, 'RecoveryCancelled'), {
        patient: s.patient.address,
        newAccount: s.guardians[0]!.address,
      })
      assert.deepEqual(expectEvent(receipt, medicalRecordAbi, s.d.records.address, 'RotationStarted'), {
        patient: s.patient.address,
        newAccount: s.newAccount.address,
      })
      assert.deepEqual(expectEvent(receipt, medicalRecordAbi, s.d.records.address, 'AccountMoved'), {
        from: s.patient.address,
        to: s.newAccount.address,
        byGuardians: false,
      })
      for (const id of s.tokenIds) assert.equal(await s.d.records.read.ownerOf([id]), s.newAccount.address)
      assert.equal(await s.d.records.read.successorOf([s.patient.address]), s.newAccount.address)
    })

    it('refuses a rotation by a non-owner (ERC721IncorrectOwner), to itself, to zero, and a switch of target mid-move', async () => {
      const s = await setup(3)
      const thief = await env.newAccount()
      await expectRevert(s.d.recordsAs(thief).write.rotate([s.newAccount.address, s.tokenIds]), 'ERC721IncorrectOwner', [
        thief.address,
        s.tokenIds[0]!,
        s.patient.address,
      ])
      await expectRevert(s.d.recordsAs(s.patient).write.rotate([s.patient.address, s.tokenIds]), 'MedicalRecordInvalidSuccessor', [
        s.patient.address,
      ])
      await expectRevert(s.d.recordsAs(s.patient).write.rotate([ZERO_ADDRESS, s.tokenIds]), 'MedicalRecordInvalidSuccessor', [ZERO_ADDRESS])
      assert.equal(await s.d.records.read.balanceOf([s.newAccount.address]), 0n)
      await env.mined(s.d.recordsAs(s.patient).write.rotate([s.newAccount.address, s.tokenIds.slice(0, 1)]))
      await expectRevert(s.d.recordsAs(s.patient).write.rotate([thief.address, s.tokenIds.slice(1)]), 'MedicalRecordRecoveryInProgress', [
        s.patient.address,
        s.newAccount.address,
      ])
      for (const id of s.tokenIds) assert.equal((await s.d.records.read.ownerOf([id])) === thief.address, false)
      const receipt = await env.mined(s.d.recordsAs(s.patient).write.rotate([s.newAccount.address, s.tokenIds.slice(1)]))
      expectEvent(receipt, medicalRecordAbi, s.d.records.address, 'AccountMoved')
    })

    it(`moves MAX_MOVE_BATCH (500) tokens in one transaction well under a block's gas`, { skip: skipGasFigures }, async () => {
      const s = await setup(500)
      const receipt = await env.mined(s.d.recordsAs(s.patient).write.rotate([s.newAccount.address, s.tokenIds], { gas: 29_000_000n }))
      const perToken = Number(receipt.gasUsed) / 500
      console.log(`# rotate: ${receipt.gasUsed} gas for 500 tokens, ${perToken.toFixed(0)} per token`)
      assert.ok(receipt.gasUsed < 20_000_000n, `${receipt.gasUsed} gas`)
      assert.equal(await s.d.records.read.balanceOf([s.newAccount.address]), 500n)
    })
  })

  describe('ConsentRegistry after a move', () => {
    type Terms = GrantStruct
    const termsOf = (patient: Address, grantee: Address, expiresAt: number, scope: number, list: Partial<Terms> = {}): Terms => ({
      patient,
      grantee,
      expiresAt,
      scope,
      purpose: 0,
      tokenIds: [],
      tags: [],
      ...list,
    })
    /** Grants as `account`; the contract keeps the terms' hash, so the test keeps the terms. */
    async function grantAs(d: Deployed, account: PrivateKeyAccount, t: Terms): Promise<bigint> {
      const receipt = await env.mined(d.consentAs(account).write.grant([t]))
      return expectEvent(receipt, consentRegistryAbi, d.consent, 'GrantCreated').grantId as bigint
    }
    const movedTo = (t: Terms, to: Address): Terms => ({ ...t, patient: to })

    it('the successor takes over grants (same id, terms, expiry); a grant by the old key covers nothing; others cannot move them', async () => {
      const s = await setup(3)
      const reader = await env.newAccount()
      const lab = await env.newAccount()
      const expiresAt = Number(await env.latestTimestamp()) + 30 * DAY
      const consent = s.d.consentAs(s.patient)
      await env.mined(consent.write.setOpenTags([[DEFAULT_TAG], []]))
      const recordsTerms = termsOf(s.patient.address, reader.address, expiresAt, Scope.Records, { tokenIds: s.tokenIds.slice(0, 2) })
      const allTerms = termsOf(s.patient.address, lab.address, expiresAt, Scope.All)
      const recordsGrant = await grantAs(s.d, s.patient, recordsTerms)
      const allGrant = await grantAs(s.d, s.patient, allTerms)
      assert.equal(await consent.read.canAccessWith([lab.address, s.tokenIds[2]!, allGrant, allTerms]), true)
      await env.mined(s.d.recordsAs(s.patient).write.rotate([s.newAccount.address, s.tokenIds]))

      // Before moving the grants, the tokens' new owner has none: the grantee is cut off.
      assert.equal(await consent.read.canAccessWith([reader.address, s.tokenIds[0]!, recordsGrant, recordsTerms]), false)
      const thief = await env.newAccount()
      await expectRevert(
        s.d.consentAs(thief).write.moveGrants([s.patient.address, [recordsGrant], [recordsTerms]]),
        'ConsentUnauthorized',
        [thief.address, s.patient.address],
      )
      // Terms and ids must pair up, and the terms must be the grant's.
      await expectRevert(s.d.consentAs(s.newAccount).write.moveGrants([s.patient.address, [recordsGrant], []]), 'ConsentInvalidGrant')
      await expectRevert(
        s.d.consentAs(s.newAccount).write.moveGrants([s.patient.address, [recordsGrant], [{ ...recordsTerms, tokenIds: s.tokenIds }]]),
        'ConsentGrantInactive',
        [recordsGrant],
      )
      const receipt = await env.mined(
        s.d.consentAs(s.newAccount).write.moveGrants([s.patient.address, [recordsGrant, allGrant], [recordsTerms, allTerms]]),
      )
      assert.deepEqual(expectEvent({ ...receipt, logs: receipt.logs.slice(0, 1) }, consentRegistryAbi, s.d.consent, 'GrantMoved'), {
        grantId: recordsGrant,
        from: s.patient.address,
        to: s.newAccount.address,
      })
      const recordsNow = movedTo(recordsTerms, s.newAccount.address)
      const allNow = movedTo(allTerms, s.newAccount.address)
      assert.equal(await consent.read.canAccessWith([reader.address, s.tokenIds[0]!, recordsGrant, recordsNow]), true)
      assert.equal(
        await consent.read.canAccessWith([reader.address, s.tokenIds[2]!, recordsGrant, recordsNow]),
        false,
        'the listed records only',
      )
      // Same id, same terms and expiry, only the patient changed: the old terms no longer match.
      assert.equal(await consent.read.isActive([recordsGrant, recordsNow]), true)
      assert.equal(await consent.read.isActive([recordsGrant, recordsTerms]), false)
      // The open list is the old account's and did not move: the "all" grant covers nothing until
      // the successor opens its tags (the same values: it took over the old tag secret).
      assert.equal(await consent.read.isOpenTag([s.patient.address, DEFAULT_TAG]), true)
      assert.equal(await consent.read.isOpenTag([s.newAccount.address, DEFAULT_TAG]), false)
      assert.equal(await consent.read.canAccessWith([lab.address, s.tokenIds[2]!, allGrant, allNow]), false)
      await env.mined(s.d.consentAs(s.newAccount).write.setOpenTags([[DEFAULT_TAG], []]))
      assert.equal(await consent.read.canAccessWith([lab.address, s.tokenIds[2]!, allGrant, allNow]), true)
      await expectRevert(
        s.d.consentAs(s.newAccount).write.moveGrants([s.patient.address, [recordsGrant], [recordsTerms]]),
        'ConsentGrantInactive',
        [recordsGrant],
      )

      // The old key: a grant it still makes covers none of the records (they are the successor's),
      // and it cannot revoke the moved grants (their terms now name the successor).
      const thiefTerms = termsOf(s.patient.address, thief.address, expiresAt, Scope.All)
      const thiefGrant = await grantAs(s.d, s.patient, thiefTerms)
      for (const tokenId of s.tokenIds) {
        assert.equal(await consent.read.canAccessWith([thief.address, tokenId, thiefGrant, thiefTerms]), false)
      }
      await expectRevert(consent.write.revoke([allGrant, allNow]), 'ConsentUnauthorized', [s.patient.address, s.newAccount.address])
      // The new owner manages the moved grants.
      await env.mined(s.d.consentAs(s.newAccount).write.revoke([allGrant, allNow]))
      assert.equal(await consent.read.canAccessWith([lab.address, s.tokenIds[2]!, allGrant, allNow]), false)
    })

    it('refuses to move a revoked grant (ConsentGrantInactive) or a grant to the successor itself (ConsentInvalidGrant), and the zero address as a successor when none is set', async () => {
      const s = await setup(1)
      const reader = await env.newAccount()
      const expiresAt = Number(await env.latestTimestamp()) + 30 * DAY
      const consent = s.d.consentAs(s.patient)
      const readerTerms = termsOf(s.patient.address, reader.address, expiresAt, Scope.All)
      const grantId = await grantAs(s.d, s.patient, readerTerms)
      // No successor yet, so successorOf is zero: a call from the zero address (an eth_call can
      // claim it) must not count as the successor's.
      await expectRevert(
        consent.simulate.moveGrants([s.patient.address, [grantId], [readerTerms]], { account: ZERO_ADDRESS }),
        'ConsentUnauthorized',
        [ZERO_ADDRESS, s.patient.address],
      )
      // A grant to the successor itself cannot become the successor's grant to itself.
      const toSuccessorTerms = termsOf(s.patient.address, s.newAccount.address, expiresAt, Scope.All)
      const toSuccessor = await grantAs(s.d, s.patient, toSuccessorTerms)
      await env.mined(consent.write.revoke([grantId, readerTerms]))
      await env.mined(s.d.recordsAs(s.patient).write.rotate([s.newAccount.address, s.tokenIds]))
      await expectRevert(
        s.d.consentAs(s.newAccount).write.moveGrants([s.patient.address, [grantId], [readerTerms]]),
        'ConsentGrantInactive',
        [grantId],
      )
      await expectRevert(
        s.d.consentAs(s.newAccount).write.moveGrants([s.patient.address, [toSuccessor], [toSuccessorTerms]]),
        'ConsentInvalidGrant',
      )
      assert.equal(await consent.read.isActive([toSuccessor, toSuccessorTerms]), true, 'still the old account’s, unmoved')
    })

    it('the old account can no longer change its open tags (ConsentAccountRetired); the successor sets its own', async () => {
      const s = await setup(1)
      const consent = s.d.consentAs(s.patient)
      await env.mined(consent.write.setOpenTags([[DEFAULT_TAG], []]))
      await env.mined(s.d.recordsAs(s.patient).write.rotate([s.newAccount.address, s.tokenIds]))
      await expectRevert(consent.write.setOpenTags([[], [DEFAULT_TAG]]), 'ConsentAccountRetired', [s.patient.address, s.newAccount.address])
      const receipt = await env.mined(s.d.consentAs(s.newAccount).write.setOpenTags([[DEFAULT_TAG], []]))
      assert.deepEqual(expectEvent(receipt, consentRegistryAbi, s.d.consent, 'OpenTagsChanged'), {
        patient: s.newAccount.address,
        opened: [DEFAULT_TAG],
        closed: [],
      })
      assert.equal(await consent.read.isOpenTag([s.newAccount.address, DEFAULT_TAG]), true)
    })
  })
})
