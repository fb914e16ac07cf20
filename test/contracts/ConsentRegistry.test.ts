import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Account, type Address, getAddress, getContract, type Hex, keccak256, toHex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { consentRegistryAbi, medicalRecordAbi } from '../../src/contracts/index.js'
import { type Category, Sensitivity as Flag } from '../../src/core/categories.js'
import { tagsForCategories } from '../../src/core/categoryTags.js'
import {
  type Deployed,
  type Env,
  expectEvent,
  expectRevert,
  mintRequest,
  mintWithConsent,
  patientTags,
  randomTag,
  registerProvider,
  signMintConsent,
  startEnv,
  tag8,
  ZERO_ADDRESS,
} from './fixture.js'

/** ConsentRegistry.Scope */
const Scope = { Records: 0, Categories: 1, All: 2 } as const
/** ConsentRegistry.Purpose */
const Purpose = { Treatment: 0, Payment: 1, Research: 2, Emergency: 3, Other: 4 } as const
const DAY = 86_400n
const MAX_GRANT_DURATION = 3650n * DAY
const EMERGENCY_WINDOW = DAY
const MAX_TAGS = 256
const GAS = 1_000_000n
const ZERO_TAG: Hex = '0x0000000000000000'

type PatientTags = ReturnType<typeof patientTags>
/** Each patient's own tag table, made on first use: tags differ between patients, as they do for real. */
const tables = new Map<Address, PatientTags>()
function tagsOf(patient: Address): PatientTags {
  let tags = tables.get(patient)
  if (!tags) {
    tags = patientTags()
    tables.set(patient, tags)
  }
  return tags
}

/** `patient`'s tags for a grant naming `categories` with `flags` allowed beyond each category's own (what a client lists). */
function catTags(patient: Address, categories: readonly Category[], flags = 0): Hex[] {
  return tagsForCategories(tagsOf(patient).table, categories, flags)
}

