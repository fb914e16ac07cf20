import { type Hex, parseEventLogs } from 'viem'
import type { CID } from 'multiformats/cid'
import { writeAndWait } from '../chain/index.js'
import { medicalRecordAbi } from '../contracts/index.js'
import { ChainError } from '../errors.js'
import type { Category } from '../core/index.js'
import type { OnProgress, RecordsContext } from '../core/index.js'
import type { Recipient } from './envelope.js'
import {
  type IssuerAccount,
  type PatientConsent,
  issueTerms,
  mintCall,
  mintConsent,
  preflightMint,
  sealForIssue,
  shareTagsWithIssuer,
  tagForIssue,
} from './issuePipeline.js'
import { type RecordContent, commitContent } from './sealRecord.js'
import { granteesForNewRecord, writeNewRecordSlips } from './writeNewRecordSlips.js'

export type { RecordContent } from './sealRecord.js'
export type { IssuerAccount, PatientConsent, PatientSigner } from './issuePipeline.js'
export { signMintConsent } from './issuePipeline.js'
export { signAttestation } from './sealRecord.js'

export type IssueRecordParameters = {
  /** The issuing provider (an unlocked account): signs and pays, and reads the tags the patient shared with it. */
  issuer: IssuerAccount
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

/**
 * Issues a record: hashes the content, commits to it with a fresh salt, signs the issuer's
 * attestation, seals the envelope for the patient, stores it on IPFS and mints the token to the
 * patient with their consent.
 *
 * @example
 * const { tokenId } = await issueRecord(ctx, { issuer: lab, patient: alice, content: { bytes },
 *   contentType: 'application/fhir+json', category: 'laboratory', consent: { patient: alice } })
 */
export async function issueRecord(ctx: RecordsContext, params: IssueRecordParameters): Promise<IssueRecordReturnType> {
  const { patient, onProgress } = params
  const issuer = params.issuer.chainAccount
  const tag = await tagForIssue(ctx, { ...params, patient: patient.address })
  const terms = issueTerms({ ...params, tag })
  const { sensitivity } = terms

  const committed = await commitContent(params.content, onProgress)
  const { commitment } = committed

  // Consent and a dry run before anything is stored, so a refusal leaves no orphan blob behind.
  const { deadline, consent } = await mintConsent(ctx, { consent: params.consent, issuer: issuer.address, commitment, terms })
  await preflightMint(ctx, { issuer, patient: patient.address, commitment, terms, deadline, consent })
  await shareTagsWithIssuer(ctx, { consent: params.consent, issuer: params.issuer })

  const { request, cid, recordKey } = await sealForIssue(ctx, { issuer, input: params, terms, committed })
  try {
    // Grantees whose category or "all" grants cover this new record get its key now, from the
    // issuer, so they can read it while their grant lasts without the patient being online.
    const grantees = await granteesForNewRecord(ctx, { patient: patient.address, tag })

    onProgress?.({ stage: 'minting' })
    const base = { address: ctx.deployment.records, abi: medicalRecordAbi } as const
    const call = mintCall(terms, request, deadline, consent)
    const receipt =
      call.functionName === 'mint'
        ? await writeAndWait(ctx, issuer, { ...base, functionName: 'mint', args: call.args })
        : await writeAndWait(ctx, issuer, { ...base, functionName: 'amend', args: call.args })
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
