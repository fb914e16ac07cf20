/**
 * The steps every way of issuing a record shares, so that issueRecord (one record, sent at once)
 * and issueRecordOnce (one record, journaled) differ only in how the mint transaction is sent:
 * the record's terms (category code, sensitivity with the category's own flag, the record it
 * amends), the patient's consent (an EIP-712 signature, or a standing authorisation), the mint or
 * amend call for those terms, the dry run before anything is stored, and the mint request from a
 * stored ciphertext's CID. A bulk import (src/import) takes the same terms, seal step and mint
 * request, with its consent checked once per batch (`checkStandingAuthorisation`).
 */
import type { Address, Hex } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import type { CID } from 'multiformats/cid'
import { laterOfChainAndWallSeconds, toMedvaultError } from '../chain/index.js'
import { medicalRecordAbi, providerRegistryAbi } from '../contracts/index.js'
import { InvalidInputError, NotAProviderError, StandingAuthorizationError } from '../errors.js'
import { type Category, type RecordsContext, categoryCode, mintConsentTypes, recordsDomain, requiredSensitivity } from '../core/index.js'
import type { OnProgress } from '../core/index.js'
import type { Recipient } from './envelope.js'
import { type ContentCommitment, type MintRequest, type RecordContent, type SealRecordReturnType, sealRecord } from './sealRecord.js'

export type PatientConsent =
  /** The patient's key is at hand: sign an EIP-712 MintConsent for this one record. */
  | { patient: LocalAccount; validForSeconds?: number }
  /** The patient authorised this provider on chain beforehand (`authorizeProvider`). */
  | { standing: true }

/** Signs the patient's consent to one mint (EIP-712 MintConsent) with the patient's current nonce. */
export async function signMintConsent(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  params: {
    patient: LocalAccount
    provider: Address
    commitment: Hex
    category: number
    sensitivity: number
    supersedes?: bigint
    deadline: bigint
  },
): Promise<Hex> {
  if (!params.patient.signTypedData) throw new InvalidInputError('The patient account cannot sign typed data.')
  const nonce = await ctx.publicClient.readContract({
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    functionName: 'nonces',
    args: [params.patient.address],
  })
  return params.patient.signTypedData({
    domain: recordsDomain(ctx.deployment.chainId, ctx.deployment.records),
    types: mintConsentTypes,
    primaryType: 'MintConsent',
    message: {
      patient: params.patient.address,
      provider: params.provider,
      commitment: params.commitment,
      category: params.category,
      sensitivity: params.sensitivity,
      supersedes: params.supersedes ?? 0n,
      nonce,
      deadline: params.deadline,
    },
  })
}

/** A record's on-chain terms. */
export type IssueTerms = { category: number; sensitivity: number; supersedes: bigint }

/** The terms for a category, extra sensitivity flags and the record amended (0: a new record). */
export function issueTerms(params: { category: Category; sensitivity?: number | undefined; supersedes?: bigint | undefined }): IssueTerms {
  return {
    category: categoryCode(params.category),
    sensitivity: (params.sensitivity ?? 0) | requiredSensitivity(params.category),
    supersedes: params.supersedes ?? 0n,
  }
}

/** The MedicalRecord call that issues a record with these terms: `mint`, or `amend` for a correction. */
export function mintCall(terms: Pick<IssueTerms, 'supersedes'>, request: MintRequest, deadline: bigint, consent: Hex) {
  return terms.supersedes === 0n
    ? ({ functionName: 'mint', args: [request, deadline, consent] } as const)
    : ({ functionName: 'amend', args: [terms.supersedes, request, deadline, consent] } as const)
}

/** The mint request for a ciphertext stored at `cid`. */
export function mintRequestFor(params: { patient: MintRequest['patient']; commitment: Hex; cid: CID; terms: IssueTerms }): MintRequest {
  return {
    patient: params.patient,
    commitment: params.commitment,
    cidDigest: `0x${Buffer.from(params.cid.multihash.digest).toString('hex')}`,
    cidCodec: params.cid.code,
    category: params.terms.category,
    sensitivity: params.terms.sensitivity,
  }
}

/**
 * The patient's consent to the mint: signed now (it carries the patient's nonce, so it is signed
 * afresh for each transaction), or nothing under a standing authorisation.
 */
