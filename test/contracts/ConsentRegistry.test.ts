import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Account, type Address, getAddress, getContract, type Hex, keccak256, toHex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { consentRegistryAbi, medicalRecordAbi } from '../../src/contracts/index.js'
import {
  type Deployed,
  type Env,
  expectEvent,
  expectRevert,
  mintRequest,
  mintWithConsent,
  registerProvider,
  signMintConsent,
  startEnv,
  ZERO_ADDRESS,
} from './fixture.js'

/** ConsentRegistry.Scope */
const Scope = { Records: 0, Categories: 1, All: 2 } as const
/** ConsentRegistry.Purpose */
const Purpose = { Treatment: 0, Payment: 1, Research: 2, Emergency: 3, Other: 4 } as const
/** MedicalRecord category codes. */
const Cat = {
  laboratory: 0,
  imaging: 1,
  immunization: 2,
  medication: 3,
  clinicalNote: 4,
  mentalHealth: 5,
  substanceUse: 6,
  sexualHealth: 7,
  genetic: 8,
  other: 9,
} as const
/** MedicalRecord sensitivity flags. */
const Flag = { mentalHealth: 1, substanceUse: 2, sexualHealth: 4, genetic: 8, restricted: 16 } as const

const DAY = 86_400n
const MAX_GRANT_DURATION = 3650n * DAY
const EMERGENCY_WINDOW = DAY
const ALL_CATEGORIES = 0x1ffff
const GAS = 1_000_000n

/** Category bitmask with bit n set for each code n. */
function mask(...codes: number[]): number {
  return codes.reduce((m, c) => m | (1 << c), 0)
}

/** ConsentRegistry errors plus the MedicalRecord/ERC-721 errors it bubbles up (ownerOf of a missing token). */
type RecordError = Extract<(typeof medicalRecordAbi)[number], { type: 'error' }>
const consentAbi = [...consentRegistryAbi, ...medicalRecordAbi.filter((item): item is RecordError => item.type === 'error')] as const

