import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { type Abi, concatHex, encodeAbiParameters, type Hex, hexToBytes, keccak256, toHex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { medicalRecordAbi } from '../../src/contracts/index.js'
import { CATEGORIES, requiredSensitivity, Sensitivity } from '../../src/core/categories.js'
import {
  bytes32,
  type Deployed,
  type Env,
  eventNames,
  expectEvent,
  expectRevert,
  type MintRequest,
  mintRequest,
  mintWithConsent,
  patientTags,
  randomBytes32,
  randomTag,
  registerProvider,
  signMintConsent,
  startEnv,
  ZERO_ADDRESS,
  ZERO_BYTES32,
} from './fixture.js'

const GAS = 1_000_000n

describe('MedicalRecord', () => {
  let env: Env
  before(async () => {
    env = await startEnv()
  })
  after(async () => {
    await env?.stop()
  })

  /** Signs a consent for `provider` to mint (or amend `supersedes`) `request` for `patient`. */
  async function consentFor(
    d: Deployed,
    patient: PrivateKeyAccount,
    provider: PrivateKeyAccount,
    request: MintRequest,
    opts: {
      supersedes?: bigint
      deadline?: bigint
      nonce?: bigint
      signer?: PrivateKeyAccount
      commitment?: Hex
      tag?: Hex
    } = {},
  ): Promise<{ consent: Hex; deadline: bigint; nonce: bigint }> {
    const deadline = opts.deadline ?? (await env.latestTimestamp()) + 3600n
    const nonce = opts.nonce ?? (await d.records.read.nonces([patient.address]))
    const consent = await signMintConsent(
      opts.signer ?? patient,
      { chainId: env.chainId, verifyingContract: d.records.address },
      {
        patient: patient.address,
        provider: provider.address,
        commitment: opts.commitment ?? request.commitment,
        tag: opts.tag ?? request.tag,
        supersedes: opts.supersedes ?? 0n,
        nonce,
        deadline,
      },
    )
    return { consent, deadline, nonce }
  }

  /** Patient grants `provider` a standing authorisation for an hour; returns `until`. */
  async function authorize(d: Deployed, patient: PrivateKeyAccount, provider: PrivateKeyAccount): Promise<bigint> {
    const until = (await env.latestTimestamp()) + 3600n
    await env.mined(d.recordsAs(patient).write.authorizeProvider([provider.address, until]))
    return until
  }

  function decodeTokenURI(uri: string): unknown {
    const prefix = 'data:application/json;base64,'
    assert.ok(uri.startsWith(prefix), `tokenURI should be a base64 JSON data URI, got ${uri.slice(0, 40)}`)
    return JSON.parse(Buffer.from(uri.slice(prefix.length), 'base64').toString('utf8'))
  }

  describe('deployment', () => {
    let d: Deployed
    before(async () => {
      d = await env.deploy()
    })

    it('has the ERC-721 name and symbol, and points at the registry', async () => {
      assert.equal(await d.records.read.name(), 'medvault record')
      assert.equal(await d.records.read.symbol(), 'MVR')
      assert.equal(await d.records.read.registry(), d.registry.address)
      assert.equal(await d.records.read.lastTokenId(), 0n)
    })

    it('knows no category or sensitivity flag: its ABI names none', () => {
      const names = medicalRecordAbi.flatMap((item) => ('name' in item ? [item.name] : []))
      assert.deepEqual(
        names.filter((name) => /categor|sensitiv/i.test(name)),
        [],
      )
      const mintInputs = medicalRecordAbi.find((item) => item.type === 'function' && item.name === 'mint')
      assert.ok(mintInputs && 'inputs' in mintInputs)
      const request = mintInputs.inputs[0] as { components: readonly { name: string }[] }
      assert.deepEqual(
        request.components.map((c) => c.name),
        ['patient', 'commitment', 'cidDigest', 'cidCodec', 'tag'],
      )
    })

    it('uses the EIP-712 domain "medvault" version "1" on this chain and contract', async () => {
      const expected = keccak256(
        encodeAbiParameters(
          [{ type: 'bytes32' }, { type: 'bytes32' }, { type: 'bytes32' }, { type: 'uint256' }, { type: 'address' }],
          [
            keccak256(toHex('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)')),
            keccak256(toHex('medvault')),
            keccak256(toHex('1')),
            BigInt(env.chainId),
            d.records.address,
          ],
        ),
      )
      assert.equal(await d.records.read.domainSeparator(), expected)
      const [fields, name, version, chainId, verifyingContract] = await d.records.read.eip712Domain()
      assert.deepEqual(
        [fields, name, version, chainId, verifyingContract],
        ['0x0f', 'medvault', '1', BigInt(env.chainId), d.records.address],
      )
    })
  })

  describe('mint with a MintConsent signature', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let request: MintRequest
    let receipt: Awaited<ReturnType<Env['mined']>>
    let nonceBefore: bigint

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'Lab A')
      patient = await env.newAccount()
      request = mintRequest(patient.address, { tag: patientTags().tag('laboratory', Sensitivity.restricted) })
      const { consent, deadline, nonce } = await consentFor(d, patient, provider, request)
      nonceBefore = nonce
      receipt = await env.mined(d.recordsAs(provider).write.mint([request, deadline, consent]))
    })

    it('emits Transfer, RecordIssued and Locked, in that order', () => {
      assert.deepEqual(eventNames(receipt, medicalRecordAbi), ['Transfer', 'RecordIssued', 'Locked'])
      assert.deepEqual(expectEvent(receipt, medicalRecordAbi, d.records.address, 'Transfer'), {
        from: ZERO_ADDRESS,
        to: patient.address,
        id: 1n,
      })
    })

    it('emits RecordIssued with the request, its blinded tag, the issuer, supersedes = 0 and the issue time, and nothing about care in clear', async () => {
      assert.deepEqual(expectEvent(receipt, medicalRecordAbi, d.records.address, 'RecordIssued'), {
        tokenId: 1n,
        patient: patient.address,
        issuer: provider.address,
        commitment: request.commitment,
        cidDigest: request.cidDigest,
        cidCodec: request.cidCodec,
        tag: request.tag,
        supersedes: 0n,
        issuedAt: Number(await env.timestampOf(receipt)),
      })
    })

    it('emits ERC-5192 Locked for the new token', () => {
      assert.deepEqual(expectEvent(receipt, medicalRecordAbi, d.records.address, 'Locked'), { tokenId: 1n })
    })

    it('gives the token to the patient', async () => {
      assert.equal(await d.records.read.ownerOf([1n]), patient.address)
      assert.equal(await d.records.read.balanceOf([patient.address]), 1n)
      assert.equal(await d.records.read.balanceOf([provider.address]), 0n)
      assert.equal(await d.records.read.lastTokenId(), 1n)
    })

    it('stores owner, issuer and tag, and nothing of the content (recordOf)', async () => {
      assert.deepEqual(await d.records.read.recordOf([1n]), {
        owner: patient.address,
        issuer: provider.address,
        tag: request.tag,
        supersededBy: 0n,
        erasedAt: 0,
      })
    })

    it('gives an access check owner, tag and erasure in one call (accessInfo), and zeroes for a missing token', async () => {
      assert.deepEqual(await d.records.read.accessInfo([1n]), [patient.address, request.tag, false])
      assert.deepEqual(await d.records.read.accessInfo([999n]), [ZERO_ADDRESS, '0x0000000000000000', false])
      assert.deepEqual(await d.records.read.accessInfo([0n]), [ZERO_ADDRESS, '0x0000000000000000', false])
    })

    it("gives the ciphertext's CIDv1 in RecordIssued (codec and sha2-256 digest), as multiformats builds it", async () => {
      const issued = await d.issuedOf(1n)
      const cid = CID.createV1(issued.cidCodec, Digest.create(0x12, hexToBytes(issued.cidDigest)))
      assert.equal(toHex(cid.bytes), concatHex(['0x01', toHex(request.cidCodec, { size: 1 }), '0x12', '0x20', request.cidDigest]))
    })

    it('uses up the patient nonce', async () => {
      assert.equal(await d.records.read.nonces([patient.address]), nonceBefore + 1n)
    })

    it('numbers tokens consecutively and takes the next nonce for the next consent', async () => {
      const second = await mintWithConsent(env, d, provider, patient, mintRequest(patient.address))
      assert.equal(second.tokenId, 2n)
      assert.equal(await d.records.read.nonces([patient.address]), nonceBefore + 2n)
      assert.equal(await d.records.read.balanceOf([patient.address]), 2n)
    })

    it("writes one new storage slot for a patient's next record (owner, tag and issuer packed), none for its content", async () => {
      // A patient's first record also starts their balance; the second is the steady state.
      const someone = await env.newAccount()
      await mintWithConsent(env, d, provider, someone, mintRequest(someone.address))
      const request = mintRequest(someone.address)
      const { receipt } = await mintWithConsent(env, d, provider, someone, request)
      const trace = (await env.publicClient.request({
        method: 'debug_traceTransaction' as never,
        params: [receipt.transactionHash, { tracer: 'prestateTracer', tracerConfig: { diffMode: true } }] as never,
      })) as { pre: Record<string, { storage?: Record<string, Hex> }>; post: Record<string, { storage?: Record<string, Hex> }> }
      const records = d.records.address.toLowerCase()
      const before = Object.entries(trace.pre).find(([a]) => a.toLowerCase() === records)?.[1].storage ?? {}
      const after = Object.entries(trace.post).find(([a]) => a.toLowerCase() === records)?.[1].storage ?? {}
      const created = Object.keys(after).filter((slot) => !(slot in before) || /^0x0*$/.test(before[slot]!))
      assert.equal(created.length, 1, `new slots: ${created.join(', ')}`)
      for (const value of Object.values(after)) {
        assert.ok(!value.includes(request.commitment.slice(2)) && !value.includes(request.cidDigest.slice(2)))
      }
    })

    it('accepts a consent exactly at its deadline', async () => {
      const req = mintRequest(patient.address)
      const deadline = (await env.latestTimestamp()) + 30n
      const { consent } = await consentFor(d, patient, provider, req, { deadline })
      await env.testClient.setNextBlockTimestamp({ timestamp: deadline })
      const r = await env.mined(d.recordsAs(provider).write.mint([req, deadline, consent], { gas: GAS }))
      assert.equal(await env.timestampOf(r), deadline)
      const issued = expectEvent(r, medicalRecordAbi, d.records.address, 'RecordIssued')
      assert.equal(issued.commitment, req.commitment)
    })
  })

  describe('mint refusals', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'Lab A')
      patient = await env.newAccount()
    })

    it('refuses an unregistered caller (MedicalRecordInactiveIssuer)', async () => {
      const stranger = await env.newAccount()
      const request = mintRequest(patient.address)
      const { consent, deadline } = await consentFor(d, patient, stranger, request)
      await expectRevert(d.recordsAs(stranger).write.mint([request, deadline, consent]), 'MedicalRecordInactiveIssuer', [stranger.address])
    })

    it('refuses a suspended provider, even with a valid consent', async () => {
      const suspended = await registerProvider(env, d, 'Lab S')
      await env.mined(d.registry.write.suspend([suspended.address]))
      const request = mintRequest(patient.address)
      const { consent, deadline } = await consentFor(d, patient, suspended, request)
      await expectRevert(d.recordsAs(suspended).write.mint([request, deadline, consent]), 'MedicalRecordInactiveIssuer', [
        suspended.address,
      ])
      // Reinstated, the same signature works.
      await env.mined(d.registry.write.reinstate([suspended.address]))
      await env.mined(d.recordsAs(suspended).write.mint([request, deadline, consent]))
    })

    it('refuses a removed provider', async () => {
      const removed = await registerProvider(env, d, 'Lab R')
      await env.mined(d.registry.write.remove([removed.address]))
      const request = mintRequest(patient.address)
      const { consent, deadline } = await consentFor(d, patient, removed, request)
      await expectRevert(d.recordsAs(removed).write.mint([request, deadline, consent]), 'MedicalRecordInactiveIssuer', [removed.address])
    })

    it('refuses the registrar, who is not a provider', async () => {
      const request = mintRequest(patient.address)
      const { consent, deadline } = await consentFor(d, patient, provider, request)
      await expectRevert(d.records.write.mint([request, deadline, consent]), 'MedicalRecordInactiveIssuer', [env.admin.address])
    })

    it('refuses a consent signed by someone other than the patient', async () => {
      const impostor = await env.newAccount()
      const request = mintRequest(patient.address)
      const { consent, deadline } = await consentFor(d, patient, provider, request, { signer: impostor })
      await expectRevert(d.recordsAs(provider).write.mint([request, deadline, consent]), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
    })

    it('refuses a consent signed for another commitment', async () => {
      const request = mintRequest(patient.address)
      const { consent, deadline } = await consentFor(d, patient, provider, request, { commitment: randomBytes32() })
      await expectRevert(d.recordsAs(provider).write.mint([request, deadline, consent]), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
    })

    it('refuses a consent whose record was relabelled (a mental-health note minted under the lab-result tag)', async () => {
      const tags = patientTags()
      const signed = mintRequest(patient.address, { tag: tags.tag('mental-health', Sensitivity.mentalHealth) })
      const { consent, deadline } = await consentFor(d, patient, provider, signed)
      const relabelled = { ...signed, tag: tags.tag('laboratory') }
      await expectRevert(d.recordsAs(provider).write.mint([relabelled, deadline, consent]), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
    })

    it('refuses a consent given to another provider', async () => {
      const other = await registerProvider(env, d, 'Lab B')
      const request = mintRequest(patient.address)
      const { consent, deadline } = await consentFor(d, patient, provider, request)
      await expectRevert(d.recordsAs(other).write.mint([request, deadline, consent]), 'MedicalRecordInvalidConsent', [
        patient.address,
        other.address,
      ])
    })

    it('refuses a consent used for another patient', async () => {
      const otherPatient = await env.newAccount()
      const request = mintRequest(patient.address)
      const { consent, deadline } = await consentFor(d, patient, provider, request)
      const moved = { ...request, patient: otherPatient.address }
      await expectRevert(d.recordsAs(provider).write.mint([moved, deadline, consent]), 'MedicalRecordInvalidConsent', [
        otherPatient.address,
        provider.address,
      ])
    })

    it('refuses a consent whose deadline was changed after signing', async () => {
      const request = mintRequest(patient.address)
      const { consent, deadline } = await consentFor(d, patient, provider, request)
      await expectRevert(d.recordsAs(provider).write.mint([request, deadline + 1n, consent]), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
    })

    it('refuses a consent signed for a future nonce', async () => {
      const request = mintRequest(patient.address)
      const current = await d.records.read.nonces([patient.address])
      const { consent, deadline } = await consentFor(d, patient, provider, request, { nonce: current + 1n })
      await expectRevert(d.recordsAs(provider).write.mint([request, deadline, consent]), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
    })

    it('refuses a consent signed for an amendment (supersedes != 0)', async () => {
      const request = mintRequest(patient.address)
      const { consent, deadline } = await consentFor(d, patient, provider, request, { supersedes: 1n })
      await expectRevert(d.recordsAs(provider).write.mint([request, deadline, consent]), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
    })

    it('refuses a consent for another chain id or another contract', async () => {
      const request = mintRequest(patient.address)
      const deadline = (await env.latestTimestamp()) + 3600n
      const nonce = await d.records.read.nonces([patient.address])
      const message = {
        patient: patient.address,
        provider: provider.address,
        commitment: request.commitment,
        tag: request.tag,
        supersedes: 0n,
        nonce,
        deadline,
      }
      const wrongChain = await signMintConsent(patient, { chainId: env.chainId + 1, verifyingContract: d.records.address }, message)
      await expectRevert(d.recordsAs(provider).write.mint([request, deadline, wrongChain]), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
      const wrongContract = await signMintConsent(patient, { chainId: env.chainId, verifyingContract: d.registry.address }, message)
      await expectRevert(d.recordsAs(provider).write.mint([request, deadline, wrongContract]), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
    })

    it('refuses a malformed signature', async () => {
      const request = mintRequest(patient.address)
      const deadline = (await env.latestTimestamp()) + 3600n
      await expectRevert(d.recordsAs(provider).write.mint([request, deadline, '0x1234']), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
      await expectRevert(d.recordsAs(provider).write.mint([request, deadline, `0x${'00'.repeat(65)}`]), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
    })

    it('does not use up the nonce on a refused mint', async () => {
      const nonce = await d.records.read.nonces([patient.address])
      const request = mintRequest(patient.address)
      const { consent, deadline } = await consentFor(d, patient, provider, request, { commitment: randomBytes32() })
      await expectRevert(d.recordsAs(provider).write.mint([request, deadline, consent]), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
      assert.equal(await d.records.read.nonces([patient.address]), nonce)
    })

    it('refuses a replayed signature', async () => {
      const request = mintRequest(patient.address)
      const { consent, deadline } = await consentFor(d, patient, provider, request)
      await env.mined(d.recordsAs(provider).write.mint([request, deadline, consent]))
      const count = await d.records.read.balanceOf([patient.address])
      await expectRevert(d.recordsAs(provider).write.mint([request, deadline, consent]), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
      // Also with a fresh commitment: the signature is bound to the used nonce.
      const other = { ...request, commitment: randomBytes32() }
      await expectRevert(d.recordsAs(provider).write.mint([other, deadline, consent]), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
      assert.equal(await d.records.read.balanceOf([patient.address]), count)
    })

    it('refuses a consent past its deadline (MedicalRecordConsentExpired)', async () => {
      const request = mintRequest(patient.address)
      const deadline = (await env.latestTimestamp()) + 10n
      const { consent } = await consentFor(d, patient, provider, request, { deadline })
      await env.advance(60)
      await expectRevert(d.recordsAs(provider).write.mint([request, deadline, consent]), 'MedicalRecordConsentExpired', [deadline])
    })

    it('refuses a consent one second past its deadline', async () => {
      const request = mintRequest(patient.address)
      const deadline = (await env.latestTimestamp()) + 30n
      const { consent } = await consentFor(d, patient, provider, request, { deadline })
      await env.testClient.setNextBlockTimestamp({ timestamp: deadline + 1n })
      const hash = await d.recordsAs(provider).write.mint([request, deadline, consent], { gas: GAS })
      const r = await env.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })
      assert.equal(r.status, 'reverted')
      assert.equal(await env.timestampOf(r), deadline + 1n)
      // The reason, replayed against that block.
      await expectRevert(
        env.publicClient.simulateContract({
          address: d.records.address,
          abi: medicalRecordAbi,
          functionName: 'mint',
          args: [request, deadline, consent],
          account: provider.address,
          blockNumber: r.blockNumber,
        }),
        'MedicalRecordConsentExpired',
        [deadline],
      )
    })

    it('refuses an empty consent without a standing authorisation', async () => {
      const request = mintRequest(patient.address)
      const deadline = (await env.latestTimestamp()) + 3600n
      await expectRevert(d.recordsAs(provider).write.mint([request, deadline, '0x']), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
      assert.equal(await d.records.read.authorizationOf([patient.address, provider.address]), 0n)
    })
  })

  describe('standing authorisation', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'Lab A')
      patient = await env.newAccount()
    })

    it('authorizeProvider emits ProviderAuthorized and is readable via authorizationOf', async () => {
      const until = (await env.latestTimestamp()) + 3600n
      const receipt = await env.mined(d.recordsAs(patient).write.authorizeProvider([provider.address, until]))
      assert.deepEqual(expectEvent(receipt, medicalRecordAbi, d.records.address, 'ProviderAuthorized'), {
        patient: patient.address,
        provider: provider.address,
        until,
      })
      assert.equal(await d.records.read.authorizationOf([patient.address, provider.address]), until)
    })

    it('lets the authorised provider mint with an empty consent, without using a nonce', async () => {
      const nonce = await d.records.read.nonces([patient.address])
      const request = mintRequest(patient.address)
      const receipt = await env.mined(d.recordsAs(provider).write.mint([request, 0n, '0x']))
      const issued = expectEvent(receipt, medicalRecordAbi, d.records.address, 'RecordIssued')
      assert.equal(issued.patient, patient.address)
      assert.equal(issued.issuer, provider.address)
      assert.equal(await d.records.read.ownerOf([issued.tokenId as bigint]), patient.address)
      assert.equal(await d.records.read.nonces([patient.address]), nonce)
    })

    it('does not extend to another provider or another patient', async () => {
      const other = await registerProvider(env, d, 'Lab B')
      await expectRevert(d.recordsAs(other).write.mint([mintRequest(patient.address), 0n, '0x']), 'MedicalRecordInvalidConsent', [
        patient.address,
        other.address,
      ])
      const otherPatient = await env.newAccount()
      await expectRevert(d.recordsAs(provider).write.mint([mintRequest(otherPatient.address), 0n, '0x']), 'MedicalRecordInvalidConsent', [
        otherPatient.address,
        provider.address,
      ])
    })

    it('does not let a suspended provider mint', async () => {
      const lab = await registerProvider(env, d, 'Lab C')
      await authorize(d, patient, lab)
      await env.mined(d.registry.write.suspend([lab.address]))
      await expectRevert(d.recordsAs(lab).write.mint([mintRequest(patient.address), 0n, '0x']), 'MedicalRecordInactiveIssuer', [
        lab.address,
      ])
    })

    it('revokeProvider emits ProviderAuthorizationRevoked and ends the authorisation', async () => {
      const lab = await registerProvider(env, d, 'Lab D')
      await authorize(d, patient, lab)
      await env.mined(d.recordsAs(lab).write.mint([mintRequest(patient.address), 0n, '0x']))
      const receipt = await env.mined(d.recordsAs(patient).write.revokeProvider([lab.address]))
      assert.deepEqual(expectEvent(receipt, medicalRecordAbi, d.records.address, 'ProviderAuthorizationRevoked'), {
        patient: patient.address,
        provider: lab.address,
      })
      assert.equal(await d.records.read.authorizationOf([patient.address, lab.address]), 0n)
      await expectRevert(d.recordsAs(lab).write.mint([mintRequest(patient.address), 0n, '0x']), 'MedicalRecordInvalidConsent', [
        patient.address,
        lab.address,
      ])
    })

    it('a revoked provider can still mint with a per-record signature', async () => {
      const lab = await registerProvider(env, d, 'Lab E')
      await authorize(d, patient, lab)
      await env.mined(d.recordsAs(patient).write.revokeProvider([lab.address]))
      const { tokenId } = await mintWithConsent(env, d, lab, patient, mintRequest(patient.address))
      assert.equal(await d.records.read.ownerOf([tokenId]), patient.address)
    })

    it('is refused past `until`', async () => {
      const lab = await registerProvider(env, d, 'Lab F')
      const until = (await env.latestTimestamp()) + 100n
      await env.mined(d.recordsAs(patient).write.authorizeProvider([lab.address, until]))
      await env.mined(d.recordsAs(lab).write.mint([mintRequest(patient.address), 0n, '0x']))
      await env.advance(200)
      await expectRevert(d.recordsAs(lab).write.mint([mintRequest(patient.address), 0n, '0x']), 'MedicalRecordInvalidConsent', [
        patient.address,
        lab.address,
      ])
    })

    it('is valid up to and including the second `until`, and refused one second later', async () => {
      const lab = await registerProvider(env, d, 'Lab G')
      const until = (await env.latestTimestamp()) + 50n
      await env.mined(d.recordsAs(patient).write.authorizeProvider([lab.address, until]))

      await env.testClient.setNextBlockTimestamp({ timestamp: until })
      const ok = await env.mined(d.recordsAs(lab).write.mint([mintRequest(patient.address), 0n, '0x'], { gas: GAS }))
      assert.equal(await env.timestampOf(ok), until)

      await env.testClient.setNextBlockTimestamp({ timestamp: until + 1n })
      const hash = await d.recordsAs(lab).write.mint([mintRequest(patient.address), 0n, '0x'], { gas: GAS })
      const late = await env.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })
      assert.equal(late.status, 'reverted')
      assert.equal(await env.timestampOf(late), until + 1n)
    })

    it('an authorisation with a past `until` never allows a mint', async () => {
      const lab = await registerProvider(env, d, 'Lab H')
      const past = (await env.latestTimestamp()) - 1n
      await env.mined(d.recordsAs(patient).write.authorizeProvider([lab.address, past]))
      await expectRevert(d.recordsAs(lab).write.mint([mintRequest(patient.address), 0n, '0x']), 'MedicalRecordInvalidConsent', [
        patient.address,
        lab.address,
      ])
    })
  })

  describe('request validation', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'Lab A')
      patient = await env.newAccount()
      await env.mined(d.recordsAs(patient).write.authorizeProvider([provider.address, 2n ** 64n - 1n]))
    })

    const invalid: [string, Partial<MintRequest>][] = [
      ['a zero tag', { tag: '0x0000000000000000' }],
      ['a zero commitment', { commitment: ZERO_BYTES32 }],
      ['a zero CID digest', { cidDigest: ZERO_BYTES32 }],
      ['codec 0x80 (needs a multi-byte varint)', { cidCodec: 0x80 }],
      ['codec 0xff', { cidCodec: 0xff }],
    ]
    for (const [label, overrides] of invalid) {
      it(`refuses ${label} (MedicalRecordInvalidRequest)`, async () => {
        await expectRevert(
          d.recordsAs(provider).write.mint([mintRequest(patient.address, overrides), 0n, '0x']),
          'MedicalRecordInvalidRequest',
        )
      })
    }

    it('also refuses an invalid request that comes with a valid signature', async () => {
      const request = mintRequest(patient.address, { tag: '0x0000000000000000' })
      const { consent, deadline, nonce } = await consentFor(d, patient, provider, request)
      await expectRevert(d.recordsAs(provider).write.mint([request, deadline, consent]), 'MedicalRecordInvalidRequest')
      assert.equal(await d.records.read.nonces([patient.address]), nonce)
    })

    it("accepts every category's tag with its required flag, and the highest single-byte codec", async () => {
      const tags = patientTags()
      for (const category of CATEGORIES) {
        const tag = tags.tag(category, requiredSensitivity(category))
        const request = mintRequest(patient.address, { tag, cidCodec: 0x7f })
        const receipt = await env.mined(d.recordsAs(provider).write.mint([request, 0n, '0x']))
        const issued = expectEvent(receipt, medicalRecordAbi, d.records.address, 'RecordIssued')
        const record = await d.records.read.recordOf([issued.tokenId as bigint])
        assert.equal(record.tag, tag)
        assert.equal(issued.cidCodec, 0x7f)
        const uri = await d.records.read.tokenURI([issued.tokenId as bigint])
        const json = decodeTokenURI(uri) as { attributes: { trait_type: string; value: unknown }[] }
        assert.deepEqual(
          json.attributes.map((a) => a.trait_type),
          ['issuer', 'status'],
          `tokenURI of a ${category} record says no more than issuer and status`,
        )
        assert.ok(!JSON.stringify(json).includes(category), `tokenURI of a ${category} record names its category`)
        assert.ok(!JSON.stringify(json).includes(tag.slice(2)), `tokenURI of a ${category} record shows its tag`)
      }
    })

    it('accepts any non-zero tag: whether it names a valid class is for the consent to cover, not the contract', async () => {
      for (const tag of [randomTag(), '0xffffffffffffffff', '0x0000000000000001'] as const) {
        const receipt = await env.mined(d.recordsAs(provider).write.mint([mintRequest(patient.address, { tag }), 0n, '0x']))
        const issued = expectEvent(receipt, medicalRecordAbi, d.records.address, 'RecordIssued')
        assert.equal(issued.tag, tag)
        assert.equal((await d.records.read.recordOf([issued.tokenId as bigint])).tag, tag)
      }
    })
  })

  describe('amend', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let original: bigint
    let correction: bigint
    let correctionRequest: MintRequest
    let receipt: Awaited<ReturnType<Env['mined']>>

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'Lab A')
      patient = await env.newAccount()
      ;({ tokenId: original } = await mintWithConsent(env, d, provider, patient, mintRequest(patient.address)))
      correctionRequest = mintRequest(patient.address, { tag: patientTags().tag('imaging') })
      ;({ receipt, tokenId: correction } = await mintWithConsent(env, d, provider, patient, correctionRequest, original))
    })

    it('mints a new token to the patient, emitting Transfer, RecordIssued, Locked, RecordAmended', async () => {
      assert.equal(correction, original + 1n)
      assert.equal(await d.records.read.ownerOf([correction]), patient.address)
      assert.deepEqual(eventNames(receipt, medicalRecordAbi), ['Transfer', 'RecordIssued', 'Locked', 'RecordAmended'])
    })

    it('emits RecordIssued with supersedes = the amended token', async () => {
      assert.deepEqual(expectEvent(receipt, medicalRecordAbi, d.records.address, 'RecordIssued'), {
        tokenId: correction,
        patient: patient.address,
        issuer: provider.address,
        commitment: correctionRequest.commitment,
        cidDigest: correctionRequest.cidDigest,
        cidCodec: correctionRequest.cidCodec,
        tag: correctionRequest.tag,
        supersedes: original,
        issuedAt: Number(await env.timestampOf(receipt)),
      })
    })

    it("refuses an amendment by a provider other than the issuer, even with the patient's consent (MedicalRecordNotIssuer)", async () => {
      const other = await registerProvider(env, d, 'Lab B')
      const { tokenId } = await mintWithConsent(env, d, provider, patient, mintRequest(patient.address))
      await expectRevert(mintWithConsent(env, d, other, patient, mintRequest(patient.address), tokenId), 'MedicalRecordNotIssuer', [
        tokenId,
        other.address,
      ])
      assert.equal((await d.records.read.recordOf([tokenId])).supersededBy, 0n)
    })

    it('emits RecordAmended(old, new)', () => {
      assert.deepEqual(expectEvent(receipt, medicalRecordAbi, d.records.address, 'RecordAmended'), {
        tokenId: original,
        supersededBy: correction,
      })
    })

    it('links the records both ways and keeps the old one readable and owned', async () => {
      const old = await d.records.read.recordOf([original])
      const fresh = await d.records.read.recordOf([correction])
      assert.equal(old.supersededBy, correction)
      assert.equal((await d.issuedOf(original)).supersedes, 0n)
      assert.equal((await d.issuedOf(correction)).supersedes, original)
      assert.equal(fresh.supersededBy, 0n)
      assert.equal(fresh.tag, correctionRequest.tag)
      assert.equal(await d.records.read.ownerOf([original]), patient.address)
      assert.equal(await d.records.read.locked([original]), true)
    })

    it('refuses to amend an already amended record (MedicalRecordAlreadyAmended)', async () => {
      const request = mintRequest(patient.address)
      const { consent, deadline } = await consentFor(d, patient, provider, request, { supersedes: original })
      await expectRevert(d.recordsAs(provider).write.amend([original, request, deadline, consent]), 'MedicalRecordAlreadyAmended', [
        original,
        correction,
      ])
    })

    it('allows amending the newest version, building a chain', async () => {
      const { receipt: r, tokenId: third } = await mintWithConsent(env, d, provider, patient, mintRequest(patient.address), correction)
      assert.deepEqual(expectEvent(r, medicalRecordAbi, d.records.address, 'RecordAmended'), {
        tokenId: correction,
        supersededBy: third,
      })
      assert.equal((await d.records.read.recordOf([correction])).supersededBy, third)
      assert.equal((await d.issuedOf(third)).supersedes, correction)
    })

    it('refuses an amendment for a different patient (MedicalRecordPatientMismatch)', async () => {
      const { tokenId } = await mintWithConsent(env, d, provider, patient, mintRequest(patient.address))
      const other = await env.newAccount()
      const request = mintRequest(other.address)
      const { consent, deadline } = await consentFor(d, other, provider, request, { supersedes: tokenId })
      await expectRevert(d.recordsAs(provider).write.amend([tokenId, request, deadline, consent]), 'MedicalRecordPatientMismatch', [
        tokenId,
        other.address,
      ])
      assert.equal((await d.records.read.recordOf([tokenId])).supersededBy, 0n)
    })

    it('refuses to amend a token that does not exist', async () => {
      const request = mintRequest(patient.address)
      const { consent, deadline } = await consentFor(d, patient, provider, request, { supersedes: 999n })
      await expectRevert(d.recordsAs(provider).write.amend([999n, request, deadline, consent]), 'ERC721NonexistentToken', [999n])
    })

    it('requires the consent to name the amended token', async () => {
      const { tokenId } = await mintWithConsent(env, d, provider, patient, mintRequest(patient.address))
      const request = mintRequest(patient.address)
      const plain = await consentFor(d, patient, provider, request)
      await expectRevert(
        d.recordsAs(provider).write.amend([tokenId, request, plain.deadline, plain.consent]),
        'MedicalRecordInvalidConsent',
        [patient.address, provider.address],
      )
      const otherToken = await consentFor(d, patient, provider, request, { supersedes: tokenId - 1n })
      await expectRevert(
        d.recordsAs(provider).write.amend([tokenId, request, otherToken.deadline, otherToken.consent]),
        'MedicalRecordInvalidConsent',
        [patient.address, provider.address],
      )
    })

    it('refuses an inactive issuer', async () => {
      const { tokenId } = await mintWithConsent(env, d, provider, patient, mintRequest(patient.address))
      const stranger = await env.newAccount()
      const request = mintRequest(patient.address)
      const { consent, deadline } = await consentFor(d, patient, stranger, request, { supersedes: tokenId })
      await expectRevert(d.recordsAs(stranger).write.amend([tokenId, request, deadline, consent]), 'MedicalRecordInactiveIssuer', [
        stranger.address,
      ])
    })

    it('works with a standing authorisation and an empty consent', async () => {
      const { tokenId } = await mintWithConsent(env, d, provider, patient, mintRequest(patient.address))
      await authorize(d, patient, provider)
      const r = await env.mined(d.recordsAs(provider).write.amend([tokenId, mintRequest(patient.address), 0n, '0x']))
      const amended = expectEvent(r, medicalRecordAbi, d.records.address, 'RecordAmended')
      assert.equal(amended.tokenId, tokenId)
      await env.mined(d.recordsAs(patient).write.revokeProvider([provider.address]))
    })
  })

  describe('soulbound (ERC-5192)', () => {
    let d: Deployed
    let patient: PrivateKeyAccount
    let other: PrivateKeyAccount
    let tokenId: bigint

    before(async () => {
      d = await env.deploy()
      const provider = await registerProvider(env, d, 'Lab A')
      patient = await env.newAccount()
      other = await env.newAccount()
      ;({ tokenId } = await mintWithConsent(env, d, provider, patient, mintRequest(patient.address)))
    })

    it('transferFrom by the owner reverts with MedicalRecordSoulbound', async () => {
      await expectRevert(d.recordsAs(patient).write.transferFrom([patient.address, other.address, tokenId]), 'MedicalRecordSoulbound', [
        tokenId,
      ])
    })

    it('transferFrom by anyone else reverts with MedicalRecordSoulbound', async () => {
      await expectRevert(d.recordsAs(other).write.transferFrom([patient.address, other.address, tokenId]), 'MedicalRecordSoulbound', [
        tokenId,
      ])
    })

    it('safeTransferFrom (both overloads) reverts with MedicalRecordSoulbound', async () => {
      await expectRevert(d.recordsAs(patient).write.safeTransferFrom([patient.address, other.address, tokenId]), 'MedicalRecordSoulbound', [
        tokenId,
      ])
      await expectRevert(
        d.recordsAs(patient).write.safeTransferFrom([patient.address, other.address, tokenId, '0xdeadbeef']),
        'MedicalRecordSoulbound',
        [tokenId],
      )
    })

    // approve and setApprovalForAll are declared `pure` (they always revert), so viem types them as
    // reads; send them as real transactions through an untyped ABI to test what a wallet would do.
    function sendAs(account: PrivateKeyAccount, functionName: string, args: readonly unknown[]) {
      return env.wallet(account).writeContract({
        address: d.records.address,
        abi: medicalRecordAbi as Abi,
        functionName,
        args,
      })
    }

    it('approve reverts with MedicalRecordSoulbound', async () => {
      await expectRevert(sendAs(patient, 'approve', [other.address, tokenId]), 'MedicalRecordSoulbound', [tokenId])
      assert.equal(await d.records.read.getApproved([tokenId]), ZERO_ADDRESS)
    })

    it('setApprovalForAll reverts with MedicalRecordSoulbound(0)', async () => {
      await expectRevert(sendAs(patient, 'setApprovalForAll', [other.address, true]), 'MedicalRecordSoulbound', [0n])
      await expectRevert(sendAs(patient, 'setApprovalForAll', [other.address, false]), 'MedicalRecordSoulbound', [0n])
      assert.equal(await d.records.read.isApprovedForAll([patient.address, other.address]), false)
    })

    it('the token stays with the patient', async () => {
      assert.equal(await d.records.read.ownerOf([tokenId]), patient.address)
      assert.equal(await d.records.read.balanceOf([patient.address]), 1n)
      assert.equal(await d.records.read.balanceOf([other.address]), 0n)
    })

    it('locked(tokenId) is true', async () => {
      assert.equal(await d.records.read.locked([tokenId]), true)
    })

    it('locked, recordOf, tokenURI and ownerOf revert for a nonexistent token', async () => {
      const missing = tokenId + 100n
      await expectRevert(d.records.read.locked([missing]), 'ERC721NonexistentToken', [missing])
      await expectRevert(d.records.read.recordOf([missing]), 'ERC721NonexistentToken', [missing])
      await expectRevert(d.records.read.tokenURI([missing]), 'ERC721NonexistentToken', [missing])
      await expectRevert(d.records.read.ownerOf([missing]), 'ERC721NonexistentToken', [missing])
      await expectRevert(d.records.read.locked([0n]), 'ERC721NonexistentToken', [0n])
    })

    it('transferring a nonexistent token does not mint it', async () => {
      const missing = tokenId + 100n
      await expectRevert(d.recordsAs(other).write.transferFrom([patient.address, other.address, missing]), 'MedicalRecordSoulbound', [
        missing,
      ])
      await expectRevert(d.records.read.ownerOf([missing]), 'ERC721NonexistentToken', [missing])
    })
  })

  describe('supportsInterface', () => {
    let d: Deployed
    before(async () => {
      d = await env.deploy()
    })

    const cases: [string, Hex, boolean][] = [
      ['ERC-165', '0x01ffc9a7', true],
      ['ERC-721', '0x80ac58cd', true],
      ['ERC-721 metadata', '0x5b5e139f', true],
      ['ERC-5192', '0xb45a3c0e', true],
      ['ERC-721 enumerable', '0x780e9d63', false],
      ['the invalid id 0xffffffff', '0xffffffff', false],
      ['a random id', '0x12345678', false],
    ]
    for (const [label, id, expected] of cases) {
      it(`${expected ? 'supports' : 'does not support'} ${label} (${id})`, async () => {
        assert.equal(await d.records.read.supportsInterface([id]), expected)
      })
    }
  })

  describe('tokenURI', () => {
    let d: Deployed
    let provider: PrivateKeyAccount
    let patient: PrivateKeyAccount
    let tokenId: bigint
    const tags = patientTags()

    before(async () => {
      d = await env.deploy()
      provider = await registerProvider(env, d, 'St. Mary Hospital')
      patient = await env.newAccount()
      ;({ tokenId } = await mintWithConsent(
        env,
        d,
        provider,
        patient,
        mintRequest(patient.address, { tag: tags.tag('mental-health', Sensitivity.mentalHealth) }),
      ))
    })

    it('is a base64 JSON data URI with the issuer address and status "current", and no category or date', async () => {
      const json = decodeTokenURI(await d.records.read.tokenURI([tokenId]))
      assert.deepEqual(json, {
        name: `medvault record #${tokenId}`,
        description: 'An encrypted medical record held by its patient. Content is off-chain and encrypted.',
        attributes: [
          { trait_type: 'issuer', value: provider.address.toLowerCase() },
          { trait_type: 'status', value: 'current' },
        ],
      })
    })

    it('never contains the commitment or CID digest', async () => {
      const record = await d.issuedOf(tokenId)
      const text = Buffer.from((await d.records.read.tokenURI([tokenId])).split(',')[1]!, 'base64').toString('utf8')
      assert.ok(!text.includes(record.commitment.slice(2)))
      assert.ok(!text.includes(record.cidDigest.slice(2)))
    })

    it("never names the issuer (a clinic's name can say what it treats), whatever the registry holds", async () => {
      await env.mined(d.registryAs(provider).write.updateProfile(['St. Mary Psychiatric Unit', bytes32(7)]))
      const text = Buffer.from((await d.records.read.tokenURI([tokenId])).split(',')[1]!, 'base64').toString('utf8')
      assert.ok(!text.includes('St. Mary'), text)
      assert.ok(!text.includes('mental'), text)
    })

    it('changes the status to "amended" once the record is amended; the correction is "current"', async () => {
      const { tokenId: correction } = await mintWithConsent(
        env,
        d,
        provider,
        patient,
        mintRequest(patient.address, { tag: tags.tag('mental-health', Sensitivity.mentalHealth) }),
        tokenId,
      )
      const oldJson = decodeTokenURI(await d.records.read.tokenURI([tokenId])) as {
        attributes: { trait_type: string; value: unknown }[]
      }
      assert.deepEqual(oldJson.attributes[1], { trait_type: 'status', value: 'amended' })
      const newJson = decodeTokenURI(await d.records.read.tokenURI([correction])) as {
        name: string
        attributes: { trait_type: string; value: unknown }[]
      }
      assert.equal(newJson.name, `medvault record #${correction}`)
      assert.deepEqual(newJson.attributes[1], { trait_type: 'status', value: 'current' })
    })
  })

  describe('encryption keys', () => {
    let d: Deployed
    let account: PrivateKeyAccount
    before(async () => {
      d = await env.deploy()
      account = await env.newAccount()
    })

    it('encryptionKeyOf is zero before any key is set', async () => {
      assert.equal(await d.records.read.encryptionKeyOf([account.address]), ZERO_BYTES32)
    })

    it('setEncryptionKey stores the key and emits EncryptionKeySet', async () => {
      const key = randomBytes32()
      const receipt = await env.mined(d.recordsAs(account).write.setEncryptionKey([key]))
      assert.deepEqual(expectEvent(receipt, medicalRecordAbi, d.records.address, 'EncryptionKeySet'), {
        account: account.address,
        key,
      })
      assert.equal(await d.records.read.encryptionKeyOf([account.address]), key)
    })

    it('a new key replaces the old one, per account', async () => {
      const key = randomBytes32()
      await env.mined(d.recordsAs(account).write.setEncryptionKey([key]))
      assert.equal(await d.records.read.encryptionKeyOf([account.address]), key)
      const someoneElse = await env.newAccount()
      assert.equal(await d.records.read.encryptionKeyOf([someoneElse.address]), ZERO_BYTES32)
    })

    it('refuses a zero key (MedicalRecordInvalidRequest)', async () => {
      const before = await d.records.read.encryptionKeyOf([account.address])
      await expectRevert(d.recordsAs(account).write.setEncryptionKey([ZERO_BYTES32]), 'MedicalRecordInvalidRequest')
      assert.equal(await d.records.read.encryptionKeyOf([account.address]), before)
    })
  })
})
