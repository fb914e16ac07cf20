/**
 * The TypeScript client of the research market (src/research/market) against a real anvil: a
 * researcher approved by the registrar posts a study in the test stablecoin (the client approves
 * the budget), patients join and deliver, the researcher lists the deliveries, everyone withdraws,
 * and refusals arrive as MedvaultErrors with plain messages.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { type Hex, keccak256, toHex } from 'viem'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { AccessDeniedError, HomeError, InvalidInputError, NotFoundError } from '../../src/errors.js'
import {
  approveResearcher,
  closeStudy,
  deliver,
  earnings,
  getContribution,
  getStudy,
  isResearcher,
  joinStudy,
  listContributions,
  listDeliveries,
  listStudies,
  type MarketContext,
  NATIVE_ASSET,
  postStudy,
  revokeResearcher,
  withdraw,
  withdrawContribution,
} from '../../src/research/market/index.js'
import { type Env, startEnv } from './fixture.js'
import { heldBy, type Market, mintRecords, remember, setupMarket } from './market.js'

/** A CIDv1 (raw, sha2-256) of `text`, as Helia would give for a small block. */
function cidOf(text: string): CID {
  return CID.createV1(0x55, createDigest(0x12, createHash('sha256').update(text).digest()))
}

describe('research market client', () => {
  let env: Env
  let m: Market
  let ctx: MarketContext
  before(async () => {
    env = await startEnv()
    m = await setupMarket(env)
    ctx = { publicClient: env.publicClient, walletFor: env.wallet, deployment: m.d }
  })
  after(async () => {
    await env?.stop()
  })

  const study = async (overrides: Partial<Parameters<typeof postStudy>[1]> = {}) =>
    postStudy(ctx, {
      researcher: m.researcher,
      protocolCid: cidOf('protocol v1'),
      descriptionHash: keccak256(toHex('HbA1c and statin use, adults 40-75')),
      categories: ['laboratory', 'medication'],
      criteriaHash: keccak256(toHex('{"loinc":["4548-4"]}')),
      asset: m.usd.address,
      pricePerRecord: 1_500_000n, // 1.50 tUSD
      maxRecords: 6,
      deadline: new Date(Number((await env.latestTimestamp()) + 7n * 86_400n) * 1000),
      ...overrides,
    })

  it('the registrar approves and revokes researchers; only approved ones post', async () => {
    const lab = await env.newAccount()
    assert.equal(await isResearcher(ctx, lab.address), false)
    await assert.rejects(
      postStudy(ctx, {
        researcher: lab,
        protocolCid: cidOf('p'),
        descriptionHash: keccak256(toHex('d')),
        categories: ['laboratory'],
        criteriaHash: keccak256(toHex('c')),
        asset: NATIVE_ASSET,
        pricePerRecord: 1n,
        maxRecords: 1,
        deadline: new Date(Number((await env.latestTimestamp()) + 3600n) * 1000),
      }),
      (e) => e instanceof AccessDeniedError && /not an approved research organisation/.test(e.message),
    )
    await assert.rejects(approveResearcher(ctx, { registrar: lab, researcher: lab.address }), AccessDeniedError)
    await approveResearcher(ctx, { registrar: env.admin, researcher: lab.address })
    assert.equal(await isResearcher(ctx, lab.address), true)
    await revokeResearcher(ctx, { registrar: env.admin, researcher: lab.address })
    assert.equal(await isResearcher(ctx, lab.address), false)
  })

  it('posts an ERC-20 study (approving the budget), joins, delivers, lists deliveries, withdraws and closes', async () => {
    const [alice, bob] = [remember(await env.newAccount()), remember(await env.newAccount())]
    const [aliceTokens, bobTokens] = await mintRecords(env, m, [alice.address, bob.address], [[0, 3], [0]])
    await env.mined(m.usd.write.mint([m.researcher.address, 9_000_000n]))
    const posted = await study()
    assert.equal(posted.budget, 9_000_000n)
    assert.equal(await heldBy(env, m, m.usd.address, m.researcher.address), 0n)

    const s = await getStudy(ctx, posted.studyId)
    assert.equal(s.state, 'open')
    assert.deepEqual(s.categories, ['laboratory', 'medication'])
    assert.equal(s.protocolCid.toString(), cidOf('protocol v1').toString())
    assert.equal(s.unreservedBudget, 9_000_000n)
    assert.deepEqual(
      (await listStudies(ctx, { researcher: m.researcher.address, states: ['open'] })).map((x) => x.studyId),
      [posted.studyId],
    )

    const a = await joinStudy(ctx, { patient: alice, studyId: posted.studyId, tokenIds: aliceTokens! })
    assert.equal(a.amount, 3_000_000n)
    const b = await joinStudy(ctx, { patient: bob, studyId: posted.studyId, tokenIds: bobTokens! })
    await assert.rejects(joinStudy(ctx, { patient: bob, studyId: posted.studyId, tokenIds: bobTokens! }), (e) => {
      assert.ok(e instanceof InvalidInputError)
      assert.match(e.message, new RegExp(`Record #${bobTokens![0]} is already in contribution #${b.contributionId}`))
      return true
    })
    assert.deepEqual((await getContribution(ctx, a.contributionId)).tokenIds, aliceTokens)

    const datasetCid = cidOf('alice, de-identified, encrypted to the researcher')
    const commitment: Hex = `0x${createHash('sha256').update('alice dataset').digest('hex')}`
    const delivered = await deliver(ctx, { patient: alice, contributionId: a.contributionId, datasetCid, datasetCommitment: commitment })
    assert.equal(delivered.amount, 3_000_000n)
    await assert.rejects(
      deliver(ctx, { patient: alice, contributionId: a.contributionId, datasetCid, datasetCommitment: commitment }),
      (e) => e instanceof InvalidInputError && /already delivered/.test(e.message),
    )
    await withdrawContribution(ctx, { patient: bob, contributionId: b.contributionId })

    const deliveries = await listDeliveries(ctx, { studyId: posted.studyId })
    assert.equal(deliveries.length, 1)
    assert.equal(deliveries[0]!.datasetCid.toString(), datasetCid.toString())
    assert.equal(deliveries[0]!.datasetCommitment, commitment)
    assert.equal(deliveries[0]!.patient, alice.address)
    const statuses = (await listContributions(ctx, { studyId: posted.studyId })).map((c) => [c.contributionId, c.status])
    assert.deepEqual(statuses, [
      [a.contributionId, 'delivered'],
      [b.contributionId, 'withdrawn'],
    ])

    const usdOf = async (who: typeof alice) => (await earnings(ctx, who.address)).find((e) => e.asset === m.usd.address)!
    assert.deepEqual(await usdOf(alice), { asset: m.usd.address, withdrawable: 3_000_000n, earned: 3_000_000n, withdrawn: 0n })
    assert.equal((await withdraw(ctx, { account: alice, asset: m.usd.address })).amount, 3_000_000n)
    assert.deepEqual(await usdOf(alice), { asset: m.usd.address, withdrawable: 0n, earned: 3_000_000n, withdrawn: 3_000_000n })
    assert.equal(await heldBy(env, m, m.usd.address, alice.address), 3_000_000n)
    await assert.rejects(withdraw(ctx, { account: alice, asset: m.usd.address }), InvalidInputError)

    const closed = await closeStudy(ctx, { researcher: m.researcher, studyId: posted.studyId })
    assert.deepEqual({ refund: closed.refund, settled: closed.settled }, { refund: 6_000_000n, settled: false })
    assert.equal((await getStudy(ctx, posted.studyId)).state, 'closed')
    await assert.rejects(
      joinStudy(ctx, { patient: bob, studyId: posted.studyId, tokenIds: bobTokens! }),
      (e) => e instanceof InvalidInputError && /was closed by its researcher/.test(e.message),
    )
    await env.advance(8 * 86_400)
    assert.equal((await getStudy(ctx, posted.studyId)).state, 'expired')
    assert.equal((await closeStudy(ctx, { researcher: m.researcher, studyId: posted.studyId })).settled, true)
    assert.equal((await getStudy(ctx, posted.studyId)).state, 'settled')
    assert.equal((await withdraw(ctx, { account: m.researcher, asset: m.usd.address })).amount, 6_000_000n)
    assert.equal(await heldBy(env, m, m.usd.address), 0n)
  })

  it('refuses bad input before sending, and names unknown studies and missing contracts', async () => {
    await assert.rejects(study({ protocolCid: CID.parse('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG') }), InvalidInputError)
    await assert.rejects(study({ maxRecords: 0 }), InvalidInputError)
    await assert.rejects(study({ categories: [] }), InvalidInputError)
    await assert.rejects(getStudy(ctx, 999n), NotFoundError)
    const { research: _, ...old } = m.d
    await assert.rejects(getStudy({ ...ctx, deployment: old }, 1n), HomeError)
  })
})