describe('ConsentRegistry', () => {
  let env: Env
  before(async () => {
    env = await startEnv()
  })
  after(async () => {
    await env?.stop()
  })

  function consentAs(d: Deployed, account: Account) {
    return getContract({
      address: getAddress(d.consent),
      abi: consentAbi,
      client: { public: env.publicClient, wallet: env.wallet(account) },
    })
  }

  /** Mints a record of `category` with `sensitivity` flags to `patient`, issued by `provider`. */
  async function issue(
    d: Deployed,
    provider: PrivateKeyAccount,
    patient: PrivateKeyAccount,
    category: number,
    sensitivity = 0,
  ): Promise<bigint> {
    const { tokenId } = await mintWithConsent(env, d, provider, patient, mintRequest(patient.address, { category, sensitivity }))
    return tokenId
  }

  /** Pins the timestamp of the next block (and of gas estimation against it). */
  async function pinNext(timestamp: bigint): Promise<bigint> {
    await env.testClient.setNextBlockTimestamp({ timestamp })
    return timestamp
  }

  /** Mines an empty block at exactly `timestamp`. */
  async function mineAt(timestamp: bigint): Promise<void> {
    await env.testClient.setNextBlockTimestamp({ timestamp })
    await env.testClient.mine({ blocks: 1 })
    assert.equal(await env.latestTimestamp(), timestamp)
  }

  type GrantArgs = {
    scope: number
    tokenIds?: bigint[]
    categories?: number
    sensitive?: number
    expiresAt?: bigint
    purpose?: number
  }

  /** `by` grants `grantee` access to `patient`'s records; returns the receipt and the GrantCreated args. */
  async function grant(d: Deployed, by: Account, patient: Address, grantee: Address, args: GrantArgs) {
    const expiresAt = args.expiresAt ?? (await env.latestTimestamp()) + 30n * DAY
    const receipt = await env.mined(
      consentAs(d, by).write.grant([
        patient,
        grantee,
        args.scope,
        args.tokenIds ?? [],
        args.categories ?? 0,
        args.sensitive ?? 0,
        Number(expiresAt),
        args.purpose ?? Purpose.Treatment,
      ]),
    )
    const logged = expectEvent(receipt, consentRegistryAbi, d.consent, 'GrantCreated')
    // The event says nothing about care (no category mask, no sensitive flags): the terms it leaves
    // out are read from storage, so the tests below check what the contract really holds.
    assert.ok(!('categories' in logged) && !('sensitive' in logged), 'GrantCreated names no categories or sensitivity')
    const stored = await consentAs(d, env.admin).read.grantOf([logged.grantId as bigint])
    const event: Record<string, unknown> = { ...logged, categories: stored.categories, sensitive: stored.sensitive }
    return { receipt, event, logged, grantId: event.grantId as bigint, expiresAt }
  }

  /** canAccess for each token, in order. */
  async function access(d: Deployed, reader: Address, tokens: bigint[], blockNumber?: bigint): Promise<boolean[]> {
    const c = consentAs(d, env.admin)
    return Promise.all(
      tokens.map((t) => (blockNumber === undefined ? c.read.canAccess([reader, t]) : c.read.canAccess([reader, t], { blockNumber }))),
    )
  }

  describe('deployment', () => {
    let d: Deployed
    before(async () => {
      d = await env.deploy()
    })

    it('points at the record contract and the provider registry', async () => {
      const c = consentAs(d, env.admin)
      assert.equal(await c.read.records(), d.records.address)
      assert.equal(await c.read.registry(), d.registry.address)
    })

    it('has a ten-year maximum grant, a 24-hour emergency window and no grants yet', async () => {
      const c = consentAs(d, env.admin)
      assert.equal(BigInt(await c.read.MAX_GRANT_DURATION()), MAX_GRANT_DURATION)
      assert.equal(BigInt(await c.read.EMERGENCY_WINDOW()), EMERGENCY_WINDOW)
      assert.equal(await c.read.lastGrantId(), 0n)
    })
  })

  describe('a cardiology grant (Categories: laboratory | clinical-note)', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let cardiologist: PrivateKeyAccount
    let lab: bigint
    let ekg: bigint
    let psychNote: bigint
    let hivLab: bigint
    let xray: bigint
    let result: Awaited<ReturnType<typeof grant>>

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'General Hospital')
      patient = await env.newAccount()
      cardiologist = await env.newAccount()
      lab = await issue(d, provider, patient, Cat.laboratory)
      ekg = await issue(d, provider, patient, Cat.clinicalNote)
      psychNote = await issue(d, provider, patient, Cat.mentalHealth, Flag.mentalHealth)
      hivLab = await issue(d, provider, patient, Cat.laboratory, Flag.sexualHealth)
      xray = await issue(d, provider, patient, Cat.imaging)
      result = await grant(d, patient, patient.address, cardiologist.address, {
        scope: Scope.Categories,
        categories: mask(Cat.laboratory, Cat.clinicalNote),
        purpose: Purpose.Treatment,
      })
    })

    it('emits GrantCreated with who, scope kind, expiry and coarse purpose, and nothing about care (no categories, no flags)', () => {
      assert.deepEqual(result.logged, {
        grantId: 1n,
        patient: patient.address,
        grantee: cardiologist.address,
        grantor: patient.address,
        scope: Scope.Categories,
        tokenIds: [],
        expiresAt: Number(result.expiresAt),
        purpose: Purpose.Treatment,
      })
    })

    it('stores the grant (grantOf, isActive, grantsOf, lastGrantId)', async () => {
      const c = consentAs(d, env.admin)
      assert.deepEqual(await c.read.grantOf([1n]), {
        patient: patient.address,
        createdAt: Number(await env.timestampOf(result.receipt)),
        expiresAt: Number(result.expiresAt),
        scope: Scope.Categories,
        purpose: Purpose.Treatment,
        grantee: cardiologist.address,
        revokedAt: 0,
        categories: mask(Cat.laboratory, Cat.clinicalNote),
        sensitive: 0,
      })
      assert.equal(await c.read.isActive([1n]), true)
      assert.deepEqual(await c.read.grantsOf([patient.address]), [1n])
      assert.equal(await c.read.lastGrantId(), 1n)
    })

    it('lets the cardiologist read the lab result and the EKG note', async () => {
      assert.deepEqual(await access(d, cardiologist.address, [lab, ekg]), [true, true])
    })

    it('does not let the cardiologist read the psychiatric note (mental-health)', async () => {
      assert.deepEqual(await access(d, cardiologist.address, [psychNote]), [false])
    })

    it('does not let the cardiologist read a lab result flagged sexual-health', async () => {
      assert.deepEqual(await access(d, cardiologist.address, [hivLab]), [false])
    })

    it('does not cover a category it does not name (imaging)', async () => {
      assert.deepEqual(await access(d, cardiologist.address, [xray]), [false])
    })

    it('grantCovers agrees with canAccess', async () => {
      const c = consentAs(d, env.admin)
      const covers = await Promise.all([lab, ekg, psychNote, hivLab, xray].map((t) => c.read.grantCovers([1n, t])))
      assert.deepEqual(covers, [true, true, false, false, false])
    })

    it('the patient can read every own record; a stranger none', async () => {
      const all = [lab, ekg, psychNote, hivLab, xray]
      assert.deepEqual(await access(d, patient.address, all), [true, true, true, true, true])
      const stranger = await env.newAccount()
      assert.deepEqual(await access(d, stranger.address, all), [false, false, false, false, false])
      // Nor the issuing provider or the registrar: issuing a record gives no read access on chain.
      assert.deepEqual(await access(d, provider.address, all), [false, false, false, false, false])
      assert.deepEqual(await access(d, env.admin.address, all), [false, false, false, false, false])
    })

    it('covers only this patient: another patient’s lab result stays closed', async () => {
      const other = await env.newAccount()
      const otherLab = await issue(d, provider, other, Cat.laboratory)
      assert.deepEqual(await access(d, cardiologist.address, [otherLab]), [false])
      assert.equal(await consentAs(d, env.admin).read.grantCovers([1n, otherLab]), false)
    })

    it('covers a lab result issued after the grant', async () => {
      const later = await issue(d, provider, patient, Cat.laboratory)
      assert.deepEqual(await access(d, cardiologist.address, [later]), [true])
    })
  })

  describe('sensitivity rule', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let lab: bigint
    let xray: bigint
    let psychNote: bigint
    let restrictedPsych: bigint
    let rehab: bigint
    let hivLab: bigint
    let restrictedLab: bigint
    let genome: bigint
    let all: bigint[]

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'General Hospital')
      patient = await env.newAccount()
      lab = await issue(d, provider, patient, Cat.laboratory)
      xray = await issue(d, provider, patient, Cat.imaging)
      psychNote = await issue(d, provider, patient, Cat.mentalHealth, Flag.mentalHealth)
      restrictedPsych = await issue(d, provider, patient, Cat.mentalHealth, Flag.mentalHealth | Flag.restricted)
      rehab = await issue(d, provider, patient, Cat.substanceUse, Flag.substanceUse)
      hivLab = await issue(d, provider, patient, Cat.laboratory, Flag.sexualHealth)
      restrictedLab = await issue(d, provider, patient, Cat.laboratory, Flag.restricted)
      genome = await issue(d, provider, patient, Cat.genetic, Flag.genetic)
      all = [lab, xray, psychNote, restrictedPsych, rehab, hivLab, restrictedLab, genome]
    })

    it('"All" without sensitive flags covers every non-sensitive record and no sensitive one', async () => {
      const grantee = await env.newAccount()
      const { event } = await grant(d, patient, patient.address, grantee.address, { scope: Scope.All })
      assert.equal(event.categories, ALL_CATEGORIES)
      assert.equal(event.sensitive, 0)
      assert.deepEqual(await access(d, grantee.address, all), [true, true, false, false, false, false, false, false])
    })

    it('"All" with mental-health | sexual-health named covers those records, and only those sensitive ones', async () => {
      const grantee = await env.newAccount()
      const { event } = await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.All,
        sensitive: Flag.mentalHealth | Flag.sexualHealth,
      })
      assert.equal(event.sensitive, Flag.mentalHealth | Flag.sexualHealth)
      // restrictedPsych also carries "restricted", which was not named.
      assert.deepEqual(await access(d, grantee.address, all), [true, true, true, false, false, true, false, false])
    })

    it('"All" with every flag named covers every record', async () => {
      const grantee = await env.newAccount()
      await grant(d, patient, patient.address, grantee.address, { scope: Scope.All, sensitive: 31 })
      assert.deepEqual(
        await access(d, grantee.address, all),
        all.map(() => true),
      )
    })

    it('naming the mental-health category covers mental-health records (but not one also flagged restricted)', async () => {
      const grantee = await env.newAccount()
      const { event } = await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.Categories,
        categories: mask(Cat.mentalHealth),
      })
      assert.equal(event.sensitive, Flag.mentalHealth, 'the named category names its flag')
      assert.deepEqual(await access(d, grantee.address, all), [false, false, true, false, false, false, false, false])
    })

    it('each sensitive category names exactly its own flag', async () => {
      const stiTest = await issue(d, provider, patient, Cat.sexualHealth, Flag.sexualHealth)
      const cases: [number, number, bigint][] = [
        [Cat.mentalHealth, Flag.mentalHealth, psychNote],
        [Cat.substanceUse, Flag.substanceUse, rehab],
        [Cat.sexualHealth, Flag.sexualHealth, stiTest],
        [Cat.genetic, Flag.genetic, genome],
      ]
      for (const [category, flag, token] of cases) {
        const grantee = await env.newAccount()
        const { event } = await grant(d, patient, patient.address, grantee.address, { scope: Scope.Categories, categories: mask(category) })
        assert.equal(event.sensitive, flag, `category ${category}`)
        const others = [psychNote, rehab, stiTest, genome].filter((t) => t !== token)
        assert.deepEqual(await access(d, grantee.address, [token, ...others]), [true, false, false, false], `category ${category}`)
      }
    })

    it('naming the sexual-health category does not cover a laboratory record flagged sexual-health', async () => {
      const grantee = await env.newAccount()
      await grant(d, patient, patient.address, grantee.address, { scope: Scope.Categories, categories: mask(Cat.sexualHealth) })
      assert.deepEqual(await access(d, grantee.address, [hivLab, lab]), [false, false])
    })

    it('"laboratory" plus the sexual-health flag covers the HIV lab result but not the restricted one', async () => {
      const grantee = await env.newAccount()
      const { event } = await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.Categories,
        categories: mask(Cat.laboratory),
        sensitive: Flag.sexualHealth,
      })
      assert.equal(event.sensitive, Flag.sexualHealth)
      assert.deepEqual(await access(d, grantee.address, all), [true, false, false, false, false, true, false, false])
    })

    it('Records scope covers exactly the listed tokens, whatever their flags', async () => {
      const grantee = await env.newAccount()
      const listed = [restrictedPsych, hivLab, genome]
      const { event } = await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.Records,
        tokenIds: listed,
        categories: mask(Cat.laboratory, Cat.imaging),
        sensitive: Flag.mentalHealth,
      })
      assert.deepEqual(event.tokenIds, listed)
      assert.equal(event.categories, 0, 'categories are ignored for Records scope')
      assert.equal(event.sensitive, 31, 'listed records are named one by one')
      assert.deepEqual(
        await access(d, grantee.address, all),
        all.map((t) => listed.includes(t)),
      )
      // A record issued later is not covered, even of a listed record's category.
      const laterLab = await issue(d, provider, patient, Cat.laboratory, Flag.sexualHealth)
      assert.deepEqual(await access(d, grantee.address, [laterLab]), [false])
    })

    it('Categories and All grants ignore the token list (GrantCreated.tokenIds is empty)', async () => {
      const grantee = await env.newAccount()
      const { event } = await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.Categories,
        tokenIds: [psychNote],
        categories: mask(Cat.imaging),
      })
      assert.deepEqual(event.tokenIds, [])
      assert.deepEqual(await access(d, grantee.address, [psychNote, xray]), [false, true])
      const other = await env.newAccount()
      const all2 = await grant(d, patient, patient.address, other.address, { scope: Scope.All, tokenIds: [genome], categories: 1 })
      assert.deepEqual(all2.event.tokenIds, [])
      assert.equal(all2.event.categories, ALL_CATEGORIES)
      assert.deepEqual(await access(d, other.address, [genome, xray]), [false, true])
    })
  })

  describe('expiry', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let lab: bigint

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'General Hospital')
      patient = await env.newAccount()
      lab = await issue(d, provider, patient, Cat.laboratory)
    })

    it('ends access exactly at expiresAt (evm_setNextBlockTimestamp)', async () => {
      const grantee = await env.newAccount()
      const expiresAt = (await env.latestTimestamp()) + 1000n
      const { grantId } = await grant(d, patient, patient.address, grantee.address, { scope: Scope.All, expiresAt })
      const c = consentAs(d, env.admin)
      await mineAt(expiresAt - 1n)
      assert.deepEqual(await access(d, grantee.address, [lab]), [true])
      assert.equal(await c.read.isActive([grantId]), true)
      await mineAt(expiresAt)
      assert.deepEqual(await access(d, grantee.address, [lab]), [false])
      assert.equal(await c.read.isActive([grantId]), false)
      assert.equal(await c.read.grantCovers([grantId, lab]), false)
      // An expired grant cannot be revoked (it is no longer active); its record stays unchanged.
      await expectRevert(consentAs(d, patient).write.revoke([grantId]), 'ConsentGrantInactive', [grantId])
      assert.equal((await c.read.grantOf([grantId])).revokedAt, 0)
    })

    it('ends access after evm_increaseTime past expiresAt', async () => {
      const grantee = await env.newAccount()
      const expiresAt = (await env.latestTimestamp()) + DAY
      await grant(d, patient, patient.address, grantee.address, { scope: Scope.Records, tokenIds: [lab], expiresAt })
      await env.advance(3600)
      assert.deepEqual(await access(d, grantee.address, [lab]), [true])
      await env.advance(Number(DAY))
      assert.ok((await env.latestTimestamp()) >= expiresAt)
      assert.deepEqual(await access(d, grantee.address, [lab]), [false])
    })

    it('accepts expiresAt one second after the block (a one-second grant) and the maximum duration', async () => {
      const grantee = await env.newAccount()
      const t = await pinNext((await env.latestTimestamp()) + 10n)
      const short = await grant(d, patient, patient.address, grantee.address, { scope: Scope.All, expiresAt: t + 1n })
      assert.equal(await env.timestampOf(short.receipt), t)
      assert.deepEqual(await access(d, grantee.address, [lab]), [true])
      const t2 = await pinNext(t + 1n)
      const long = await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.All,
        expiresAt: t2 + MAX_GRANT_DURATION,
      })
      assert.equal(long.event.expiresAt, Number(t2 + MAX_GRANT_DURATION))
      assert.equal(await consentAs(d, env.admin).read.isActive([short.grantId]), false, 'the one-second grant is over')
    })

    it('refuses an expiry in the past, now, or beyond MAX_GRANT_DURATION (ConsentInvalidExpiry)', async () => {
      const grantee = await env.newAccount()
      const c = consentAs(d, patient)
      const before = await c.read.lastGrantId()
      const t = await pinNext((await env.latestTimestamp()) + 10n)
      const attempt = (expiresAt: bigint) =>
        c.write.grant([patient.address, grantee.address, Scope.All, [], 0, 0, Number(expiresAt), Purpose.Treatment])
      for (const expiresAt of [0n, t - 100n, t - 1n, t, t + MAX_GRANT_DURATION + 1n, 2n ** 40n - 1n]) {
        await expectRevert(attempt(expiresAt), 'ConsentInvalidExpiry', [Number(expiresAt)])
      }
      assert.equal(await c.read.lastGrantId(), before)
    })

    it('a mined grant whose expiry is the block time reverts on chain too', async () => {
      const grantee = await env.newAccount()
      const t = await pinNext((await env.latestTimestamp()) + 10n)
      const hash = await consentAs(d, patient).write.grant(
        [patient.address, grantee.address, Scope.All, [], 0, 0, Number(t), Purpose.Treatment],
        { gas: GAS },
      )
      const receipt = await env.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })
      assert.equal(receipt.status, 'reverted')
      assert.equal(await env.timestampOf(receipt), t)
    })
  })

  describe('revoke', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let lab: bigint
    let psychNote: bigint

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'General Hospital')
      patient = await env.newAccount()
      lab = await issue(d, provider, patient, Cat.laboratory)
      psychNote = await issue(d, provider, patient, Cat.mentalHealth, Flag.mentalHealth)
    })

    it('ends access in the very next block and emits GrantRevoked', async () => {
      const grantee = await env.newAccount()
      const { grantId } = await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.Records,
        tokenIds: [lab, psychNote],
      })
      await env.advance(5)
      const receipt = await env.mined(consentAs(d, patient).write.revoke([grantId]))
      assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'GrantRevoked'), {
        grantId,
        patient: patient.address,
        grantee: grantee.address,
        revokedBy: patient.address,
      })
      assert.deepEqual(await access(d, grantee.address, [lab, psychNote], receipt.blockNumber - 1n), [true, true], 'before the revoke')
      assert.deepEqual(await access(d, grantee.address, [lab, psychNote], receipt.blockNumber), [false, false], 'in the revoke block')
      await env.advance(1)
      assert.deepEqual(await access(d, grantee.address, [lab, psychNote]), [false, false], 'afterwards')
      const c = consentAs(d, env.admin)
      assert.equal(await c.read.isActive([grantId]), false)
      assert.equal((await c.read.grantOf([grantId])).revokedAt, Number(await env.timestampOf(receipt)))
    })

    it('refuses to revoke twice (ConsentGrantInactive)', async () => {
      const grantee = await env.newAccount()
      const { grantId } = await grant(d, patient, patient.address, grantee.address, { scope: Scope.All })
      await env.mined(consentAs(d, patient).write.revoke([grantId]))
      await expectRevert(consentAs(d, patient).write.revoke([grantId]), 'ConsentGrantInactive', [grantId])
    })

    it('refuses an unknown grant (ConsentUnknownGrant)', async () => {
      const c = consentAs(d, patient)
      const next = (await c.read.lastGrantId()) + 1n
      await expectRevert(c.write.revoke([next]), 'ConsentUnknownGrant', [next])
      await expectRevert(c.write.revoke([0n]), 'ConsentUnknownGrant', [0n])
      await expectRevert(c.write.revoke([2n ** 256n - 1n]), 'ConsentUnknownGrant', [2n ** 256n - 1n])
    })

    it('only the patient or a delegate may revoke: the grantee, a stranger, the registrar are refused', async () => {
      const grantee = await env.newAccount()
      const stranger = await env.newAccount()
      const { grantId } = await grant(d, patient, patient.address, grantee.address, { scope: Scope.All })
      for (const caller of [grantee, stranger, provider]) {
        await expectRevert(consentAs(d, caller).write.revoke([grantId]), 'ConsentUnauthorized', [caller.address, patient.address])
      }
      await expectRevert(consentAs(d, env.admin).write.revoke([grantId]), 'ConsentUnauthorized', [env.admin.address, patient.address])
      assert.equal(await consentAs(d, env.admin).read.isActive([grantId]), true)
      assert.deepEqual(await access(d, grantee.address, [lab]), [true])
    })

    it('a stranger learns nothing about an inactive grant: ConsentUnauthorized comes first', async () => {
      const grantee = await env.newAccount()
      const stranger = await env.newAccount()
      const { grantId } = await grant(d, patient, patient.address, grantee.address, { scope: Scope.All })
      await env.mined(consentAs(d, patient).write.revoke([grantId]))
      await expectRevert(consentAs(d, stranger).write.revoke([grantId]), 'ConsentUnauthorized', [stranger.address, patient.address])
    })

    it('revoking one grant leaves the grantee’s other grants in force', async () => {
      const grantee = await env.newAccount()
      const first = await grant(d, patient, patient.address, grantee.address, { scope: Scope.Categories, categories: mask(Cat.laboratory) })
      const second = await grant(d, patient, patient.address, grantee.address, { scope: Scope.Records, tokenIds: [lab] })
      await env.mined(consentAs(d, patient).write.revoke([first.grantId]))
      assert.deepEqual(await access(d, grantee.address, [lab, psychNote]), [true, false])
      await env.mined(consentAs(d, patient).write.revoke([second.grantId]))
      assert.deepEqual(await access(d, grantee.address, [lab, psychNote]), [false, false])
    })
  })

  describe('who may grant', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let lab: bigint

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'General Hospital')
      patient = await env.newAccount()
      lab = await issue(d, provider, patient, Cat.laboratory)
    })

    it('refuses a stranger, the would-be grantee, the issuing provider and the registrar (ConsentUnauthorized)', async () => {
      const stranger = await env.newAccount()
      const expiresAt = Number((await env.latestTimestamp()) + DAY)
      const before = await consentAs(d, env.admin).read.lastGrantId()
      for (const caller of [stranger, provider, env.admin] as Account[]) {
        await expectRevert(
          consentAs(d, caller).write.grant([patient.address, caller.address, Scope.All, [], 0, 31, expiresAt, Purpose.Treatment]),
          'ConsentUnauthorized',
          [caller.address, patient.address],
        )
        await expectRevert(
          consentAs(d, caller).write.grant([patient.address, caller.address, Scope.Records, [lab], 0, 0, expiresAt, Purpose.Other]),
          'ConsentUnauthorized',
          [caller.address, patient.address],
        )
      }
      assert.equal(await consentAs(d, env.admin).read.lastGrantId(), before)
      assert.deepEqual(await access(d, stranger.address, [lab]), [false])
    })

    it('checks authorisation before anything else (an invalid grant by a stranger still says ConsentUnauthorized)', async () => {
      const stranger = await env.newAccount()
      await expectRevert(
        consentAs(d, stranger).write.grant([patient.address, ZERO_ADDRESS, Scope.Records, [], 0, 255, 0, Purpose.Treatment]),
        'ConsentUnauthorized',
        [stranger.address, patient.address],
      )
    })
  })

  describe('invalid grants', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let other: PrivateKeyAccount
    let grantee: PrivateKeyAccount
    let lab: bigint
    let othersLab: bigint
    let expiresAt: number

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'General Hospital')
      patient = await env.newAccount()
      other = await env.newAccount()
      grantee = await env.newAccount()
      lab = await issue(d, provider, patient, Cat.laboratory)
      othersLab = await issue(d, provider, other, Cat.laboratory)
      expiresAt = Number((await env.latestTimestamp()) + 30n * DAY)
    })

    function attempt(grantee_: Address, scope: number, tokenIds: bigint[], categories: number, sensitive: number) {
      return consentAs(d, patient).write.grant([
        patient.address,
        grantee_,
        scope,
        tokenIds,
        categories,
        sensitive,
        expiresAt,
        Purpose.Treatment,
      ])
    }

    it('refuses the zero grantee and the patient as grantee (ConsentInvalidGrant)', async () => {
      await expectRevert(attempt(ZERO_ADDRESS, Scope.All, [], 0, 0), 'ConsentInvalidGrant')
      await expectRevert(attempt(patient.address, Scope.All, [], 0, 0), 'ConsentInvalidGrant')
      await expectRevert(attempt(patient.address, Scope.Records, [lab], 0, 0), 'ConsentInvalidGrant')
    })

    it('refuses an empty record list (ConsentInvalidGrant)', async () => {
      await expectRevert(attempt(grantee.address, Scope.Records, [], 0, 0), 'ConsentInvalidGrant')
    })

    it('refuses a record of another patient (ConsentNotOwner)', async () => {
      await expectRevert(attempt(grantee.address, Scope.Records, [othersLab], 0, 0), 'ConsentNotOwner', [othersLab, patient.address])
      await expectRevert(attempt(grantee.address, Scope.Records, [lab, othersLab], 0, 0), 'ConsentNotOwner', [othersLab, patient.address])
    })

    it('refuses a record that does not exist (ERC721NonexistentToken from the record contract)', async () => {
      await expectRevert(attempt(grantee.address, Scope.Records, [lab, 999n], 0, 0), 'ERC721NonexistentToken', [999n])
    })

    it('refuses an empty category mask or unknown category bits (ConsentInvalidGrant)', async () => {
      for (const categories of [0, 1 << 17, (1 << 17) | 1, 2 ** 31, 0xffffffff]) {
        await expectRevert(attempt(grantee.address, Scope.Categories, [], categories, 0), 'ConsentInvalidGrant')
      }
    })

    it('refuses sensitive flags above 31, whatever the scope (ConsentInvalidGrant)', async () => {
      for (const sensitive of [32, 33, 64, 255]) {
        await expectRevert(attempt(grantee.address, Scope.All, [], 0, sensitive), 'ConsentInvalidGrant')
        await expectRevert(attempt(grantee.address, Scope.Categories, [], mask(Cat.laboratory), sensitive), 'ConsentInvalidGrant')
        await expectRevert(attempt(grantee.address, Scope.Records, [lab], 0, sensitive), 'ConsentInvalidGrant')
      }
    })

    it('none of the refusals created a grant', async () => {
      const c = consentAs(d, env.admin)
      assert.equal(await c.read.lastGrantId(), 0n)
      assert.deepEqual(await c.read.grantsOf([patient.address]), [])
      assert.deepEqual(await access(d, grantee.address, [lab, othersLab]), [false, false])
    })

    it('accepts the edges: every category bit, sensitive = 31, a repeated token', async () => {
      const a = await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.Categories,
        categories: ALL_CATEGORIES,
        sensitive: 31,
      })
      assert.equal(a.event.categories, ALL_CATEGORIES)
      assert.equal(a.event.sensitive, 31)
      const b = await grant(d, patient, patient.address, grantee.address, { scope: Scope.Records, tokenIds: [lab, lab] })
      assert.deepEqual(b.event.tokenIds, [lab, lab])
    })
  })

  describe('delegates', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let guardian: PrivateKeyAccount
    let grantee: PrivateKeyAccount
    let lab: bigint
    let psychNote: bigint

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'General Hospital')
      patient = await env.newAccount()
      guardian = await env.newAccount()
      grantee = await env.newAccount()
      lab = await issue(d, provider, patient, Cat.laboratory)
      psychNote = await issue(d, provider, patient, Cat.mentalHealth, Flag.mentalHealth)
    })

    it('addDelegate emits DelegateAdded and isDelegate turns true', async () => {
      const c = consentAs(d, patient)
      assert.equal(await c.read.isDelegate([patient.address, guardian.address]), false)
      const receipt = await env.mined(c.write.addDelegate([guardian.address]))
      assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'DelegateAdded'), {
        patient: patient.address,
        delegate: guardian.address,
      })
      assert.equal(await c.read.isDelegate([patient.address, guardian.address]), true)
      assert.equal(await c.read.isDelegate([guardian.address, patient.address]), false, 'not symmetric')
    })

    it('refuses the zero address or oneself as delegate (ConsentInvalidGrant)', async () => {
      await expectRevert(consentAs(d, patient).write.addDelegate([ZERO_ADDRESS]), 'ConsentInvalidGrant')
      await expectRevert(consentAs(d, patient).write.addDelegate([patient.address]), 'ConsentInvalidGrant')
    })

    it('a delegate can grant for the patient (GrantCreated.grantor is the delegate)', async () => {
      const { event, grantId } = await grant(d, guardian, patient.address, grantee.address, {
        scope: Scope.Categories,
        categories: mask(Cat.laboratory),
      })
      assert.equal(event.patient, patient.address)
      assert.equal(event.grantor, guardian.address)
      assert.equal((await consentAs(d, env.admin).read.grantOf([grantId])).patient, patient.address)
      assert.deepEqual(await access(d, grantee.address, [lab, psychNote]), [true, false])
      assert.deepEqual(
        await consentAs(d, env.admin).read.grantsOf([guardian.address]),
        [],
        'the grant is the patient’s, not the delegate’s',
      )
    })

    it('a delegate can revoke the patient’s own grant (GrantRevoked.revokedBy is the delegate)', async () => {
      const other = await env.newAccount()
      const { grantId } = await grant(d, patient, patient.address, other.address, { scope: Scope.All })
      const receipt = await env.mined(consentAs(d, guardian).write.revoke([grantId]))
      assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'GrantRevoked'), {
        grantId,
        patient: patient.address,
        grantee: other.address,
        revokedBy: guardian.address,
      })
      assert.deepEqual(await access(d, other.address, [lab]), [false])
    })

    it('the patient can revoke a grant the delegate made', async () => {
      const other = await env.newAccount()
      const { grantId } = await grant(d, guardian, patient.address, other.address, { scope: Scope.Records, tokenIds: [lab] })
      assert.deepEqual(await access(d, other.address, [lab]), [true])
      await env.mined(consentAs(d, patient).write.revoke([grantId]))
      assert.deepEqual(await access(d, other.address, [lab]), [false])
    })

    it('a delegate cannot share sensitive records in any form (ConsentDelegateCannotShareSensitive)', async () => {
      const other = await env.newAccount()
      const expiry = (await env.latestTimestamp()) + 3600n
      const c = consentAs(d, guardian)
      const attempts = [
        () => c.write.grant([patient.address, other.address, Scope.Records, [lab, psychNote], 0, 0, Number(expiry), 0]),
        () => c.write.grant([patient.address, other.address, Scope.Categories, [], mask(Cat.mentalHealth), 0, Number(expiry), 0]),
        () =>
          c.write.grant([patient.address, other.address, Scope.Categories, [], mask(Cat.laboratory), Flag.mentalHealth, Number(expiry), 0]),
        () => c.write.grant([patient.address, other.address, Scope.All, [], 0, Flag.mentalHealth, Number(expiry), 0]),
      ]
      for (const attempt of attempts) {
        await expectRevert(attempt(), 'ConsentDelegateCannotShareSensitive', [guardian.address, patient.address])
      }
      assert.deepEqual(await access(d, other.address, [lab, psychNote]), [false, false])
      // The patient may.
      await grant(d, patient, patient.address, other.address, { scope: Scope.Records, tokenIds: [psychNote] })
      assert.deepEqual(await access(d, other.address, [psychNote]), [true])
    })

    it('a delegate cannot add delegates for the patient: addDelegate only affects the delegate’s own account', async () => {
      const friend = await env.newAccount()
      const receipt = await env.mined(consentAs(d, guardian).write.addDelegate([friend.address]))
      assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'DelegateAdded'), {
        patient: guardian.address,
        delegate: friend.address,
      })
      const c = consentAs(d, env.admin)
      assert.equal(await c.read.isDelegate([patient.address, friend.address]), false)
      assert.equal(await c.read.isDelegate([guardian.address, friend.address]), true)
      // Delegation is not transitive: the delegate's delegate cannot grant for the patient.
      const expiresAt = Number((await env.latestTimestamp()) + DAY)
      await expectRevert(
        consentAs(d, friend).write.grant([patient.address, friend.address, Scope.All, [], 0, 31, expiresAt, Purpose.Other]),
        'ConsentUnauthorized',
        [friend.address, patient.address],
      )
      // Nor can the delegate remove the patient's other delegates: removeDelegate is also per caller.
      await env.mined(consentAs(d, guardian).write.removeDelegate([guardian.address]))
      assert.equal(await c.read.isDelegate([patient.address, guardian.address]), true)
    })

    it('a delegate cannot transfer the patient’s record (MedicalRecordSoulbound)', async () => {
      await expectRevert(d.recordsAs(guardian).write.transferFrom([patient.address, guardian.address, lab]), 'MedicalRecordSoulbound', [
        lab,
      ])
      await expectRevert(d.recordsAs(guardian).write.safeTransferFrom([patient.address, guardian.address, lab]), 'MedicalRecordSoulbound', [
        lab,
      ])
      assert.equal(await d.records.read.ownerOf([lab]), patient.address)
    })

    it('a delegate cannot consent to an amendment: a delegate-signed consent gives MedicalRecordInvalidConsent', async () => {
      const request = mintRequest(patient.address)
      const deadline = (await env.latestTimestamp()) + 3600n
      const nonce = await d.records.read.nonces([patient.address])
      const consent: Hex = await signMintConsent(
        guardian,
        { chainId: env.chainId, verifyingContract: d.records.address },
        {
          patient: patient.address,
          provider: provider.address,
          commitment: request.commitment,
          category: request.category,
          sensitivity: request.sensitivity,
          supersedes: lab,
          nonce,
          deadline,
        },
      )
      await expectRevert(d.recordsAs(provider).write.amend([lab, request, deadline, consent]), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
      assert.equal((await d.records.read.recordOf([lab])).supersededBy, 0n)
    })

    it('a delegate cannot authorise a provider to mint for the patient (authorizeProvider is per caller)', async () => {
      const until = (await env.latestTimestamp()) + 3600n
      await env.mined(d.recordsAs(guardian).write.authorizeProvider([provider.address, until]))
      assert.equal(await d.records.read.authorizationOf([patient.address, provider.address]), 0n)
      await expectRevert(d.recordsAs(provider).write.amend([lab, mintRequest(patient.address), 0n, '0x']), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
    })

    it('a delegate of one patient has no power over another patient', async () => {
      const otherPatient = await env.newAccount()
      const expiresAt = Number((await env.latestTimestamp()) + DAY)
      await expectRevert(
        consentAs(d, guardian).write.grant([otherPatient.address, grantee.address, Scope.All, [], 0, 0, expiresAt, Purpose.Treatment]),
        'ConsentUnauthorized',
        [guardian.address, otherPatient.address],
      )
    })

    it('removeDelegate emits DelegateRemoved and ends the delegate’s powers at once', async () => {
      const other = await env.newAccount()
      const { grantId } = await grant(d, patient, patient.address, other.address, { scope: Scope.All })
      const receipt = await env.mined(consentAs(d, patient).write.removeDelegate([guardian.address]))
      assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'DelegateRemoved'), {
        patient: patient.address,
        delegate: guardian.address,
      })
      const c = consentAs(d, guardian)
      assert.equal(await c.read.isDelegate([patient.address, guardian.address]), false)
      const expiresAt = Number((await env.latestTimestamp()) + DAY)
      await expectRevert(
        c.write.grant([patient.address, grantee.address, Scope.All, [], 0, 0, expiresAt, Purpose.Treatment]),
        'ConsentUnauthorized',
        [guardian.address, patient.address],
      )
      await expectRevert(c.write.revoke([grantId]), 'ConsentUnauthorized', [guardian.address, patient.address])
      assert.equal(await consentAs(d, env.admin).read.isActive([grantId]), true)
    })

    it('grants a removed delegate made stay in force until revoked by the patient', async () => {
      // grantee's laboratory grant was made by the delegate, who has since been removed.
      assert.deepEqual(await access(d, grantee.address, [lab]), [true])
    })
  })

  describe('break-glass emergency access', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let er: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let otherPatient: PrivateKeyAccount
    let lab: bigint
    let xray: bigint
    let restrictedLab: bigint
    let psychNote: bigint
    let hivLab: bigint
    let othersLab: bigint
    let tokens: bigint[]
    const reason = keccak256(toHex('unconscious on arrival, ER, suspected overdose'))

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'General Hospital')
      er = await registerProvider(env, d, 'City ER')
      patient = await env.newAccount()
      otherPatient = await env.newAccount()
      lab = await issue(d, provider, patient, Cat.laboratory)
      xray = await issue(d, provider, patient, Cat.imaging)
      restrictedLab = await issue(d, provider, patient, Cat.laboratory, Flag.restricted)
      psychNote = await issue(d, provider, patient, Cat.mentalHealth, Flag.mentalHealth)
      hivLab = await issue(d, provider, patient, Cat.laboratory, Flag.sexualHealth)
      othersLab = await issue(d, provider, otherPatient, Cat.laboratory)
      tokens = [lab, xray, restrictedLab, psychNote, hivLab]
    })

    it('only the registrar can flag emergency providers (ConsentNotRegistrar)', async () => {
      for (const caller of [er, patient, provider]) {
        await expectRevert(consentAs(d, caller).write.setEmergencyProvider([er.address, true]), 'ConsentNotRegistrar', [caller.address])
      }
      assert.equal(await consentAs(d, env.admin).read.isEmergencyProvider([er.address]), false)
    })

    it('an active provider that is not flagged cannot open a window (ConsentNotEmergencyProvider)', async () => {
      await expectRevert(consentAs(d, er).write.openEmergency([patient.address, reason]), 'ConsentNotEmergencyProvider', [er.address])
      const stranger = await env.newAccount()
      await expectRevert(consentAs(d, stranger).write.openEmergency([patient.address, reason]), 'ConsentNotEmergencyProvider', [
        stranger.address,
      ])
    })

    it('the registrar flags a provider: EmergencyProviderSet(provider, true)', async () => {
      const receipt = await env.mined(consentAs(d, env.admin).write.setEmergencyProvider([er.address, true]))
      assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'EmergencyProviderSet'), {
        provider: er.address,
        allowed: true,
      })
      assert.equal(await consentAs(d, env.admin).read.isEmergencyProvider([er.address]), true)
    })

    it('a flagged address that is not a registered provider cannot open a window', async () => {
      const stranger = await env.newAccount()
      await env.mined(consentAs(d, env.admin).write.setEmergencyProvider([stranger.address, true]))
      await expectRevert(consentAs(d, stranger).write.openEmergency([patient.address, reason]), 'ConsentNotEmergencyProvider', [
        stranger.address,
      ])
    })

    it('a flagged but suspended provider is refused', async () => {
      const suspended = await registerProvider(env, d, 'Closed ER')
      await env.mined(consentAs(d, env.admin).write.setEmergencyProvider([suspended.address, true]))
      await env.mined(d.registry.write.suspend([suspended.address]))
      await expectRevert(consentAs(d, suspended).write.openEmergency([patient.address, reason]), 'ConsentNotEmergencyProvider', [
        suspended.address,
      ])
      assert.equal(await consentAs(d, env.admin).read.emergencyUntil([patient.address, suspended.address]), 0)
    })

    let until: bigint

    it('openEmergency opens a 24-hour window and emits EmergencyAccessOpened with the reason hash', async () => {
      assert.deepEqual(await access(d, er.address, tokens), [false, false, false, false, false])
      const t = await pinNext((await env.latestTimestamp()) + 10n)
      const receipt = await env.mined(consentAs(d, er).write.openEmergency([patient.address, reason]))
      until = t + EMERGENCY_WINDOW
      assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'EmergencyAccessOpened'), {
        patient: patient.address,
        provider: er.address,
        until: Number(until),
        reasonHash: reason,
      })
      assert.equal(await consentAs(d, env.admin).read.emergencyUntil([patient.address, er.address]), Number(until))
    })

    it('covers only the patient’s records with sensitivity 0 (not restricted, mental-health or sexual-health ones)', async () => {
      assert.deepEqual(await access(d, er.address, tokens), [true, true, false, false, false])
      assert.deepEqual(await access(d, er.address, [othersLab]), [false], 'the window is per patient')
      assert.deepEqual(await access(d, provider.address, tokens), [false, false, false, false, false], 'and per provider')
    })

    it('is not a grant: granteesFor stays empty and no grant id is used', async () => {
      const c = consentAs(d, env.admin)
      assert.deepEqual(await c.read.granteesFor([patient.address, Cat.laboratory, 0]), [])
      assert.equal(await c.read.lastGrantId(), 0n)
    })

    it('stops while the provider is suspended or unflagged, and resumes within the window', async () => {
      await env.mined(d.registry.write.suspend([er.address]))
      assert.deepEqual(await access(d, er.address, [lab]), [false])
      await env.mined(d.registry.write.reinstate([er.address]))
      assert.deepEqual(await access(d, er.address, [lab]), [true])
      const receipt = await env.mined(consentAs(d, env.admin).write.setEmergencyProvider([er.address, false]))
      assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'EmergencyProviderSet'), {
        provider: er.address,
        allowed: false,
      })
      assert.deepEqual(await access(d, er.address, [lab]), [false])
      await env.mined(consentAs(d, env.admin).write.setEmergencyProvider([er.address, true]))
      assert.deepEqual(await access(d, er.address, [lab]), [true])
    })

    it('cannot be renewed while open (ConsentEmergencyAlreadyOpen), even one second before it ends', async () => {
      await expectRevert(consentAs(d, er).write.openEmergency([patient.address, reason]), 'ConsentEmergencyAlreadyOpen', [
        patient.address,
        er.address,
        Number(until),
      ])
      await mineAt(until - 2n)
      await pinNext(until - 1n)
      await expectRevert(consentAs(d, er).write.openEmergency([patient.address, randomReason()]), 'ConsentEmergencyAlreadyOpen', [
        patient.address,
        er.address,
        Number(until),
      ])
      await env.testClient.mine({ blocks: 1 })
      assert.equal(await env.latestTimestamp(), until - 1n)
      assert.deepEqual(await access(d, er.address, [lab]), [true])
      assert.equal(await consentAs(d, env.admin).read.emergencyUntil([patient.address, er.address]), Number(until))
    })

    it('lasts exactly 24 hours: access stops at `until`', async () => {
      await mineAt(until)
      assert.deepEqual(await access(d, er.address, tokens), [false, false, false, false, false])
    })

    it('a new window can be opened after the old one ended, with a new event', async () => {
      const reason2 = randomReason()
      const t = await pinNext(until + 60n)
      const receipt = await env.mined(consentAs(d, er).write.openEmergency([patient.address, reason2]))
      assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'EmergencyAccessOpened'), {
        patient: patient.address,
        provider: er.address,
        until: Number(t + EMERGENCY_WINDOW),
        reasonHash: reason2,
      })
      assert.deepEqual(await access(d, er.address, tokens), [true, true, false, false, false])
    })

    it('windows are per provider: a second emergency provider opens its own', async () => {
      const er2 = await registerProvider(env, d, 'County ER')
      await env.mined(consentAs(d, env.admin).write.setEmergencyProvider([er2.address, true]))
      await env.mined(consentAs(d, er2).write.openEmergency([patient.address, reason]))
      assert.deepEqual(await access(d, er2.address, tokens), [true, true, false, false, false])
      await env.mined(consentAs(d, er2).write.openEmergency([otherPatient.address, reason]))
      assert.deepEqual(await access(d, er2.address, [othersLab]), [true])
    })

    it('the emergency window does not widen a grant: a mental-health grant still needs naming', async () => {
      const { event } = await grant(d, patient, patient.address, er.address, {
        scope: Scope.Categories,
        categories: mask(Cat.mentalHealth),
      })
      assert.equal(event.sensitive, Flag.mentalHealth)
      assert.deepEqual(await access(d, er.address, tokens), [true, true, false, true, false])
    })
  })

  describe('granteesFor', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let cardio: PrivateKeyAccount // Categories: laboratory | clinical-note
    let gp: PrivateKeyAccount // All, no sensitive flags
    let psych: PrivateKeyAccount // Categories: mental-health
    let listed: PrivateKeyAccount // Records: [lab]
    let clinic: PrivateKeyAccount // All + sexual-health, revoked
    let shortTerm: PrivateKeyAccount // Categories: laboratory, expired
    let geneticist: PrivateKeyAccount // Categories: laboratory + genetic flag
    let lab: bigint

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'General Hospital')
      patient = await env.newAccount()
      cardio = await env.newAccount()
      gp = await env.newAccount()
      psych = await env.newAccount()
      listed = await env.newAccount()
      clinic = await env.newAccount()
      shortTerm = await env.newAccount()
      geneticist = await env.newAccount()
      lab = await issue(d, provider, patient, Cat.laboratory)
      const g = (who: PrivateKeyAccount, args: GrantArgs) => grant(d, patient, patient.address, who.address, args)
      await g(cardio, { scope: Scope.Categories, categories: mask(Cat.laboratory, Cat.clinicalNote) })
      await g(gp, { scope: Scope.All })
      await g(psych, { scope: Scope.Categories, categories: mask(Cat.mentalHealth) })
      await g(listed, { scope: Scope.Records, tokenIds: [lab] })
      const revoked = await g(clinic, { scope: Scope.All, sensitive: Flag.sexualHealth })
      await env.mined(consentAs(d, patient).write.revoke([revoked.grantId]))
      await g(shortTerm, { scope: Scope.Categories, categories: mask(Cat.laboratory), expiresAt: (await env.latestTimestamp()) + 100n })
      await g(geneticist, { scope: Scope.Categories, categories: mask(Cat.laboratory), sensitive: Flag.genetic })
    })

    async function granteesFor(category: number, sensitivity: number, who: Address = patient.address): Promise<readonly Address[]> {
      return consentAs(d, env.admin).read.granteesFor([who, category, sensitivity])
    }

    it('returns the grantees of active category/all grants covering a new record, in grant order', async () => {
      assert.deepEqual(await granteesFor(Cat.laboratory, 0), [cardio.address, gp.address, shortTerm.address, geneticist.address])
      assert.deepEqual(await granteesFor(Cat.clinicalNote, 0), [cardio.address, gp.address])
      assert.deepEqual(await granteesFor(Cat.imaging, 0), [gp.address])
      assert.deepEqual(await granteesFor(Cat.other, 0), [gp.address])
    })

    it('applies the sensitivity rule', async () => {
      assert.deepEqual(await granteesFor(Cat.mentalHealth, Flag.mentalHealth), [psych.address])
      assert.deepEqual(await granteesFor(Cat.mentalHealth, Flag.mentalHealth | Flag.restricted), [])
      assert.deepEqual(await granteesFor(Cat.laboratory, Flag.genetic), [geneticist.address])
      assert.deepEqual(await granteesFor(Cat.laboratory, Flag.restricted), [])
    })

    it('never lists Records-scope grantees, revoked or expired grants', async () => {
      // Before the short grant expires it is listed (above); the revoked one never is.
      assert.deepEqual(await granteesFor(Cat.laboratory, Flag.sexualHealth), [])
      await env.advance(200)
      const after = await granteesFor(Cat.laboratory, 0)
      assert.deepEqual(after, [cardio.address, gp.address, geneticist.address])
      for (const who of [listed, clinic, shortTerm]) assert.ok(!after.includes(who.address))
    })

    it('returns nothing for an unknown category code, or for another patient', async () => {
      assert.deepEqual(await granteesFor(17, 0), [])
      assert.deepEqual(await granteesFor(31, 0), [])
      assert.deepEqual(await granteesFor(32, 0), [])
      assert.deepEqual(await granteesFor(255, 0), [])
      const stranger = await env.newAccount()
      assert.deepEqual(await granteesFor(Cat.laboratory, 0, stranger.address), [])
    })
  })

  describe('canAccess of a nonexistent token', () => {
    let d: Deployed
    let patient: PrivateKeyAccount
    before(async () => {
      d = await env.deploy()
      const provider = await registerProvider(env, d, 'General Hospital')
      patient = await env.newAccount()
      await issue(d, provider, patient, Cat.laboratory)
      const grantee = await env.newAccount()
      await grant(d, patient, patient.address, grantee.address, { scope: Scope.All, sensitive: 31 })
    })

    it('is false, not a revert, for anyone (even a patient with an All grant out)', async () => {
      const stranger = await env.newAccount()
      for (const reader of [patient.address, stranger.address, ZERO_ADDRESS]) {
        assert.deepEqual(await access(d, reader, [0n, 2n, 999n, 2n ** 256n - 1n]), [false, false, false, false])
      }
    })

    it('grantCovers of a nonexistent token reverts with ERC721NonexistentToken', async () => {
      await expectRevert(consentAs(d, env.admin).read.grantCovers([1n, 999n]), 'ERC721NonexistentToken', [999n])
    })
  })
})

function randomReason(): Hex {
  return keccak256(toHex(`reason ${Math.random()}`))
}
