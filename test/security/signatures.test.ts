/**
 * Signatures and authority on chain, on a real anvil with two deployments of the contracts: an
 * EIP-712 signature made for one deployment or chain must not land on another, a consent cannot be
 * used twice, and nobody but the right party mints, grants, amends or erases. Each test names the
 * mechanism it depends on; without that mechanism it fails.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Address, type Hex, getAddress, getContract } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { consentRegistryAbi } from '../../src/contracts/index.js'
import { TamperedRecordError } from '../../src/errors.js'
import { recordAttestationTypes, recordsDomain } from '../../src/core/attestation.js'
import { checkAttestation } from '../../src/records/checkAttestation.js'
import {
  DEFAULT_TAG,
  type Deployed,
  type Env,
  type MintRequest,
  expectRevert,
  mintRequest,
  mintWithConsent,
  registerProvider,
  signMintConsent,
  startEnv,
} from '../contracts/fixture.js'

describe('security: EIP-712 signatures and on-chain authority (two deployments on one anvil)', () => {
  let env: Env
  let a: Deployed
  let b: Deployed
  let provider: PrivateKeyAccount
  let patient: PrivateKeyAccount

  before(async () => {
    env = await startEnv()
    a = await env.deploy()
    b = await env.deploy()
    provider = await registerProvider(env, a)
    // The same provider is active in the second deployment too, so only the signature's domain can tell them apart.
    await env.mined(b.registry.write.register([provider.address, 'Lab A', `0x${'11'.repeat(32)}`]))
    patient = await env.newAccount()
  })
  after(() => env?.stop())

  /** A consent of `patient` for `provider` to mint `request`, signed for `domain`. */
  async function consentFor(d: Deployed, request: MintRequest, domain: { chainId: number; verifyingContract: Address }) {
    const deadline = (await env.latestTimestamp()) + 3600n
    const nonce = await d.records.read.nonces([patient.address])
    const consent = await signMintConsent(patient, domain, {
      patient: patient.address,
      provider: provider.address,
      commitment: request.commitment,
      tag: request.tag,
      supersedes: 0n,
      nonce,
      deadline,
    })
    return { deadline, consent }
  }

  describe('the patient consent to a mint (MedicalRecord MintConsent)', () => {
    // Mechanism: the EIP-712 domain's verifyingContract (OZ EIP712, _hashTypedDataV4).
    it('a consent signed for one deployment does not land on another', async () => {
      const request = mintRequest(patient.address)
      const { deadline, consent } = await consentFor(a, request, { chainId: env.chainId, verifyingContract: a.records.address })
      await expectRevert(b.recordsAs(provider).write.mint([request, deadline, consent]), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
      // The same signature is good where it was made for.
      await env.mined(a.recordsAs(provider).write.mint([request, deadline, consent]))
    })

    // Mechanism: the EIP-712 domain's chainId.
    it('a consent signed for another chain id does not land', async () => {
      const request = mintRequest(patient.address)
      const { deadline, consent } = await consentFor(a, request, { chainId: env.chainId + 1, verifyingContract: a.records.address })
      await expectRevert(a.recordsAs(provider).write.mint([request, deadline, consent]), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
    })

    // Mechanism: the per-patient nonce in the signed message, used up by the mint (OZ Nonces._useNonce).
    it('a consent cannot be replayed on the deployment it was made for', async () => {
      const request = mintRequest(patient.address)
      const { deadline, consent } = await consentFor(a, request, { chainId: env.chainId, verifyingContract: a.records.address })
      await env.mined(a.recordsAs(provider).write.mint([request, deadline, consent]))
      await expectRevert(a.recordsAs(provider).write.mint([request, deadline, consent]), 'MedicalRecordInvalidConsent', [
        patient.address,
        provider.address,
      ])
    })
  })

  describe("the issuer's attestation inside a record (RecordAttestation, checked off chain)", () => {
    const attested = async (domain: { chainId: number; records: Address }) => {
      const message = {
        patient: patient.address,
        commitment: `0x${'ab'.repeat(32)}` as Hex,
        category: 0,
        sensitivity: 0,
        tag: DEFAULT_TAG,
        supersedes: 0n,
      }
      const attestation = await provider.signTypedData({
        domain: recordsDomain(domain.chainId, domain.records),
        types: recordAttestationTypes,
        primaryType: 'RecordAttestation',
        message,
      })
      const record = {
        tokenId: 1n,
        commitment: message.commitment,
        issuer: getAddress(provider.address),
        tag: DEFAULT_TAG,
        supersedes: 0n,
      }
      const meta = {
        v: 1 as const,
        contentType: 'application/fhir+json',
        size: 1,
        sha256: '0x',
        salt: '0x',
        patient: patient.address,
        issuer: provider.address,
        category: 0,
        sensitivity: 0,
        tag: DEFAULT_TAG,
        supersedes: '0',
        attestation,
      }
      return { record, meta }
    }
    const deploymentOf = (d: Deployed, chainId = env.chainId) => ({
      deployment: { ...d, chainId, records: d.records.address, registry: d.registry.address },
    })

    // Mechanism: checkAttestation recovers over recordsDomain(chainId, records) of the deployment being read.
    it('an attestation made for one deployment is refused on another, and on another chain id', async () => {
      const { record, meta } = await attested({ chainId: env.chainId, records: a.records.address })
      await checkAttestation(deploymentOf(a) as never, record, meta)
      await assert.rejects(checkAttestation(deploymentOf(b) as never, record, meta), (e: unknown) => {
        assert.ok(e instanceof TamperedRecordError)
        assert.match(e.message, /issuer signature .* is not valid for this token/)
        return true
      })
      await assert.rejects(checkAttestation(deploymentOf(a, env.chainId + 1) as never, record, meta), TamperedRecordError)
    })
  })

  describe('unauthorised changes are refused on chain', () => {
    // Mechanism: _checkIssuer (registry.isActive(msg.sender)) in every mint path.
    it('a mint by an unregistered account, and by a suspended provider, with a valid patient consent', async () => {
      const stranger = await env.newAccount()
      const request = mintRequest(patient.address)
      const deadline = (await env.latestTimestamp()) + 3600n
      const nonce = await a.records.read.nonces([patient.address])
      const signed = (by: Address) =>
        signMintConsent(
          patient,
          { chainId: env.chainId, verifyingContract: a.records.address },
          {
            patient: patient.address,
            provider: by,
            commitment: request.commitment,
            tag: request.tag,
            supersedes: 0n,
            nonce,
            deadline,
          },
        )
      await expectRevert(
        a.recordsAs(stranger).write.mint([request, deadline, await signed(stranger.address)]),
        'MedicalRecordInactiveIssuer',
        [stranger.address],
      )
      const suspended = await registerProvider(env, a, 'Suspended Lab')
      await env.mined(a.registry.write.suspend([suspended.address]))
      await expectRevert(
        a.recordsAs(suspended).write.mint([request, deadline, await signed(suspended.address)]),
        'MedicalRecordInactiveIssuer',
        [suspended.address],
      )
      await expectRevert(a.recordsAs(suspended).write.mintBatch([[request]]), 'MedicalRecordInactiveIssuer', [suspended.address])
    })

    // Mechanism: ConsentRegistry._checkGrantor (the patient or their delegate only).
    it('a grant on a patient’s records by someone else', async () => {
      const { tokenId } = await mintWithConsent(env, a, provider, patient, mintRequest(patient.address))
      const mallory = await env.newAccount()
      const consent = getContract({
        address: a.consent,
        abi: consentRegistryAbi,
        client: { public: env.publicClient, wallet: env.wallet(mallory) },
      })
      const expiresAt = Number((await env.latestTimestamp()) + 3600n)
      const terms = { patient: patient.address, grantee: mallory.address, expiresAt, purpose: 0, tags: [] }
      await expectRevert(consent.write.grant([{ ...terms, scope: 0, tokenIds: [tokenId] }]), 'ConsentUnauthorized', [
        mallory.address,
        patient.address,
      ])
      // The provider that issued the record may not share it either.
      const asProvider = getContract({
        address: a.consent,
        abi: consentRegistryAbi,
        client: { public: env.publicClient, wallet: env.wallet(provider) },
      })
      await expectRevert(asProvider.write.grant([{ ...terms, grantee: provider.address, scope: 2, tokenIds: [] }]), 'ConsentUnauthorized', [
        provider.address,
        patient.address,
      ])
    })

    // Mechanism: MedicalRecord.amend requires the caller to be the record's issuer (MedicalRecordNotIssuer).
    it("an amendment by another provider, even with the patient's consent or standing authorisation", async () => {
      const { tokenId } = await mintWithConsent(env, a, provider, patient, mintRequest(patient.address))
      const other = await registerProvider(env, a, 'Other Lab')
      const correction = mintRequest(patient.address)
      const deadline = (await env.latestTimestamp()) + 3600n
      const nonce = await a.records.read.nonces([patient.address])
      const consent = await signMintConsent(
        patient,
        { chainId: env.chainId, verifyingContract: a.records.address },
        {
          patient: patient.address,
          provider: other.address,
          commitment: correction.commitment,
          tag: correction.tag,
          supersedes: tokenId,
          nonce,
          deadline,
        },
      )
      await expectRevert(a.recordsAs(other).write.amend([tokenId, correction, deadline, consent]), 'MedicalRecordNotIssuer', [
        tokenId,
        other.address,
      ])
      const until = (await env.latestTimestamp()) + 3600n
      await env.mined(a.recordsAs(patient).write.authorizeProvider([other.address, until]))
      await expectRevert(a.recordsAs(other).write.amend([tokenId, correction, 0n, '0x']), 'MedicalRecordNotIssuer', [
        tokenId,
        other.address,
      ])
      // The issuer itself may still correct it.
      await mintWithConsent(env, a, provider, patient, mintRequest(patient.address), tokenId)
    })

    // Mechanism: MedicalRecord._erase requires ownerOf(tokenId) == msg.sender.
    it('an erasure by anyone but the patient: the issuer, a stranger', async () => {
      const { tokenId } = await mintWithConsent(env, a, provider, patient, mintRequest(patient.address))
      const stranger = await env.newAccount()
      for (const caller of [provider, stranger]) {
        await expectRevert(a.recordsAs(caller).write.erase([tokenId]), 'MedicalRecordNotOwner', [tokenId, caller.address])
      }
      assert.equal(await a.records.read.erasedAt([tokenId]), 0)
    })
  })
})
