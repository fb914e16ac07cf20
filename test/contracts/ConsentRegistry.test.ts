import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  type Account,
  type Address,
  decodeFunctionResult,
  encodeFunctionData,
  getAddress,
  getContract,
  type Hex,
  keccak256,
  toHex,
} from 'viem'
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
  ZERO_BYTES32,
} from './fixture.js'
import type { GrantStruct } from '../../src/consent/grantTerms.js'

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

  /** ConsentRegistry.Grant: what `grant` takes, and what every later call about the grant passes back. */
  type Terms = GrantStruct

  /**
   * `t` with one term changed at a time, each in a way that would widen or change the grant if the
   * contract believed it: another patient or grantee (`other`), a later expiry, another scope or
   * purpose, an extra record, an extra tag.
   */
  function alterations(t: Terms, other: Address, extraTag: Hex, extraToken: bigint): [string, Terms][] {
    return [
      ['another patient', { ...t, patient: other }],
      ['another grantee', { ...t, grantee: other }],
      ['a later expiry', { ...t, expiresAt: t.expiresAt + Number(DAY) }],
      ['another scope', { ...t, scope: t.scope === Scope.All ? Scope.Categories : Scope.All }],
      ['another purpose', { ...t, purpose: t.purpose === Purpose.Treatment ? Purpose.Research : Purpose.Treatment }],
      ['an extra record', { ...t, tokenIds: [...t.tokenIds, extraToken] }],
      ['an extra tag', { ...t, tags: [...t.tags, extraTag] }],
    ]
  }

  /** A grant's terms; expiry thirty days from the chain's clock unless given. */
  async function termsFor(patient: Address, grantee: Address, args: GrantArgs): Promise<Terms> {
    const expiresAt = args.expiresAt ?? (await env.latestTimestamp()) + 30n * DAY
    return {
      patient,
      grantee,
      expiresAt: Number(expiresAt),
      scope: args.scope,
      purpose: args.purpose ?? Purpose.Treatment,
      tokenIds: args.tokenIds ?? [],
      tags: args.tags ?? [],
    }
  }

  /**
   * The terms of every grant made through `grant` below, per deployment and by id: the contract
   * keeps only their hash and cannot list grants, so the tests remember them, as a client takes
   * them from GrantCreated.
   */
  const made = new Map<Address, Map<bigint, Terms>>()
  function grantsIn(d: Deployed): Map<bigint, Terms> {
    let grants = made.get(d.consent)
    if (!grants) {
      grants = new Map()
      made.set(d.consent, grants)
    }
    return grants
  }

  /** The terms grant `grantId` was made with. */
  function termsOf(d: Deployed, grantId: bigint): Terms {
    const terms = grantsIn(d).get(grantId)
    assert.ok(terms, `no grant ${grantId} made in this deployment`)
    return terms
  }

  /** `by` grants `grantee` access to `patient`'s records; returns the receipt, the GrantCreated args and the terms. */
  async function grant(d: Deployed, by: Account, patient: Address, grantee: Address, args: GrantArgs) {
    const terms = await termsFor(patient, grantee, args)
    const receipt = await env.mined(consentAs(d, by).write.grant([terms]))
    const event = expectEvent(receipt, consentRegistryAbi, d.consent, 'GrantCreated')
    // The event names blinded tags only, never a category or a flag in clear.
    assert.ok(!('categories' in event) && !('sensitive' in event), 'GrantCreated names no categories or sensitivity')
    const grantId = event.grantId as bigint
    // The event carries the terms in full (a client rebuilds them from it), and the contract holds their hash.
    const { patient: p, grantee: g, expiresAt, scope, purpose, tokenIds, tags } = event
    assert.deepEqual(
      { patient: p, grantee: g, expiresAt, scope, purpose, tokenIds, tags },
      terms,
      'GrantCreated carries the terms as given',
    )
    const c = consentAs(d, env.admin)
    assert.equal(await c.read.termsHashOf([grantId]), await c.read.hashOf([terms]), `grant ${grantId} holds the hash of its terms`)
    grantsIn(d).set(grantId, terms)
    return { receipt, event, grantId, expiresAt: BigInt(terms.expiresAt), terms }
  }

  /**
   * Whether `reader` may read each token: canAccess (owner, break-glass), or canAccessWith under any
   * grant made in this deployment, whoever it is for (another reader's grant must not help).
   */
  async function access(d: Deployed, reader: Address, tokens: bigint[], blockNumber?: bigint): Promise<boolean[]> {
    const c = consentAs(d, env.admin)
    const at = blockNumber === undefined ? {} : { blockNumber }
    const grants = [...grantsIn(d)]
    return Promise.all(
      tokens.map(async (t) => {
        const answers = await Promise.all([
          c.read.canAccess([reader, t], at),
          ...grants.map(([id, terms]) => c.read.canAccessWith([reader, t, id, terms], at)),
        ])
        return answers.some((a) => a)
      }),
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

    it('stores one slot, the hash of its terms (termsHashOf is hashOf of the terms GrantCreated carries); an id never given holds zero', async () => {
      const c = consentAs(d, env.admin)
      const stored = await c.read.termsHashOf([1n])
      assert.notEqual(stored, ZERO_BYTES32)
      assert.equal(stored, await c.read.hashOf([result.terms]))
      assert.equal(await c.read.termsHashOf([0n]), ZERO_BYTES32)
      assert.equal(await c.read.termsHashOf([2n]), ZERO_BYTES32)
      assert.equal(await c.read.lastGrantId(), 1n)
    })

    it('is active under its terms and its id only (isActive)', async () => {
      const c = consentAs(d, env.admin)
      assert.equal(await c.read.isActive([1n, result.terms]), true)
      assert.equal(await c.read.isActive([0n, result.terms]), false, 'the terms alone are not a grant')
      assert.equal(await c.read.isActive([2n, result.terms]), false, 'nor under an id never given')
    })

    it('cannot be used with its terms altered: another patient, grantee, scope or purpose, a later expiry, an extra record or tag', async () => {
      const c = consentAs(d, env.admin)
      const stranger = await env.newAccount()
      const psychTag = tagsOf(patient.address).tag('mental-health', Flag.mentalHealth)
      for (const [what, terms] of alterations(result.terms, stranger.address, psychTag, psychNote)) {
        assert.notEqual(await c.read.hashOf([terms]), await c.read.termsHashOf([1n]), `${what}: another hash`)
        assert.equal(await c.read.isActive([1n, terms]), false, `${what}: not active`)
        // Each alteration is tried on a record it would cover if the contract believed it.
        for (const token of [lab, psychNote, xray]) {
          assert.equal(await c.read.grantCovers([1n, terms, token]), false, `${what}: grantCovers(${token})`)
          for (const reader of [cardiologist.address, stranger.address]) {
            assert.equal(await c.read.canAccessWith([reader, token, 1n, terms]), false, `${what}: canAccessWith(${reader}, ${token})`)
          }
        }
      }
      // The true terms still work: the alterations above were refused for being alterations.
      assert.equal(await c.read.canAccessWith([cardiologist.address, lab, 1n, result.terms]), true)
    })

    it('terms whose tag word carries dirty padding are not its terms, and no grant can be made with them', async () => {
      // The contract hashes the lists as the calldata words are sent (ConsentRegistry._hashFor): a
      // tag with junk in its unused 24 bytes decodes to the same tag, but is other terms.
      const [labTag] = cardioTags as [Hex]
      /** `data` with the padding of `labTag`'s last word set to ff bytes. */
      const dirty = (data: Hex): Hex => {
        const at = data.lastIndexOf(labTag.slice(2) + '00'.repeat(24))
        assert.ok(at > 0 && (at - 10) % 64 === 0, 'the tag is a word of the calldata')
        return `${data.slice(0, at + 16)}${'ff'.repeat(24)}${data.slice(at + 64)}` as Hex
      }
      const call = async (data: Hex) => (await env.publicClient.call({ to: d.consent, data })).data ?? '0x'
      const activeData = await call(
        dirty(encodeFunctionData({ abi: consentRegistryAbi, functionName: 'isActive', args: [1n, result.terms] })),
      )
      assert.equal(decodeFunctionResult({ abi: consentRegistryAbi, functionName: 'isActive', data: activeData }), false)
      const accessData = await call(
        dirty(
          encodeFunctionData({
            abi: consentRegistryAbi,
            functionName: 'canAccessWith',
            args: [cardiologist.address, lab, 1n, result.terms],
          }),
        ),
      )
      assert.equal(decodeFunctionResult({ abi: consentRegistryAbi, functionName: 'canAccessWith', data: accessData }), false)
      // The clean words are the grant (so the two reads above were refused for the padding alone).
      assert.equal(await consentAs(d, env.admin).read.canAccessWith([cardiologist.address, lab, 1n, result.terms]), true)
      // A patient's own grant with a dirty tag is refused when the contract reads the tag.
      const terms = await termsFor(patient.address, cardiologist.address, { scope: Scope.Categories, tags: [labTag] })
      const data = dirty(encodeFunctionData({ abi: consentRegistryAbi, functionName: 'grant', args: [terms] }))
      const hash = await env.wallet(patient).sendTransaction({ to: d.consent, data, gas: GAS })
      const receipt = await env.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })
      assert.equal(receipt.status, 'reverted')
      assert.equal(await consentAs(d, env.admin).read.lastGrantId(), 1n)
    })

    it('cannot be used by anyone but its grantee, even with its true terms', async () => {
      const c = consentAs(d, env.admin)
      const stranger = await env.newAccount()
      for (const reader of [stranger.address, provider.address, ZERO_ADDRESS]) {
        assert.equal(await c.read.canAccessWith([reader, lab, 1n, result.terms]), false)
      }
    })

    it('canAccess without a grant gives the cardiologist nothing: a grantee reads through canAccessWith', async () => {
      const c = consentAs(d, env.admin)
      assert.deepEqual(await Promise.all([lab, ekg].map((t) => c.read.canAccess([cardiologist.address, t]))), [false, false])
      assert.deepEqual(await Promise.all([lab, ekg].map((t) => c.read.canAccessWith([cardiologist.address, t, 1n, result.terms]))), [
        true,
        true,
      ])
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

    it('grantCovers agrees with canAccessWith', async () => {
      const c = consentAs(d, env.admin)
      const tokens = [lab, ekg, psychNote, hivLab, xray]
      const covers = await Promise.all(tokens.map((t) => c.read.grantCovers([1n, result.terms, t])))
      assert.deepEqual(covers, [true, true, false, false, false])
      assert.deepEqual(await access(d, cardiologist.address, tokens), covers)
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
      assert.equal(await c.read.grantCovers([1n, result.terms, otherLab]), false)
      assert.equal(await c.read.grantCovers([1n, result.terms, sameTag.tokenId]), false)
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

    it('Records scope covers exactly the listed tokens, whatever their tags', async () => {
      const grantee = await env.newAccount()
      const listed = [restrictedPsych, hivLab, genome]
      const { event } = await grant(d, patient, patient.address, grantee.address, { scope: Scope.Records, tokenIds: listed })
      assert.deepEqual(event.tokenIds, listed)
      assert.deepEqual(event.tags, [])
      assert.deepEqual(
        await access(d, grantee.address, all),
        all.map((t) => listed.includes(t)),
      )
      // A record issued later is not covered, even under a listed record's tag.
      const laterLab = await issue(d, provider, patient, 'laboratory', Flag.sexualHealth)
      assert.deepEqual(await access(d, grantee.address, [laterLab]), [false])
    })

    it('a grant takes only the list its scope names: tags on a Records grant, or records on a Categories or All grant, are refused (ConsentInvalidGrant)', async () => {
      // The terms are the grant, so they say exactly what it covers: a list the contract would ignore
      // is refused rather than kept, and no reader of GrantCreated has to know which list to disregard.
      const grantee = await env.newAccount()
      const c = consentAs(d, patient)
      const before = await c.read.lastGrantId()
      const attempts: GrantArgs[] = [
        { scope: Scope.Records, tokenIds: [psychNote], tags: catTags(patient.address, ['laboratory', 'imaging']) },
        { scope: Scope.Categories, tokenIds: [psychNote], tags: catTags(patient.address, ['imaging']) },
        { scope: Scope.All, tokenIds: [genome] },
        { scope: Scope.All, tokenIds: [genome], tags: flagTags(patient.address, Flag.genetic) },
      ]
      for (const args of attempts) {
        await expectRevert(c.write.grant([await termsFor(patient.address, grantee.address, args)]), 'ConsentInvalidGrant')
      }
      assert.equal(await c.read.lastGrantId(), before)
      // Each is accepted with the other list left empty.
      for (const args of attempts) {
        await grant(
          d,
          patient,
          patient.address,
          grantee.address,
          args.scope === Scope.Records ? { ...args, tags: [] } : { ...args, tokenIds: [] },
        )
      }
      assert.equal(await c.read.lastGrantId(), before + BigInt(attempts.length))
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
      const { grantId, terms } = await grant(d, patient, patient.address, grantee.address, { scope: Scope.All, expiresAt })
      const c = consentAs(d, env.admin)
      await mineAt(expiresAt - 1n)
      assert.deepEqual(await access(d, grantee.address, [lab]), [true])
      assert.equal(await c.read.isActive([grantId, terms]), true)
      await mineAt(expiresAt)
      assert.deepEqual(await access(d, grantee.address, [lab]), [false])
      assert.equal(await c.read.isActive([grantId, terms]), false)
      assert.equal(await c.read.grantCovers([grantId, terms, lab]), false)
      // An expired grant cannot be revoked (it is no longer active); its slot stays as it was.
      const stored = await c.read.termsHashOf([grantId])
      await expectRevert(consentAs(d, patient).write.revoke([grantId, terms]), 'ConsentGrantInactive', [grantId])
      assert.equal(await c.read.termsHashOf([grantId]), stored)
      assert.equal(stored, await c.read.hashOf([terms]))
    })

    it('an expired grant cannot be revived by passing a later expiry: the hash holds the real one', async () => {
      const grantee = await env.newAccount()
      const expiresAt = (await env.latestTimestamp()) + 100n
      const { grantId, terms } = await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.Records,
        tokenIds: [lab],
        expiresAt,
      })
      await mineAt(expiresAt)
      const c = consentAs(d, env.admin)
      for (const later of [expiresAt + 1n, expiresAt + DAY, 2n ** 40n - 1n]) {
        const revived = { ...terms, expiresAt: Number(later) }
        assert.equal(await c.read.isActive([grantId, revived]), false, `expiry ${later}`)
        assert.equal(await c.read.grantCovers([grantId, revived, lab]), false, `expiry ${later}`)
        assert.equal(await c.read.canAccessWith([grantee.address, lab, grantId, revived]), false, `expiry ${later}`)
        await expectRevert(consentAs(d, patient).write.revoke([grantId, revived]), 'ConsentGrantInactive', [grantId])
      }
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
      assert.equal(await consentAs(d, env.admin).read.isActive([short.grantId, short.terms]), false, 'the one-second grant is over')
    })

    it('refuses an expiry in the past, now, or beyond MAX_GRANT_DURATION (ConsentInvalidExpiry)', async () => {
      const grantee = await env.newAccount()
      const c = consentAs(d, patient)
      const before = await c.read.lastGrantId()
      const t = await pinNext((await env.latestTimestamp()) + 10n)
      const attempt = async (expiresAt: bigint) =>
        c.write.grant([await termsFor(patient.address, grantee.address, { scope: Scope.All, expiresAt })])
      for (const expiresAt of [0n, t - 100n, t - 1n, t, t + MAX_GRANT_DURATION + 1n, 2n ** 40n - 1n]) {
        await expectRevert(attempt(expiresAt), 'ConsentInvalidExpiry', [Number(expiresAt)])
      }
      assert.equal(await c.read.lastGrantId(), before)
    })

    it('a mined grant whose expiry is the block time reverts on chain too', async () => {
      const grantee = await env.newAccount()
      const t = await pinNext((await env.latestTimestamp()) + 10n)
      const hash = await consentAs(d, patient).write.grant(
        [await termsFor(patient.address, grantee.address, { scope: Scope.All, expiresAt: t })],
        {
          gas: GAS,
        },
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
      const receipt = await env.mined(consentAs(d, patient).write.revoke([grantId, termsOf(d, grantId)]))
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
      assert.equal(await c.read.isActive([grantId, termsOf(d, grantId)]), false)
    })

    it('deletes the grant’s slot: termsHashOf is zero from the revoke block on', async () => {
      const grantee = await env.newAccount()
      const { grantId, terms } = await grant(d, patient, patient.address, grantee.address, { scope: Scope.Records, tokenIds: [lab] })
      const c = consentAs(d, env.admin)
      const hash = await c.read.hashOf([terms])
      const receipt = await env.mined(consentAs(d, patient).write.revoke([grantId, terms]))
      assert.equal(await c.read.termsHashOf([grantId], { blockNumber: receipt.blockNumber - 1n }), hash, 'before the revoke')
      assert.equal(await c.read.termsHashOf([grantId]), ZERO_BYTES32)
      // Nothing is left to match: the true terms are inactive, and lastGrantId does not go back.
      assert.equal(await c.read.isActive([grantId, terms]), false)
      assert.equal(await c.read.grantCovers([grantId, terms, lab]), false)
      assert.equal(await c.read.lastGrantId(), grantId)
    })

    it('refuses to revoke twice (ConsentGrantInactive)', async () => {
      const grantee = await env.newAccount()
      const { grantId } = await grant(d, patient, patient.address, grantee.address, { scope: Scope.All })
      await env.mined(consentAs(d, patient).write.revoke([grantId, termsOf(d, grantId)]))
      await expectRevert(consentAs(d, patient).write.revoke([grantId, termsOf(d, grantId)]), 'ConsentGrantInactive', [grantId])
    })

    it('refuses an id never given, even with a real grant’s terms (ConsentGrantInactive)', async () => {
      const grantee = await env.newAccount()
      const { grantId, terms } = await grant(d, patient, patient.address, grantee.address, { scope: Scope.All })
      const c = consentAs(d, patient)
      const next = (await c.read.lastGrantId()) + 1n
      for (const id of [next, 0n, 2n ** 256n - 1n]) {
        await expectRevert(c.write.revoke([id, terms]), 'ConsentGrantInactive', [id])
      }
      assert.equal(await c.read.isActive([grantId, terms]), true, 'the real grant is untouched')
    })

    it('refuses terms that are not the grant’s (ConsentGrantInactive), and leaves the grant active', async () => {
      const grantee = await env.newAccount()
      const other = await env.newAccount()
      const { grantId, terms } = await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.Categories,
        tags: catTags(patient.address, ['laboratory']),
      })
      const psychTag = tagsOf(patient.address).tag('mental-health', Flag.mentalHealth)
      for (const [what, wrong] of alterations(terms, other.address, psychTag, lab)) {
        // "another patient" names a caller who may act for that patient: the terms are checked first.
        const by = what === 'another patient' ? other : patient
        await expectRevert(consentAs(d, by).write.revoke([grantId, wrong]), 'ConsentGrantInactive', [grantId])
      }
      const c = consentAs(d, env.admin)
      assert.equal(await c.read.isActive([grantId, terms]), true)
      assert.equal(await c.read.termsHashOf([grantId]), await c.read.hashOf([terms]))
      assert.deepEqual(await access(d, grantee.address, [lab]), [true])
    })

    it('only the patient or a delegate may revoke: the grantee, a stranger, the registrar are refused', async () => {
      const grantee = await env.newAccount()
      const stranger = await env.newAccount()
      const { grantId } = await grant(d, patient, patient.address, grantee.address, { scope: Scope.All })
      const terms = termsOf(d, grantId)
      for (const caller of [grantee, stranger, provider]) {
        await expectRevert(consentAs(d, caller).write.revoke([grantId, terms]), 'ConsentUnauthorized', [caller.address, patient.address])
      }
      await expectRevert(consentAs(d, env.admin).write.revoke([grantId, terms]), 'ConsentUnauthorized', [
        env.admin.address,
        patient.address,
      ])
      // Nor may a stranger name itself the patient: those are not the grant's terms.
      await expectRevert(consentAs(d, stranger).write.revoke([grantId, { ...terms, patient: stranger.address }]), 'ConsentGrantInactive', [
        grantId,
      ])
      assert.equal(await consentAs(d, env.admin).read.isActive([grantId, terms]), true)
      assert.deepEqual(await access(d, grantee.address, [lab]), [true])
    })

    it('checks the terms before the caller (who may revoke is read from them): a stranger revoking a revoked grant gets ConsentGrantInactive', async () => {
      // This tells the stranger nothing it could not read already: the slot (termsHashOf) and the
      // GrantCreated and GrantRevoked events are public.
      const grantee = await env.newAccount()
      const stranger = await env.newAccount()
      const { grantId, terms } = await grant(d, patient, patient.address, grantee.address, { scope: Scope.All })
      await expectRevert(consentAs(d, stranger).write.revoke([grantId, terms]), 'ConsentUnauthorized', [stranger.address, patient.address])
      await env.mined(consentAs(d, patient).write.revoke([grantId, terms]))
      await expectRevert(consentAs(d, stranger).write.revoke([grantId, terms]), 'ConsentGrantInactive', [grantId])
    })

    it('revoking one grant leaves the grantee’s other grants in force', async () => {
      const grantee = await env.newAccount()
      const first = await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.Categories,
        tags: catTags(patient.address, ['laboratory']),
      })
      const second = await grant(d, patient, patient.address, grantee.address, { scope: Scope.Records, tokenIds: [lab] })
      await env.mined(consentAs(d, patient).write.revoke([first.grantId, termsOf(d, first.grantId)]))
      assert.deepEqual(await access(d, grantee.address, [lab, psychNote]), [true, false])
      await env.mined(consentAs(d, patient).write.revoke([second.grantId, termsOf(d, second.grantId)]))
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
        const p = patient.address
        const c = consentAs(d, caller)
        const tags = flagTags(p, 31)
        await expectRevert(
          c.write.grant([
            { patient: p, grantee: caller.address, expiresAt, scope: Scope.All, purpose: Purpose.Treatment, tokenIds: [], tags },
          ]),
          'ConsentUnauthorized',
          [caller.address, p],
        )
        await expectRevert(
          c.write.grant([
            { patient: p, grantee: caller.address, expiresAt, scope: Scope.Records, purpose: Purpose.Other, tokenIds: [lab], tags: [] },
          ]),
          'ConsentUnauthorized',
          [caller.address, p],
        )
      }
      assert.equal(await consentAs(d, env.admin).read.lastGrantId(), before)
      assert.deepEqual(await access(d, stranger.address, [lab]), [false])
    })

    it('checks authorisation before anything else (an invalid grant by a stranger still says ConsentUnauthorized)', async () => {
      const stranger = await env.newAccount()
      await expectRevert(
        consentAs(d, stranger).write.grant([
          {
            patient: patient.address,
            grantee: ZERO_ADDRESS,
            expiresAt: 0,
            scope: Scope.Categories,
            purpose: 0,
            tokenIds: [lab],
            tags: [ZERO_TAG],
          },
        ]),
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
      return consentAs(d, patient).write.grant([
        { patient: patient.address, grantee: grantee_, expiresAt, scope, purpose: Purpose.Treatment, tokenIds, tags },
      ])
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

    it('refuses a list the scope does not take: tags on Records, records on Categories or All (ConsentInvalidGrant)', async () => {
      const labTag = tagsOf(patient.address).tag('laboratory')
      await expectRevert(attempt(grantee.address, Scope.Records, [lab], [labTag]), 'ConsentInvalidGrant')
      await expectRevert(attempt(grantee.address, Scope.Categories, [lab], [labTag]), 'ConsentInvalidGrant')
      await expectRevert(attempt(grantee.address, Scope.All, [lab], []), 'ConsentInvalidGrant')
      await expectRevert(attempt(grantee.address, Scope.All, [lab], [labTag]), 'ConsentInvalidGrant')
    })

    it('refuses a zero tag, wherever it is in the list, for Categories and All (ConsentInvalidGrant)', async () => {
      const labTag = tagsOf(patient.address).tag('laboratory')
      for (const tags of [[ZERO_TAG], [labTag, ZERO_TAG], [ZERO_TAG, labTag]]) {
        await expectRevert(attempt(grantee.address, Scope.Categories, [], tags), 'ConsentInvalidGrant')
        await expectRevert(attempt(grantee.address, Scope.All, [], tags), 'ConsentInvalidGrant')
      }
    })

    it('refuses more than MAX_TAGS tags, or records (ConsentInvalidGrant)', async () => {
      assert.equal(await consentAs(d, env.admin).read.MAX_TAGS(), BigInt(MAX_TAGS))
      const tooMany = Array.from({ length: MAX_TAGS + 1 }, (_, i) => tag8(i + 1))
      await expectRevert(attempt(grantee.address, Scope.Categories, [], tooMany), 'ConsentInvalidGrant')
      await expectRevert(attempt(grantee.address, Scope.All, [], tooMany), 'ConsentInvalidGrant')
      // The same record over and over: each one is valid, only the count is not.
      await expectRevert(attempt(grantee.address, Scope.Records, Array(MAX_TAGS + 1).fill(lab), []), 'ConsentInvalidGrant')
    })

    it('none of the refusals created a grant', async () => {
      const c = consentAs(d, env.admin)
      assert.equal(await c.read.lastGrantId(), 0n)
      assert.equal(await c.read.termsHashOf([1n]), ZERO_BYTES32)
      assert.deepEqual(await access(d, grantee.address, [lab, othersLab]), [false, false])
    })

    it('accepts the edges: exactly MAX_TAGS tags or records, a repeated tag, a repeated token', async () => {
      const most = Array.from({ length: MAX_TAGS }, (_, i) => tag8(i + 1))
      const a = await grant(d, patient, patient.address, grantee.address, { scope: Scope.Categories, tags: most })
      assert.equal((a.event.tags as Hex[]).length, MAX_TAGS)
      const records = await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.Records,
        tokenIds: Array(MAX_TAGS).fill(lab),
      })
      assert.equal((records.event.tokenIds as bigint[]).length, MAX_TAGS)
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
      const { event, grantId, terms } = await grant(d, guardian, patient.address, grantee.address, {
        scope: Scope.Categories,
        tags: catTags(patient.address, ['laboratory']),
      })
      assert.equal(event.patient, patient.address)
      assert.equal(event.grantor, guardian.address)
      assert.deepEqual(await access(d, grantee.address, [lab, psychNote]), [true, false])
      const c = consentAs(d, env.admin)
      assert.equal(await c.read.isActive([grantId, terms]), true)
      assert.equal(
        await c.read.isActive([grantId, { ...terms, patient: guardian.address }]),
        false,
        'the grant is the patient’s, not the delegate’s',
      )
      assert.deepEqual(await access(d, guardian.address, [lab, psychNote]), [false, false], 'granting gives the delegate no read access')
    })

    it('a delegate can revoke the patient’s own grant (GrantRevoked.revokedBy is the delegate)', async () => {
      const other = await env.newAccount()
      const { grantId } = await grant(d, patient, patient.address, other.address, { scope: Scope.All })
      const receipt = await env.mined(consentAs(d, guardian).write.revoke([grantId, termsOf(d, grantId)]))
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
      await env.mined(consentAs(d, patient).write.revoke([grantId, termsOf(d, grantId)]))
      assert.deepEqual(await access(d, other.address, [lab]), [false])
    })

    it('a delegate cannot share sensitive records in any form (ConsentDelegateCannotShareSensitive)', async () => {
      const other = await env.newAccount()
      const expiry = (await env.latestTimestamp()) + 3600n
      const c = consentAs(d, guardian)
      const p = patient.address
      const terms = (scope: number, tokenIds: bigint[], tags: Hex[]): Terms => ({
        patient: p,
        grantee: other.address,
        expiresAt: Number(expiry),
        scope,
        purpose: Purpose.Treatment,
        tokenIds,
        tags,
      })
      const attempts = [
        terms(Scope.Records, [lab, psychNote], []),
        terms(Scope.Categories, [], catTags(p, ['mental-health'])),
        terms(Scope.Categories, [], catTags(p, ['laboratory'], Flag.mentalHealth)),
        terms(Scope.All, [], flagTags(p, Flag.mentalHealth)),
        // A tag the patient never opened is sensitive as far as the contract knows, whatever it stands for.
        terms(Scope.Categories, [], [randomTag()]),
      ]
      for (const attempt of attempts) {
        await expectRevert(c.write.grant([attempt]), 'ConsentDelegateCannotShareSensitive', [guardian.address, patient.address])
      }
      assert.deepEqual(await access(d, other.address, [lab, psychNote]), [false, false])
      // The patient may.
      await grant(d, patient, patient.address, other.address, { scope: Scope.Records, tokenIds: [psychNote] })
      assert.deepEqual(await access(d, other.address, [psychNote]), [true])
    })

    it('a delegate cannot share a record or category whose tag the patient closed, until the patient reopens it', async () => {
      const other = await env.newAccount()
      const labTag = tagsOf(patient.address).tag('laboratory')
      await env.mined(consentAs(d, patient).write.setOpenTags([[], [labTag]]))
      const c = consentAs(d, guardian)
      await expectRevert(
        c.write.grant([await termsFor(patient.address, other.address, { scope: Scope.Records, tokenIds: [lab] })]),
        'ConsentDelegateCannotShareSensitive',
        [guardian.address, patient.address],
      )
      await expectRevert(
        c.write.grant([await termsFor(patient.address, other.address, { scope: Scope.Categories, tags: [labTag] })]),
        'ConsentDelegateCannotShareSensitive',
        [guardian.address, patient.address],
      )
      // An "all" grant with no extra tag names nothing sensitive: the delegate may make it, and it leaves the closed lab tag out.
      const all = await grant(d, guardian, patient.address, other.address, { scope: Scope.All })
      assert.deepEqual(await access(d, other.address, [lab, psychNote]), [false, false])
      await openOwnTags(d, patient)
      assert.deepEqual(await access(d, other.address, [lab, psychNote]), [true, false])
      await env.mined(consentAs(d, patient).write.revoke([all.grantId, termsOf(d, all.grantId)]))
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
      await expectRevert(
        consentAs(d, friend).write.grant([await termsFor(patient.address, friend.address, { scope: Scope.All, purpose: Purpose.Other })]),
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
      await expectRevert(
        consentAs(d, guardian).write.grant([await termsFor(otherPatient.address, grantee.address, { scope: Scope.All })]),
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
      await expectRevert(c.write.grant([await termsFor(patient.address, grantee.address, { scope: Scope.All })]), 'ConsentUnauthorized', [
        guardian.address,
        patient.address,
      ])
      await expectRevert(c.write.revoke([grantId, termsOf(d, grantId)]), 'ConsentUnauthorized', [guardian.address, patient.address])
      assert.equal(await consentAs(d, env.admin).read.isActive([grantId, termsOf(d, grantId)]), true)
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

    it('is not a grant: no grant id is used, canAccess answers it, and so does canAccessWith whatever grant is passed', async () => {
      const c = consentAs(d, env.admin)
      assert.equal(await c.read.lastGrantId(), 0n)
      assert.deepEqual(await Promise.all(tokens.map((t) => c.read.canAccess([er.address, t]))), [true, true, false, false, false])
      // Terms never given, under an id never given, that would name the mental-health classes: the window alone decides.
      const none: Terms = {
        patient: patient.address,
        grantee: er.address,
        expiresAt: Number(until),
        scope: Scope.All,
        purpose: Purpose.Emergency,
        tokenIds: [],
        tags: flagTags(patient.address, Flag.mentalHealth),
      }
      assert.deepEqual(await Promise.all(tokens.map((t) => c.read.canAccessWith([er.address, t, 0n, none]))), [
        true,
        true,
        false,
        false,
        false,
      ])
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

  describe('retired accounts and moveGrants (grants are judged by their terms)', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let old: PrivateKeyAccount
    let successor: PrivateKeyAccount
    let reader: PrivateKeyAccount
    let gp: PrivateKeyAccount
    let lab: bigint
    let psychNote: bigint
    let recordsGrant: Awaited<ReturnType<typeof grant>>
    let allGrant: Awaited<ReturnType<typeof grant>>

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'General Hospital')
      old = await env.newAccount()
      successor = await env.newAccount()
      reader = await env.newAccount()
      gp = await env.newAccount()
      lab = await issue(d, provider, old, 'laboratory')
      psychNote = await issue(d, provider, old, 'mental-health', Flag.mentalHealth)
      await openOwnTags(d, old)
      recordsGrant = await grant(d, old, old.address, reader.address, { scope: Scope.Records, tokenIds: [lab, psychNote] })
      allGrant = await grant(d, old, old.address, gp.address, { scope: Scope.All })
      assert.deepEqual(await access(d, reader.address, [lab, psychNote]), [true, true])
      assert.deepEqual(await access(d, gp.address, [lab, psychNote]), [true, false])
      await env.mined(d.recordsAs(old).write.rotate([successor.address, [lab, psychNote]]))
      assert.equal(await d.records.read.successorOf([old.address]), successor.address)
    })

    it('once the records moved, the old account’s grants cover nothing: they name a patient who owns no record', async () => {
      const c = consentAs(d, env.admin)
      assert.deepEqual(await access(d, reader.address, [lab, psychNote]), [false, false])
      assert.deepEqual(await access(d, gp.address, [lab, psychNote]), [false, false])
      // They are still active, for the successor to take over.
      assert.equal(await c.read.isActive([recordsGrant.grantId, recordsGrant.terms]), true)
      assert.equal(await c.read.grantCovers([recordsGrant.grantId, recordsGrant.terms, lab]), false)
    })

    it('a retired account may still grant (no ConsentAccountRetired), but the grant covers nothing, whatever the successor opens', async () => {
      const stranger = await env.newAccount()
      const labTag = tagsOf(old.address).tag('laboratory')
      const categories = await grant(d, old, old.address, stranger.address, { scope: Scope.Categories, tags: [labTag] })
      const all = await grant(d, old, old.address, stranger.address, { scope: Scope.All, tags: flagTags(old.address, Flag.mentalHealth) })
      // The records carry the same tags under the successor, who opens them: still nothing, the records are not the old account's.
      await env.mined(consentAs(d, successor).write.setOpenTags([[labTag], []]))
      const c = consentAs(d, env.admin)
      for (const { grantId, terms } of [categories, all]) {
        assert.equal(await c.read.isActive([grantId, terms]), true)
        for (const token of [lab, psychNote]) {
          assert.equal(await c.read.grantCovers([grantId, terms, token]), false)
          assert.equal(await c.read.canAccessWith([stranger.address, token, grantId, terms]), false)
        }
      }
      assert.deepEqual(await access(d, stranger.address, [lab, psychNote]), [false, false])
      // Nor may it name the moved records themselves.
      await expectRevert(
        consentAs(d, old).write.grant([await termsFor(old.address, stranger.address, { scope: Scope.Records, tokenIds: [lab] })]),
        'ConsentNotOwner',
        [lab, old.address],
      )
    })

    it('moveGrants refuses a caller that is not the successor, wrong terms, terms of another patient, and as many ids as terms (or fewer)', async () => {
      const { grantId, terms } = recordsGrant
      const stranger = await env.newAccount()
      await expectRevert(consentAs(d, stranger).write.moveGrants([old.address, [grantId], [terms]]), 'ConsentUnauthorized', [
        stranger.address,
        old.address,
      ])
      const s = consentAs(d, successor)
      const psychTag = tagsOf(old.address).tag('mental-health', Flag.mentalHealth)
      for (const [what, wrong] of alterations(terms, stranger.address, psychTag, lab)) {
        // Another patient than `from` is refused as such; every other alteration is not the grant.
        const error = what === 'another patient' ? 'ConsentNotGrantOf' : 'ConsentGrantInactive'
        await expectRevert(
          s.write.moveGrants([old.address, [grantId], [wrong]]),
          error,
          error === 'ConsentNotGrantOf' ? [grantId, old.address] : [grantId],
        )
      }
      await expectRevert(s.write.moveGrants([old.address, [grantId], []]), 'ConsentInvalidGrant')
      await expectRevert(s.write.moveGrants([old.address, [grantId], [terms, allGrant.terms]]), 'ConsentInvalidGrant')
      // A real grant's terms under another id are not that grant either.
      await expectRevert(s.write.moveGrants([old.address, [allGrant.grantId], [terms]]), 'ConsentGrantInactive', [allGrant.grantId])
      assert.equal(await consentAs(d, env.admin).read.isActive([grantId, terms]), true, 'nothing moved')
    })

    it('moveGrants keeps the id and re-keys the slot to the terms with the successor as patient: the grant covers the moved records again', async () => {
      const { grantId, terms } = recordsGrant
      const moved: Terms = { ...terms, patient: successor.address }
      const receipt = await env.mined(consentAs(d, successor).write.moveGrants([old.address, [grantId], [terms]]))
      assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'GrantMoved'), {
        grantId,
        from: old.address,
        to: successor.address,
      })
      grantsIn(d).set(grantId, moved)
      const c = consentAs(d, env.admin)
      assert.equal(await c.read.termsHashOf([grantId]), await c.read.hashOf([moved]))
      assert.equal(await c.read.isActive([grantId, terms]), false, 'the old terms are no longer the grant')
      assert.equal(await c.read.isActive([grantId, moved]), true)
      assert.deepEqual(await access(d, reader.address, [lab, psychNote]), [true, true])
      assert.equal(await c.read.canAccessWith([reader.address, lab, grantId, terms]), false)
      // Moved once, it cannot be moved again from the old account.
      await expectRevert(consentAs(d, successor).write.moveGrants([old.address, [grantId], [terms]]), 'ConsentGrantInactive', [grantId])
    })

    it('after the move only the successor (or its delegate) revokes it: the old account fails on either set of terms', async () => {
      const { grantId, terms } = recordsGrant
      const moved = termsOf(d, grantId)
      await expectRevert(consentAs(d, old).write.revoke([grantId, terms]), 'ConsentGrantInactive', [grantId])
      await expectRevert(consentAs(d, old).write.revoke([grantId, moved]), 'ConsentUnauthorized', [old.address, successor.address])
      const receipt = await env.mined(consentAs(d, successor).write.revoke([grantId, moved]))
      assert.deepEqual(expectEvent(receipt, consentRegistryAbi, d.consent, 'GrantRevoked'), {
        grantId,
        patient: successor.address,
        grantee: reader.address,
        revokedBy: successor.address,
      })
      assert.equal(await consentAs(d, env.admin).read.termsHashOf([grantId]), ZERO_BYTES32)
      assert.deepEqual(await access(d, reader.address, [lab, psychNote]), [false, false])
    })

    it('a retired account can still revoke a grant not yet moved (no ConsentAccountRetired); the successor then cannot move it', async () => {
      // The price of dropping the successor check: a key rotated away can end grants the successor has
      // not taken over. They covered nothing by then (see above), and the successor can grant again.
      const { grantId, terms } = allGrant
      await env.mined(consentAs(d, old).write.revoke([grantId, terms]))
      await expectRevert(consentAs(d, successor).write.moveGrants([old.address, [grantId], [terms]]), 'ConsentGrantInactive', [grantId])
    })
  })

  describe('canAccess of a nonexistent token', () => {
    let d: Deployed
    let patient: PrivateKeyAccount
    let grantee: PrivateKeyAccount
    before(async () => {
      d = await env.deploy()
      const provider = await registerProvider(env, d, 'General Hospital')
      patient = await env.newAccount()
      await issue(d, provider, patient, 'laboratory')
      await openOwnTags(d, patient)
      grantee = await env.newAccount()
      await grant(d, patient, patient.address, grantee.address, {
        scope: Scope.All,
        tags: [tagsOf(patient.address).tag('laboratory', Flag.restricted)],
      })
    })

    it('is false, not a revert, for anyone (even a patient with an All grant out, or its grantee under canAccessWith)', async () => {
      const stranger = await env.newAccount()
      for (const reader of [patient.address, grantee.address, stranger.address, ZERO_ADDRESS]) {
        assert.deepEqual(await access(d, reader, [0n, 2n, 999n, 2n ** 256n - 1n]), [false, false, false, false])
      }
    })

    it('grantCovers of a nonexistent token reverts with ERC721NonexistentToken', async () => {
      await expectRevert(consentAs(d, env.admin).read.grantCovers([1n, termsOf(d, 1n), 999n]), 'ERC721NonexistentToken', [999n])
    })
  })
})

function randomReason(): Hex {
  return keccak256(toHex(`reason ${Math.random()}`))
}
