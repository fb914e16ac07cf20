import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { type Address, createTestClient, http, keccak256, toHex } from 'viem'
import { commitEmergencyReason, newReasonSalt } from '../../src/consent/emergencyReason.js'
import {
  type GrantTerms,
  createGrant,
  getGrant,
  listEmergencies,
  listGrants,
  openEmergency,
  revokeGrant,
  setDelegate,
  setEmergencyProvider,
} from '../../src/consent/grants.js'
import { EMERGENCY_REASONS, emergencyReasonText } from '../../src/server/routes/emergency.js'
import { releasePendingKeys } from '../../src/records/releaseKeys.js'
import { queryAuditLog, verifyAuditLog } from '../../src/audit/index.js'
import { authorizeProvider } from '../../src/directory/index.js'
import { sharedTagTable } from '../../src/consent/tagTables.js'
import { consentRegistryAbi } from '../../src/contracts/index.js'
import { buildTagTable, categoryTag, classOf } from '../../src/core/index.js'
import { AccessDeniedError, MissingTagsError } from '../../src/errors.js'
import { documentFromFhir, issueRecord, readRecord } from '../../src/records/index.js'
import { type TestStack, openTestStack, registrar } from './stack.js'

const example = (name: string) => readFileSync(new URL(`../../examples/fhir/${name}`, import.meta.url))

