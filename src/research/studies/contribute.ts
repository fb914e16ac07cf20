import type { Bundle, Resource } from '@medplum/fhirtypes'
import type { Hex } from 'viem'
import type { CID } from 'multiformats/cid'
import type { UnlockedAccount } from '../../accounts/index.js'
import { encryptionKeyOf } from '../../directory/index.js'
import { AccessDeniedError, ChainError, InvalidInputError, NotFoundError } from '../../errors.js'
import { parseFhirResource } from '../../fhir/index.js'
import { readRecord, type RecordsContext } from '../../records/index.js'
import { deidentifyResources, toNdjson } from '../deid/index.js'
import { deliver, getContribution, getStudy, joinStudy, type MarketContext, type Study } from '../market/index.js'
import { sealDataset, studyPseudonymKey } from './dataset.js'
import { meetsCriteria, studyCriteria } from './protocol.js'
import { ownRecordCategory, ownTagTable, requireStudyCategory } from './recordClass.js'

type Ctx = RecordsContext & MarketContext

export type PreparedDataset = { cid: CID; commitment: Hex; resources: number; pseudonym: string }

/**
 * Checks the records against the study off chain: the patient's own, in one of the study's
 * categories, and (when the study has coded criteria) each carrying one of the codings. Returns
 * the records' FHIR resources, decrypted in memory only.
 *
 * The category check is the only one there is: the market contract sees a record's blinded tag,
 * not its category, so it would take any of the patient's records. The category comes from the tag
 * on chain and the patient's own tag table, before anything is decrypted.
 */
export async function eligibleResources(ctx: Ctx, params: { patient: UnlockedAccount; study: Study; tokenIds: readonly bigint[] }) {
  if (params.tokenIds.length === 0) throw new InvalidInputError('Name at least one record to contribute.', { hint: 'e.g. --records 1,2,3' })
  const table = ownTagTable(params.patient)
  for (const tokenId of params.tokenIds) {
    const { category } = await ownRecordCategory(ctx, { patient: params.patient, table, tokenId })
    requireStudyCategory(params.study, tokenId, category)
  }
  const criteria = await studyCriteria(ctx.store, params.study.protocolCid, params.study.criteriaHash)
  const resources: { resource: Resource }[] = []
  for (const tokenId of params.tokenIds) {
    const { record, bytes } = await readRecord(ctx, { tokenId, reader: params.patient })
    if (record.owner !== params.patient.address) {
      throw new AccessDeniedError(`Record #${tokenId} is not this patient's own; only the owner contributes it to a study.`)
    }
    let resource: Resource
    try {
      resource = parseFhirResource(bytes)
    } catch {
      throw new InvalidInputError(`Record #${tokenId} is not a FHIR document, so it cannot be de-identified for a study.`)
    }
    if (!meetsCriteria(resource, criteria)) {
      throw new InvalidInputError(`Record #${tokenId} does not meet study #${params.study.studyId}'s coded criteria.`, {
        hint: 'Contribute only records carrying one of the codes its protocol lists (`medvault study list --json` shows its protocol CID).',
      })
    }
    const entries =
      resource.resourceType === 'Bundle' ? ((resource as Bundle).entry ?? []).flatMap((e) => (e.resource ? [e.resource] : [])) : [resource]
    for (const r of entries) resources.push({ resource: r })
  }
  return resources.map((r) => r.resource)
}

/**
 * The patient's side of a delivery: the records decrypted in memory, de-identified (Safe Harbor,
 * the patient's stable study pseudonym), as NDJSON sealed to the researcher's published key and
 * stored. Nothing in plaintext touches the disk.
 */
