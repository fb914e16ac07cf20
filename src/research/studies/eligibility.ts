import type { UnlockedAccount } from '../../accounts/index.js'
import { MedvaultError } from '../../errors.js'
import type { Category, RecordsContext } from '../../records/index.js'
import type { MarketContext, Study } from '../market/index.js'
import { eligibleResources } from './contribute.js'
import { ownRecordCategory, ownTagTable } from './recordClass.js'

export type RecordEligibility = {
  tokenId: bigint
  /** The record's category from its tag and the patient's own table; the listed one if the tag is not the patient's. */
  category: Category
  eligible: boolean
  /** Why a record does not qualify (the same sentence joining would fail with); absent when it does. */
  reason?: string
}

const isRefusal = (error: unknown) => error instanceof MedvaultError && ['INVALID_INPUT', 'ACCESS_DENIED', 'ERASED'].includes(error.code)

/**
 * Which of a patient's records qualify for a study, one by one, with the reason a record does not:
 * the same checks `joinAndDeliver` makes before anything goes on chain (own, in the study's
 * categories, a FHIR document carrying one of the coded criteria). The category is the one the
 * patient's own tag table gives the record's tag, whatever `records` says. Records are decrypted in
 * memory only. Failures that are not about the record (a chain or store error) are thrown.
 */
export async function recordEligibility(
  ctx: RecordsContext & MarketContext,
  params: { patient: UnlockedAccount; study: Study; records: readonly { tokenId: bigint; category: Category }[] },
): Promise<RecordEligibility[]> {
  const table = ownTagTable(params.patient)
  const out: RecordEligibility[] = []
  for (const { tokenId, category: listed } of params.records) {
    let category = listed
    try {
      ;({ category } = await ownRecordCategory(ctx, { patient: params.patient, table, tokenId }))
    } catch (error) {
      if (!isRefusal(error)) throw error
      out.push({ tokenId, category, eligible: false, reason: (error as Error).message })
      continue
    }
    if (!params.study.categories.includes(category)) {
      out.push({ tokenId, category, eligible: false, reason: `Study #${params.study.studyId} does not ask for ${category} records.` })
      continue
    }
    try {
      await eligibleResources(ctx, { patient: params.patient, study: params.study, tokenIds: [tokenId] })
      out.push({ tokenId, category, eligible: true })
    } catch (error) {
      if (!isRefusal(error)) throw error
      out.push({ tokenId, category, eligible: false, reason: (error as Error).message })
    }
  }
  return out
}