describe('consent on a real chain: grants, sensitivity, expiry, revocation, delegation, break-glass', () => {
  let s: TestStack
  const mv = () => s.mv
  const a = (name: string) => s.accounts[name]!
  const tokens: Record<string, bigint> = {}

  /** Issues an example record for alice under the lab's standing authorisation: alice's key is not used. */
  async function issue(file: string, category?: string) {
    const doc = documentFromFhir(example(file), category)
    const { tokenId } = await issueRecord(mv(), {
      issuer: a('lab'),
      patient: a('alice'),
      content: doc.content,
      contentType: doc.contentType,
      category: doc.category,
      sensitivity: doc.sensitivity,
      consent: { standing: true },
    })
    return tokenId
  }

  async function canRead(reader: string, tokenId: bigint): Promise<boolean> {
    try {
      await readRecord(mv(), { tokenId, reader: a(reader) })
      return true
    } catch (error) {
      if (error instanceof AccessDeniedError) return false
      throw error
    }
  }

  async function grant(to: string, terms: GrantTerms, seconds = 3600, grantor = 'alice') {
    const { grantId } = await createGrant(mv(), {
      grantor: a(grantor),
      patient: a('alice').address,
      grantee: a(to).address,
      terms,
      expiresAt: new Date((await chainNow()) * 1000 + seconds * 1000),
      purpose: 'treatment',
    })
    if (grantor === 'alice') await releasePendingKeys(mv(), a('alice'), { grantId })
    return grantId
  }

  const test = () => createTestClient({ mode: 'anvil', chain: mv().chain, transport: http(mv().rpcUrl) })
  async function chainNow(): Promise<number> {
    return Number((await mv().publicClient.getBlock()).timestamp)
  }
  async function advance(seconds: number) {
    await test().increaseTime({ seconds })
    await test().mine({ blocks: 1 })
  }

  before(async () => {
    s = await openTestStack({
      providers: { lab: 'Lab A', er: 'City ER' },
      others: ['alice', 'cardio', 'all-doc', 'stranger', 'mum', 'later'],
    })
    await authorizeProvider(mv(), a('alice'), a('lab').address, new Date(Date.now() + 30 * 86_400_000))
    tokens.ekg = await issue('ekg.json')
    tokens.glucose = await issue('glucose.json')
    tokens.psych = await issue('therapy-note.json')
    tokens.vaccine = await issue('immunization.json')
  })
  after(() => s.dispose())

  it('a cardiology grant shows the EKG and hides the psychiatric note', async () => {
    await grant('cardio', { scope: 'categories', categories: ['clinical-note', 'laboratory'] })
    assert.equal(await canRead('cardio', tokens.ekg!), true)
    assert.equal(await canRead('cardio', tokens.glucose!), true)
    assert.equal(await canRead('cardio', tokens.psych!), false)
    assert.equal(await canRead('cardio', tokens.vaccine!), false, 'immunization was not granted')
  })

  it("a category grant lists the patient's tags, never category names, and seals just those categories to the grantee", async () => {
    const [made] = (await listGrants(mv(), a('alice').address)).filter((g) => g.grantee === a('cardio').address)
    const alice = buildTagTable(a('alice').tagSecret)
    // On chain: the tags of every class of the two categories with no extra sensitivity flag.
    assert.deepEqual(
      [...made!.tags].sort(),
      [categoryTag(a('alice').tagSecret, 'clinical-note', 0), categoryTag(a('alice').tagSecret, 'laboratory', 0)].sort(),
    )
    const [created] = await mv().publicClient.getContractEvents({
      address: mv().deployment.consent,
      abi: consentRegistryAbi,
      eventName: 'GrantCreated',
      args: { grantId: made!.grantId },
      fromBlock: 0n,
    })
    assert.doesNotMatch(
      JSON.stringify(created!.args, (_, v) => (typeof v === 'bigint' ? v.toString() : v)),
      /laboratory|clinical/,
    )
    // The patient (and only a viewer with a table) names them; anyone else sees tags it cannot map.
    assert.deepEqual((await getGrant(mv(), made!.grantId, a('alice'))).categories, ['laboratory', 'clinical-note'])
    const blind = await getGrant(mv(), made!.grantId, a('stranger'))
    assert.equal(blind.categories, undefined)
    assert.equal(blind.unknownTags.length, 2)
    // The grantee can map what it was given, and nothing else.
    const table = await sharedTagTable(mv().tagTables!, {
      patient: a('alice').address,
      reader: a('cardio').address,
      readerSeed: a('cardio').encryptionSeed,
    })
    assert.ok(table)
    assert.deepEqual([...new Set(table.map((e) => e.category))].sort(), ['clinical-note', 'laboratory'])
    assert.equal(classOf(table, categoryTag(a('alice').tagSecret, 'mental-health', 1)), undefined)
    assert.deepEqual(classOf(table, categoryTag(a('alice').tagSecret, 'laboratory', 0)), { category: 'laboratory', sensitivity: 0 })
    assert.ok(table.every((e) => alice.some((x) => x.tag === e.tag)))
    assert.equal(
      await sharedTagTable(mv().tagTables!, {
        patient: a('alice').address,
        reader: a('stranger').address,
        readerSeed: a('stranger').encryptionSeed,
      }),
      undefined,
    )
  })

  it('"all" excludes sensitive records unless they are named', async () => {
    const id = await grant('all-doc', { scope: 'all' })
    assert.equal(await canRead('all-doc', tokens.vaccine!), true)
    assert.equal(await canRead('all-doc', tokens.psych!), false)
    await revokeGrant(mv(), { grantor: a('alice').chainAccount, grantId: id })
    await grant('all-doc', { scope: 'all', sensitive: 1 })
    assert.equal(await canRead('all-doc', tokens.psych!), true)
  })

  it('a record added after a category grant is readable by the grantee without the patient online', async () => {
    const later = await issue('ekg.json')
    // No releasePendingKeys here: the lab wrapped the key to cardio at issue time.
    assert.equal(await canRead('cardio', later), true)
  })

  it('revocation ends access in the very next block; a stranger is refused', async () => {
    const id = await grant('later', { scope: 'records', tokenIds: [tokens.glucose!] })
    assert.equal(await canRead('later', tokens.glucose!), true)
    assert.equal(await canRead('later', tokens.ekg!), false, 'only the listed record')
    const before = await mv().publicClient.getBlockNumber({ cacheTime: 0 })
    await revokeGrant(mv(), { grantor: a('alice').chainAccount, grantId: id })
    assert.equal(await mv().publicClient.getBlockNumber({ cacheTime: 0 }), before + 1n)
    assert.equal(await canRead('later', tokens.glucose!), false)
    assert.equal(await canRead('stranger', tokens.glucose!), false)
  })

  it('expiry ends access (chain time advanced past it)', async () => {
    await grant('stranger', { scope: 'records', tokenIds: [tokens.vaccine!] }, 600)
    assert.equal(await canRead('stranger', tokens.vaccine!), true)
    await advance(601)
    assert.equal(await canRead('stranger', tokens.vaccine!), false)
  })

  it('a delegate can grant for the patient, but not sensitive records, and cannot transfer records or name delegates', async () => {
    await setDelegate(mv(), { patient: a('alice'), delegate: a('mum').address, enabled: true })
    await grant('later', { scope: 'categories', categories: ['immunization'] }, 3600, 'mum')
    assert.equal(await canRead('later', tokens.vaccine!), true, 'released from the escrow after the chain check, without the patient')
    await assert.rejects(grant('later', { scope: 'categories', categories: ['mental-health'] }, 3600, 'mum'), AccessDeniedError)
    await assert.rejects(grant('later', { scope: 'records', tokenIds: [tokens.psych!] }, 3600, 'mum'), AccessDeniedError)
    assert.equal(await canRead('later', tokens.psych!), false, 'only the patient shares sensitive records')

    const transfer = mv()
      .walletFor(a('mum').chainAccount)
      .writeContract({
        address: mv().deployment.records,
        abi: (await import('../../src/contracts/index.js')).medicalRecordAbi,
        functionName: 'transferFrom',
        args: [a('alice').address, a('mum').address, tokens.vaccine!],
      })
    await assert.rejects(transfer, /MedicalRecordSoulbound|ERC721InsufficientApproval/)
    // addDelegate always acts for the caller: mum naming someone makes them mum's delegate, not alice's.
    await setDelegate(mv(), { patient: a('mum'), delegate: a('stranger').address, enabled: true })
    await assert.rejects(
      createGrant(mv(), {
        grantor: a('stranger'),
        patient: a('alice').address,
        grantee: a('stranger').address as Address,
        terms: { scope: 'all' },
        expiresAt: new Date(Date.now() + 3_600_000),
        purpose: 'other',
      }),
      AccessDeniedError,
    )
  })

  it('a delegate grants only with the open tags the patient sealed to it; without them it is told what is missing', async () => {
    const mumTable = await sharedTagTable(mv().tagTables!, {
      patient: a('alice').address,
      reader: a('mum').address,
      readerSeed: a('mum').encryptionSeed,
    })
    assert.ok(mumTable && mumTable.length > 0)
    assert.ok(
      mumTable.every((e) => e.sensitivity === 0),
      'a delegate is given the open classes only',
    )
    // Named on chain without the tags being shared (as an old client would): grants by category are refused clearly.
    await mv()
      .walletFor(a('alice').chainAccount)
      .writeContract({
        address: mv().deployment.consent,
        abi: consentRegistryAbi,
        functionName: 'addDelegate',
        args: [a('stranger').address],
      })
      .then((hash) => mv().publicClient.waitForTransactionReceipt({ hash }))
    await assert.rejects(grant('later', { scope: 'categories', categories: ['immunization'] }, 3600, 'stranger'), (error: Error) => {
      assert.ok(error instanceof MissingTagsError, String(error))
      assert.match(error.message, /not shared/)
      return true
    })
  })

  it('every refused attempt (stranger, expired, revoked) is in the audit trail as denied, and the log verifies on chain', async () => {
    const entries = await queryAuditLog(mv().paths.audit, { patient: a('alice').address })
    const denied = (who: string, token: bigint) =>
      entries.some((e) => e.actor === a(who).address && e.tokenId === token.toString() && e.outcome === 'denied')
    assert.ok(denied('stranger', tokens.glucose!), 'stranger')
    assert.ok(denied('stranger', tokens.vaccine!), 'expired grantee')
    assert.ok(denied('later', tokens.glucose!), 'revoked grantee')
    assert.ok(entries.some((e) => e.actor === a('cardio').address && e.outcome === 'allowed'))
    assert.ok(
      entries.every((e) => !JSON.stringify(e).includes('Alice Example')),
      'names accounts and token ids, never content',
    )
    const anchored = await mv().anchorAudit({ force: true })
    assert.ok(anchored)
    const verdict = await verifyAuditLog(mv(), { dir: mv().paths.audit, signerAddress: mv().node.account.address })
    assert.equal(verdict.ok, true, JSON.stringify(verdict.problems))
  })

  it('break-glass is bounded, never renewable while open, and cannot touch sensitive records', async () => {
    await assert.rejects(openEmergency(mv(), { provider: a('er').chainAccount, patient: a('alice').address, reason: 'unconscious in ER' }))
    await setEmergencyProvider(mv(), { registrar, provider: a('er').address, allowed: true })
    const { until } = await openEmergency(mv(), {
      provider: a('er').chainAccount,
      patient: a('alice').address,
      reason: 'unconscious in ER',
    })
    assert.equal(until.getTime() / 1000 - (await chainNow()), 24 * 3600)
    assert.equal(await canRead('er', tokens.vaccine!), true, 'non-sensitive record, key released from escrow')
    assert.equal(await canRead('er', tokens.psych!), false, 'sensitive records stay closed')
    await assert.rejects(openEmergency(mv(), { provider: a('er').chainAccount, patient: a('alice').address, reason: 'again' }))
    await advance(24 * 3600 + 1)
    assert.equal(await canRead('er', tokens.ekg!), false, 'the window closed')
  })

  // Finding 2: the reason went on chain as keccak256(reason), and a 10-word guess list recovered it.
  // Mechanism: a salted commitment (src/consent/emergencyReason.ts); only the salt's holder can check a guess.
  it('the break-glass reason on chain falls to no guess list; its salt opens it', async () => {
    const reason = 'life-threatening: opioid overdose'
    const opened = await openEmergency(mv(), { provider: a('er').chainAccount, patient: a('alice').address, reason })
    const [onChain] = await listEmergencies(mv(), a('alice').address)
    assert.equal(onChain?.reasonHash, opened.reasonHash)
    const guesses = [
      'fall',
      'stroke',
      'sepsis',
      'seizure',
      'overdose',
      'opioid overdose',
      'cardiac arrest',
      'car crash',
      'anaphylaxis',
      'burns',
    ]
    const candidates = guesses.flatMap((g) => [g, ...EMERGENCY_REASONS.map((code) => emergencyReasonText(code, g))])
    for (const guess of candidates) {
      assert.notEqual(keccak256(toHex(guess)), onChain!.reasonHash, `"${guess}" recovered from the chain`)
    }
    assert.equal(commitEmergencyReason(reason, opened.reasonSalt), onChain!.reasonHash, 'the salt opens it')
    assert.notEqual(commitEmergencyReason(reason, newReasonSalt()), onChain!.reasonHash)
  })
})
