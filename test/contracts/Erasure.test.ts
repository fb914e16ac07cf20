/**
 * Erasure on chain (GDPR art. 17, by crypto-shredding): MedicalRecord.erase / eraseBatch and what
 * ConsentRegistry does with an erased record. Each revert is named with its custom error and
 * arguments, each event with its arguments.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Address, BaseError, type Hex, ContractFunctionRevertedError, getAddress, keccak256, parseEventLogs, toHex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { consentRegistryAbi, medicalRecordAbi } from '../../src/contracts/index.js'
import {
  DEFAULT_TAG,
  type Deployed,
  type Env,
  eventNames,
  expectEvent,
  expectRevert,
  mintRequest,
  mintWithConsent,
  registerProvider,
  startEnv,
} from './fixture.js'

const Scope = { Records: 0, Categories: 1, All: 2 } as const
const Purpose = { Treatment: 0 } as const
const DAY = 86_400n

function decodeTokenURI(uri: string): { attributes: { trait_type: string; value: unknown }[] } {
  return JSON.parse(Buffer.from(uri.split(',')[1]!, 'base64').toString('utf8'))
}

describe('Erasure', () => {
  let env: Env
  before(async () => {
    env = await startEnv()
  })
  after(async () => {
    await env?.stop()
  })

  /** A grant's terms (ConsentRegistry.Grant), thirty days from the chain's clock. */
  async function terms(patient: Address, grantee: Address, scope: number, list: { tokenIds?: bigint[]; tags?: Hex[] } = {}) {
    const expiresAt = Number((await env.latestTimestamp()) + 30n * DAY)
    return { patient, grantee, expiresAt, scope, purpose: Purpose.Treatment, tokenIds: list.tokenIds ?? [], tags: list.tags ?? [] }
  }

  async function grantRecords(d: Deployed, patient: PrivateKeyAccount, grantee: Address, tokenIds: bigint[]) {
    return d.consentAs(patient).write.grant([await terms(patient.address, grantee, Scope.Records, { tokenIds })])
  }

  describe('MedicalRecord.erase', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let stranger: PrivateKeyAccount
    let tokenId: bigint

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d)
      patient = await env.newAccount()
      stranger = await env.newAccount()
      ;({ tokenId } = await mintWithConsent(env, d, provider, patient, mintRequest(patient.address)))
    })

    it('refuses anyone but the owner (MedicalRecordNotOwner), the issuer too', async () => {
      await expectRevert(d.recordsAs(stranger).write.erase([tokenId]), 'MedicalRecordNotOwner', [tokenId, stranger.address])
      await expectRevert(d.recordsAs(provider).write.erase([tokenId]), 'MedicalRecordNotOwner', [tokenId, provider.address])
      await expectRevert(d.records.write.erase([tokenId]), 'MedicalRecordNotOwner', [tokenId, env.admin.address])
    })

    it('refuses a token that does not exist (ERC721NonexistentToken)', async () => {
      await expectRevert(d.recordsAs(patient).write.erase([999n]), 'ERC721NonexistentToken', [999n])
      await expectRevert(d.records.read.erasedAt([999n]), 'ERC721NonexistentToken', [999n])
    })

    it('is not erased before: erasedAt 0, accessInfo says so, tokenURI status "current"', async () => {
      assert.equal(await d.records.read.erasedAt([tokenId]), 0)
      assert.deepEqual(await d.records.read.accessInfo([tokenId]), [getAddress(patient.address), DEFAULT_TAG, false])
      assert.deepEqual(decodeTokenURI(await d.records.read.tokenURI([tokenId])).attributes[1], { trait_type: 'status', value: 'current' })
    })

    it('the owner erases it: RecordErased(tokenId, patient), only that event, erasedAt = block time', async () => {
      const receipt = await env.mined(d.recordsAs(patient).write.erase([tokenId]))
      assert.deepEqual(eventNames(receipt, medicalRecordAbi), ['RecordErased'])
      const args = expectEvent(receipt, medicalRecordAbi, d.records.address, 'RecordErased')
      assert.deepEqual(args, { tokenId, patient: getAddress(patient.address) })
      assert.equal(BigInt(await d.records.read.erasedAt([tokenId])), await env.timestampOf(receipt))
    })

    it('keeps the token with the patient, locked, with its issuer and tag; status "erased"', async () => {
      assert.equal(await d.records.read.ownerOf([tokenId]), getAddress(patient.address))
      assert.equal(await d.records.read.locked([tokenId]), true)
      const state = await d.records.read.recordOf([tokenId])
      assert.equal(state.tag, DEFAULT_TAG)
      assert.ok(state.erasedAt > 0)
      assert.deepEqual(await d.records.read.accessInfo([tokenId]), [getAddress(patient.address), DEFAULT_TAG, true])
      assert.deepEqual(decodeTokenURI(await d.records.read.tokenURI([tokenId])).attributes[1], { trait_type: 'status', value: 'erased' })
    })

    it('refuses erasing it again (MedicalRecordErased with the time)', async () => {
      const at = await d.records.read.erasedAt([tokenId])
      await expectRevert(d.recordsAs(patient).write.erase([tokenId]), 'MedicalRecordErased', [tokenId, at])
    })

    it('refuses amending an erased record (MedicalRecordErased)', async () => {
      const at = await d.records.read.erasedAt([tokenId])
      await expectRevert(mintWithConsent(env, d, provider, patient, mintRequest(patient.address), tokenId), 'MedicalRecordErased', [
        tokenId,
        at,
      ])
    })

    it('accessInfo of a token that does not exist: zero owner, never reverts', async () => {
      assert.deepEqual(await d.records.read.accessInfo([999n]), ['0x0000000000000000000000000000000000000000', '0x0000000000000000', false])
    })
  })

  describe('MedicalRecord.eraseBatch', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let other: PrivateKeyAccount
    const tokens: bigint[] = []
    let othersToken: bigint

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d)
      patient = await env.newAccount()
      other = await env.newAccount()
      for (let i = 0; i < 3; i++) tokens.push((await mintWithConsent(env, d, provider, patient, mintRequest(patient.address))).tokenId)
      ;({ tokenId: othersToken } = await mintWithConsent(env, d, provider, other, mintRequest(other.address)))
    })

    it('refuses an empty batch and one over MAX_BATCH_SIZE', async () => {
      await expectRevert(d.recordsAs(patient).write.eraseBatch([[]]), 'MedicalRecordEmptyBatch')
      const tooMany = Array.from({ length: 101 }, () => tokens[0]!)
      await expectRevert(d.recordsAs(patient).write.eraseBatch([tooMany]), 'MedicalRecordBatchTooLarge', [101n, 100n])
    })

    it("is all or nothing: another patient's token in the batch reverts it and erases none", async () => {
      await expectRevert(d.recordsAs(patient).write.eraseBatch([[tokens[0]!, othersToken]]), 'MedicalRecordNotOwner', [
        othersToken,
        patient.address,
      ])
      for (const t of tokens) assert.equal(await d.records.read.erasedAt([t]), 0)
    })

    it('refuses the same token twice in one batch (MedicalRecordErased, at the pending block time)', async () => {
      const error = await d
        .recordsAs(patient)
        .write.eraseBatch([[tokens[0]!, tokens[0]!]])
        .then(
          () => undefined,
          (e: unknown) => e,
        )
      assert.ok(error instanceof BaseError, 'the batch was refused')
      const revert = error.walk((e) => e instanceof ContractFunctionRevertedError)
      assert.ok(revert instanceof ContractFunctionRevertedError)
      assert.equal(revert.data?.errorName, 'MedicalRecordErased')
      const [token, at] = revert.data?.args ?? []
      assert.equal(token, tokens[0])
      assert.ok(BigInt(at as number) >= (await env.latestTimestamp()))
      assert.equal(await d.records.read.erasedAt([tokens[0]!]), 0)
    })

    it('erases each listed token, emitting RecordErased for each in order', async () => {
      const receipt = await env.mined(d.recordsAs(patient).write.eraseBatch([tokens]))
      assert.deepEqual(eventNames(receipt, medicalRecordAbi), ['RecordErased', 'RecordErased', 'RecordErased'])
      const logs = parseEventLogs({ abi: medicalRecordAbi, logs: receipt.logs, eventName: 'RecordErased' })
      assert.deepEqual(
        logs.map((l) => l.args),
        tokens.map((tokenId) => ({ tokenId, patient: getAddress(patient.address) })),
      )
      const at = await env.timestampOf(receipt)
      for (const t of tokens) assert.equal(BigInt(await d.records.read.erasedAt([t])), at)
      assert.equal(await d.records.read.erasedAt([othersToken]), 0)
    })
  })

  describe('ConsentRegistry and erased records', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let grantee: PrivateKeyAccount
    let er: PrivateKeyAccount
    let kept: bigint
    let erased: bigint
    let grantId: bigint
    let allGrantee: PrivateKeyAccount
    // Each reader's grant (id and terms), if it has one: the contract judges a grant by its terms.
    const held = new Map<Address, { grantId: bigint; terms: Awaited<ReturnType<typeof terms>> }>()
    const canRead = (reader: Address, tokenId: bigint) => {
      const g = held.get(reader)
      const consent = d.consentAs(env.admin)
      return g ? consent.read.canAccessWith([reader, tokenId, g.grantId, g.terms]) : consent.read.canAccess([reader, tokenId])
    }
    async function grantAs(patient: PrivateKeyAccount, t: Awaited<ReturnType<typeof terms>>) {
      const receipt = await env.mined(d.consentAs(patient).write.grant([t]))
      const id = expectEvent(receipt, consentRegistryAbi, d.consent, 'GrantCreated').grantId as bigint
      held.set(t.grantee, { grantId: id, terms: t })
      return id
    }

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d)
      er = await registerProvider(env, d, 'Emergency Room')
      patient = await env.newAccount()
      grantee = await env.newAccount()
      ;({ tokenId: kept } = await mintWithConsent(env, d, provider, patient, mintRequest(patient.address)))
      ;({ tokenId: erased } = await mintWithConsent(env, d, provider, patient, mintRequest(patient.address)))
      allGrantee = await env.newAccount()
      // Before erasure: a record grant, a category grant, an "all" grant and an emergency window all cover it.
      await env.mined(d.consentAs(patient).write.setOpenTags([[DEFAULT_TAG], []]))
      grantId = await grantAs(patient, await terms(patient.address, grantee.address, Scope.Records, { tokenIds: [kept, erased] }))
      await grantAs(patient, await terms(patient.address, provider.address, Scope.Categories, { tags: [DEFAULT_TAG] }))
      await grantAs(patient, await terms(patient.address, allGrantee.address, Scope.All))
      await env.mined(d.consentAs(env.admin).write.setEmergencyProvider([er.address, true]))
      await env.mined(d.consentAs(er).write.openEmergency([patient.address, keccak256(toHex('unconscious'))]))
      for (const reader of [patient, grantee, provider, allGrantee, er]) {
        assert.equal(await canRead(reader.address, erased), true)
      }
      await env.mined(d.recordsAs(patient).write.erase([erased]))
    })

    it('canAccess(With) is false for everyone: the owner, a record, category or "all" grantee, an emergency provider', async () => {
      for (const reader of [patient, grantee, provider, allGrantee, er]) {
        assert.equal(await canRead(reader.address, erased), false, reader.address)
        assert.equal(await canRead(reader.address, kept), true, `${reader.address} still reads the kept record`)
      }
    })

    it('grantCovers is false for the erased record and true for the kept one', async () => {
      const consent = d.consentAs(env.admin)
      const t = held.get(grantee.address)!.terms
      assert.equal(await consent.read.grantCovers([grantId, t, erased]), false)
      assert.equal(await consent.read.grantCovers([grantId, t, kept]), true)
    })

    it('refuses a new grant naming it (ConsentRecordErased), alone or with others', async () => {
      await expectRevert(grantRecords(d, patient, grantee.address, [erased]), 'ConsentRecordErased', [erased])
      await expectRevert(grantRecords(d, patient, grantee.address, [kept, erased]), 'ConsentRecordErased', [erased])
    })

    it('still checks ownership first, and still grants the kept record', async () => {
      const stranger = await env.newAccount()
      await expectRevert(grantRecords(d, stranger, grantee.address, [erased]), 'ConsentNotOwner', [erased, stranger.address])
      await env.mined(grantRecords(d, patient, grantee.address, [kept]))
    })

    it('canAccess of a token that does not exist is false; grantCovers reverts with ERC721NonexistentToken', async () => {
      const consent = d.consentAs(env.admin)
      assert.equal(await consent.read.canAccess([patient.address, 999n]), false)
      await expectRevert(consent.read.grantCovers([grantId, held.get(grantee.address)!.terms, 999n]), 'ERC721NonexistentToken', [999n])
    })
  })
})