export async function mintConsent(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  params: { consent: PatientConsent; issuer: LocalAccount['address']; commitment: Hex; terms: IssueTerms },
): Promise<{ deadline: bigint; consent: Hex }> {
  if (!('patient' in params.consent)) return { deadline: 0n, consent: '0x' }
  // On the chain's clock too: a dev chain moved forward by days would find a wall-clock deadline past.
  const deadline = (await laterOfChainAndWallSeconds(ctx.publicClient)) + BigInt(params.consent.validForSeconds ?? 3600)
  const consent = await signMintConsent(ctx, {
    patient: params.consent.patient,
    provider: params.issuer,
    commitment: params.commitment,
    category: params.terms.category,
    sensitivity: params.terms.sensitivity,
    supersedes: params.terms.supersedes,
    deadline,
  })
  return { deadline, consent }
}

/**
 * Dry-runs the mint with a placeholder content address before anything is stored: an inactive
 * issuer, a refused consent or bad fields are refused here and leave no orphan ciphertext behind.
 */
export async function preflightMint(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  params: { issuer: LocalAccount; patient: MintRequest['patient']; commitment: Hex; terms: IssueTerms; deadline: bigint; consent: Hex },
): Promise<void> {
  const placeholder: MintRequest = {
    patient: params.patient,
    commitment: params.commitment,
    cidDigest: `0x${'11'.repeat(32)}`,
    cidCodec: 0x55,
    category: params.terms.category,
    sensitivity: params.terms.sensitivity,
  }
  try {
    await ctx.publicClient.simulateContract({
      account: params.issuer,
      address: ctx.deployment.records,
      abi: medicalRecordAbi,
      ...mintCall(params.terms, placeholder, params.deadline, params.consent),
    } as never)
  } catch (error) {
    throw toMedvaultError(error)
  }
}

/** What a record to issue is, as every entry point gives it (before its terms are resolved). */
export type IssueInput = {
  patient: Recipient
  content: RecordContent
  contentType: string
  onProgress?: OnProgress | undefined
}

/**
 * The seal step: the record's content, committed to by `committed`, sealed for the patient under
 * the resolved `terms`, signed by the issuer and stored.
 */
export function sealForIssue(
  ctx: Pick<RecordsContext, 'deployment' | 'store'>,
  params: { issuer: LocalAccount; input: IssueInput; terms: IssueTerms; committed: ContentCommitment },
): Promise<SealRecordReturnType> {
  const { input } = params
  return sealRecord(ctx, {
    issuer: params.issuer,
    patient: input.patient,
    content: input.content,
    contentType: input.contentType,
    ...params.terms,
    committed: params.committed,
    ...(input.onProgress ? { onProgress: input.onProgress } : {}),
  })
}

/**
 * The consent step of a batch under a standing authorisation: the issuer is an active provider and
 * the patient's authorisation of it has not ended. Checked before anything new is sealed or sent,
 * since a batch has no per-record consent to dry-run.
 */
export async function checkStandingAuthorisation(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  params: { issuer: Address; patient: Address },
): Promise<void> {
  const { issuer, patient } = params
  try {
    const [active, until, block] = await Promise.all([
      ctx.publicClient.readContract({
        address: ctx.deployment.registry,
        abi: providerRegistryAbi,
        functionName: 'isActive',
        args: [issuer],
      }),
      ctx.publicClient.readContract({
        address: ctx.deployment.records,
        abi: medicalRecordAbi,
        functionName: 'authorizationOf',
        args: [patient, issuer],
      }),
      ctx.publicClient.getBlock({ blockTag: 'latest' }),
    ])
    if (!active) {
      throw new NotAProviderError(`${issuer} is not an active provider in the registry, so it cannot issue records.`, {
        hint: 'Ask the registrar to register or reinstate it (`medvault provider register|reinstate`).',
      })
    }
    if (BigInt(until) < block.timestamp) {
      throw new StandingAuthorizationError(
        `${patient} has not authorised ${issuer} to issue records to them${until > 0n ? ' any more (the authorisation ended)' : ''}; an import needs that standing authorisation.`,
        { hint: 'The patient runs `medvault provider authorize PROVIDER --as PATIENT` first.' },
      )
    }
  } catch (error) {
    throw toMedvaultError(error)
  }
}
