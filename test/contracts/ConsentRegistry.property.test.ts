/**
 * Model-based property test of ConsentRegistry against a real anvil: random sequences of grants,
 * revocations, delegate changes, clock jumps and break-glass actions, each checked against a small
 * TypeScript model of the consent rules (written from the rules, not from the contract's code).
 *
 * Records carry opaque category tags (the contracts never see a category); each patient keeps a list
 * of open tags (setOpenTags). Two patients here share tag values on purpose: a tag means something
 * only together with its patient.
 *
 * The contract keeps only the hash of each grant's terms, and every call about a grant passes the
 * terms back; the test keeps them as a client does (from GrantCreated), and revokes with them, with
 * forged terms, or with an id never given.
 *
 * After every step, canAccess(reader, token) (owner or break-glass) and canAccessWith(reader, token,
 * grant, its terms) for every grant must equal the model for every reader and token, and:
 * - no grant is created or revoked by anyone but the patient or a current delegate (a non-owner can never grant);
 * - no expired or revoked grant covers anything, so nothing is readable through one;
 * - a grant's terms altered (a later expiry, another grantee, scope or purpose, an extra sensitive tag
 *   or record) are not active and reach nothing the reader could not read without a grant;
 * - a record whose tag is not open for its patient is never covered by an "all" grant (unless the
 *   grant lists the tag) or by break-glass: only a grant that lists the record or its tag reaches it;
 * - a delegate's grant never lists a tag, nor a record with a tag, that was not open when it was made;
 * - grantCovers, isActive, termsHashOf (the hash of the terms, zero once revoked) and isOpenTag agree with the model.
 *
 * Reproduce a failure with the seed fast-check prints: FC_SEED=<seed> [FC_PATH=<path>] node --import tsx --test <this file>.
 * FC_RUNS=<n> changes the number of runs.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import {
  type Account,
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  getAddress,
  getContract,
  type Hash,
  type Hex,
  http,
  keccak256,
  type TransactionReceipt,
  toHex,
} from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { consentRegistryAbi, medicalRecordAbi } from '../../src/contracts/index.js'
import {
  type Deployed,
  type Env,
  expectEvent,
  mintRequest,
  registerProvider,
  startEnv,
  tag8,
  ZERO_ADDRESS,
  ZERO_BYTES32,
} from './fixture.js'
import type { GrantStruct } from '../../src/consent/grantTerms.js'

const NUM_RUNS = Number(process.env.FC_RUNS ?? 25)
const MAX_STEPS = 12

const DAY = 86_400n
const MAX_GRANT_DURATION = 3650n * DAY
const EMERGENCY_WINDOW = DAY
const MAX_TAGS = 256
const NONEXISTENT = 999n

/**
 * The tag values in play, by index; index ZERO is the zero tag, which no grant or open list may hold.
 * The classes in the comments are what a patient's table would map them to (the contract never knows).
 */
const TAGS: Hex[] = [
  tag8(0xa0), // 0 laboratory
  tag8(0xa1), // 1 mental-health + mental-health flag
  tag8(0xa2), // 2 laboratory + sexual-health flag
  tag8(0xa3), // 3 genetic + genetic flag
  tag8(0xa4), // 4 imaging + restricted flag
  tag8(0xa5), // 5 clinical-note
  tag8(0xa6), // 6 substance-use + substance-use and mental-health flags
  tag8(0xa7), // 7 other (no record yet: a category a future record may have)
  '0x0000000000000000',
]
const ZERO = TAGS.length - 1
/** The tags a client would open for each patient: its classes without a flag. */
const CLIENT_OPEN = [0, 5, 7]

type RecordError = Extract<(typeof medicalRecordAbi)[number], { type: 'error' }>
const consentAbi = [...consentRegistryAbi, ...medicalRecordAbi.filter((item): item is RecordError => item.type === 'error')] as const

// ------------------------------------------------------------------------------------- actors

/** Named accounts; indices are what the arbitraries pick. */
const P = 0 // patient with six records
const Q = 1 // second patient with two records
const D = 2 // would-be delegate (guardian)
const S = 3 // stranger
const G1 = 4 // grantee
const G2 = 5 // grantee
const E = 6 // registered provider, may be flagged for emergencies
const ACTOR_NAMES = ['P', 'Q', 'D', 'S', 'G1', 'G2', 'E'] as const
type Actor = number

/** Pre-minted records: [owner, tag index]. The last token choice (index 8) is a token that does not exist. */
const RECORDS: [Actor, number][] = [
  [P, 0], // lab result
  [P, 1], // psychiatric note
  [P, 2], // lab result flagged sexual-health
  [P, 3], // genetic test
  [P, 4], // imaging flagged restricted
  [P, 5], // clinical note
  [Q, 0], // Q's lab result: the same tag value as P's, which must not matter
  [Q, 6], // Q's substance-use note, also flagged mental-health
]
const TOKEN_CHOICES = RECORDS.length + 1 // + the nonexistent token

// ------------------------------------------------------------------------------------- actions

type ExpiryChoice = { kind: 'past'; by: number } | { kind: 'now' } | { kind: 'in'; seconds: bigint } | { kind: 'tooFar'; by: number }

