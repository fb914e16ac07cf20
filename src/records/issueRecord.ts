import { type Address, type Hex, parseEventLogs } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import type { CID } from 'multiformats/cid'
import { toMedvaultError, writeAndWait } from '../chain/index.js'
import { medicalRecordAbi } from '../contracts/index.js'
import { ChainError, InvalidInputError } from '../errors.js'
import { mintConsentTypes, recordsDomain, type Category, categoryCode, requiredSensitivity } from '../core/index.js'
import type { OnProgress, RecordsContext } from '../core/index.js'
import type { Recipient } from './envelope.js'
import { type RecordContent, commitContent, sealRecord } from './sealRecord.js'
import { granteesForNewRecord, writeNewRecordSlips } from './writeNewRecordSlips.js'

export type { RecordContent } from './sealRecord.js'
export { signAttestation } from './sealRecord.js'

export type PatientConsent =
  /** The patient's key is at hand: sign an EIP-712 MintConsent for this one record. */
  | { patient: LocalAccount; validForSeconds?: number }
  /** The patient authorised this provider on chain beforehand (`authorizeProvider`). */
  | { standing: true }

export type IssueRecordParameters = {
  issuer: LocalAccount
  patient: Recipient
  content: RecordContent
  contentType: string
  category: Category
  /** Extra sensitivity flags; the category's own flag is always added. */
  sensitivity?: number
  consent: PatientConsent
  /** Token this record corrects (amendment). */
  supersedes?: bigint
  onProgress?: OnProgress
}

export type IssueRecordReturnType = {
  tokenId: bigint
  cid: CID
  commitment: Hex
  txHash: Hex
  gasUsed: bigint
}

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

/**
 * Issues a record: hashes the content, commits to it with a fresh salt, signs the issuer's
 * attestation, seals the envelope for the patient, stores it on IPFS and mints the token to the
 * patient with their consent.
 *
 * @example
 * const { tokenId } = await issueRecord(ctx, { issuer: lab.chainAccount, patient: alice, content: { bytes },
 *   contentType: 'application/fhir+json', category: 'laboratory', consent: { patient: alice.chainAccount } })
 */
export async function issueRecord(ctx: RecordsContext, params: IssueRecordParameters): Promise<IssueRecordReturnType> {
  const { issuer, patient, onProgress } = params
  const category = categoryCode(params.category)
  const sensitivity = (params.sensitivity ?? 0) | requiredSensitivity(params.category)
  const supersedes = params.supersedes ?? 0n

  const committed = await commitContent(params.content, onProgress)
  const { commitment } = committed

  // Ask for consent before storing anything, so a refusal leaves no orphan blob behind.
  let deadline = 0n
  let consent: Hex = '0x'
  if ('patient' in params.consent) {
    deadline = BigInt(Math.floor(Date.now() / 1000) + (params.consent.validForSeconds ?? 3600))
    consent = await signMintConsent(ctx, {
      patient: params.consent.patient,
      provider: issuer.address,
      commitment,
      category,
      sensitivity,
      supersedes,
      deadline,
    })
  }

  // Dry-run the mint with a placeholder address before storing anything: an inactive issuer, a bad
  // consent or bad fields are refused here and leave no orphan ciphertext behind.
  const base = { account: issuer, address: ctx.deployment.records, abi: medicalRecordAbi } as const
  const preflight = {
    patient: patient.address,
    commitment,
    cidDigest: `0x${'11'.repeat(32)}` as Hex,
    cidCodec: 0x55,
    category,
    sensitivity,
  }
  try {
    if (supersedes === 0n) await ctx.publicClient.simulateContract({ ...base, functionName: 'mint', args: [preflight, deadline, consent] })
    else await ctx.publicClient.simulateContract({ ...base, functionName: 'amend', args: [supersedes, preflight, deadline, consent] })
  } catch (error) {
    throw toMedvaultError(error)
  }

  const { request, cid, recordKey } = await sealRecord(ctx, {
    issuer,
    patient,
    content: params.content,
    contentType: params.contentType,
    category,
    sensitivity,
    supersedes,
    committed,
    ...(onProgress ? { onProgress } : {}),
  })
  try {
    // Grantees whose category or "all" grants cover this new record get its key now, from the
    // issuer, so they can read it while their grant lasts without the patient being online.
    const grantees = await granteesForNewRecord(ctx, { patient: patient.address, category, sensitivity })

    onProgress?.({ stage: 'minting' })
    const receipt =
      supersedes === 0n
        ? await writeAndWait(ctx, issuer, { ...base, functionName: 'mint', args: [request, deadline, consent] })
        : await writeAndWait(ctx, issuer, { ...base, functionName: 'amend', args: [supersedes, request, deadline, consent] })
    const [issued] = parseEventLogs({ abi: medicalRecordAbi, logs: receipt.logs, eventName: 'RecordIssued' })
    if (!issued) throw new ChainError('The mint transaction emitted no RecordIssued event.')
    const minted = { tokenId: issued.args.tokenId, txHash: receipt.transactionHash, gasUsed: receipt.gasUsed }

    await writeNewRecordSlips(ctx, {
      issuer: issuer.address,
      recordKey,
      tokenId: minted.tokenId,
      cid: cid.toString(),
      sensitivity,
      grantees,
    })
    return { ...minted, cid, commitment }
  } finally {
    recordKey.fill(0)
  }
}
