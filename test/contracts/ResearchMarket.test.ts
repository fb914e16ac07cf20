/**
 * ResearchMarket on a real anvil: researchers, posting and escrow, joining, delivery, closing,
 * pull payments, the fair-exchange rule and reentrancy. Each revert is named with its custom error
 * and arguments; the escrow invariant (contract balance == unreserved + reserved budget + owed
 * balances) is checked after every step of the many-patient runs, in native currency and ERC-20.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Address, encodeFunctionData, getAddress, getContract, toFunctionSelector } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { researchMarketAbi } from '../../src/contracts/index.js'
import { reentrantReceiverAbi, reentrantReceiverBytecode } from '../../src/contracts/testing.js'
import { type Env, expectEvent, expectRevert, randomBytes32, startEnv, ZERO_ADDRESS } from './fixture.js'
import {
  bit,
  Category,
  ContributionStatus,
  checkEscrow,
  DAY,
  dataset,
  deployReentrantToken,
  heldBy,
  join,
  type Market,
  marketCall,
  mintRecords,
  NATIVE,
  post,
  remember,
  setupMarket,
  terms,
} from './market.js'

describe('ResearchMarket', () => {
  let env: Env
  before(async () => {
    env = await startEnv()
  })
  after(async () => {
    await env?.stop()
  })

  async function patients(n: number): Promise<PrivateKeyAccount[]> {
    return Promise.all(Array.from({ length: n }, async () => remember(await env.newAccount())))
  }

  /** The account's native balance change over `fn`, with the gas it paid added back. */
  async function nativeGain(account: Address, fn: () => Promise<`0x${string}`>): Promise<bigint> {
    const before = await env.publicClient.getBalance({ address: account })
    const receipt = await env.mined(fn())
    const after = await env.publicClient.getBalance({ address: account })
    return after - before + receipt.gasUsed * receipt.effectiveGasPrice
  }

  describe('researchers', () => {
    let m: Market
    before(async () => {
      m = await setupMarket(env)
    })

    it('only a registrar approves or revokes a researcher (ResearchMarketNotRegistrar)', async () => {
      const stranger = await env.newAccount()
      await expectRevert(m.as(stranger).write.approveResearcher([stranger.address]), 'ResearchMarketNotRegistrar', [stranger.address])
      await expectRevert(m.as(m.researcher).write.revokeResearcher([m.researcher.address]), 'ResearchMarketNotRegistrar', [
        m.researcher.address,
      ])
      // A second registrar granted the registry's role may approve too.
      const registrar = await env.newAccount()
      await env.mined(m.d.registry.write.grantRole([await m.d.registry.read.REGISTRAR_ROLE(), registrar.address]))
      const receipt = await env.mined(m.as(registrar).write.approveResearcher([stranger.address]))
      assert.deepEqual(expectEvent(receipt, researchMarketAbi, m.address, 'ResearcherApproved'), {
        researcher: stranger.address,
        registrar: registrar.address,
      })
      assert.equal(await m.market.read.isResearcher([stranger.address]), true)
    })

    it('refuses to approve the zero address (ResearchMarketNotResearcher(0))', async () => {
      await expectRevert(m.market.write.approveResearcher([ZERO_ADDRESS]), 'ResearchMarketNotResearcher', [ZERO_ADDRESS])
      assert.equal(await m.market.read.isResearcher([ZERO_ADDRESS]), false)
    })

    it('refuses a study from an account that was never approved (ResearchMarketNotResearcher)', async () => {
      const stranger = await env.newAccount()
      const t = await terms(env)
      await expectRevert(m.as(stranger).write.postStudy([t], { value: t.pricePerRecord * 10n }), 'ResearchMarketNotResearcher', [
        stranger.address,
      ])
      assert.equal(await m.market.read.lastStudyId(), 0n)
    })

    it('a revoked researcher cannot post; its study takes no new joins, but reserved records are still delivered and it can close', async () => {
      const researcher = await env.newAccount()
      await env.mined(m.market.write.approveResearcher([researcher.address]))
      const [alice, bob] = await patients(2)
      const [aliceTokens, bobTokens] = await mintRecords(env, m, [alice!.address, bob!.address], [[0], [0]])
      const studyId = await post(env, m, await terms(env, { maxRecords: 4 }), researcher)
      const contribution = await join(env, m, alice!, studyId, aliceTokens!)

      const receipt = await env.mined(m.market.write.revokeResearcher([researcher.address]))
      assert.deepEqual(expectEvent(receipt, researchMarketAbi, m.address, 'ResearcherRevoked'), {
        researcher: researcher.address,
        registrar: env.admin.address,
      })
      const t = await terms(env)
      await expectRevert(m.as(researcher).write.postStudy([t], { value: t.pricePerRecord * 10n }), 'ResearchMarketNotResearcher', [
        researcher.address,
      ])
      await expectRevert(m.as(bob!).write.join([studyId, bobTokens!]), 'ResearchMarketNotResearcher', [researcher.address])
      const { cid, commitment } = dataset()
      await env.mined(m.as(alice!).write.deliver([contribution, cid, commitment]))
      const closed = await env.mined(m.as(researcher).write.closeStudy([studyId]))
      assert.equal(expectEvent(closed, researchMarketAbi, m.address, 'StudyClosed').refund, t.pricePerRecord * 3n)
      assert.equal(await m.market.read.balanceOf([researcher.address, NATIVE]), t.pricePerRecord * 3n)
      assert.equal(await nativeGain(researcher.address, () => m.as(researcher).write.withdraw([NATIVE])), t.pricePerRecord * 3n)
    })
  })

  describe('posting', () => {
    let m: Market
    before(async () => {
      m = await setupMarket(env)
    })

    it('escrows the budget and records the terms (StudyPosted)', async () => {
      const t = await terms(env, { maxRecords: 7, categories: bit(Category.laboratory, Category.immunization) })
      const before = await heldBy(env, m, NATIVE)
      const receipt = await env.mined(m.as(m.researcher).write.postStudy([t], { value: t.pricePerRecord * 7n }))
      const posted = expectEvent(receipt, researchMarketAbi, m.address, 'StudyPosted')
      assert.deepEqual(posted, { studyId: 1n, researcher: m.researcher.address, ...t })
      assert.equal(await heldBy(env, m, NATIVE), before + t.pricePerRecord * 7n)
      const study = await m.market.read.studyOf([1n])
      assert.equal(study.researcher, m.researcher.address)
      assert.equal(study.maxRecords, 7)
      assert.equal(study.categories, t.categories)
      assert.equal(study.protocolDigest, t.protocolDigest)
      assert.equal(study.criteriaHash, t.criteriaHash)
      assert.deepEqual(await m.market.read.escrowOf([1n]), [t.pricePerRecord * 7n, 0n])
    })

    it('refuses incomplete or out-of-range terms (ResearchMarketInvalidTerms)', async () => {
      const now = await env.latestTimestamp()
      const bad = [
        { pricePerRecord: 0n },
        { maxRecords: 0 },
        { categories: 0 },
        { categories: 1 << 17 },
        { protocolDigest: `0x${'00'.repeat(32)}` as const },
        { deadline: Number(now) },
        { deadline: Number(now + 731n * DAY) },
      ]
      for (const overrides of bad) {
        const t = await terms(env, overrides)
        await expectRevert(
          m.as(m.researcher).write.postStudy([t], { value: t.pricePerRecord * BigInt(t.maxRecords) }),
          'ResearchMarketInvalidTerms',
        )
      }
    })

    it('refuses a native budget that is not exactly price x records (ResearchMarketWrongFunding)', async () => {
      const t = await terms(env, { maxRecords: 3 })
      const budget = t.pricePerRecord * 3n
      await expectRevert(m.as(m.researcher).write.postStudy([t], { value: budget - 1n }), 'ResearchMarketWrongFunding', [
        budget,
        budget - 1n,
      ])
      await expectRevert(m.as(m.researcher).write.postStudy([t], { value: budget + 1n }), 'ResearchMarketWrongFunding', [
        budget,
        budget + 1n,
      ])
    })

    it('pulls an ERC-20 budget with transferFrom, refuses value alongside it, and refuses it without allowance', async () => {
      const t = await terms(env, { asset: m.usd.address, pricePerRecord: 2_500_000n, maxRecords: 4 }) // 2.50 tUSD per record
      await expectRevert(m.as(m.researcher).write.postStudy([t], { value: 1n }), 'ResearchMarketWrongFunding', [0n, 1n])
      await env.mined(m.usd.write.mint([m.researcher.address, 10_000_000n]))
      await expectRevert(m.as(m.researcher).write.postStudy([t]), 'ERC20InsufficientAllowance', [m.address, 0n, 10_000_000n])
      await env.mined(m.usdAs(m.researcher).write.approve([m.address, 10_000_000n]))
      const receipt = await env.mined(m.as(m.researcher).write.postStudy([t]))
      expectEvent(receipt, researchMarketAbi, m.address, 'StudyPosted')
      assert.equal(await heldBy(env, m, m.usd.address), 10_000_000n)
      assert.equal(await heldBy(env, m, m.usd.address, m.researcher.address), 0n)
    })

    it('refuses a fee-on-transfer token that would under-fund the escrow (balance delta checked)', async () => {
      const token = await deployReentrantToken(env)
      await env.mined(token.write.setFee([100])) // 1%
      await env.mined(token.write.mint([m.researcher.address, 1_000_000n]))
      const wallet = env.wallet(m.researcher)
      await env.mined(
        wallet.writeContract({ address: token.address, abi: token.abi, functionName: 'approve', args: [m.address, 1_000_000n] }),
      )
      const t = await terms(env, { asset: token.address, pricePerRecord: 100_000n, maxRecords: 10 })
      await expectRevert(m.as(m.researcher).write.postStudy([t]), 'ResearchMarketWrongFunding', [1_000_000n, 990_000n])
    })
  })

  describe('joining', () => {
    let m: Market
    let alice: PrivateKeyAccount
    let bob: PrivateKeyAccount
    let aliceTokens: bigint[]
    let bobTokens: bigint[]
    let studyId: bigint

    before(async () => {
      m = await setupMarket(env)
      ;[alice, bob] = (await patients(2)) as [PrivateKeyAccount, PrivateKeyAccount]
      // alice: three lab results, an imaging study, a psychiatric note; bob: two lab results.
      ;[aliceTokens, bobTokens] = (await mintRecords(
        env,
        m,
        [alice.address, bob.address],
        [
          [Category.laboratory, Category.laboratory, Category.laboratory, Category.imaging, Category.mentalHealth],
          [Category.laboratory, Category.laboratory],
        ],
      )) as [bigint[], bigint[]]
      studyId = await post(env, m, await terms(env, { maxRecords: 4 }))
    })

    it('reserves the price of each record and records the contribution (ContributionReserved)', async () => {
      const t = await m.market.read.studyOf([studyId])
      const receipt = await env.mined(m.as(alice).write.join([studyId, aliceTokens.slice(0, 2)]))
      const reserved = expectEvent(receipt, researchMarketAbi, m.address, 'ContributionReserved')
      assert.deepEqual(reserved, {
        contributionId: 1n,
        studyId,
        patient: alice.address,
        tokenIds: aliceTokens.slice(0, 2),
        amount: t.pricePerRecord * 2n,
      })
      assert.deepEqual(await m.market.read.contributionOf([1n]), {
        patient: alice.address,
        studyId,
        records: 2,
        status: ContributionStatus.Reserved,
      })
      assert.equal(await m.market.read.contributionFor([studyId, aliceTokens[0]!]), 1n)
      assert.deepEqual(await m.market.read.escrowOf([studyId]), [t.pricePerRecord * 2n, t.pricePerRecord * 2n])
    })

    it("refuses someone else's record, and a record that does not exist (ResearchMarketNotRecordOwner)", async () => {
      await expectRevert(m.as(bob).write.join([studyId, [aliceTokens[2]!]]), 'ResearchMarketNotRecordOwner', [aliceTokens[2], bob.address])
      await expectRevert(m.as(bob).write.join([studyId, [bobTokens[0]!, 9999n]]), 'ResearchMarketNotRecordOwner', [9999n, bob.address])
    })

    it("cannot tell a record's category: one outside the study's categories is not refused on chain (the patient's client checks)", async () => {
      const errors: string[] = researchMarketAbi.flatMap((item) => (item.type === 'error' ? [item.name] : []))
      assert.ok(!errors.includes('ResearchMarketIneligibleRecord'))
      // Simulated only, so the budget the next tests count on stays as it is.
      for (const tokenId of [aliceTokens[3]!, aliceTokens[4]!]) {
        const { result } = await m.as(alice).simulate.join([studyId, [tokenId]], { account: alice })
        assert.equal(result, 2n, `record #${tokenId} would join`)
      }
    })

    it('refuses an erased record (ResearchMarketRecordErased)', async () => {
      const [carol] = await patients(1)
      const [[kept, erased]] = (await mintRecords(env, m, [carol!.address], [[0, 0]])) as [[bigint, bigint]]
      await env.mined(m.d.recordsAs(carol!).write.erase([erased]))
      await expectRevert(m.as(carol!).write.join([studyId, [kept, erased]]), 'ResearchMarketRecordErased', [erased])
    })

    it('refuses a record already in a live contribution, or listed twice (ResearchMarketAlreadyContributed)', async () => {
      await expectRevert(m.as(alice).write.join([studyId, [aliceTokens[0]!]]), 'ResearchMarketAlreadyContributed', [
        studyId,
        aliceTokens[0],
        1n,
      ])
      const next = (await m.market.read.lastContributionId()) + 1n
      await expectRevert(m.as(bob).write.join([studyId, [bobTokens[0]!, bobTokens[0]!]]), 'ResearchMarketAlreadyContributed', [
        studyId,
        bobTokens[0],
        next,
      ])
    })

    it('refuses an empty or oversized contribution (ResearchMarketInvalidRecordCount)', async () => {
      await expectRevert(m.as(bob).write.join([studyId, []]), 'ResearchMarketInvalidRecordCount', [0n])
      const many = Array.from({ length: 101 }, (_, i) => BigInt(i + 1))
      await expectRevert(m.as(bob).write.join([studyId, many]), 'ResearchMarketInvalidRecordCount', [101n])
    })

    it('refuses more records than the unreserved budget pays for (ResearchMarketBudgetExhausted)', async () => {
      // 4 records budgeted, 2 reserved by alice: bob's 2 fit, alice's third does not.
      await join(env, m, bob, studyId, bobTokens)
      await expectRevert(m.as(alice).write.join([studyId, [aliceTokens[2]!]]), 'ResearchMarketBudgetExhausted', [studyId, 1n, 0n])
      assert.deepEqual((await m.market.read.escrowOf([studyId]))[0], 0n)
    })

    it('a withdrawn contribution frees its records and its budget (ContributionWithdrawn)', async () => {
      const bobContribution = await m.market.read.contributionFor([studyId, bobTokens[0]!])
      await expectRevert(m.as(alice).write.withdrawContribution([bobContribution]), 'ResearchMarketNotContributor', [
        bobContribution,
        alice.address,
      ])
      const receipt = await env.mined(m.as(bob).write.withdrawContribution([bobContribution]))
      assert.deepEqual(expectEvent(receipt, researchMarketAbi, m.address, 'ContributionWithdrawn'), {
        contributionId: bobContribution,
        studyId,
        patient: bob.address,
        refundedToResearcher: 0n,
      })
      await expectRevert(m.as(bob).write.withdrawContribution([bobContribution]), 'ResearchMarketNotReserved', [
        bobContribution,
        ContributionStatus.Withdrawn,
      ])
      await expectRevert(m.as(bob).write.deliver([bobContribution, dataset().cid, randomBytes32()]), 'ResearchMarketNotReserved', [
        bobContribution,
        ContributionStatus.Withdrawn,
      ])
      // The same records may join again, and alice's third record now fits.
      await join(env, m, bob, studyId, [bobTokens[0]!])
      await join(env, m, alice, studyId, [aliceTokens[2]!])
    })

    it('refuses joining after the deadline (ResearchMarketDeadlinePassed), and joining an unknown study', async () => {
      const [dave] = await patients(1)
      const [[token]] = (await mintRecords(env, m, [dave!.address], [[0]])) as [[bigint]]
      const t = await terms(env, { deadline: Number((await env.latestTimestamp()) + 100n) })
      const late = await post(env, m, t)
      await env.advance(101)
      await expectRevert(m.as(dave!).write.join([late, [token]]), 'ResearchMarketDeadlinePassed', [late, t.deadline])
      await expectRevert(m.as(dave!).write.join([999n, [token]]), 'ResearchMarketUnknownStudy', [999n])
    })
  })

  describe('delivery and the fair exchange', () => {
    let m: Market
    let alice: PrivateKeyAccount
    let bob: PrivateKeyAccount
    let tokens: bigint[][]
    let studyId: bigint
    let price: bigint

    before(async () => {
      m = await setupMarket(env)
      ;[alice, bob] = (await patients(2)) as [PrivateKeyAccount, PrivateKeyAccount]
      tokens = await mintRecords(env, m, [alice.address, bob.address], [[0, 0, 0], [0]])
      price = 123_456_789_012_345n
      studyId = await post(env, m, await terms(env, { maxRecords: 5, pricePerRecord: price }))
    })

    it('credits the patient in the delivering transaction, to the wei (ContributionDelivered)', async () => {
      const contribution = await join(env, m, alice, studyId, tokens[0]!)
      assert.equal(await m.market.read.balanceOf([alice.address, NATIVE]), 0n, 'joining pays nothing')
      const { cid, commitment } = dataset()
      const receipt = await env.mined(m.as(alice).write.deliver([contribution, cid, commitment]))
      assert.deepEqual(expectEvent(receipt, researchMarketAbi, m.address, 'ContributionDelivered'), {
        contributionId: contribution,
        studyId,
        patient: alice.address,
        datasetCid: cid,
        datasetCommitment: commitment,
        amount: price * 3n,
      })
      assert.equal(await m.market.read.balanceOf([alice.address, NATIVE]), price * 3n)
      assert.deepEqual(await m.market.read.escrowOf([studyId]), [price * 2n, 0n])
      const study = await m.market.read.studyOf([studyId])
      assert.equal(study.delivered, 3)
      assert.equal(study.reserved, 0)

      const gain = await nativeGain(alice.address, () => m.as(alice).write.withdraw([NATIVE]))
      assert.equal(gain, price * 3n)
      assert.equal(await m.market.read.balanceOf([alice.address, NATIVE]), 0n)
      await expectRevert(m.as(alice).write.withdraw([NATIVE]), 'ResearchMarketNothingToWithdraw', [alice.address, NATIVE])
    })

    it('refuses double delivery (ResearchMarketNotReserved) and re-joining delivered records', async () => {
      const contribution = await m.market.read.contributionFor([studyId, tokens[0]![0]!])
      await expectRevert(m.as(alice).write.deliver([contribution, dataset().cid, randomBytes32()]), 'ResearchMarketNotReserved', [
        contribution,
        ContributionStatus.Delivered,
      ])
      await expectRevert(m.as(alice).write.withdrawContribution([contribution]), 'ResearchMarketNotReserved', [
        contribution,
        ContributionStatus.Delivered,
      ])
      await expectRevert(m.as(alice).write.join([studyId, [tokens[0]![1]!]]), 'ResearchMarketAlreadyContributed', [
        studyId,
        tokens[0]![1],
        contribution,
      ])
      assert.equal(await m.market.read.balanceOf([alice.address, NATIVE]), 0n)
    })

    it('pays only the contributor: nobody else can deliver a contribution, and there is no other credit path', async () => {
      const contribution = await join(env, m, bob, studyId, tokens[1]!)
      for (const intruder of [alice, m.researcher]) {
        await expectRevert(m.as(intruder).write.deliver([contribution, dataset().cid, randomBytes32()]), 'ResearchMarketNotContributor', [
          contribution,
          intruder.address,
        ])
      }
      await expectRevert(m.as(bob).write.deliver([999n, dataset().cid, randomBytes32()]), 'ResearchMarketUnknownContribution', [999n])
      // The ABI has no other function that could credit a patient.
      const writes = researchMarketAbi
        .filter((i) => i.type === 'function' && (i.stateMutability === 'nonpayable' || i.stateMutability === 'payable'))
        .map((i) => (i as { name: string }).name)
        .sort()
      assert.deepEqual(writes, [
        'approveResearcher',
        'closeStudy',
        'deliver',
        'join',
        'postStudy',
        'revokeResearcher',
        'withdraw',
        'withdrawContribution',
      ])
    })

    it('refuses an empty, oversized or uncommitted dataset (ResearchMarketInvalidDataset)', async () => {
      const contribution = await m.market.read.contributionFor([studyId, tokens[1]![0]!])
      await expectRevert(m.as(bob).write.deliver([contribution, '0x', randomBytes32()]), 'ResearchMarketInvalidDataset')
      await expectRevert(m.as(bob).write.deliver([contribution, `0x${'ab'.repeat(129)}`, randomBytes32()]), 'ResearchMarketInvalidDataset')
      await expectRevert(m.as(bob).write.deliver([contribution, dataset().cid, `0x${'00'.repeat(32)}`]), 'ResearchMarketInvalidDataset')
    })

    it('refuses delivery after the deadline; settling then refunds the undelivered reservation', async () => {
      const contribution = await m.market.read.contributionFor([studyId, tokens[1]![0]!])
      const study = await m.market.read.studyOf([studyId])
      await env.advance(31 * 86_400)
      await expectRevert(m.as(bob).write.deliver([contribution, dataset().cid, randomBytes32()]), 'ResearchMarketDeadlinePassed', [
        studyId,
        study.deadline,
      ])
      await expectRevert(m.as(bob).write.withdrawContribution([contribution]), 'ResearchMarketDeadlinePassed', [studyId, study.deadline])
      const receipt = await env.mined(m.as(m.researcher).write.closeStudy([studyId]))
      // 5 budgeted, 3 delivered: bob's reserved record and the unreserved one come back.
      assert.deepEqual(expectEvent(receipt, researchMarketAbi, m.address, 'StudyClosed'), {
        studyId,
        researcher: m.researcher.address,
        refund: price * 2n,
        settled: true,
      })
      assert.deepEqual(await m.market.read.escrowOf([studyId]), [0n, 0n])
      assert.equal(await m.market.read.balanceOf([bob.address, NATIVE]), 0n)
      await expectRevert(m.as(m.researcher).write.closeStudy([studyId]), 'ResearchMarketAlreadySettled', [studyId])
      const gain = await nativeGain(m.researcher.address, () => m.as(m.researcher).write.withdraw([NATIVE]))
      assert.equal(gain, price * 2n)
      assert.equal(await heldBy(env, m, NATIVE), 0n)
    })
  })

  describe('closing', () => {
    it('early close refunds only the unreserved budget; reserved records may still be delivered or withdrawn until the deadline', async () => {
      const m = await setupMarket(env)
      const [alice, bob, carol] = await patients(3)
      const tokens = await mintRecords(env, m, [alice!.address, bob!.address, carol!.address], [[0, 0], [0], [0]])
      const t = await terms(env, { maxRecords: 10 })
      const price = t.pricePerRecord
      const studyId = await post(env, m, t)
      const a = await join(env, m, alice!, studyId, tokens[0]!)
      const b = await join(env, m, bob!, studyId, tokens[1]!)
      const everyone = [alice!.address, bob!.address, carol!.address, m.researcher.address]

      await expectRevert(m.as(alice!).write.closeStudy([studyId]), 'ResearchMarketNotStudyResearcher', [studyId, alice!.address])
      const receipt = await env.mined(m.as(m.researcher).write.closeStudy([studyId]))
      const closedAt = (await env.timestampOf(receipt)) as bigint
      assert.deepEqual(expectEvent(receipt, researchMarketAbi, m.address, 'StudyClosed'), {
        studyId,
        researcher: m.researcher.address,
        refund: price * 7n,
        settled: false,
      })
      await checkEscrow(env, m, NATIVE, everyone)
      await expectRevert(m.as(m.researcher).write.closeStudy([studyId]), 'ResearchMarketAlreadyClosed', [studyId, Number(closedAt)])
      await expectRevert(m.as(carol!).write.join([studyId, tokens[2]!]), 'ResearchMarketStudyClosed', [studyId, Number(closedAt)])

      // alice delivers after the close; bob withdraws, and his reservation goes back to the researcher at once.
      await env.mined(m.as(alice!).write.deliver([a, dataset().cid, randomBytes32()]))
      const withdrawn = await env.mined(m.as(bob!).write.withdrawContribution([b]))
      assert.equal(expectEvent(withdrawn, researchMarketAbi, m.address, 'ContributionWithdrawn').refundedToResearcher, price)
      assert.equal(await m.market.read.balanceOf([m.researcher.address, NATIVE]), price * 8n)
      assert.equal(await m.market.read.balanceOf([alice!.address, NATIVE]), price * 2n)
      await checkEscrow(env, m, NATIVE, everyone)

      // After the deadline, settling refunds nothing more: everything is delivered or returned.
      await env.advance(31 * 86_400)
      const settled = await env.mined(m.as(m.researcher).write.closeStudy([studyId]))
      assert.deepEqual(expectEvent(settled, researchMarketAbi, m.address, 'StudyClosed'), {
        studyId,
        researcher: m.researcher.address,
        refund: 0n,
        settled: true,
      })
      const { held } = await checkEscrow(env, m, NATIVE, everyone)
      assert.equal(held, price * 10n)
      assert.equal(await nativeGain(m.researcher.address, () => m.as(m.researcher).write.withdraw([NATIVE])), price * 8n)
      assert.equal(await nativeGain(alice!.address, () => m.as(alice!).write.withdraw([NATIVE])), price * 2n)
      assert.equal(await heldBy(env, m, NATIVE), 0n)
    })
  })

  // ------------------------------------------------------------------ many patients

  for (const currency of ['native', 'ERC-20'] as const) {
    it(`escrow accounting with 30 patients (${currency}): invariant after every step, payouts and refund to the wei`, async () => {
      const m = await setupMarket(env)
      const asset = currency === 'native' ? NATIVE : m.usd.address
      const crowd = await patients(30)
      // Patient i has 1 + (i % 3) lab results and one immunization.
      const tokens = await mintRecords(
        env,
        m,
        crowd.map((p) => p.address),
        crowd.map((_, i) => [...Array.from({ length: 1 + (i % 3) }, () => Category.laboratory), Category.immunization]),
      )
      const price = currency === 'native' ? 987_654_321_987n : 1_234_567n // ~0.000001 ETH, 1.234567 tUSD
      const maxRecords = 50
      const t = await terms(env, { asset, pricePerRecord: price, maxRecords, categories: bit(Category.laboratory, Category.immunization) })
      const studyId = await post(env, m, t)
      const everyone = [...crowd.map((p) => p.address), m.researcher.address]
      const check = () => checkEscrow(env, m, asset, everyone)
      await check()

      // Every patient joins with all their records while the budget lasts (90 records offered, 50 paid for).
      const contributions = new Map<number, { id: bigint; records: number }>()
      let reserved = 0
      for (const [i, patient] of crowd.entries()) {
        const ids = tokens[i]!
        if (reserved + ids.length > maxRecords) {
          await expectRevert(m.as(patient).write.join([studyId, ids]), 'ResearchMarketBudgetExhausted', [
            studyId,
            BigInt(ids.length),
            BigInt(maxRecords - reserved),
          ])
        } else {
          contributions.set(i, { id: await join(env, m, patient, studyId, ids), records: ids.length })
          reserved += ids.length
        }
        await check()
      }
      // Every fifth contributor changes their mind.
      const delivered = new Map<number, number>()
      for (const [i, c] of contributions) {
        if (i % 5 === 4) await env.mined(m.as(crowd[i]!).write.withdrawContribution([c.id]))
        else if (i % 7 !== 6) {
          await env.mined(m.as(crowd[i]!).write.deliver([c.id, dataset().cid, randomBytes32()]))
          delivered.set(i, c.records)
        }
        await check()
      }
      // The rest (i % 7 == 6, not withdrawn) never deliver; the deadline passes and the researcher settles.
      await env.advance(31 * 86_400)
      const deliveredRecords = [...delivered.values()].reduce((s, n) => s + n, 0)
      const researcherBefore = await heldBy(env, m, asset, m.researcher.address)
      const settled = await env.mined(m.as(m.researcher).write.closeStudy([studyId]))
      const refund = expectEvent(settled, researchMarketAbi, m.address, 'StudyClosed').refund as bigint
      assert.equal(refund, price * BigInt(maxRecords - deliveredRecords))
      const { held, unreserved, reserved: stillReserved } = await check()
      assert.equal(unreserved + stillReserved, 0n)
      assert.equal(held, price * BigInt(maxRecords))

      // Everyone withdraws; each gets exactly what the model says, and the contract ends empty.
      for (const [i, records] of delivered) {
        const patient = crowd[i]!
        if (asset === NATIVE) {
          assert.equal(await nativeGain(patient.address, () => m.as(patient).write.withdraw([NATIVE])), price * BigInt(records))
        } else {
          await env.mined(m.as(patient).write.withdraw([asset]))
          assert.equal(await heldBy(env, m, asset, patient.address), price * BigInt(records))
        }
        await check()
      }
      for (const [i, patient] of crowd.entries()) {
        if (!delivered.has(i))
          await expectRevert(m.as(patient).write.withdraw([asset]), 'ResearchMarketNothingToWithdraw', [patient.address, asset])
      }
      if (asset === NATIVE) {
        assert.equal(await nativeGain(m.researcher.address, () => m.as(m.researcher).write.withdraw([NATIVE])), refund)
      } else {
        await env.mined(m.as(m.researcher).write.withdraw([asset]))
        assert.equal(await heldBy(env, m, asset, m.researcher.address), researcherBefore + refund)
      }
      const end = await check()
      assert.equal(end.held, 0n)
    })
  }

  // ------------------------------------------------------------------ reentrancy

  describe('reentrancy', () => {
    const REENTRANT_CALL = toFunctionSelector('ReentrancyGuardReentrantCall()')

    type MarketError = Extract<(typeof researchMarketAbi)[number], { type: 'error' }>
    /** The receiver's ABI plus the market's errors, which its `execute` bubbles up. */
    const receiverAbi = [...reentrantReceiverAbi, ...researchMarketAbi.filter((i): i is MarketError => i.type === 'error')] as const

    async function deployReceiver() {
      const hash = await env.wallet(env.admin).deployContract({ abi: reentrantReceiverAbi, bytecode: reentrantReceiverBytecode })
      const address = (await env.mined(hash)).contractAddress
      assert.ok(address)
      return getContract({
        address: getAddress(address),
        abi: receiverAbi,
        client: { public: env.publicClient, wallet: env.wallet(env.admin) },
      })
    }

    it('a patient contract whose receive() re-enters withdraw is paid once; one that refuses payment keeps its balance', async () => {
      const m = await setupMarket(env)
      const receiver = await deployReceiver()
      const [honest] = await patients(1)
      const tokens = await mintRecords(env, m, [receiver.address, honest!.address], [[0, 0], [0]], async (patient, until) => {
        if (patient === receiver.address) {
          const data = encodeFunctionData({ abi: m.d.records.abi, functionName: 'authorizeProvider', args: [m.provider.address, until] })
          await env.mined(receiver.write.execute([m.d.records.address, data]))
        } else {
          await env.mined(m.d.recordsAs(honest!).write.authorizeProvider([m.provider.address, until]))
        }
      })
      const t = await terms(env, { maxRecords: 3 })
      const studyId = await post(env, m, t)
      await env.mined(receiver.write.execute([m.address, marketCall('join', [studyId, tokens[0]!])]))
      const honestContribution = await join(env, m, honest!, studyId, tokens[1]!)
      await env.mined(receiver.write.execute([m.address, marketCall('deliver', [1n, dataset().cid, randomBytes32()])]))
      await env.mined(m.as(honest!).write.deliver([honestContribution, dataset().cid, randomBytes32()]))
      const everyone = [receiver.address, honest!.address, m.researcher.address]
      await checkEscrow(env, m, NATIVE, everyone)

      // Refusing payment: the withdrawal reverts as a whole and the balance stays owed.
      await env.mined(receiver.write.setRefusing([true]))
      await expectRevert(receiver.write.execute([m.address, marketCall('withdraw', [NATIVE])]), 'ResearchMarketTransferFailed', [
        receiver.address,
        t.pricePerRecord * 2n,
      ])
      assert.equal(await m.market.read.balanceOf([receiver.address, NATIVE]), t.pricePerRecord * 2n)
      await env.mined(receiver.write.setRefusing([false]))

      // Re-entering withdraw from receive(): the inner call is refused by the guard, the outer one pays once.
      await env.mined(receiver.write.arm([m.address, marketCall('withdraw', [NATIVE])]))
      await env.mined(receiver.write.execute([m.address, marketCall('withdraw', [NATIVE])]))
      assert.equal(await receiver.read.reentered(), true)
      assert.equal(await receiver.read.reentrySucceeded(), false)
      assert.equal(await receiver.read.reentryError(), REENTRANT_CALL)
      assert.equal(await env.publicClient.getBalance({ address: receiver.address }), t.pricePerRecord * 2n)
      assert.equal(await m.market.read.balanceOf([receiver.address, NATIVE]), 0n)
      await checkEscrow(env, m, NATIVE, everyone)
      // The honest patient's payment is untouched.
      assert.equal(await nativeGain(honest!.address, () => m.as(honest!).write.withdraw([NATIVE])), t.pricePerRecord)
    })

    it('a patient contract re-entering postStudy, join, withdrawContribution or deliver from receive() is refused each time', async () => {
      const m = await setupMarket(env)
      const receiver = await deployReceiver()
      await env.mined(m.market.write.approveResearcher([receiver.address]))
      const [mine] = await mintRecords(env, m, [receiver.address], [[0, 0, 0, 0, 0, 0]], async (_patient, until) => {
        const data = encodeFunctionData({ abi: m.d.records.abi, functionName: 'authorizeProvider', args: [m.provider.address, until] })
        await env.mined(receiver.write.execute([m.d.records.address, data]))
      })
      const t = await terms(env, { maxRecords: 6 })
      const studyId = await post(env, m, t)
      // Five one-record contributions (ids 1-5); the sixth record stays free for a reentrant join.
      for (let i = 0; i < 5; i++) await env.mined(receiver.write.execute([m.address, marketCall('join', [studyId, [mine![i]!]])]))
      const reentries = [
        marketCall('postStudy', [await terms(env)]),
        marketCall('join', [studyId, [mine![5]!]]),
        marketCall('withdrawContribution', [5n]),
        marketCall('deliver', [5n, dataset().cid, randomBytes32()]),
      ]
      for (const [i, payload] of reentries.entries()) {
        // Contribution i + 1 is delivered; while its payment arrives, receive() re-enters.
        await env.mined(receiver.write.execute([m.address, marketCall('deliver', [BigInt(i + 1), dataset().cid, randomBytes32()])]))
        await env.mined(receiver.write.arm([m.address, payload]))
        await env.mined(receiver.write.execute([m.address, marketCall('withdraw', [NATIVE])]))
        assert.equal(await receiver.read.reentered(), true)
        assert.equal(await receiver.read.reentrySucceeded(), false)
        assert.equal(await receiver.read.reentryError(), REENTRANT_CALL)
      }
      // Nothing the inner calls tried happened: one study, contribution 5 still reserved, the
      // sixth record in no contribution, and exactly four payments received.
      assert.equal(await m.market.read.lastStudyId(), studyId)
      assert.equal(await m.market.read.lastContributionId(), 5n)
      assert.equal((await m.market.read.contributionOf([5n])).status, ContributionStatus.Reserved)
      assert.equal(await m.market.read.contributionFor([studyId, mine![5]!]), 0n)
      assert.equal(await env.publicClient.getBalance({ address: receiver.address }), t.pricePerRecord * 4n)
      await checkEscrow(env, m, NATIVE, [receiver.address, m.researcher.address])
    })

    it('a researcher contract re-entering closeStudy from receive() is refused; each study refunds once', async () => {
      const m = await setupMarket(env)
      const receiver = await deployReceiver()
      await env.mined(m.market.write.approveResearcher([receiver.address]))
      const deadline = Number((await env.latestTimestamp()) + 1000n)
      const first = await terms(env, { maxRecords: 4, deadline })
      const second = await terms(env, { maxRecords: 6, pricePerRecord: 7n * 10n ** 14n, deadline })
      const budgets = [first.pricePerRecord * 4n, second.pricePerRecord * 6n] as const
      await env.mined(receiver.write.execute([m.address, marketCall('postStudy', [first])], { value: budgets[0] }))
      await env.mined(receiver.write.execute([m.address, marketCall('postStudy', [second])], { value: budgets[1] }))
      await env.mined(receiver.write.execute([m.address, marketCall('closeStudy', [1n])]))
      await env.advance(1001)
      // While the first refund is paid out, receive() tries to settle the second study.
      await env.mined(receiver.write.arm([m.address, marketCall('closeStudy', [2n])]))
      await env.mined(receiver.write.execute([m.address, marketCall('withdraw', [NATIVE])]))
      assert.equal(await receiver.read.reentered(), true)
      assert.equal(await receiver.read.reentrySucceeded(), false)
      assert.equal(await receiver.read.reentryError(), REENTRANT_CALL)
      assert.equal(await env.publicClient.getBalance({ address: receiver.address }), budgets[0])
      assert.equal((await m.market.read.studyOf([2n])).settled, false)
      await checkEscrow(env, m, NATIVE, [receiver.address])
      // Settled outside a withdrawal, the second study refunds its budget, once.
      await env.mined(receiver.write.execute([m.address, marketCall('closeStudy', [2n])]))
      await expectRevert(receiver.write.execute([m.address, marketCall('closeStudy', [2n])]), 'ResearchMarketAlreadySettled', [2n])
      await env.mined(receiver.write.execute([m.address, marketCall('withdraw', [NATIVE])]))
      assert.equal(await env.publicClient.getBalance({ address: receiver.address }), budgets[0] + budgets[1])
      assert.equal(await heldBy(env, m, NATIVE), 0n)
    })

    it('a malicious ERC-20 re-entering withdraw and closeStudy during its own transfer cannot take more than it is owed', async () => {
      const m = await setupMarket(env)
      const evil = await deployReentrantToken(env)
      // The token contract is itself the researcher: it funds a study in its own token.
      await env.mined(m.market.write.approveResearcher([evil.address]))
      const [alice] = await patients(1)
      const [aliceTokens] = await mintRecords(env, m, [alice!.address], [[0, 0]])
      const t = await terms(env, {
        asset: evil.address,
        pricePerRecord: 1_000n,
        maxRecords: 10,
        deadline: Number((await env.latestTimestamp()) + 1000n),
      })
      await env.mined(evil.write.mint([evil.address, 10_000n]))
      const approve = encodeFunctionData({ abi: evil.abi, functionName: 'approve', args: [m.address, 10_000n] })
      await env.mined(evil.write.execute([evil.address, approve]))
      await env.mined(evil.write.execute([m.address, marketCall('postStudy', [t])]))
      const contribution = await join(env, m, alice!, 1n, aliceTokens!)
      await env.mined(m.as(alice!).write.deliver([contribution, dataset().cid, randomBytes32()]))
      await env.mined(evil.write.execute([m.address, marketCall('closeStudy', [1n])]))
      const everyone = [alice!.address, evil.address]
      await checkEscrow(env, m, evil.address, everyone)
      assert.equal(await m.market.read.balanceOf([evil.address, evil.address]), 8_000n)

      // During the market's transfer to the researcher, the token re-enters withdraw.
      await env.mined(evil.write.arm([m.address, marketCall('withdraw', [evil.address])]))
      await env.mined(evil.write.execute([m.address, marketCall('withdraw', [evil.address])]))
      assert.equal(await evil.read.reentered(), true)
      assert.equal(await evil.read.reentrySucceeded(), false)
      assert.equal(await evil.read.reentryError(), REENTRANT_CALL)
      assert.equal(await heldBy(env, m, evil.address, evil.address), 8_000n)
      await checkEscrow(env, m, evil.address, everyone)

      // During alice's withdrawal, the token (the study's researcher) re-enters closeStudy to settle.
      await env.advance(1001)
      await env.mined(evil.write.arm([m.address, marketCall('closeStudy', [1n])]))
      await env.mined(m.as(alice!).write.withdraw([evil.address]))
      assert.equal(await evil.read.reentered(), true)
      assert.equal(await evil.read.reentrySucceeded(), false)
      assert.equal(await evil.read.reentryError(), REENTRANT_CALL)
      assert.equal((await m.market.read.studyOf([1n])).settled, false)
      assert.equal(await heldBy(env, m, evil.address, alice!.address), 2_000n)
      assert.equal(await heldBy(env, m, evil.address, m.address), 0n)
      await checkEscrow(env, m, evil.address, everyone)
    })
  })

  it('a study in one asset never pays out another: balances are kept per asset', async () => {
    const m = await setupMarket(env)
    const [alice] = await patients(1)
    const [tokens] = await mintRecords(env, m, [alice!.address], [[0, 0]])
    const eth = await post(env, m, await terms(env, { maxRecords: 1 }))
    const usd = await post(env, m, await terms(env, { asset: m.usd.address, pricePerRecord: 5_000_000n, maxRecords: 1 }))
    await env.mined(m.as(alice!).write.deliver([await join(env, m, alice!, eth, [tokens![0]!]), dataset().cid, randomBytes32()]))
    await env.mined(m.as(alice!).write.deliver([await join(env, m, alice!, usd, [tokens![1]!]), dataset().cid, randomBytes32()]))
    assert.equal(await m.market.read.balanceOf([alice!.address, m.usd.address]), 5_000_000n)
    await env.mined(m.as(alice!).write.withdraw([m.usd.address]))
    assert.equal(await heldBy(env, m, m.usd.address, alice!.address), 5_000_000n)
    await expectRevert(m.as(alice!).write.withdraw([m.usd.address]), 'ResearchMarketNothingToWithdraw', [alice!.address, m.usd.address])
    assert.equal(await m.market.read.balanceOf([alice!.address, NATIVE]), 10n ** 15n)
    await checkEscrow(env, m, NATIVE, [alice!.address, m.researcher.address])
    await checkEscrow(env, m, m.usd.address, [alice!.address, m.researcher.address])
  })
})
