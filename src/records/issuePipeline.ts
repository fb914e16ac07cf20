/**
 * The steps every way of issuing a record shares, so that issueRecord (one record, sent at once)
 * and issueRecordOnce (one record, journaled) differ only in how the mint transaction is sent:
 * the record's terms (category code, sensitivity with the category's own flag, the record it
 * amends), the patient's consent (an EIP-712 signature, or a standing authorisation), the mint or
 * amend call for those terms, the dry run before anything is stored, and the mint request from a
 * stored ciphertext's CID. A bulk import (src/import) takes the same terms, seal step and mint
 * request, with its consent checked once per batch (`checkStandingAuthorisation`).
 */
import { type Address, type Hex, getAddress } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import type { CID } from 'multiformats/cid'
import { laterOfChainAndWallSeconds, toMedvaultError } from '../chain/index.js'
import { medicalRecordAbi, providerRegistryAbi } from '../contracts/index.js'
import { InvalidInputError, NotAProviderError, StandingAuthorizationError } from '../errors.js'
import {
  type Category,
  type CategoryTag,
  type RecordsContext,
  categoryCode,
  categoryTag,
  mintConsentTypes,
  recordsDomain,
  requiredSensitivity,
} from '../core/index.js'
import { requireTag, shareTagTable } from '../consent/index.js'
import type { OnProgress } from '../core/index.js'
import type { Recipient } from './envelope.js'
import { type ContentCommitment, type MintRequest, type RecordContent, type SealRecordReturnType, sealRecord } from './sealRecord.js'

/** The patient's keys, when at hand: the chain key signs the consent, the tag secret gives the record's tag. */
export type PatientSigner = { address: Address; chainAccount: LocalAccount; tagSecret: Uint8Array }

export type PatientConsent =
  /** The patient's keys are at hand: sign an EIP-712 MintConsent for this one record. */
  | { patient: PatientSigner; validForSeconds?: number }
  /** The patient authorised this provider on chain beforehand (`authorizeProvider`), which shared their tags with it. */
  | { standing: true }

/**
 * The issuing provider's keys: the chain key signs and pays; the encryption seed opens the tag table
 * a patient shared with it (and its public key is what a consenting patient seals that table to).
 */
export type IssuerAccount = {
  address: Address
  chainAccount: LocalAccount
  encryptionSeed: Uint8Array
  encryptionPublicKey: Hex
  tagSecret: Uint8Array
}

/** Signs the patient's consent to one mint (EIP-712 MintConsent) with the patient's current nonce. */
export async function signMintConsent(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  params: {
    patient: LocalAccount
    provider: Address
    commitment: Hex
    tag: CategoryTag
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
      tag: params.tag,
      supersedes: params.supersedes ?? 0n,
      nonce,
      deadline: params.deadline,
    },
  })
}

/**
 * A record's terms: its category code and full sensitivity flags (sealed in the envelope and signed
 * by the issuer, never on chain), the patient's blinded tag for that pair (on chain) and the record
 * it amends.
 */
export type IssueTerms = { category: number; sensitivity: number; tag: CategoryTag; supersedes: bigint }

/**
 * The terms for a category, extra sensitivity flags, the record amended (0: a new record) and the
 * patient's tag of the resulting class (from {@link tagForIssue}, or an archive's {@link NO_TAG}).
 */
export function issueTerms(params: {
  category: Category
  sensitivity?: number | undefined
  supersedes?: bigint | undefined
  tag: CategoryTag
}): IssueTerms {
  return {
    category: categoryCode(params.category),
    sensitivity: fullSensitivity(params.category, params.sensitivity),
    tag: params.tag,
    supersedes: params.supersedes ?? 0n,
  }
}

/** A record's full sensitivity flags: the extra ones asked for and the category's own. */
export function fullSensitivity(category: Category, sensitivity?: number | undefined): number {
  return (sensitivity ?? 0) | requiredSensitivity(category)
}

/**
 * The tag an archived record's attestation carries: archives are never minted, so their records
 * have no tag on chain, and the issuer that seals them was never given the patients' tags. The
 * contract refuses a zero tag, so an archived envelope can never pass as a token's content.
 */
export const NO_TAG: CategoryTag = '0x0000000000000000'

/**
 * The patient's tag of a record of `category` with these extra sensitivity flags: computed with the
 * patient's tag secret when they consent now, else read from the table the patient shared with the
 * issuer when they authorised it (MissingTagsError when they never did).
 */
export async function tagForIssue(
  ctx: Pick<RecordsContext, 'tagTables'>,
  params: { issuer: IssuerAccount; patient: Address; consent: PatientConsent; category: Category; sensitivity?: number | undefined },
): Promise<CategoryTag> {
  const sensitivity = fullSensitivity(params.category, params.sensitivity)
  if ('patient' in params.consent) return categoryTag(params.consent.patient.tagSecret, params.category, sensitivity)
  return requireTag(ctx, { patient: params.patient, reader: params.issuer, category: categoryCode(params.category), sensitivity })
}

/**
 * After a consented issue passed its dry run: the patient seals their whole tag table to the
 * issuer, as authorising it would, so the issuer can list the records it gave them (and issue more
 * once authorised). Not before the dry run: a refused issue shares nothing. A home that keeps no
 * tag tables, or a patient issuing to themself, has nothing to share.
 */
export async function shareTagsWithIssuer(
  ctx: Pick<RecordsContext, 'tagTables'>,
  params: { consent: PatientConsent; issuer: Pick<IssuerAccount, 'address' | 'encryptionPublicKey'> },
): Promise<void> {
  if (!('patient' in params.consent) || !ctx.tagTables) return
  const { patient } = params.consent
  if (getAddress(patient.address) === getAddress(params.issuer.address)) return
  await shareTagTable(ctx.tagTables, {
    patient: getAddress(patient.address),
    tagSecret: patient.tagSecret,
    reader: getAddress(params.issuer.address),
    readerPublicKey: params.issuer.encryptionPublicKey,
  })
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
    tag: params.terms.tag,
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
    patient: params.consent.patient.chainAccount,
    provider: params.issuer,
    commitment: params.commitment,
    tag: params.terms.tag,
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
    tag: params.terms.tag,
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
