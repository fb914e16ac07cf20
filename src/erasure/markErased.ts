import type { Account, Hex } from 'viem'
import { writeAndWait } from '../chain/index.js'
import { medicalRecordAbi } from '../contracts/index.js'
import type { RecordsContext } from '../core/index.js'

/** Most tokens one `eraseBatch` call takes (MedicalRecord.MAX_BATCH_SIZE). */
export const MAX_ERASE_BATCH = 100

export type MarkErasedParameters = {
  /** The patient who owns every token. */
  patient: Account
  /** Records not erased yet; each appears once. */
  tokenIds: readonly bigint[]
}

/**
 * Marks records erased on chain (`MedicalRecord.erase`, or `eraseBatch` for several, in batches of
 * up to 100), waiting for each transaction. From the block that includes it, `canAccess` is false
 * for everyone, so no key is released for these records any more. Returns the transaction hashes.
 */
export async function markErased(
  ctx: Pick<RecordsContext, 'publicClient' | 'walletFor' | 'deployment'>,
  params: MarkErasedParameters,
): Promise<Hex[]> {
  const base = { address: ctx.deployment.records, abi: medicalRecordAbi } as const
  const hashes: Hex[] = []
  for (let i = 0; i < params.tokenIds.length; i += MAX_ERASE_BATCH) {
    const batch = params.tokenIds.slice(i, i + MAX_ERASE_BATCH)
    const receipt =
      batch.length === 1
        ? await writeAndWait(ctx, params.patient, { ...base, functionName: 'erase', args: [batch[0]!] })
        : await writeAndWait(ctx, params.patient, { ...base, functionName: 'eraseBatch', args: [batch] })
    hashes.push(receipt.transactionHash)
  }
  return hashes
}
