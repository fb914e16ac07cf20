/**
 * Model-based property test of ResearchMarket's money on a real anvil: random sequences of posts
 * (native and ERC-20), joins, withdrawals of contributions, deliveries, closes, payouts and clock
 * jumps, by the right account or the wrong one, each checked against a small TypeScript model of
 * the market rules (docs/research.md), written from the rules, not from the contract's code.
 *
 * For every step the model predicts whether the call succeeds; after every step:
 * - each account's owed balance, per asset, equals the model's;
 * - the contract holds exactly unreserved + reserved budget + owed balances, per asset;
 * - a payout moves exactly the owed amount to the account (gas added back for native currency).
 *
 * Time moves in phases of 1000 s and deadlines sit mid-phase, so the few seconds each transaction
 * adds never decide a deadline. Reproduce a failure with FC_SEED=<seed> [FC_PATH=<path>];
 * FC_RUNS=<n> changes the number of runs.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { type Address, BaseError, ContractFunctionRevertedError, type Hash } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { type Env, randomBytes32, startEnv } from './fixture.js'
import { checkEscrow, dataset, heldBy, type Market, mintRecords, NATIVE, remember, setupMarket, terms } from './market.js'

const NUM_RUNS = Number(process.env.FC_RUNS ?? 15)
const MAX_STEPS = 16
const PHASE = 1000
const RECORDS_EACH = 3

/** Actors: 0-2 patients, 3 the researcher, 4 a stranger (neither approved nor owning records). */
const PATIENTS = [0, 1, 2]
const RESEARCHER = 3
const STRANGER = 4
const ACTOR_NAMES = ['P0', 'P1', 'P2', 'R', 'S']

type Action =
  | { t: 'post'; by: number; usd: boolean; price: bigint; max: number; phases: number }
  | { t: 'join'; by: number; study: number; picks: number[] }
  | { t: 'withdrawContribution'; by: number; pick: number }
  | { t: 'deliver'; by: number; pick: number }
  | { t: 'close'; by: number; study: number }
  | { t: 'withdraw'; by: number; usd: boolean }
  | { t: 'advance'; phases: number }

const actor = fc.integer({ min: 0, max: 4 })
const patientMostly = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...PATIENTS) }, { weight: 1, arbitrary: actor })
/** CONTRIBUTOR: whoever made the contribution picked; otherwise a named actor. */
const CONTRIBUTOR = -1
const contributorMostly = fc.oneof({ weight: 5, arbitrary: fc.constant(CONTRIBUTOR) }, { weight: 1, arbitrary: actor })
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('post' as const),
      by: fc.oneof({ weight: 8, arbitrary: fc.constant(RESEARCHER) }, { weight: 1, arbitrary: fc.constant(STRANGER) }),
      usd: fc.boolean(),
      price: fc.oneof(fc.bigInt({ min: 1n, max: 1000n }), fc.bigInt({ min: 1n, max: 10n ** 15n })),
      max: fc.integer({ min: 1, max: 6 }),
      phases: fc.integer({ min: 0, max: 2 }),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constant('join' as const),
      by: patientMostly,
      study: fc.nat(4),
      // Indices into all 9 records: mostly the joiner's own, sometimes another's, sometimes a repeat.
      picks: fc.array(fc.nat(4 * PATIENTS.length * RECORDS_EACH - 1), { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('withdrawContribution' as const), by: contributorMostly, pick: fc.nat(20) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('deliver' as const), by: contributorMostly, pick: fc.nat(20) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('close' as const),
      by: fc.oneof({ weight: 6, arbitrary: fc.constant(RESEARCHER) }, { weight: 1, arbitrary: actor }),
      study: fc.nat(4),
    }),
  },
  // CONTRIBUTOR here: some account the model says is owed something, in that asset.
  { weight: 3, arbitrary: fc.record({ t: fc.constant('withdraw' as const), by: contributorMostly, usd: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('advance' as const), phases: fc.integer({ min: 1, max: 2 }) }) },
)