/** `patient`'s sensitive classes whose flags are all among `flags`: the extra tags of an "all" grant naming those flags. */
function flagTags(patient: Address, flags: number): Hex[] {
  return tagsOf(patient)
    .table.filter((e) => e.sensitivity !== 0 && (e.sensitivity & ~flags) === 0)
    .map((e) => e.tag)
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

  /** Mints a record of `category` with `sensitivity` flags (as the patient's tag) to `patient`, issued by `provider`. */
  async function issue(
    d: Deployed,
    provider: PrivateKeyAccount,
    patient: PrivateKeyAccount,
    category: Category,
    sensitivity = 0,
  ): Promise<bigint> {
    const tag = tagsOf(patient.address).tag(category, sensitivity)
    const { tokenId } = await mintWithConsent(env, d, provider, patient, mintRequest(patient.address, { tag }))
    return tokenId
  }

  /** `patient` registers the tags of its classes without a flag as open, as its client does once. */
  async function openOwnTags(d: Deployed, patient: PrivateKeyAccount): Promise<void> {
    await env.mined(consentAs(d, patient).write.setOpenTags([tagsOf(patient.address).open, []]))
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
    tags?: Hex[]
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
        args.tags ?? [],
        Number(expiresAt),
        args.purpose ?? Purpose.Treatment,
      ]),
    )
    const event = expectEvent(receipt, consentRegistryAbi, d.consent, 'GrantCreated')
    // The event names blinded tags only, never a category or a flag in clear.
    assert.ok(!('categories' in event) && !('sensitive' in event), 'GrantCreated names no categories or sensitivity')
    const grantId = event.grantId as bigint
    // What the event lists is what the contract holds.
    const c = consentAs(d, env.admin)
    for (const tag of event.tags as Hex[]) assert.equal(await c.read.grantListsTag([grantId, tag]), true, `grant ${grantId} lists ${tag}`)
    return { receipt, event, grantId, expiresAt }
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

  describe('a cardiology grant (Categories: the tags of laboratory | clinical-note)', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let cardiologist: PrivateKeyAccount
    let lab: bigint
    let ekg: bigint
    let psychNote: bigint
    let hivLab: bigint
    let xray: bigint
    let cardioTags: Hex[]
    let result: Awaited<ReturnType<typeof grant>>

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'General Hospital')
      patient = await env.newAccount()
      cardiologist = await env.newAccount()
      lab = await issue(d, provider, patient, 'laboratory')
      ekg = await issue(d, provider, patient, 'clinical-note')
      psychNote = await issue(d, provider, patient, 'mental-health', Flag.mentalHealth)
      hivLab = await issue(d, provider, patient, 'laboratory', Flag.sexualHealth)
      xray = await issue(d, provider, patient, 'imaging')
      cardioTags = catTags(patient.address, ['laboratory', 'clinical-note'])
      result = await grant(d, patient, patient.address, cardiologist.address, {
        scope: Scope.Categories,
        tags: cardioTags,
        purpose: Purpose.Treatment,
      })
    })

    it('emits GrantCreated with who, scope kind, the blinded tags, expiry and coarse purpose, and no category in clear', () => {
      assert.deepEqual(cardioTags, [tagsOf(patient.address).tag('laboratory'), tagsOf(patient.address).tag('clinical-note')])
      assert.deepEqual(result.event, {
        grantId: 1n,
        patient: patient.address,
        grantee: cardiologist.address,
        grantor: patient.address,
        scope: Scope.Categories,
        tokenIds: [],
        tags: cardioTags,
        expiresAt: Number(result.expiresAt),
        purpose: Purpose.Treatment,
      })
    })

    it('lists exactly its tags (grantListsTag)', async () => {
      const c = consentAs(d, env.admin)
      const t = tagsOf(patient.address)
      const probes = [t.tag('laboratory'), t.tag('clinical-note'), t.tag('laboratory', Flag.sexualHealth), t.tag('imaging'), randomTag()]
      assert.deepEqual(await Promise.all(probes.map((tag) => c.read.grantListsTag([1n, tag]))), [true, true, false, false, false])
      assert.equal(await c.read.grantListsTag([999n, t.tag('laboratory')]), false, 'an unknown grant lists nothing')
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

    it('covers only this patient: another patient’s lab result stays closed, even under the very same tag', async () => {
      const other = await env.newAccount()
      const otherLab = await issue(d, provider, other, 'laboratory')
      const sameTag = await mintWithConsent(
        env,
        d,
        provider,
        other,
        mintRequest(other.address, { tag: tagsOf(patient.address).tag('laboratory') }),
      )
      assert.deepEqual(await access(d, cardiologist.address, [otherLab, sameTag.tokenId]), [false, false])
      const c = consentAs(d, env.admin)
      assert.equal(await c.read.grantCovers([1n, otherLab]), false)
      assert.equal(await c.read.grantCovers([1n, sameTag.tokenId]), false)
    })

    it('covers a lab result issued after the grant', async () => {
      const later = await issue(d, provider, patient, 'laboratory')
      assert.deepEqual(await access(d, cardiologist.address, [later]), [true])
    })

    it('does not depend on open tags: closing the laboratory tag leaves the named category covered', async () => {
      await openOwnTags(d, patient)
      await env.mined(consentAs(d, patient).write.setOpenTags([[], [tagsOf(patient.address).tag('laboratory')]]))
      assert.deepEqual(await access(d, cardiologist.address, [lab, ekg, psychNote]), [true, true, false])
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
      lab = await issue(d, provider, patient, 'laboratory')
      xray = await issue(d, provider, patient, 'imaging')
      psychNote = await issue(d, provider, patient, 'mental-health', Flag.mentalHealth)
      restrictedPsych = await issue(d, provider, patient, 'mental-health', Flag.mentalHealth | Flag.restricted)
      rehab = await issue(d, provider, patient, 'substance-use', Flag.substanceUse)
      hivLab = await issue(d, provider, patient, 'laboratory', Flag.sexualHealth)
      restrictedLab = await issue(d, provider, patient, 'laboratory', Flag.restricted)
      genome = await issue(d, provider, patient, 'genetic', Flag.genetic)
      all = [lab, xray, psychNote, restrictedPsych, rehab, hivLab, restrictedLab, genome]
    })

    it('"All" covers nothing before the patient opened any tag: the contract cannot tell a lab result from a psychiatric note', async () => {
      const grantee = await env.newAccount()
      await grant(d, patient, patient.address, grantee.address, { scope: Scope.All })
      assert.deepEqual(
        await access(d, grantee.address, all),
        all.map(() => false),
      )
      await openOwnTags(d, patient)
      assert.deepEqual(await access(d, grantee.address, all), [true, true, false, false, false, false, false, false], 'once opened')
    })

    it('"All" without extra tags covers every record with an open tag and no sensitive one', async () => {
      const grantee = await env.newAccount()
      const { event } = await grant(d, patient, patient.address, grantee.address, { scope: Scope.All })
      assert.deepEqual(event.tags, [])
      assert.deepEqual(await access(d, grantee.address, all), [true, true, false, false, false, false, false, false])
    })

    it('"All" plus the tags of mental-health | sexual-health classes covers those records, and only those sensitive ones', async () => {
      const grantee = await env.newAccount()
      const extra = flagTags(patient.address, Flag.mentalHealth | Flag.sexualHealth)
      const { event } = await grant(d, patient, patient.address, grantee.address, { scope: Scope.All, tags: extra })
      assert.deepEqual(event.tags, extra)
      // restrictedPsych also carries "restricted", whose classes were not listed.
      assert.deepEqual(await access(d, grantee.address, all), [true, true, true, false, false, true, false, false])
    })

    it('"All" plus the tag of every sensitive class the patient holds covers every record', async () => {
      const grantee = await env.newAccount()
      // Every sensitive class there is would be 467 tags, more than MAX_TAGS: a client lists the classes in use.
      const t = tagsOf(patient.address)
      const held = [
        t.tag('mental-health', Flag.mentalHealth),
        t.tag('mental-health', Flag.mentalHealth | Flag.restricted),
        t.tag('substance-use', Flag.substanceUse),
        t.tag('laboratory', Flag.sexualHealth),
        t.tag('laboratory', Flag.restricted),
        t.tag('genetic', Flag.genetic),
      ]
      await grant(d, patient, patient.address, grantee.address, { scope: Scope.All, tags: held })
      assert.deepEqual(
        await access(d, grantee.address, all),
        all.map(() => true),
      )
    })

    it('"All" follows the open list: closing a tag takes its records out of every "all" grant at once, reopening puts them back', async () => {
      const grantee = await env.newAccount()
      await grant(d, patient, patient.address, grantee.address, { scope: Scope.All })
      const labTag = tagsOf(patient.address).tag('laboratory')
      await env.mined(consentAs(d, patient).write.setOpenTags([[], [labTag]]))
      assert.deepEqual(await access(d, grantee.address, [lab, xray]), [false, true])
      await env.mined(consentAs(d, patient).write.setOpenTags([[labTag], []]))
      assert.deepEqual(await access(d, grantee.address, [lab, xray]), [true, true])
    })

    it('naming the mental-health category covers mental-health records (but not one also flagged restricted)', async () => {
      const grantee = await env.newAccount()
      const tags = catTags(patient.address, ['mental-health'])
      assert.deepEqual(tags, [tagsOf(patient.address).tag('mental-health', Flag.mentalHealth)], 'the named category carries its flag')
      await grant(d, patient, patient.address, grantee.address, { scope: Scope.Categories, tags })
      assert.deepEqual(await access(d, grantee.address, all), [false, false, true, false, false, false, false, false])
    })

    it('each sensitive category covers exactly its own records', async () => {
      const stiTest = await issue(d, provider, patient, 'sexual-health', Flag.sexualHealth)
      const cases: [Category, bigint][] = [
        ['mental-health', psychNote],
        ['substance-use', rehab],
        ['sexual-health', stiTest],
        ['genetic', genome],
      ]
      for (const [category, token] of cases) {
        const grantee = await env.newAccount()
        await grant(d, patient, patient.address, grantee.address, { scope: Scope.Categories, tags: catTags(patient.address, [category]) })
        const others = [psychNote, rehab, stiTest, genome].filter((t) => t !== token)
        assert.deepEqual(await access(d, grantee.address, [token, ...others]), [true, false, false, false], category)
      }
    })

    it('naming the sexual-health category does not cover a laboratory record flagged sexual-health', async () => {
      const grantee = await env.newAccount()
      await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.Categories,
        tags: catTags(patient.address, ['sexual-health']),
      })
      assert.deepEqual(await access(d, grantee.address, [hivLab, lab]), [false, false])
    })

    it('"laboratory" plus the sexual-health flag covers the HIV lab result but not the restricted one', async () => {
      const grantee = await env.newAccount()
      const tags = catTags(patient.address, ['laboratory'], Flag.sexualHealth)
      assert.equal(tags.length, 2)
      await grant(d, patient, patient.address, grantee.address, { scope: Scope.Categories, tags })
      assert.deepEqual(await access(d, grantee.address, all), [true, false, false, false, false, true, false, false])
    })

    it('Records scope covers exactly the listed tokens, whatever their tags (GrantCreated.tags is empty)', async () => {
      const grantee = await env.newAccount()
      const listed = [restrictedPsych, hivLab, genome]
      const { event, grantId } = await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.Records,
        tokenIds: listed,
        tags: catTags(patient.address, ['laboratory', 'imaging']),
      })
      assert.deepEqual(event.tokenIds, listed)
      assert.deepEqual(event.tags, [], 'tags are ignored for Records scope')
      assert.equal(await consentAs(d, env.admin).read.grantListsTag([grantId, tagsOf(patient.address).tag('laboratory')]), false)
      assert.deepEqual(
        await access(d, grantee.address, all),
        all.map((t) => listed.includes(t)),
      )
      // A record issued later is not covered, even under a listed record's tag.
      const laterLab = await issue(d, provider, patient, 'laboratory', Flag.sexualHealth)
      assert.deepEqual(await access(d, grantee.address, [laterLab]), [false])
    })

    it('Categories and All grants ignore the token list (GrantCreated.tokenIds is empty)', async () => {
      const grantee = await env.newAccount()
      const { event } = await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.Categories,
        tokenIds: [psychNote],
        tags: catTags(patient.address, ['imaging']),
      })
      assert.deepEqual(event.tokenIds, [])
      assert.deepEqual(await access(d, grantee.address, [psychNote, xray]), [false, true])
      const other = await env.newAccount()
      const all2 = await grant(d, patient, patient.address, other.address, { scope: Scope.All, tokenIds: [genome] })
      assert.deepEqual(all2.event.tokenIds, [])
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
      lab = await issue(d, provider, patient, 'laboratory')
      await openOwnTags(d, patient)
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
        c.write.grant([patient.address, grantee.address, Scope.All, [], [], Number(expiresAt), Purpose.Treatment])
      for (const expiresAt of [0n, t - 100n, t - 1n, t, t + MAX_GRANT_DURATION + 1n, 2n ** 40n - 1n]) {
        await expectRevert(attempt(expiresAt), 'ConsentInvalidExpiry', [Number(expiresAt)])
      }
      assert.equal(await c.read.lastGrantId(), before)
    })

    it('a mined grant whose expiry is the block time reverts on chain too', async () => {
      const grantee = await env.newAccount()
      const t = await pinNext((await env.latestTimestamp()) + 10n)
      const hash = await consentAs(d, patient).write.grant(
        [patient.address, grantee.address, Scope.All, [], [], Number(t), Purpose.Treatment],
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
      lab = await issue(d, provider, patient, 'laboratory')
      psychNote = await issue(d, provider, patient, 'mental-health', Flag.mentalHealth)
      await openOwnTags(d, patient)
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
      const first = await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.Categories,
        tags: catTags(patient.address, ['laboratory']),
      })
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
      lab = await issue(d, provider, patient, 'laboratory')
    })

    it('refuses a stranger, the would-be grantee, the issuing provider and the registrar (ConsentUnauthorized)', async () => {
      const stranger = await env.newAccount()
      const expiresAt = Number((await env.latestTimestamp()) + DAY)
      const before = await consentAs(d, env.admin).read.lastGrantId()
      for (const caller of [stranger, provider, env.admin] as Account[]) {
        await expectRevert(
          consentAs(d, caller).write.grant([
            patient.address,
            caller.address,
            Scope.All,
            [],
            flagTags(patient.address, 31),
            expiresAt,
            Purpose.Treatment,
          ]),
          'ConsentUnauthorized',
          [caller.address, patient.address],
        )
        await expectRevert(
          consentAs(d, caller).write.grant([patient.address, caller.address, Scope.Records, [lab], [], expiresAt, Purpose.Other]),
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
        consentAs(d, stranger).write.grant([patient.address, ZERO_ADDRESS, Scope.Categories, [], [ZERO_TAG], 0, Purpose.Treatment]),
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
      lab = await issue(d, provider, patient, 'laboratory')
      othersLab = await issue(d, provider, other, 'laboratory')
      expiresAt = Number((await env.latestTimestamp()) + 30n * DAY)
    })

    function attempt(grantee_: Address, scope: number, tokenIds: bigint[], tags: Hex[]) {
      return consentAs(d, patient).write.grant([patient.address, grantee_, scope, tokenIds, tags, expiresAt, Purpose.Treatment])
    }

    it('refuses the zero grantee and the patient as grantee (ConsentInvalidGrant)', async () => {
      await expectRevert(attempt(ZERO_ADDRESS, Scope.All, [], []), 'ConsentInvalidGrant')
      await expectRevert(attempt(patient.address, Scope.All, [], []), 'ConsentInvalidGrant')
      await expectRevert(attempt(patient.address, Scope.Records, [lab], []), 'ConsentInvalidGrant')
    })

    it('refuses an empty record list (ConsentInvalidGrant)', async () => {
      await expectRevert(attempt(grantee.address, Scope.Records, [], []), 'ConsentInvalidGrant')
    })

    it('refuses a record of another patient (ConsentNotOwner)', async () => {
      await expectRevert(attempt(grantee.address, Scope.Records, [othersLab], []), 'ConsentNotOwner', [othersLab, patient.address])
      await expectRevert(attempt(grantee.address, Scope.Records, [lab, othersLab], []), 'ConsentNotOwner', [othersLab, patient.address])
    })

    it('refuses a record that does not exist (ERC721NonexistentToken from the record contract)', async () => {
      await expectRevert(attempt(grantee.address, Scope.Records, [lab, 999n], []), 'ERC721NonexistentToken', [999n])
    })

    it('refuses a Categories grant with no tag (ConsentInvalidGrant)', async () => {
      await expectRevert(attempt(grantee.address, Scope.Categories, [], []), 'ConsentInvalidGrant')
      await expectRevert(attempt(grantee.address, Scope.Categories, [lab], []), 'ConsentInvalidGrant')
    })

    it('refuses a zero tag, wherever it is in the list, for Categories and All (ConsentInvalidGrant)', async () => {
      const labTag = tagsOf(patient.address).tag('laboratory')
      for (const tags of [[ZERO_TAG], [labTag, ZERO_TAG], [ZERO_TAG, labTag]]) {
        await expectRevert(attempt(grantee.address, Scope.Categories, [], tags), 'ConsentInvalidGrant')
        await expectRevert(attempt(grantee.address, Scope.All, [], tags), 'ConsentInvalidGrant')
      }
    })

    it('refuses more than MAX_TAGS tags (ConsentInvalidGrant)', async () => {
      assert.equal(await consentAs(d, env.admin).read.MAX_TAGS(), BigInt(MAX_TAGS))
      const tooMany = Array.from({ length: MAX_TAGS + 1 }, (_, i) => tag8(i + 1))
      await expectRevert(attempt(grantee.address, Scope.Categories, [], tooMany), 'ConsentInvalidGrant')
      await expectRevert(attempt(grantee.address, Scope.All, [], tooMany), 'ConsentInvalidGrant')
    })

    it('none of the refusals created a grant', async () => {
      const c = consentAs(d, env.admin)
      assert.equal(await c.read.lastGrantId(), 0n)
      assert.deepEqual(await c.read.grantsOf([patient.address]), [])
      assert.deepEqual(await access(d, grantee.address, [lab, othersLab]), [false, false])
    })

    it('accepts the edges: exactly MAX_TAGS tags, a repeated tag, a repeated token', async () => {
      const most = Array.from({ length: MAX_TAGS }, (_, i) => tag8(i + 1))
      const a = await grant(d, patient, patient.address, grantee.address, { scope: Scope.Categories, tags: most })
      assert.equal((a.event.tags as Hex[]).length, MAX_TAGS)
      const labTag = tagsOf(patient.address).tag('laboratory')
      const twice = await grant(d, patient, patient.address, grantee.address, { scope: Scope.Categories, tags: [labTag, labTag] })
      assert.deepEqual(twice.event.tags, [labTag, labTag])
      const b = await grant(d, patient, patient.address, grantee.address, { scope: Scope.Records, tokenIds: [lab, lab] })
      assert.deepEqual(b.event.tokenIds, [lab, lab])
    })
  })

  describe('open tags (setOpenTags, isOpenTag)', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let guardian: PrivateKeyAccount
    let t: PatientTags

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'General Hospital')
      patient = await env.newAccount()
      guardian = await env.newAccount()
      t = tagsOf(patient.address)
      await env.mined(consentAs(d, patient).write.addDelegate([guardian.address]))
    })

    async function isOpen(tags: readonly Hex[], who: Address = patient.address): Promise<boolean[]> {
      const c = consentAs(d, env.admin)
      return Promise.all(tags.map((tag) => c.read.isOpenTag([who, tag])))
    }

    it('starts with no open tag', async () => {
      assert.deepEqual(
        await isOpen(t.open),
        t.open.map(() => false),
      )
    })

    it('opens the caller’s own tags and emits OpenTagsChanged(patient, opened, closed)', async () => {
      const receipt = await env.mined(consentAs(d, patient).write.setOpenTags([t.open, []]))
      assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'OpenTagsChanged'), {
        patient: patient.address,
        opened: t.open,
        closed: [],
      })
      assert.equal(t.open.length, 13, 'one open class per category without a flag of its own')
      assert.deepEqual(
        await isOpen(t.open),
        t.open.map(() => true),
      )
      assert.deepEqual(await isOpen([t.tag('laboratory', Flag.restricted), t.tag('mental-health', Flag.mentalHealth)]), [false, false])
    })

    it('is per patient: the same tag value is not open for anyone else', async () => {
      const other = await env.newAccount()
      assert.deepEqual(
        await isOpen(t.open, other.address),
        t.open.map(() => false),
      )
    })

    it('only ever changes the caller’s own list: a delegate or a stranger cannot open or close the patient’s tags', async () => {
      const stranger = await env.newAccount()
      const sensitive = t.tag('mental-health', Flag.mentalHealth)
      for (const caller of [guardian, stranger, provider]) {
        const receipt = await env.mined(consentAs(d, caller).write.setOpenTags([[sensitive], [t.tag('laboratory')]]))
        assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'OpenTagsChanged'), {
          patient: caller.address,
          opened: [sensitive],
          closed: [t.tag('laboratory')],
        })
        assert.deepEqual(await isOpen([sensitive], caller.address), [true])
      }
      assert.deepEqual(await isOpen([sensitive, t.tag('laboratory')]), [false, true], 'the patient’s list is unchanged')
    })

    it('closes tags, applying closing after opening (a tag in both lists ends closed); closing an unknown tag is harmless', async () => {
      const [first, second] = t.open as [Hex, Hex]
      const receipt = await env.mined(consentAs(d, patient).write.setOpenTags([[first], [first, second, randomTag(), ZERO_TAG]]))
      assert.equal((expectEvent(receipt, consentRegistryAbi, d.consent, 'OpenTagsChanged').closed as Hex[]).length, 4)
      assert.deepEqual(await isOpen([first, second]), [false, false])
      await env.mined(consentAs(d, patient).write.setOpenTags([[first, second], []]))
      assert.deepEqual(await isOpen([first, second]), [true, true])
      // Opening an open tag again changes nothing.
      await env.mined(consentAs(d, patient).write.setOpenTags([[first], []]))
      assert.deepEqual(await isOpen([first, second]), [true, true])
    })

    it('refuses a zero tag to open, and more than MAX_TAGS in either list (ConsentInvalidGrant); accepts exactly MAX_TAGS', async () => {
      const c = consentAs(d, patient)
      await expectRevert(c.write.setOpenTags([[ZERO_TAG], []]), 'ConsentInvalidGrant')
      await expectRevert(c.write.setOpenTags([[t.tag('imaging'), ZERO_TAG], []]), 'ConsentInvalidGrant')
      const tooMany = Array.from({ length: MAX_TAGS + 1 }, (_, i) => tag8(i + 1))
      await expectRevert(c.write.setOpenTags([tooMany, []]), 'ConsentInvalidGrant')
      await expectRevert(c.write.setOpenTags([[], tooMany]), 'ConsentInvalidGrant')
      await env.mined(c.write.setOpenTags([tooMany.slice(0, MAX_TAGS), tooMany.slice(0, MAX_TAGS)]))
      assert.deepEqual(await isOpen([tag8(1), tag8(MAX_TAGS)]), [false, false])
    })

    it('refuses a retired account (ConsentAccountRetired): its records and tags live under its successor now', async () => {
      const old = await env.newAccount()
      const successor = await env.newAccount()
      const tokenId = await issue(d, provider, old, 'laboratory')
      await env.mined(consentAs(d, old).write.setOpenTags([tagsOf(old.address).open, []]))
      await env.mined(d.recordsAs(old).write.rotate([successor.address, [tokenId]]))
      await expectRevert(consentAs(d, old).write.setOpenTags([[], [tagsOf(old.address).tag('laboratory')]]), 'ConsentAccountRetired', [
        old.address,
        successor.address,
      ])
      await expectRevert(consentAs(d, old).write.setOpenTags([[], []]), 'ConsentAccountRetired', [old.address, successor.address])
      // The successor's list is its own and starts empty: the moved record has no open tag until it opens one.
      assert.deepEqual(await isOpen([tagsOf(old.address).tag('laboratory')], successor.address), [false])
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
      lab = await issue(d, provider, patient, 'laboratory')
      psychNote = await issue(d, provider, patient, 'mental-health', Flag.mentalHealth)
      await openOwnTags(d, patient)
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
        tags: catTags(patient.address, ['laboratory']),
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
      const p = patient.address
      const attempts = [
        () => c.write.grant([p, other.address, Scope.Records, [lab, psychNote], [], Number(expiry), 0]),
        () => c.write.grant([p, other.address, Scope.Categories, [], catTags(p, ['mental-health']), Number(expiry), 0]),
        () => c.write.grant([p, other.address, Scope.Categories, [], catTags(p, ['laboratory'], Flag.mentalHealth), Number(expiry), 0]),
        () => c.write.grant([p, other.address, Scope.All, [], flagTags(p, Flag.mentalHealth), Number(expiry), 0]),
        // A tag the patient never opened is sensitive as far as the contract knows, whatever it stands for.
        () => c.write.grant([p, other.address, Scope.Categories, [], [randomTag()], Number(expiry), 0]),
      ]
      for (const attempt of attempts) {
        await expectRevert(attempt(), 'ConsentDelegateCannotShareSensitive', [guardian.address, patient.address])
      }
      assert.deepEqual(await access(d, other.address, [lab, psychNote]), [false, false])
      // The patient may.
      await grant(d, patient, patient.address, other.address, { scope: Scope.Records, tokenIds: [psychNote] })
      assert.deepEqual(await access(d, other.address, [psychNote]), [true])
    })

    it('a delegate cannot share a record or category whose tag the patient closed, until the patient reopens it', async () => {
      const other = await env.newAccount()
      const expiry = Number((await env.latestTimestamp()) + 3600n)
      const labTag = tagsOf(patient.address).tag('laboratory')
      await env.mined(consentAs(d, patient).write.setOpenTags([[], [labTag]]))
      const c = consentAs(d, guardian)
      await expectRevert(
        c.write.grant([patient.address, other.address, Scope.Records, [lab], [], expiry, 0]),
        'ConsentDelegateCannotShareSensitive',
        [guardian.address, patient.address],
      )
      await expectRevert(
        c.write.grant([patient.address, other.address, Scope.Categories, [], [labTag], expiry, 0]),
        'ConsentDelegateCannotShareSensitive',
        [guardian.address, patient.address],
      )
      // An "all" grant with no extra tag names nothing sensitive: the delegate may make it, and it leaves the closed lab tag out.
      const all = await grant(d, guardian, patient.address, other.address, { scope: Scope.All })
      assert.deepEqual(await access(d, other.address, [lab, psychNote]), [false, false])
      await openOwnTags(d, patient)
      assert.deepEqual(await access(d, other.address, [lab, psychNote]), [true, false])
      await env.mined(consentAs(d, patient).write.revoke([all.grantId]))
      await grant(d, guardian, patient.address, other.address, { scope: Scope.Records, tokenIds: [lab] })
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
        consentAs(d, friend).write.grant([patient.address, friend.address, Scope.All, [], [], expiresAt, Purpose.Other]),
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
          tag: request.tag,
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
        consentAs(d, guardian).write.grant([otherPatient.address, grantee.address, Scope.All, [], [], expiresAt, Purpose.Treatment]),
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
        c.write.grant([patient.address, grantee.address, Scope.All, [], [], expiresAt, Purpose.Treatment]),
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
      lab = await issue(d, provider, patient, 'laboratory')
      xray = await issue(d, provider, patient, 'imaging')
      restrictedLab = await issue(d, provider, patient, 'laboratory', Flag.restricted)
      psychNote = await issue(d, provider, patient, 'mental-health', Flag.mentalHealth)
      hivLab = await issue(d, provider, patient, 'laboratory', Flag.sexualHealth)
      othersLab = await issue(d, provider, otherPatient, 'laboratory')
      tokens = [lab, xray, restrictedLab, psychNote, hivLab]
      await openOwnTags(d, patient)
      await openOwnTags(d, otherPatient)
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

    it('covers only the patient’s records with an open tag (not restricted, mental-health or sexual-health ones)', async () => {
      assert.deepEqual(await access(d, er.address, tokens), [true, true, false, false, false])
      assert.deepEqual(await access(d, er.address, [othersLab]), [false], 'the window is per patient')
      assert.deepEqual(await access(d, provider.address, tokens), [false, false, false, false, false], 'and per provider')
    })

    it('follows the open list: a tag the patient closes drops out of the open window, even a sensitive tag opened by mistake shows', async () => {
      const t = tagsOf(patient.address)
      await env.mined(consentAs(d, patient).write.setOpenTags([[], [t.tag('imaging')]]))
      assert.deepEqual(await access(d, er.address, tokens), [true, false, false, false, false])
      // The contract trusts the patient's list: an open tag is open whatever class it stands for.
      await env.mined(consentAs(d, patient).write.setOpenTags([[t.tag('imaging'), t.tag('laboratory', Flag.restricted)], []]))
      assert.deepEqual(await access(d, er.address, tokens), [true, true, true, false, false])
      await env.mined(consentAs(d, patient).write.setOpenTags([[], [t.tag('laboratory', Flag.restricted)]]))
      assert.deepEqual(await access(d, er.address, tokens), [true, true, false, false, false])
    })

    it('is not a grant: granteesFor stays empty and no grant id is used', async () => {
      const c = consentAs(d, env.admin)
      assert.deepEqual(await c.read.granteesFor([patient.address, tagsOf(patient.address).tag('laboratory')]), [])
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
      await grant(d, patient, patient.address, er.address, { scope: Scope.Categories, tags: catTags(patient.address, ['mental-health']) })
      assert.deepEqual(await access(d, er.address, tokens), [true, true, false, true, false])
    })
  })

  describe('granteesFor', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let cardio: PrivateKeyAccount // Categories: laboratory | clinical-note
    let gp: PrivateKeyAccount // All, no extra tags
    let psych: PrivateKeyAccount // Categories: mental-health
    let listed: PrivateKeyAccount // Records: [lab]
    let clinic: PrivateKeyAccount // All + sexual-health classes, revoked
    let shortTerm: PrivateKeyAccount // Categories: laboratory, expired
    let geneticist: PrivateKeyAccount // Categories: laboratory + genetic flag
    let lab: bigint
    let t: PatientTags

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'General Hospital')
      patient = await env.newAccount()
      t = tagsOf(patient.address)
      cardio = await env.newAccount()
      gp = await env.newAccount()
      psych = await env.newAccount()
      listed = await env.newAccount()
      clinic = await env.newAccount()
      shortTerm = await env.newAccount()
      geneticist = await env.newAccount()
      lab = await issue(d, provider, patient, 'laboratory')
      await openOwnTags(d, patient)
      const p = patient.address
      const g = (who: PrivateKeyAccount, args: GrantArgs) => grant(d, patient, p, who.address, args)
      await g(cardio, { scope: Scope.Categories, tags: catTags(p, ['laboratory', 'clinical-note']) })
      await g(gp, { scope: Scope.All })
      await g(psych, { scope: Scope.Categories, tags: catTags(p, ['mental-health']) })
      await g(listed, { scope: Scope.Records, tokenIds: [lab] })
      const revoked = await g(clinic, { scope: Scope.All, tags: flagTags(p, Flag.sexualHealth) })
      await env.mined(consentAs(d, patient).write.revoke([revoked.grantId]))
      await g(shortTerm, { scope: Scope.Categories, tags: catTags(p, ['laboratory']), expiresAt: (await env.latestTimestamp()) + 100n })
      await g(geneticist, { scope: Scope.Categories, tags: catTags(p, ['laboratory'], Flag.genetic) })
    })

    async function granteesFor(tag: Hex, who: Address = patient.address): Promise<readonly Address[]> {
      return consentAs(d, env.admin).read.granteesFor([who, tag])
    }

    it('returns the grantees of active category/all grants covering a new record with this tag, in grant order', async () => {
      assert.deepEqual(await granteesFor(t.tag('laboratory')), [cardio.address, gp.address, shortTerm.address, geneticist.address])
      assert.deepEqual(await granteesFor(t.tag('clinical-note')), [cardio.address, gp.address])
      assert.deepEqual(await granteesFor(t.tag('imaging')), [gp.address])
      assert.deepEqual(await granteesFor(t.tag('other')), [gp.address])
    })

    it('applies the sensitivity rule through the tags: an "all" grant gets only open tags', async () => {
      assert.deepEqual(await granteesFor(t.tag('mental-health', Flag.mentalHealth)), [psych.address])
      assert.deepEqual(await granteesFor(t.tag('mental-health', Flag.mentalHealth | Flag.restricted)), [])
      assert.deepEqual(await granteesFor(t.tag('laboratory', Flag.genetic)), [geneticist.address])
      assert.deepEqual(await granteesFor(t.tag('laboratory', Flag.restricted)), [])
    })

    it('follows the open list for "all" grants, not for category grants', async () => {
      await env.mined(consentAs(d, patient).write.setOpenTags([[], [t.tag('laboratory')]]))
      assert.deepEqual(await granteesFor(t.tag('laboratory')), [cardio.address, shortTerm.address, geneticist.address])
      await env.mined(consentAs(d, patient).write.setOpenTags([[t.tag('laboratory')], []]))
      assert.deepEqual(await granteesFor(t.tag('laboratory')), [cardio.address, gp.address, shortTerm.address, geneticist.address])
    })

    it('never lists Records-scope grantees, revoked or expired grants', async () => {
      // Before the short grant expires it is listed (above); the revoked one never is.
      assert.deepEqual(await granteesFor(t.tag('laboratory', Flag.sexualHealth)), [])
      await env.advance(200)
      const after = await granteesFor(t.tag('laboratory'))
      assert.deepEqual(after, [cardio.address, gp.address, geneticist.address])
      for (const who of [listed, clinic, shortTerm]) assert.ok(!after.includes(who.address))
    })

    it("returns nothing for a tag that is not one of the patient's, nor for another patient", async () => {
      assert.deepEqual(await granteesFor(randomTag()), [])
      assert.deepEqual(await granteesFor(ZERO_TAG), [])
      // Another patient's laboratory tag is another value: the patient's grants do not know it.
      assert.deepEqual(await granteesFor(patientTags().tag('laboratory')), [])
      const stranger = await env.newAccount()
      assert.deepEqual(await granteesFor(t.tag('laboratory'), stranger.address), [])
    })
  })

  describe('canAccess of a nonexistent token', () => {
    let d: Deployed
    let patient: PrivateKeyAccount
    before(async () => {
      d = await env.deploy()
      const provider = await registerProvider(env, d, 'General Hospital')
      patient = await env.newAccount()
      await issue(d, provider, patient, 'laboratory')
      await openOwnTags(d, patient)
      const grantee = await env.newAccount()
      await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.All,
        tags: [tagsOf(patient.address).tag('laboratory', Flag.restricted)],
      })
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
