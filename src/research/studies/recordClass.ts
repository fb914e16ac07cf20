import { medicalRecordAbi } from '../../contracts/index.js'
import { type Category, type RecordsContext, type TagTable, buildTagTable, classOf } from '../../core/index.js'
import { AccessDeniedError, InvalidInputError } from '../../errors.js'
import type { Study } from '../market/index.js'

/**
 * The patient's own tag table, the whole of it: built from the account's tag secret, so it maps
 * every class the patient's records can carry (an account that took over another's records holds
 * that account's secret, so its moved records map too).
 */
export function ownTagTable(patient: { tagSecret: Uint8Array }): TagTable {
  return buildTagTable(patient.tagSecret)
}

/**
 * A record's category as its patient knows it: the tag on chain mapped back with the patient's own
 * table. The ResearchMarket contract cannot tell categories any more (it sees only blinded tags),
 * so this is the check that keeps a record out of a study that did not ask for its category.
 */
export async function ownRecordCategory(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  params: { patient: { address: string }; table: TagTable; tokenId: bigint },
): Promise<{ category: Category; sensitivity: number }> {
  const [owner, tag] = await ctx.publicClient.readContract({
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    functionName: 'accessInfo',
    args: [params.tokenId],
  })
  if (owner.toLowerCase() !== params.patient.address.toLowerCase()) {
    throw new AccessDeniedError(`Record #${params.tokenId} is not this patient's own; only the owner contributes it to a study.`)
  }
  const known = classOf(params.table, tag)
  if (!known) {
    throw new InvalidInputError(`Record #${params.tokenId} carries a category tag this account does not know, so it cannot join a study.`, {
      hint: 'Its issuer tagged it with another key than yours. Ask the issuer to correct the record, and contribute other records meanwhile.',
    })
  }
  return known
}

/** Refuses a record whose category the study does not ask for, with the sentence a patient sees. */
export function requireStudyCategory(study: Pick<Study, 'studyId' | 'categories'>, tokenId: bigint, category: Category): void {
  if (!study.categories.includes(category)) {
    throw new InvalidInputError(`Record #${tokenId} is ${category}; study #${study.studyId} asks for ${study.categories.join(', ')}.`)
  }
}
