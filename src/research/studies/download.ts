import type { Resource } from '@medplum/fhirtypes'
import type { CID } from 'multiformats/cid'
import type { Address } from 'viem'
import type { UnlockedAccount } from '../../accounts/index.js'
import { AccessDeniedError } from '../../errors.js'
import type { RecordsContext } from '../../records/index.js'
import { DEFAULT_K, type KAnonymityReport, kAnonymityReport } from '../deid/index.js'
import { getStudy, listDeliveries, type MarketReadContext } from '../market/index.js'
import { openDataset } from './dataset.js'

export type StudyDownload = {
  studyId: bigint
  deliveries: { contributionId: bigint; patient: Address; datasetCid: CID; resources: number }[]
  /** Every delivery's NDJSON, concatenated in delivery order (in memory; the caller decides where it goes). */
  ndjson: Buffer
  resources: number
  kAnonymity: KAnonymityReport
}

/**
 * Fetches every dataset delivered to a study, opens each with the researcher's key, checks it
 * against the patient's on-chain commitment, and reports the k-anonymity of the whole.
 */
export async function downloadStudy(
  ctx: Pick<RecordsContext, 'store'> & MarketReadContext,
  params: { researcher: UnlockedAccount; studyId: bigint; k?: number },
): Promise<StudyDownload> {
  const study = await getStudy(ctx, params.studyId)
  if (study.researcher !== params.researcher.address) {
    throw new AccessDeniedError(`Study #${study.studyId} is ${study.researcher}'s; its datasets are sealed to that researcher only.`)
  }
  const parts: Buffer[] = []
  const all: Resource[] = []
  const deliveries: StudyDownload['deliveries'] = []
  for (const d of await listDeliveries(ctx, { studyId: study.studyId })) {
    const ndjson = await openDataset(ctx.store, {
      cid: d.datasetCid,
      commitment: d.datasetCommitment,
      patient: d.patient,
      reader: params.researcher,
    })
    const lines = ndjson
      .toString('utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
    for (const line of lines) all.push(JSON.parse(line) as Resource)
    parts.push(lines.length > 0 ? Buffer.from(`${lines.join('\n')}\n`) : Buffer.alloc(0))
    deliveries.push({ contributionId: d.contributionId, patient: d.patient, datasetCid: d.datasetCid, resources: lines.length })
  }
  return {
    studyId: study.studyId,
    deliveries,
    ndjson: Buffer.concat(parts),
    resources: all.length,
    kAnonymity: kAnonymityReport(all, params.k ?? DEFAULT_K),
  }
}
