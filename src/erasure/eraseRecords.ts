import { type Account, type Hex, getAddress } from 'viem'
import { AccessDeniedError } from '../errors.js'
import type { RecordsContext } from '../core/index.js'
import { type OnChainRecord, getOnChainRecord } from '../records/index.js'
import { markErased } from './markErased.js'
import { shredJournalKeys } from './shredJournalKeys.js'

export type EraseRecordsParameters = {
  /** The patient who owns the records and signs the erasure. */
  patient: Account
  tokenIds: readonly bigint[]
  /** Where the bulk-import journals are (`<home>/imports`); the record keys they keep are destroyed. */
  importJournalDir?: string
  /** Where the single-operation journals are (`<home>/operations`); the same. */
  operationJournalDir?: string
  /** Called as each step of each record is done, for progress lines. */
  onStep?: (step: ErasureStep) => void
}

export type ErasureStep =
  | { step: 'marked'; tokenIds: bigint[]; txHash: Hex }
  | { step: 'key-slips' | 'journal-keys' | 'ciphertext'; tokenId: bigint; count?: number }

export type ErasedRecord = {
  tokenId: bigint
  /** The ciphertext's content address (the chain keeps it, pointing to nothing). */
  cid: string
  erasedAt: Date
  /** True when the chain already had it erased before this run (a re-run finishing the job). */
  alreadyMarked: boolean
  /** Key slips destroyed (grantees' and the node's emergency escrow). */
  keySlips: number
  /** Record keys destroyed in bulk-import journals. */
  journalKeys: number
  /** Whether the ciphertext was still in the blob store and was deleted now. */
  ciphertextDeleted: boolean
}

export type EraseRecordsReturnType = { records: ErasedRecord[]; txHashes: Hex[] }

type Ctx = Pick<RecordsContext, 'publicClient' | 'walletFor' | 'deployment' | 'store' | 'keySlips' | 'audit'>

/**
 * Erases records by crypto-shredding (GDPR art. 17). In this order, so that an interrupted run
 * leaves nothing readable and a second run finishes the job:
 *
 * 1. the chain marks each record erased (`MedicalRecord.erase`), which ends every way to it at once:
 *    `canAccess` is false for everyone, so neither this node nor any other releases its key again,
 *    and no grant can name it; records the chain already shows erased are not sent again;
 * 2. every key slip for it is deleted (grantees', and the node's emergency escrow);
 * 3. the copies of its key in bulk-import journals are destroyed;
 * 4. its ciphertext is unpinned and deleted from the blob store, taking with it the last wrapped
 *    copy: the patient's own, in the envelope header.
 *
 * Steps 2 to 4 run only for records the chain shows erased, so nothing of a live record is ever
 * destroyed. Only the owner may erase; a token of anyone else refuses the whole call before anything changes.
 *
 * @example
 * const { records } = await eraseRecords(mv, { patient: alice.chainAccount, tokenIds: [3n], importJournalDir: join(home, 'imports') })
 */
export async function eraseRecords(ctx: Ctx, params: EraseRecordsParameters): Promise<EraseRecordsReturnType> {
  const patient = getAddress(params.patient.address)
  const tokenIds = [...new Set(params.tokenIds)]
  const before = await Promise.all(tokenIds.map((id) => getOnChainRecord(ctx, id)))
  for (const record of before) {
    if (record.owner !== patient) {
      throw new AccessDeniedError(`Record #${record.tokenId} is not ${patient}'s, so it cannot erase it.`, {
        hint: 'Only the patient who owns a record can erase it. Nothing was erased.',
      })
    }
  }

  // 1. On chain first.
  const toMark = before.filter((r) => !r.erasedAt).map((r) => r.tokenId)
  const txHashes = toMark.length > 0 ? await markErased(ctx, { patient: params.patient, tokenIds: toMark }) : []
  if (txHashes.length > 0) params.onStep?.({ step: 'marked', tokenIds: toMark, txHash: txHashes.at(-1)! })
  for (const tokenId of toMark) {
    await ctx.audit?.record({ actor: patient, action: 'erase', tokenId, patient, outcome: 'allowed', reason: 'patient-request' })
  }
  // Re-read: the off-chain steps run only for what the chain now shows erased.
  const erased = await Promise.all(tokenIds.map((id) => getOnChainRecord(ctx, id)))
  const confirmed = erased.filter((r): r is OnChainRecord & { erasedAt: Date } => r.erasedAt !== undefined)

  // 2. Key slips.
  const slips = new Map<bigint, number>()
  for (const record of confirmed) {
    const count = (await ctx.keySlips?.delete(record.tokenId)) ?? 0
    slips.set(record.tokenId, count)
    params.onStep?.({ step: 'key-slips', tokenId: record.tokenId, count })
  }

  // 3. Journals of imports and of killed single operations.
  const cids = new Set(confirmed.map((r) => r.cid.toString()))
  const shredded = [
    params.importJournalDir ? shredJournalKeys(params.importJournalDir, cids, 'import') : undefined,
    params.operationJournalDir ? shredJournalKeys(params.operationJournalDir, cids, 'operation') : undefined,
  ]
  const journalKeys = (cid: string) => shredded.reduce((n, s) => n + (s?.keys.get(cid) ?? 0), 0)
  for (const record of confirmed) {
    params.onStep?.({ step: 'journal-keys', tokenId: record.tokenId, count: journalKeys(record.cid.toString()) })
  }

  // 4. Ciphertext, with the patient's own wrapped key in its header.
  const deleted = new Map<bigint, boolean>()
  for (const record of confirmed) {
    const held = await ctx.store.has(record.cid)
    await ctx.store.remove(record.cid)
    deleted.set(record.tokenId, held)
    params.onStep?.({ step: 'ciphertext', tokenId: record.tokenId })
  }

  const markedBefore = new Set(before.filter((r) => r.erasedAt).map((r) => r.tokenId))
  return {
    txHashes,
    records: confirmed.map((r) => ({
      tokenId: r.tokenId,
      cid: r.cid.toString(),
      erasedAt: r.erasedAt,
      alreadyMarked: markedBefore.has(r.tokenId),
      keySlips: slips.get(r.tokenId) ?? 0,
      journalKeys: journalKeys(r.cid.toString()),
      ciphertextDeleted: deleted.get(r.tokenId) ?? false,
    })),
  }
}
