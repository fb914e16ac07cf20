import type { Address } from 'viem'
import type { UnlockedAccount } from '../accounts/index.js'
import { encryptionKeyOf } from '../directory/index.js'
import { type IssueRecordOnceReturnType, issueRecordOnce, operationFault } from '../operations/index.js'
import type { DocumentInput } from '../records/index.js'
import type { ServerDeps } from './context.js'
import { audit } from './http.js'
import { HttpError } from './outcomes.js'

export type IssueForPatientParameters = {
  /** A provider whose keys this server holds. */
  issuer: UnlockedAccount
  patient: Address
  doc: Pick<DocumentInput, 'content' | 'contentType' | 'category' | 'sensitivity'>
  /** The record this one amends. */
  supersedes?: bigint
}

/**
 * Issues one document to a patient under the provider's standing authorisation, for every server
 * entry point (REST `POST /api/records`, FHIR create): the CLI's journaled operation, so a retried
 * request (a lost answer, a timeout, a server restarted mid-way) finishes the first one or returns
 * its record and never mints a second token; audited once, when it did something.
 */
export async function issueForPatient(deps: ServerDeps, params: IssueForPatientParameters): Promise<IssueRecordOnceReturnType> {
  const { issuer, patient, doc, supersedes } = params
  const encryptionPublicKey = await encryptionKeyOf(deps.ctx, patient)
  if (!encryptionPublicKey)
    throw new HttpError(422, 'invalid', 'This patient has not published an encryption key, so no record can be sealed for them.')
  const checkpoint = operationFault(process.env.MEDVAULT_FAULT, supersedes ? 'record-amend' : 'record-add')
  const result = await issueRecordOnce(deps.ctx, {
    issuer,
    patient: { address: patient, encryptionPublicKey },
    content: doc.content,
    contentType: doc.contentType,
    category: doc.category,
    sensitivity: doc.sensitivity,
    consent: { standing: true },
    journalDir: deps.operationsDir,
    ...(checkpoint ? { checkpoint } : {}),
    ...(deps.syncIndex ? { syncIndex: deps.syncIndex } : {}),
    ...(supersedes ? { supersedes } : {}),
  })
  if (result.outcome !== 'done-before')
    await audit(deps, { actor: issuer.address, action: 'issue', tokenId: result.tokenId, patient, outcome: 'allowed' })
  return result
}