type Action =
  | {
      t: 'grant'
      /** 'patient': the grant's patient itself; otherwise a named account (maybe a delegate, maybe not). */
      by: 'patient' | Actor
      patient: Actor
      grantee: Actor | 'zero' | 'self'
      scope: number
      tokens: number[]
      /** Indices into TAGS, or more than MAX_TAGS tags. */
      tags: number[] | 'tooMany'
      /** Send both lists whatever the scope (refused); otherwise only the one the scope takes. */
      stray: boolean
      expiry: ExpiryChoice
      purpose: number
    }
  /**
   * target: an active grant if there is one, any grant (maybe expired or revoked), an id never
   * issued (with a real grant's terms if there is one), or a grant with forged terms (`pick` chooses how).
   */
  | { t: 'revoke'; by: 'patient' | Actor; pick: number; target: 'active' | 'any' | 'unknown' | 'forged' }
  | { t: 'addDelegate'; from: Actor; delegate: Actor | 'zero' }
  | { t: 'removeDelegate'; from: Actor; delegate: Actor }
  | { t: 'increaseTime'; seconds: number }
  | { t: 'jumpTo'; pick: number; offset: number }
  | { t: 'flag'; by: 'registrar' | Actor; who: Actor; allowed: boolean }
  | { t: 'open'; by: Actor; patient: Actor }
  | { t: 'toggleSuspend' }
  /** setOpenTags by `by` (for its own list, whoever it is). */
  | { t: 'setOpen'; by: Actor; opened: number[]; closed: number[] }

const actorArb = (...actors: Actor[]) => fc.constantFrom(...actors)

const expiryArb: fc.Arbitrary<ExpiryChoice> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('past' as const), by: fc.integer({ min: 1, max: 100_000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'now' as const }) },
  {
    weight: 14,
    arbitrary: fc.record({
      kind: fc.constant('in' as const),
      seconds: fc.oneof(
        { weight: 4, arbitrary: fc.bigInt({ min: 1n, max: 400n }) },
        { weight: 2, arbitrary: fc.bigInt({ min: 1n, max: 3n * DAY }) },
        { weight: 1, arbitrary: fc.constantFrom(1n, MAX_GRANT_DURATION) },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tooFar' as const), by: fc.integer({ min: 1, max: 100_000 }) }) },
)

const tagIndexArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...CLIENT_OPEN) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: ZERO - 1 }) },
)

const grantTagsArb: fc.Arbitrary<number[] | 'tooMany'> = fc.oneof(
  { weight: 12, arbitrary: fc.array(tagIndexArb, { minLength: 0, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom(0, 1, ZERO), { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.constant('tooMany' as const) },
)

const tokenIndexArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 5 }) }, // P's records
  { weight: 1, arbitrary: fc.integer({ min: 6, max: TOKEN_CHOICES - 1 }) }, // Q's records, the nonexistent one
)

const grantArb: fc.Arbitrary<Action> = fc.record({
  t: fc.constant('grant' as const),
  by: fc.oneof(
    { weight: 5, arbitrary: fc.constant('patient' as const) },
    { weight: 3, arbitrary: actorArb(D) },
    { weight: 1, arbitrary: actorArb(S, G1, P, Q) },
  ),
  patient: fc.oneof({ weight: 4, arbitrary: actorArb(P) }, { weight: 1, arbitrary: actorArb(Q) }),
  grantee: fc.oneof(
    { weight: 8, arbitrary: actorArb(G1, G2, D, S, E) },
    { weight: 1, arbitrary: fc.constantFrom('zero' as const, 'self' as const) },
  ),
  scope: fc.integer({ min: 0, max: 2 }),
  tokens: fc.oneof(
    { weight: 9, arbitrary: fc.array(tokenIndexArb, { minLength: 1, maxLength: 3 }) },
    { weight: 1, arbitrary: fc.constant<number[]>([]) },
  ),
  tags: grantTagsArb,
  stray: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  expiry: expiryArb,
  purpose: fc.integer({ min: 0, max: 4 }),
})

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 8, arbitrary: grantArb },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('revoke' as const),
      by: fc.oneof(
        { weight: 4, arbitrary: fc.constant('patient' as const) },
        { weight: 2, arbitrary: actorArb(D) },
        { weight: 1, arbitrary: actorArb(S, G1, P, Q) },
      ),
      pick: fc.nat(),
      target: fc.oneof(
        { weight: 5, arbitrary: fc.constant('active' as const) },
        { weight: 2, arbitrary: fc.constant('any' as const) },
        { weight: 1, arbitrary: fc.constant('unknown' as const) },
        { weight: 2, arbitrary: fc.constant('forged' as const) },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('addDelegate' as const),
      from: fc.oneof({ weight: 3, arbitrary: actorArb(P) }, { weight: 2, arbitrary: actorArb(D, Q, S) }),
      delegate: fc.oneof({ weight: 4, arbitrary: actorArb(D, S, G1) }, { weight: 1, arbitrary: fc.constantFrom('zero' as const, P) }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('removeDelegate' as const),
      from: actorArb(P, P, Q, D),
      delegate: actorArb(D, S, G1),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('increaseTime' as const), seconds: fc.constantFrom(1, 30, 120, 300, 3600, 86_400, 90_000) }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('jumpTo' as const), pick: fc.nat(), offset: fc.constantFrom(-1, 0) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('flag' as const),
      by: fc.oneof({ weight: 4, arbitrary: fc.constant('registrar' as const) }, { weight: 1, arbitrary: actorArb(S, E) }),
      who: actorArb(E, E, S),
      allowed: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('open' as const), by: actorArb(E, E, E, E, E, S, G1), patient: actorArb(P, P, Q) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'toggleSuspend' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('setOpen' as const),
      by: fc.oneof({ weight: 5, arbitrary: actorArb(P, P, Q) }, { weight: 1, arbitrary: actorArb(D, S) }),
      opened: fc.oneof(
        { weight: 6, arbitrary: fc.array(tagIndexArb, { maxLength: 3 }) },
        { weight: 1, arbitrary: fc.array(fc.constantFrom(1, 4, ZERO), { minLength: 1, maxLength: 2 }) },
      ),
      closed: fc.array(fc.integer({ min: 0, max: ZERO }), { maxLength: 2 }),
    }),
  },
)