/** Every scenario starts with a study, so the money paths are reached. */
const scenarioArb = fc
  .tuple(
    fc.record({
      t: fc.constant('post' as const),
      by: fc.constant(RESEARCHER),
      usd: fc.boolean(),
      price: fc.bigInt({ min: 1n, max: 10n ** 15n }),
      max: fc.integer({ min: 1, max: 6 }),
      phases: fc.integer({ min: 0, max: 2 }),
    }),
    fc.array(actionArb, { minLength: 8, maxLength: MAX_STEPS - 1 }),
  )
  .map(([first, rest]): Action[] => [first, ...rest])

type StudyModel = {
  id: bigint
  asset: Address
  price: bigint
  max: number
  reserved: number
  delivered: number
  deadlinePhase: number
  closed: boolean
  settled: boolean
}
type ContributionModel = {
  id: bigint
  patient: number
  study: StudyModel
  tokens: bigint[]
  status: 'reserved' | 'withdrawn' | 'delivered'
}
type Model = {
  phase: number
  studies: StudyModel[]
  contributions: ContributionModel[]
  owed: Map<string, bigint>
}

describe('ResearchMarket property: the money always adds up', () => {
  let env: Env
  let m: Market
  let actors: PrivateKeyAccount[]
  let tokens: bigint[][]
  before(async () => {
    env = await startEnv()
    m = await setupMarket(env)
    const patients = await Promise.all(PATIENTS.map(async () => remember(await env.newAccount())))
    tokens = await mintRecords(
      env,
      m,
      patients.map((p) => p.address),
      patients.map(() => Array(RECORDS_EACH).fill(0)),
    )
    actors = [...patients, m.researcher, await env.newAccount()]
  })
  after(async () => {
    await env?.stop()
  })

  it('owed balances and escrow match a model of the rules after every step, and payouts are exact', async () => {
    const addr = (i: number) => actors[i]!.address
    const allTokens = () => tokens.flat()
    const owedKey = (who: number, asset: Address) => `${who}:${asset}`
    const owed = (model: Model, who: number, asset: Address) => model.owed.get(owedKey(who, asset)) ?? 0n
    const credit = (model: Model, who: number, asset: Address, amount: bigint) =>
      model.owed.set(owedKey(who, asset), owed(model, who, asset) + amount)
    const outcomes = new Map<string, number>()

    /** Sends the call; returns the hash, or the custom error's name if it reverted. */
    async function attempt(send: () => Promise<Hash>): Promise<{ ok: true; hash: Hash } | { ok: false; error: string }> {
      try {
        const hash = await send()
        await env.mined(hash)
        return { ok: true, hash }
      } catch (err) {
        assert.ok(err instanceof BaseError, `unexpected ${String(err)}`)
        const revert = err.walk((e) => e instanceof ContractFunctionRevertedError)
        assert.ok(revert instanceof ContractFunctionRevertedError, `expected a revert, got ${err.shortMessage}`)
        return { ok: false, error: revert.data?.errorName ?? 'unknown' }
      }
    }

    async function step(model: Model, start: bigint, a: Action): Promise<string> {
      const who = 'by' in a ? (ACTOR_NAMES[a.by] ?? 'contributor') : ''
      const label = `${a.t}${who ? ` by ${who}` : ''}`
      const expectOutcome = async (expected: boolean, send: () => Promise<Hash>) => {
        const result = await attempt(send)
        const outcome = result.ok ? 'ok' : result.error
        outcomes.set(`${a.t}:${outcome}`, (outcomes.get(`${a.t}:${outcome}`) ?? 0) + 1)
        assert.equal(result.ok, expected, `${label}: model expected ${expected ? 'success' : 'a revert'}, got ${outcome}`)
        return result
      }
      const nowPhase = model.phase
      const open = (s: StudyModel) => nowPhase <= s.deadlinePhase
      switch (a.t) {
        case 'advance': {
          await env.advance(a.phases * PHASE)
          model.phase += a.phases
          return label
        }
        case 'post': {
          const asset = a.usd ? m.usd.address : NATIVE
          const deadlinePhase = nowPhase + a.phases
          const t = await terms(env, {
            asset,
            pricePerRecord: a.price,
            maxRecords: a.max,
            deadline: Number(start) + deadlinePhase * PHASE + PHASE / 2,
          })
          const budget = a.price * BigInt(a.max)
          if (a.usd) {
            await env.mined(m.usd.write.mint([addr(a.by), budget]))
            await env.mined(m.usdAs(actors[a.by]!).write.approve([m.address, budget]))
          }
          const ok = a.by === RESEARCHER
          await expectOutcome(ok, () => m.as(actors[a.by]!).write.postStudy([t], { value: a.usd ? 0n : budget }))
          if (ok) {
            model.studies.push({
              id: BigInt(model.studies.length + 1),
              asset,
              price: a.price,
              max: a.max,
              reserved: 0,
              delivered: 0,
              deadlinePhase,
              closed: false,
              settled: false,
            })
          } else if (a.usd) {
            // Leave no stray allowance or tokens behind for the next post by this account.
            await env.mined(m.usdAs(actors[a.by]!).write.approve([m.address, 0n]))
          }
          return `${label} ${a.usd ? 'usd' : 'eth'} ${a.price}x${a.max} until phase ${deadlinePhase}`
        }
        case 'join': {
          const s = pickStudy(model, a.study)
          const ids = a.picks.map((i) => {
            // Mostly the joiner's own records: map the pick onto them unless it is a deliberate foreign pick.
            const own = tokens[a.by]
            return own && i % 8 !== 7 ? own[i % RECORDS_EACH]! : allTokens()[i % allTokens().length]!
          })
          const studyId = s?.id ?? 99n
          const live = (t: bigint) => model.contributions.some((c) => c.study === s && c.status !== 'withdrawn' && c.tokens.includes(t))
          const ok =
            s !== undefined &&
            !s.closed &&
            open(s) &&
            ids.every((t) => tokens[a.by]?.includes(t)) &&
            new Set(ids).size === ids.length &&
            !ids.some(live) &&
            ids.length <= s.max - s.reserved - s.delivered
          const result = await expectOutcome(ok, () => m.as(actors[a.by]!).write.join([studyId, ids]))
          if (ok && result.ok && s) {
            s.reserved += ids.length
            model.contributions.push({
              id: BigInt(model.contributions.length + 1),
              patient: a.by,
              study: s,
              tokens: ids,
              status: 'reserved',
            })
          }
          return `${label} study ${studyId} records ${ids.join(',')}`
        }
        case 'withdrawContribution':
        case 'deliver': {
          // Mostly the newest contributions.
          const c = model.contributions[model.contributions.length - 1 - (a.pick % Math.max(model.contributions.length, 1))]
          const id = c?.id ?? 99n
          const by = a.by === CONTRIBUTOR ? (c?.patient ?? 0) : a.by
          const ok = c !== undefined && c.patient === by && c.status === 'reserved' && open(c.study)
          const actorAccount = actors[by]!
          await expectOutcome(ok, () =>
            a.t === 'deliver'
              ? m.as(actorAccount).write.deliver([id, dataset().cid, randomBytes32()])
              : m.as(actorAccount).write.withdrawContribution([id]),
          )
          if (ok && c) {
            const n = c.tokens.length
            c.study.reserved -= n
            if (a.t === 'deliver') {
              c.status = 'delivered'
              c.study.delivered += n
              credit(model, c.patient, c.study.asset, c.study.price * BigInt(n))
            } else {
              c.status = 'withdrawn'
              if (c.study.closed) {
                c.study.max -= n
                credit(model, RESEARCHER, c.study.asset, c.study.price * BigInt(n))
              }
            }
          }
          return `${label} contribution ${id}`
        }
        case 'close': {
          const s = pickStudy(model, a.study)
          const settling = s !== undefined && !open(s)
          const ok = s !== undefined && a.by === RESEARCHER && !s.settled && (settling || !s.closed)
          await expectOutcome(ok, () => m.as(actors[a.by]!).write.closeStudy([s?.id ?? 99n]))
          if (ok && s) {
            const keep = settling ? s.delivered : s.delivered + s.reserved
            credit(model, RESEARCHER, s.asset, s.price * BigInt(s.max - keep))
            s.max = keep
            s.closed = true
            if (settling) {
              s.reserved = 0
              s.settled = true
            }
          }
          return `${label} study ${s?.id ?? 99n}${settling ? ' (settle)' : ''}`
        }
        case 'withdraw': {
          let asset = a.usd ? m.usd.address : NATIVE
          let by = a.by
          if (by === CONTRIBUTOR) {
            const [key] = [...model.owed].find(([, v]) => v > 0n) ?? [`0:${asset}`]
            const [who, owedAsset] = key.split(':') as [string, Address]
            by = Number(who)
            asset = owedAsset
          }
          const amount = owed(model, by, asset)
          const before = await heldBy(env, m, asset, addr(by))
          const result = await expectOutcome(amount > 0n, () => m.as(actors[by]!).write.withdraw([asset]))
          if (result.ok) {
            let gain = (await heldBy(env, m, asset, addr(by))) - before
            if (asset === NATIVE) {
              const receipt = await env.publicClient.getTransactionReceipt({ hash: result.hash })
              gain += receipt.gasUsed * receipt.effectiveGasPrice
            }
            assert.equal(gain, amount, `${label}: paid ${gain}, owed ${amount}`)
            model.owed.set(owedKey(by, asset), 0n)
          }
          return `${label} ${a.usd ? 'usd' : 'eth'} ${amount}`
        }
      }
    }

    async function check(model: Model, trace: string[]) {
      const where = () => `after:\n  ${trace.join('\n  ')}`
      for (const asset of [NATIVE, m.usd.address]) {
        for (const [i, account] of actors.entries()) {
          assert.equal(
            await m.market.read.balanceOf([account.address, asset]),
            owed(model, i, asset),
            `owed to ${ACTOR_NAMES[i]} ${where()}`,
          )
        }
        await checkEscrow(
          env,
          m,
          asset,
          actors.map((a) => a.address),
        )
      }
      for (const s of model.studies) {
        const [unreserved, reserved] = await m.market.read.escrowOf([s.id])
        assert.equal(unreserved, s.price * BigInt(s.max - s.reserved - s.delivered), `study ${s.id} unreserved ${where()}`)
        assert.equal(reserved, s.price * BigInt(s.reserved), `study ${s.id} reserved ${where()}`)
      }
    }

    /** Mostly an existing study, the newest first; pick 4 names one that does not exist. */
    function pickStudy(model: Model, pick: number): StudyModel | undefined {
      return pick === 4 ? undefined : model.studies[model.studies.length - 1 - (pick % Math.max(model.studies.length, 1))]
    }

    let runs = 0
    let steps = 0
    const started = Date.now()
    const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED)
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (actions) => {
        runs++
        const snapshot = await env.testClient.snapshot()
        try {
          // A fresh block fixes where phase 0 starts, whatever clock offset earlier runs left in anvil.
          const start = await env.advance(0)
          const model: Model = { phase: 0, studies: [], contributions: [], owed: new Map() }
          const trace: string[] = []
          for (const action of actions) {
            trace.push(await step(model, start, action))
            steps++
            await check(model, trace)
          }
        } finally {
          await env.testClient.revert({ id: snapshot })
        }
      }),
      {
        numRuns: NUM_RUNS,
        includeErrorInReport: true,
        ...(seed === undefined ? {} : { seed }),
        ...(process.env.FC_PATH === undefined ? {} : { path: process.env.FC_PATH }),
      },
    )
    const summary = [...outcomes].sort().map(([k, n]) => `${k} ×${n}`)
    console.log(`${runs} runs, ${steps} steps in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    console.log(`outcomes: ${summary.join('; ')}`)
    // The runs must reach the money paths, not only refusals (both are frequent: a dozen or more per 15 runs).
    for (const path of ['join:ok', 'deliver:ok']) {
      assert.ok((outcomes.get(path) ?? 0) > 0, `no successful ${path} in ${runs} runs`)
    }
  })
})
