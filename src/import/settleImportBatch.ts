/**
 * A batch's outcome, journaled: confirmed with the tokens the chain gave its entries (after their
 * key slips are written), or dropped so that its entries are minted afresh.
 */
import type { Hex, TransactionReceipt } from 'viem'
import { toMedvaultError } from '../chain/index.js'
import { medicalRecordAbi } from '../contracts/index.js'
import { ChainError, ImportJournalError } from '../errors.js'
import { type BatchOutcome, type IssuedRecord, findIssued, issuedInReceipt, matchesRequest, requestOf } from './batchTransactions.js'
import type { BatchState } from './importState.js'
import { type ImportRun, checkpoint, reportProgress, sealedOf, tagOfSealed } from './importRun.js'
import { importSlipsOf } from './importSlips.js'

/** Journals a batch as confirmed with the tokens the chain gave its entries, after writing their key slips. */
async function confirm(
  run: ImportRun,
  batch: BatchState,
  found: Map<number, IssuedRecord>,
  tx: { hash: Hex; block: bigint; gasUsed: bigint },
) {
  // Wrapped all at once, written in one transaction (one sync to disk for the batch).
  const slips = await Promise.all(batch.items.map((i) => importSlipsOf(run, i, found.get(i)!.tokenId)))
  await run.ctx.keySlips?.putMany(slips.flat())
  run.journal.append({
    t: 'confirmed',
    batch: batch.batch,
    txHash: tx.hash,
    block: tx.block.toString(),
    gasUsed: tx.gasUsed.toString(),
    tokens: batch.items.map((i) => [i, found.get(i)!.tokenId.toString()]),
  })
  run.journal.sync()
  for (const i of batch.items) {
    run.state.items.set(i, { status: 'confirmed', sealed: sealedOf(run, i), batch: batch.batch, tokenId: found.get(i)!.tokenId })
  }
  batch.status = 'confirmed'
  batch.confirmed = { txHash: tx.hash, block: tx.block, gasUsed: tx.gasUsed }
  run.confirmedBatches.push({ batch: batch.batch, records: batch.items.length, gasUsed: tx.gasUsed, txHash: tx.hash })
  checkpoint(run, 'after-confirm', ++run.counts.afterConfirm)
  reportProgress(run)
}

/** Which of the batch's entries `issued` holds, exactly as requested; throws if only some are. */
export function lookUpBatch(run: ImportRun, batch: BatchState, issued: Map<Hex, IssuedRecord>): Map<number, IssuedRecord> | undefined {
  const found = new Map<number, IssuedRecord>()
  for (const i of batch.items) {
    const request = requestOf(run.patient, sealedOf(run, i), tagOfSealed(run, sealedOf(run, i)))
    const record = issued.get(request.commitment.toLowerCase() as Hex)
    if (!record) continue
    if (!matchesRequest(record, request, run.issuerAddress)) {
      throw new ChainError(`Record #${record.tokenId} carries entry ${i}'s commitment but not the fields the import sent.`, {
        hint: 'Stop and investigate: the chain does not hold what this import journaled.',
      })
    }
    found.set(i, record)
  }
  if (found.size === 0) return undefined
  if (found.size !== batch.items.length) {
    throw new ImportJournalError(`Only ${found.size} of the ${batch.items.length} entries of batch ${batch.batch} are on chain.`, {
      hint: 'A batch is minted all or nothing, so the journal and the chain disagree; stop and investigate.',
    })
  }
  return found
}

async function confirmFromReceipt(run: ImportRun, batch: BatchState, receipt: TransactionReceipt) {
  const found = lookUpBatch(run, batch, issuedInReceipt(run.ctx, receipt))
  if (!found) throw new ChainError(`Batch ${batch.batch}'s transaction holds none of its entries.`)
  await confirm(run, batch, found, { hash: receipt.transactionHash, block: receipt.blockNumber, gasUsed: receipt.gasUsed })
}

/** Confirms a batch whose entries the RecordIssued events hold (its receipt, if the node has it, gives the gas). */
export async function confirmFromEvents(run: ImportRun, batch: BatchState, found: Map<number, IssuedRecord>) {
  const first = found.values().next().value as IssuedRecord
  const receipt = await run.ctx.publicClient.getTransactionReceipt({ hash: first.transactionHash }).catch(() => undefined)
  await confirm(run, batch, found, { hash: first.transactionHash, block: first.blockNumber, gasUsed: receipt?.gasUsed ?? 0n })
}

function drop(run: ImportRun, batch: BatchState, reason: 'reverted' | 'replaced') {
  run.journal.append({ t: 'dropped', batch: batch.batch, reason })
  run.journal.sync()
  for (const i of batch.items) run.state.items.set(i, { status: 'sealed', sealed: sealedOf(run, i) })
  batch.status = 'dropped'
}

/** The RecordIssued events of this import's issuer to its patient since the import began, by commitment. */
export function issuedSinceBegin(run: ImportRun): Promise<Map<Hex, IssuedRecord>> {
  return findIssued(run.ctx, { patient: run.patient, issuer: run.issuerAddress, fromBlock: BigInt(run.begin.fromBlock) })
}

/**
 * Settles an outcome: a mined batch is confirmed (or dropped if it reverted); a replaced one is
 * confirmed if the events hold its entries anyway, else dropped. Returns false for pending.
 */
export async function settleImportBatch(
  run: ImportRun,
  batch: BatchState,
  outcome: BatchOutcome,
  issued?: Map<Hex, IssuedRecord>,
): Promise<boolean> {
  if (outcome.status === 'mined') {
    if (outcome.receipt.status === 'success') await confirmFromReceipt(run, batch, outcome.receipt)
    else drop(run, batch, 'reverted')
    return true
  }
  if (outcome.status === 'replaced') {
    const found = lookUpBatch(run, batch, issued ?? (await issuedSinceBegin(run)))
    if (found) await confirmFromEvents(run, batch, found)
    else drop(run, batch, 'replaced')
    return true
  }
  return false
}

/** Refused by the chain: the reason, from a dry run of the same batch now. */
export async function revertReason(run: ImportRun, batch: BatchState): Promise<Error> {
  const requests = batch.items.map((i) => requestOf(run.patient, sealedOf(run, i), tagOfSealed(run, sealedOf(run, i))))
  try {
    await run.ctx.publicClient.simulateContract({
      account: run.issuer,
      address: run.ctx.deployment.records,
      abi: medicalRecordAbi,
      functionName: 'mintBatch',
      args: [requests],
    })
  } catch (error) {
    return toMedvaultError(error)
  }
  return new ChainError(`Batch ${batch.batch} was refused by the chain.`, { hint: 'Run the import again to retry it.' })
}