/** Optional set-up steps (so delegate grants, open tags, revocations and emergency windows happen often), then the random steps. */
const scenarioArb = fc
  .tuple(
    fc.boolean(),
    fc.boolean(),
    fc.boolean(),
    fc.option(grantArb, { nil: undefined }),
    fc.array(actionArb, { minLength: 3, maxLength: MAX_STEPS, size: 'max' }),
  )
  .map(([withDelegate, withFlag, withOpen, firstGrant, steps]) => [
    ...(withDelegate ? [{ t: 'addDelegate', from: P, delegate: D } as Action] : []),
    ...(withFlag ? [{ t: 'flag', by: 'registrar', who: E, allowed: true } as Action] : []),
    ...(withOpen
      ? [
          { t: 'setOpen', by: P, opened: CLIENT_OPEN, closed: [] } as Action,
          { t: 'setOpen', by: Q, opened: CLIENT_OPEN, closed: [] } as Action,
        ]
      : []),
    ...(firstGrant ? [firstGrant] : []),
    ...steps,
  ])

// ------------------------------------------------------------------------------------- model

/** ConsentRegistry.Grant: a grant's terms as sent, and as every later call passes them back. */
type Terms = GrantStruct

type ModelGrant = {
  id: bigint
  /** The terms exactly as sent (order and repeats kept), and their hash as hashOf gave it then. */
  terms: Terms
  hash: Hex
  patient: Address
  grantee: Address
  scope: number
  tokens: Set<bigint>
  /** Tag indices the grant lists (none for Records scope). */
  tags: Set<number>
  expiresAt: bigint
  revoked: boolean
}

type Model = {
  now: bigint
  grants: ModelGrant[]
  delegates: Set<string>
  flagged: Set<Address>
  suspended: boolean
  emergencyUntil: Map<string, bigint>
  /** Each account's open tag indices. */
  open: Map<Address, Set<number>>
}

type Expected = { ok: true } | { ok: false; errors: { name: string; args: readonly unknown[] }[] }

const ok: Expected = { ok: true }
const fail = (...errors: { name: string; args?: readonly unknown[] }[]): Expected => ({
  ok: false,
  errors: errors.map((e) => ({ name: e.name, args: e.args ?? [] })),
})

function pairKey(a: Address, b: Address): string {
  return `${a}:${b}`
}

function isActive(g: ModelGrant, at: bigint): boolean {
  return !g.revoked && at < g.expiresAt
}

function isOpen(m: Model, patient: Address, tag: number): boolean {
  return m.open.get(patient)?.has(tag) ?? false
}

// ------------------------------------------------------------------------------------- the test

