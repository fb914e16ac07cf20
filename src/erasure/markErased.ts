import type { Account, Hex } from 'viem'
import { toMedvaultError } from '../chain/errors.js'
import { medicalRecordAbi } from '../contracts/index.js'
import { ChainError } from '../errors.js'
import type { RecordsContext } from '../records/context.js'

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
  const wallet = ctx.walletFor(params.patient)
  const base = { address: ctx.deployment.records, abi: medicalRecordAbi } as const
  const hashes: Hex[] = []
  for (let i = 0; i < params.tokenIds.length; i += MAX_ERASE_BATCH) {
    const batch = params.tokenIds.slice(i, i + MAX_ERASE_BATCH)
    try {
      const hash =
        batch.length === 1
          ? await wallet.writeContract({ ...base, functionName: 'erase', args: [batch[0]!] })
          : await wallet.writeContract({ ...base, functionName: 'eraseBatch', args: [batch] })
      const receipt = await ctx.publicClient.waitForTransactionReceipt({ hash })
      if (receipt.status !== 'success') throw new ChainError('The erase transaction reverted.')
      hashes.push(hash)
    } catch (error) {
      throw toMedvaultError(error)
    }
  }
  return hashes
}