export async function prepareDataset(
  ctx: Ctx,
  params: { patient: UnlockedAccount; study: Study; tokenIds: readonly bigint[] },
): Promise<PreparedDataset> {
  const researcherKey = await encryptionKeyOf(ctx, params.study.researcher)
  if (!researcherKey) {
    throw new NotFoundError(
      `The researcher ${params.study.researcher} has not published an encryption key, so no dataset can be sealed for it.`,
      {
        hint: 'The researcher runs `medvault account publish NAME` first.',
      },
    )
  }
  const resources = await eligibleResources(ctx, params)
  const result = deidentifyResources(resources, {
    pseudonymKey: studyPseudonymKey(params.patient.encryptionSeed),
    studyId: params.study.studyId.toString(),
  })
  const ndjson = Buffer.from(toNdjson(result.resources))
  const { cid, commitment } = await sealDataset(ctx.store, {
    ndjson,
    patient: params.patient.address,
    researcher: { address: params.study.researcher, encryptionPublicKey: researcherKey },
  })
  return { cid, commitment, resources: result.resources.length, pseudonym: result.pseudonym }
}

export type JoinStudyReturnType = {
  studyId: bigint
  contributionId: bigint
  amount: bigint
  joinTxHash: Hex
  /** Absent with `deliver: false`. */
  delivery?: PreparedDataset & { txHash: Hex }
}

/**
 * Joins a study with some of the patient's records and, unless `deliver` is false, delivers their
 * de-identified dataset in the same run: there is no grace period after the deadline, so the
 * dataset is prepared and stored before joining, and the join is followed at once by delivery.
 */
export async function joinAndDeliver(
  ctx: Ctx,
  params: { patient: UnlockedAccount; studyId: bigint; tokenIds: readonly bigint[]; deliver?: boolean },
): Promise<JoinStudyReturnType> {
  const study = await getStudy(ctx, params.studyId)
  if (study.state !== 'open') {
    throw new InvalidInputError(`Study #${study.studyId} is ${study.state}; it takes no new patients.`, {
      hint: 'List open studies with `medvault study list`.',
    })
  }
  const prepared = params.deliver === false ? undefined : await prepareDataset(ctx, { ...params, study })
  if (!prepared) await eligibleResources(ctx, { ...params, study })
  const joined = await joinStudy(ctx, { patient: params.patient.chainAccount, studyId: study.studyId, tokenIds: params.tokenIds })
  const result: JoinStudyReturnType = {
    studyId: study.studyId,
    contributionId: joined.contributionId,
    amount: joined.amount,
    joinTxHash: joined.txHash,
  }
  if (prepared) {
    // The join is on chain already: a failed delivery must say which contribution to deliver again.
    const delivered = await deliver(ctx, {
      patient: params.patient.chainAccount,
      contributionId: joined.contributionId,
      datasetCid: prepared.cid,
      datasetCommitment: prepared.commitment,
    }).catch((cause: unknown) => {
      throw new ChainError(
        `Joined study #${study.studyId} as contribution #${joined.contributionId}, but the delivery failed: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause, hint: `Run \`medvault study deliver ${joined.contributionId} --as PATIENT\` before the deadline to be paid.` },
      )
    })
    result.delivery = { ...prepared, txHash: delivered.txHash }
  }
  return result
}

/** Delivers a contribution joined earlier (`joinAndDeliver` with `deliver: false`). */
export async function deliverContribution(
  ctx: Ctx,
  params: { patient: UnlockedAccount; contributionId: bigint },
): Promise<PreparedDataset & { amount: bigint; txHash: Hex }> {
  const contribution = await getContribution(ctx, params.contributionId)
  if (contribution.status !== 'reserved') {
    throw new InvalidInputError(
      `Contribution #${contribution.contributionId} is ${contribution.status}; only a reserved one can be delivered.`,
    )
  }
  const study = await getStudy(ctx, contribution.studyId)
  const prepared = await prepareDataset(ctx, { patient: params.patient, study, tokenIds: contribution.tokenIds })
  const delivered = await deliver(ctx, {
    patient: params.patient.chainAccount,
    contributionId: contribution.contributionId,
    datasetCid: prepared.cid,
    datasetCommitment: prepared.commitment,
  })
  return { ...prepared, amount: delivered.amount, txHash: delivered.txHash }
}