describe('ConsentRegistry (model-based property)', () => {
  let env: Env
  let d: Deployed
  let accounts: PrivateKeyAccount[]
  let tokenIds: bigint[] // per RECORDS index, then NONEXISTENT
  let tokenInfo: Map<bigint, { owner: Address; tag: number }>

  before(async () => {
    env = await startEnv()
    d = await env.deploy()
    accounts = []
    for (let i = 0; i < ACTOR_NAMES.length; i++) accounts.push(await env.newAccount())
    const lab = await registerProvider(env, d, 'Lab A')
    await env.mined(d.registry.write.register([accounts[E]!.address, 'City ER', keccak256(toHex('er key'))]))
    tokenIds = []
    tokenInfo = new Map()
    const until = (await env.latestTimestamp()) + 3600n
    for (const owner of [P, Q]) await env.mined(d.recordsAs(accounts[owner]!).write.authorizeProvider([lab.address, until]))
    for (const [owner, tag] of RECORDS) {
      const patient = accounts[owner]!.address
      const receipt = await env.mined(d.recordsAs(lab).write.mint([mintRequest(patient, { tag: TAGS[tag]! }), 0n, '0x']))
      const issued = expectEvent(receipt, medicalRecordAbi, d.records.address, 'RecordIssued')
      const tokenId = issued.tokenId as bigint
      tokenIds.push(tokenId)
      tokenInfo.set(tokenId, { owner: patient, tag })
    }
    tokenIds.push(NONEXISTENT)
  })

  after(async () => {
    await env?.stop()
  })

  it(`agrees with the model of the consent rules (${NUM_RUNS} runs, up to ${MAX_STEPS + 3} steps)`, async () => {
    // All reads of one check go out as one JSON-RPC batch.
    const batchClient = createPublicClient({ chain: env.chain, transport: http(env.node.rpcUrl, { batch: { batchSize: 1000 } }) })
    const address = getAddress(d.consent)
    const view = getContract({ address, abi: consentAbi, client: batchClient })
    const as = (account: Account) =>
      getContract({ address, abi: consentAbi, client: { public: env.publicClient, wallet: env.wallet(account) } })
    const addr = (a: Actor) => accounts[a]!.address
    const nameOf = (address: Address) => ACTOR_NAMES[accounts.findIndex((a) => a.address === address)]!
    const registrar = env.admin
    /** How often each kind of step succeeded or failed with which error, printed at the end. */
    const outcomes = new Map<string, number>()

    // ----------------------------------------------------------------- the model's view of canAccess(With)

    /** canAccess: the owner, or an open break-glass window on a record with an open tag. */
    function modelCanAccess(m: Model, reader: Address, tokenId: bigint): boolean {
      const info = tokenInfo.get(tokenId)
      if (!info) return false
      if (reader === info.owner) return true
      return (
        isOpen(m, info.owner, info.tag) &&
        reader === addr(E) &&
        m.flagged.has(reader) &&
        !m.suspended &&
        m.now < (m.emergencyUntil.get(pairKey(info.owner, reader)) ?? 0n)
      )
    }

    /** canAccessWith under grant `g` (with its true terms): canAccess, or `g` is the reader's and covers the record. */
    function modelCanAccessWith(m: Model, reader: Address, tokenId: bigint, g: ModelGrant): boolean {
      return modelCanAccess(m, reader, tokenId) || (g.grantee === reader && grantCovers(m, g, tokenId))
    }

    function grantCovers(m: Model, g: ModelGrant, tokenId: bigint): boolean {
      const info = tokenInfo.get(tokenId)
      if (!info || !isActive(g, m.now) || g.patient !== info.owner) return false
      if (g.scope === 0) return g.tokens.has(tokenId)
      return coversTag(m, g, info.tag)
    }

    /** Written from the rule: an "all" grant covers the patient's open tags, any tag grant the tags it lists. */
    function coversTag(m: Model, g: ModelGrant, tag: number): boolean {
      return (g.scope === 2 && isOpen(m, g.patient, tag)) || g.tags.has(tag)
    }

    /**
     * `t` altered in ways that would widen or change the grant if the contract believed them: a
     * later expiry, another grantee, an extra sensitive tag, an extra record, "all" instead of a
     * narrower scope, another purpose. Every one must be inactive and reach nothing.
     */
    function forgeries(t: Terms): Terms[] {
      const other = t.grantee === addr(S) ? addr(G1) : addr(S)
      return [
        { ...t, expiresAt: t.expiresAt + Number(DAY) },
        { ...t, grantee: other },
        { ...t, tags: [...t.tags, TAGS[1]!, TAGS[4]!] },
        { ...t, tokenIds: [...t.tokenIds, tokenIds[1]!] },
        { ...t, scope: t.scope === 2 ? 1 : 2 },
        { ...t, purpose: (t.purpose + 1) % 5 },
      ]
    }

    const mayActFor = (m: Model, caller: Address, patient: Address) => caller === patient || m.delegates.has(pairKey(patient, caller))

    // ----------------------------------------------------------------- sending a transaction

    /**
     * Sends one transaction at exactly `txTime` (so gas estimation and the block agree on the clock).
     * Returns the receipt on success; on a revert asserts the error is one of `expected.errors`,
     * then mines an empty block to use up the pinned timestamp.
     */
    async function send(m: Model, txTime: bigint, what: string, call: () => Promise<Hash>, expected: Expected) {
      await env.testClient.setNextBlockTimestamp({ timestamp: txTime })
      let receipt: TransactionReceipt | undefined
      let revert: { name: string; args: readonly unknown[] } | undefined
      try {
        receipt = await env.publicClient.waitForTransactionReceipt({ hash: await call(), pollingInterval: 20 })
      } catch (err) {
        if (!(err instanceof BaseError)) throw err
        const r = err.walk((e) => e instanceof ContractFunctionRevertedError)
        if (!(r instanceof ContractFunctionRevertedError)) throw err
        revert = { name: r.data?.errorName ?? `<undecoded ${r.signature ?? r.reason ?? ''}>`, args: r.data?.args ?? [] }
      }
      const outcome = `${what.split(/[ (]/)[0]}: ${receipt ? 'ok' : revert?.name}`
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
      if (expected.ok) {
        assert.ok(receipt, `${what}: expected success, reverted with ${revert?.name}(${String(revert?.args)})`)
        assert.equal(receipt.status, 'success', `${what}: transaction reverted on chain`)
        assert.equal(await env.timestampOf(receipt), txTime, `${what}: block time`)
        m.now = txTime
        return receipt
      }
      assert.ok(!receipt, `${what}: expected ${expected.errors.map((e) => e.name).join(' or ')}, but it succeeded`)
      assert.ok(
        expected.errors.some((e) => e.name === revert!.name && deepEqual(e.args, revert!.args)),
        `${what}: expected ${expected.errors.map((e) => `${e.name}(${e.args.join(', ')})`).join(' or ')}, got ${revert!.name}(${revert!.args.join(', ')})`,
      )
      await env.testClient.mine({ blocks: 1 })
      m.now = txTime
      return undefined
    }

    // ----------------------------------------------------------------- one step

    async function step(m: Model, a: Action): Promise<string> {
      const txTime = m.now + 1n
      switch (a.t) {
        case 'grant': {
          const byActor = a.by === 'patient' ? a.patient : a.by
          const by = addr(byActor)
          const patient = addr(a.patient)
          const grantee = a.grantee === 'zero' ? ZERO_ADDRESS : a.grantee === 'self' ? patient : addr(a.grantee)
          const allTokens = a.tokens.map((i) => tokenIds[i]!)
          const expiresAt =
            a.expiry.kind === 'past'
              ? txTime - BigInt(a.expiry.by)
              : a.expiry.kind === 'now'
                ? txTime
                : a.expiry.kind === 'in'
                  ? txTime + a.expiry.seconds
                  : txTime + MAX_GRANT_DURATION + BigInt(a.expiry.by)
          const tagIdx = a.tags === 'tooMany' ? [] : a.tags
          const allTags =
            a.tags === 'tooMany' ? Array.from({ length: MAX_TAGS + 1 }, (_, i) => tag8(0x1000 + i)) : a.tags.map((i) => TAGS[i]!)
          // Only the list the scope takes, unless the step sends both on purpose.
          const sendsTokens = a.scope === 0 || a.stray
          const sendsTags = a.scope !== 0 || a.stray
          const tokens = sendsTokens ? allTokens : []
          const tags = sendsTags ? allTags : []
          const terms: Terms = {
            patient,
            grantee,
            expiresAt: Number(expiresAt),
            scope: a.scope,
            purpose: a.purpose,
            tokenIds: tokens,
            tags,
          }
          const what = `grant by ${ACTOR_NAMES[byActor]} for ${ACTOR_NAMES[a.patient]} to ${String(a.grantee)} scope ${a.scope} tokens [${tokens}] tags ${!sendsTags ? '[]' : a.tags === 'tooMany' ? 'tooMany' : `[${a.tags}]`} expiry ${expiresAt - txTime}s`
          // The rules, as the issue states them.
          let expected: Expected
          if (!mayActFor(m, by, patient)) {
            expected = fail({ name: 'ConsentUnauthorized', args: [by, patient] })
          } else {
            const errors: { name: string; args?: readonly unknown[] }[] = []
            if (expiresAt <= txTime || expiresAt > txTime + MAX_GRANT_DURATION)
              errors.push({ name: 'ConsentInvalidExpiry', args: [Number(expiresAt)] })
            if (grantee === ZERO_ADDRESS || grantee === patient) errors.push({ name: 'ConsentInvalidGrant' })
            const byDelegate = by !== patient
            if (a.scope === 0) {
              // One record at least, and no tags.
              if (tokens.length === 0 || tags.length > 0) errors.push({ name: 'ConsentInvalidGrant' })
              const bad = tokens.find((t) => tokenInfo.get(t)?.owner !== patient)
              if (bad !== undefined)
                errors.push(
                  tokenInfo.has(bad) ? { name: 'ConsentNotOwner', args: [bad, patient] } : { name: 'ERC721NonexistentToken', args: [bad] },
                )
              // Only the patient may share sensitive records: a delegate may list only records whose tag is open.
              if (byDelegate && tokens.some((t) => tokenInfo.get(t)?.owner === patient && !isOpen(m, patient, tokenInfo.get(t)!.tag)))
                errors.push({ name: 'ConsentDelegateCannotShareSensitive', args: [by, patient] })
            } else {
              // No records, and a tag at least for Categories.
              if ((a.scope === 1 && tags.length === 0) || tags.length > MAX_TAGS || tagIdx.includes(ZERO) || tokens.length > 0)
                errors.push({ name: 'ConsentInvalidGrant' })
              // ...and only open tags.
              if (byDelegate && (a.tags === 'tooMany' || tagIdx.some((i) => !isOpen(m, patient, i))))
                errors.push({ name: 'ConsentDelegateCannotShareSensitive', args: [by, patient] })
            }
            expected = errors.length > 0 ? fail(...errors) : ok
          }
          const receipt = await send(m, txTime, what, () => as(accounts[byActor]!).write.grant([terms]), expected)
          if (receipt) {
            const id = BigInt(m.grants.length + 1)
            const event = expectEvent(receipt, consentRegistryAbi, d.consent, 'GrantCreated')
            assert.equal(event.grantId, id)
            assert.equal(event.patient, patient)
            assert.equal(event.grantee, grantee)
            assert.equal(event.grantor, by)
            // A non-owner can never grant: whoever did is the patient or the patient's delegate at this moment.
            assert.ok(mayActFor(m, event.grantor as Address, patient), 'a grant was created by someone who may not act for the patient')
            assert.equal(event.scope, a.scope)
            assert.deepEqual(event.tokenIds, tokens)
            assert.deepEqual(event.tags, tags)
            assert.equal(event.expiresAt, Number(expiresAt))
            assert.equal(event.purpose, a.purpose)
            assert.ok(!('sensitive' in event) && !('categories' in event), 'GrantCreated says nothing about care')
            const listed = new Set(a.scope === 0 ? [] : tagIdx)
            if (by !== patient) {
              // A delegate can never cover a tag that was not open: every tag and record it listed was open now.
              for (const i of listed) assert.ok(isOpen(m, patient, i), `delegate grant #${id} lists tag ${i}, not open`)
              for (const t of a.scope === 0 ? tokens : [])
                assert.ok(isOpen(m, patient, tokenInfo.get(t)!.tag), `delegate grant #${id} lists token ${t}, whose tag is not open`)
            }
            const hash = await view.read.hashOf([terms])
            m.grants.push({
              id,
              terms,
              hash,
              patient,
              grantee,
              scope: a.scope,
              tokens: new Set(tokens),
              tags: listed,
              expiresAt,
              revoked: false,
            })
          }
          return what
        }
        case 'revoke': {
          const live = m.grants.filter((g) => isActive(g, txTime))
          const pool = a.target === 'active' && live.length > 0 ? live : m.grants
          const picked = pool.length === 0 ? undefined : pool[a.pick % pool.length]
          // The grant the call names, with its true terms: none for an id never given or forged terms.
          const g = a.target === 'unknown' || a.target === 'forged' ? undefined : picked
          const id = a.target === 'unknown' || !picked ? BigInt(m.grants.length + 1 + (a.pick % 3)) : picked.id
          const byActor = a.by !== 'patient' ? a.by : picked ? ACTOR_NAMES.indexOf(nameOf(picked.patient)) : P
          const by = addr(byActor)
          let terms: Terms = picked?.terms ?? {
            patient: by,
            grantee: addr(G1),
            expiresAt: Number(txTime + DAY),
            scope: 2,
            purpose: 0,
            tokenIds: [],
            tags: [],
          }
          let how = a.target === 'forged' ? '' : ' with its terms'
          if (a.target === 'forged' && picked) {
            // Naming the caller as the patient is the forgery that would pass the caller check if it came first.
            const options = [{ ...terms, patient: by === terms.patient ? addr(S) : by }, ...forgeries(terms)]
            const choice = Math.floor(a.pick / pool.length) % options.length
            terms = options[choice]!
            how = ` with forged terms (${choice})`
          }
          const what = `revoke #${id} by ${ACTOR_NAMES[byActor]}${how}`
          // The terms are checked first: who may revoke is read from them.
          const expected =
            !g || !isActive(g, txTime)
              ? fail({ name: 'ConsentGrantInactive', args: [id] })
              : !mayActFor(m, by, g.patient)
                ? fail({ name: 'ConsentUnauthorized', args: [by, g.patient] })
                : ok
          const receipt = await send(m, txTime, what, () => as(accounts[byActor]!).write.revoke([id, terms]), expected)
          if (receipt && g) {
            const event = expectEvent(receipt, consentRegistryAbi, d.consent, 'GrantRevoked')
            assert.deepEqual(event, { grantId: id, patient: g.patient, grantee: g.grantee, revokedBy: by })
            assert.ok(mayActFor(m, by, g.patient), 'a grant was revoked by someone who may not act for the patient')
            g.revoked = true
          }
          return what
        }
        case 'addDelegate': {
          const from = addr(a.from)
          const delegate = a.delegate === 'zero' ? ZERO_ADDRESS : addr(a.delegate)
          const what = `addDelegate(${String(a.delegate)}) by ${ACTOR_NAMES[a.from]}`
          const expected = delegate === ZERO_ADDRESS || delegate === from ? fail({ name: 'ConsentInvalidGrant' }) : ok
          const receipt = await send(m, txTime, what, () => as(accounts[a.from]!).write.addDelegate([delegate]), expected)
          if (receipt) {
            assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'DelegateAdded'), { patient: from, delegate })
            m.delegates.add(pairKey(from, delegate))
          }
          return what
        }
        case 'removeDelegate': {
          const from = addr(a.from)
          const delegate = addr(a.delegate)
          const what = `removeDelegate(${ACTOR_NAMES[a.delegate]}) by ${ACTOR_NAMES[a.from]}`
          const receipt = await send(m, txTime, what, () => as(accounts[a.from]!).write.removeDelegate([delegate]), ok)
          assert.deepEqual(expectEvent(receipt!, consentRegistryAbi, d.consent, 'DelegateRemoved'), { patient: from, delegate })
          m.delegates.delete(pairKey(from, delegate))
          return what
        }
        case 'increaseTime': {
          await env.testClient.increaseTime({ seconds: a.seconds })
          await env.testClient.mine({ blocks: 1 })
          const now = await env.latestTimestamp()
          assert.ok(now >= m.now + BigInt(a.seconds), 'evm_increaseTime moved the clock forward')
          m.now = now
          return `increaseTime(${a.seconds})`
        }
        case 'jumpTo': {
          // To a moment where something ends: a grant's expiry or an emergency window's end (or one second before).
          const ends = [...m.grants.map((g) => g.expiresAt), ...m.emergencyUntil.values()]
          const end = ends.length > 0 ? ends[a.pick % ends.length]! + BigInt(a.offset) : m.now + 1n
          const target = end > m.now ? end : m.now + 1n
          await env.testClient.setNextBlockTimestamp({ timestamp: target })
          await env.testClient.mine({ blocks: 1 })
          assert.equal(await env.latestTimestamp(), target)
          m.now = target
          return `jumpTo(${target})`
        }
        case 'flag': {
          const who = addr(a.who)
          const caller = a.by === 'registrar' ? registrar : accounts[a.by]!
          const what = `setEmergencyProvider(${ACTOR_NAMES[a.who]}, ${a.allowed}) by ${a.by === 'registrar' ? 'registrar' : ACTOR_NAMES[a.by]}`
          const expected = a.by === 'registrar' ? ok : fail({ name: 'ConsentNotRegistrar', args: [caller.address] })
          const receipt = await send(m, txTime, what, () => as(caller).write.setEmergencyProvider([who, a.allowed]), expected)
          if (receipt) {
            assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'EmergencyProviderSet'), {
              provider: who,
              allowed: a.allowed,
            })
            if (a.allowed) m.flagged.add(who)
            else m.flagged.delete(who)
          }
          return what
        }
        case 'open': {
          const by = addr(a.by)
          const patient = addr(a.patient)
          const reason = keccak256(toHex(`${a.by}:${a.patient}:${txTime}`))
          const what = `openEmergency(${ACTOR_NAMES[a.patient]}) by ${ACTOR_NAMES[a.by]}`
          const current = m.emergencyUntil.get(pairKey(patient, by)) ?? 0n
          const activeProvider = a.by === E && !m.suspended
          const expected =
            !m.flagged.has(by) || !activeProvider
              ? fail({ name: 'ConsentNotEmergencyProvider', args: [by] })
              : current > txTime
                ? fail({ name: 'ConsentEmergencyAlreadyOpen', args: [patient, by, Number(current)] })
                : ok
          const receipt = await send(m, txTime, what, () => as(accounts[a.by]!).write.openEmergency([patient, reason]), expected)
          if (receipt) {
            const until = txTime + EMERGENCY_WINDOW
            assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'EmergencyAccessOpened'), {
              patient,
              provider: by,
              until: Number(until),
              reasonHash: reason,
            })
            m.emergencyUntil.set(pairKey(patient, by), until)
          }
          return what
        }
        case 'setOpen': {
          const by = addr(a.by)
          const opened = a.opened.map((i) => TAGS[i]!)
          const closed = a.closed.map((i) => TAGS[i]!)
          const what = `setOpenTags([${a.opened}], [${a.closed}]) by ${ACTOR_NAMES[a.by]}`
          const expected = a.opened.includes(ZERO) ? fail({ name: 'ConsentInvalidGrant' }) : ok
          const receipt = await send(m, txTime, what, () => as(accounts[a.by]!).write.setOpenTags([opened, closed]), expected)
          if (receipt) {
            // Only ever the caller's own list.
            assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'OpenTagsChanged'), { patient: by, opened, closed })
            const open = m.open.get(by) ?? new Set<number>()
            for (const i of a.opened) open.add(i)
            for (const i of a.closed) open.delete(i)
            m.open.set(by, open)
          }
          return what
        }
        case 'toggleSuspend': {
          const er = addr(E)
          const what = m.suspended ? 'reinstate(E)' : 'suspend(E)'
          await send(m, txTime, what, () => (m.suspended ? d.registry.write.reinstate([er]) : d.registry.write.suspend([er])), ok)
          m.suspended = !m.suspended
          return what
        }
      }
    }

    // ----------------------------------------------------------------- the check after every step

    const readers = accounts.map((a) => a.address)
    const tagIndices = TAGS.map((_, i) => i)

    async function check(m: Model, trace: string[]): Promise<void> {
      const where = () => `after:\n  ${trace.join('\n  ')}`
      assert.equal(await env.latestTimestamp(), m.now, `clock ${where()}`)
      const pairs = readers.flatMap((reader) => tokenIds.map((tokenId) => [reader, tokenId] as const))
      const existing = tokenIds.filter((t) => tokenInfo.has(t))
      // Each grant's forgeries, each tried by the grantee it names.
      const forged = m.grants.flatMap((g) => forgeries(g.terms).map((terms) => ({ g, terms })))
      const [access, accessWith, active, stored, covers, forgedActive, forgedAccess, forgedCovers, open, lastId] = await Promise.all([
        Promise.all(pairs.map(([reader, tokenId]) => view.read.canAccess([reader, tokenId]))),
        Promise.all(m.grants.flatMap((g) => pairs.map(([reader, tokenId]) => view.read.canAccessWith([reader, tokenId, g.id, g.terms])))),
        Promise.all(m.grants.map((g) => view.read.isActive([g.id, g.terms]))),
        Promise.all(m.grants.map((g) => view.read.termsHashOf([g.id]))),
        Promise.all(m.grants.flatMap((g) => existing.map((t) => view.read.grantCovers([g.id, g.terms, t])))),
        Promise.all(forged.map(({ g, terms }) => view.read.isActive([g.id, terms]))),
        Promise.all(forged.flatMap(({ g, terms }) => tokenIds.map((t) => view.read.canAccessWith([terms.grantee, t, g.id, terms])))),
        Promise.all(forged.flatMap(({ g, terms }) => existing.map((t) => view.read.grantCovers([g.id, terms, t])))),
        Promise.all(readers.flatMap((r) => tagIndices.map((i) => view.read.isOpenTag([r, TAGS[i]!])))),
        view.read.lastGrantId(),
      ])
      assert.equal(lastId, BigInt(m.grants.length), `lastGrantId ${where()}`)
      pairs.forEach(([reader, tokenId], i) => {
        const name = ACTOR_NAMES[readers.indexOf(reader)]
        assert.equal(access[i], modelCanAccess(m, reader, tokenId), `canAccess(${name}, token ${tokenId}) ${where()}`)
        // What the reader can read with whichever grant it holds: a client tries them all.
        const withGrants = m.grants.map((g, gi) => {
          const got = accessWith[gi * pairs.length + i]
          const expected = modelCanAccessWith(m, reader, tokenId, g)
          assert.equal(got, expected, `canAccessWith(${name}, token ${tokenId}, #${g.id}) should be ${expected} ${where()}`)
          return got
        })
        const readable = access[i] || withGrants.some((x) => x)
        if (readable && reader !== tokenInfo.get(tokenId)?.owner) granted++
        // Stated again as the issue's invariant: a record whose tag is not open is reached by no "all"
        // grant and no break-glass window, only by an active grant that lists the record or its tag.
        const info = tokenInfo.get(tokenId)
        if (readable && info && reader !== info.owner && !isOpen(m, info.owner, info.tag)) {
          assert.ok(
            m.grants.some(
              (g) =>
                g.patient === info.owner &&
                g.grantee === reader &&
                isActive(g, m.now) &&
                (g.scope === 0 ? g.tokens.has(tokenId) : g.tags.has(info.tag)),
            ),
            `token ${tokenId} with a closed tag readable by ${name} without a grant listing it ${where()}`,
          )
        }
      })
      m.grants.forEach((g, gi) => {
        assert.equal(active[gi], isActive(g, m.now), `isActive(#${g.id}) ${where()}`)
        // The slot holds the hash of the terms until a revoke deletes it; expiry leaves it.
        assert.equal(stored[gi], g.revoked ? ZERO_BYTES32 : g.hash, `termsHashOf(#${g.id}) ${where()}`)
        existing.forEach((t, ti) => {
          const got = covers[gi * existing.length + ti]
          assert.equal(got, grantCovers(m, g, t), `grantCovers(#${g.id}, token ${t}) ${where()}`)
          // Never true after expiry or revocation.
          if (!isActive(g, m.now)) assert.equal(got, false, `an expired or revoked grant #${g.id} covers token ${t} ${where()}`)
        })
      })
      // A grant's terms altered are no grant: inactive, covering nothing, and reaching only what its reader could read without one.
      forged.forEach(({ g, terms }, fi) => {
        const what = `#${g.id} with forged terms ${JSON.stringify(terms, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`
        assert.equal(forgedActive[fi], false, `isActive(${what}) ${where()}`)
        tokenIds.forEach((t, ti) => {
          const expected = modelCanAccess(m, terms.grantee, t)
          assert.equal(forgedAccess[fi * tokenIds.length + ti], expected, `canAccessWith(token ${t}, ${what}) ${where()}`)
        })
        existing.forEach((t, ti) => {
          assert.equal(forgedCovers[fi * existing.length + ti], false, `grantCovers(${what}, token ${t}) ${where()}`)
        })
      })
      readers.forEach((r, ri) => {
        for (const t of tagIndices) {
          assert.equal(open[ri * tagIndices.length + t], isOpen(m, r, t), `isOpenTag(${nameOf(r)}, tag ${t}) ${where()}`)
        }
      })
    }

    // ----------------------------------------------------------------- the property

    let runs = 0
    let steps = 0
    let granted = 0
    const started = Date.now()
    const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED)
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (actions) => {
        runs++
        const snapshot = await env.testClient.snapshot()
        try {
          const m: Model = {
            now: await env.latestTimestamp(),
            grants: [],
            delegates: new Set(),
            flagged: new Set(),
            suspended: false,
            emergencyUntil: new Map(),
            open: new Map(),
          }
          const trace: string[] = []
          for (const action of actions) {
            trace.push(await step(m, action))
            steps++
            await check(m, trace)
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
    console.log(
      `${runs} runs, ${steps} steps in ${((Date.now() - started) / 1000).toFixed(1)} s; ${granted} (reader, token) checks found non-owner access`,
    )
    console.log(`outcomes: ${summary.join('; ')}`)
  })
})

function deepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b)
    return true
  } catch {
    return false
  }
}
