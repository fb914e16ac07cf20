/**
 * The minting side of an import: the entries not yet on chain, sealed a few at a time, grouped into
 * `mintBatch` transactions that are journaled, signed with explicit nonces and sent, several in
 * flight, each settled as its receipt comes.
 */
import { toMedvaultError } from '../chain/index.js'
import { ChainError } from '../errors.js'
import { checkStandingAuthorisation } from '../records/index.js'
import { requestOf, sendBatch, settleBatch, signBatch } from './batchTransactions.js'
import type { BatchState } from './importState.js'
import { type ImportRun, checkpoint, loadImportTags, reportProgress, sealedOf, tagOfSealed } from './importRun.js'
import { type ReadyEntry, sealImportEntries } from './sealImportEntries.js'
import { revertReason, settleImportBatch } from './settleImportBatch.js'

/** The issuer is active and the patient's standing authorisation holds: checked before anything new is minted. */
export function preflightImport(run: ImportRun): Promise<void> {
  return checkStandingAuthorisation(run.ctx, { issuer: run.issuerAddress, patient: run.patient })
}

/** Signs a batch (again, same nonce and entries) and journals this version before sending it. */
export async function signImportBatch(run: ImportRun, batch: BatchState) {
  const { journal } = run
  const requests = batch.items.map((i) => requestOf(run.patient, sealedOf(run, i), tagOfSealed(run, sealedOf(run, i))))
  const replacing = batch.txs.at(-1)
  const tx = await signBatch(run.ctx, { issuer: run.issuer, requests, nonce: batch.nonce, ...(replacing ? { replacing } : {}) })
  journal.append({
    t: 'submitted',
    batch: batch.batch,
    items: batch.items,
    nonce: batch.nonce,
    txHash: tx.hash,
    maxFeePerGas: tx.maxFeePerGas.toString(),
    maxPriorityFeePerGas: tx.maxPriorityFeePerGas.toString(),
  })
  // The sealed entries and this line are on disk before the transaction leaves the process.
  journal.sync()
  batch.txs.push({ hash: tx.hash, maxFeePerGas: tx.maxFeePerGas, maxPriorityFeePerGas: tx.maxPriorityFeePerGas })
  return tx
}

/** Waits for a batch sent in this run; throws unless it ends confirmed. */
async function awaitBatch(run: ImportRun, batch: BatchState): Promise<void> {
  const { receiptTimeoutMs } = run
  const outcome = await settleBatch(run.ctx, { issuer: run.issuerAddress, batch, timeoutMs: receiptTimeoutMs })
  if (!(await settleImportBatch(run, batch, outcome))) {
    throw new ChainError(`Batch ${batch.batch} was not mined within ${Math.round(receiptTimeoutMs / 1000)} s.`, {
      hint: 'Check that the chain is running, then run the import again to resume.',
    })
  }
  if (batch.status === 'dropped') {
    throw outcome.status === 'mined'
      ? await revertReason(run, batch)
      : new ChainError(`Another transaction from ${run.issuerAddress} used batch ${batch.batch}'s nonce.`, {
          hint: 'Do not use the provider account elsewhere during an import; run the import again to resume.',
        })
  }
}

/**
 * Seals and mints every entry the journal does not have as sent or confirmed: `batchSize` entries
 * a batch, at most `maxInFlight` batches unconfirmed at once. The first failure stops new batches;
 * the ones in flight are still settled (and journaled) before it is thrown.
 */
export async function mintRemaining(run: ImportRun): Promise<void> {
  const { ctx, params, state } = run
  const todo = params.bundle.entries.filter((e) => {
    const status = state.items.get(e.index)?.status
    return status === undefined || status === 'sealed'
  })
  if (todo.length === 0) return
  await preflightImport(run)
  await loadImportTags(run)
  let nonce = await ctx.publicClient.getTransactionCount({ address: run.issuerAddress, blockTag: 'pending' }).catch((error: unknown) => {
    throw toMedvaultError(error)
  })
  const maxInFlight = Math.max(1, params.maxInFlight ?? 4)
  const inFlight = new Set<Promise<void>>()
  let failure: unknown

  const watch = (batch: BatchState) => {
    const settled = awaitBatch(run, batch)
      .catch((error: unknown) => {
        failure ??= error
      })
      .finally(() => inFlight.delete(settled))
    inFlight.add(settled)
  }

  const submit = async (items: ReadyEntry[]) => {
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight)
    if (failure) return
    const batch: BatchState = { batch: state.nextBatch++, items: items.map((r) => r.index), nonce, txs: [], status: 'submitted' }
    const tx = await signImportBatch(run, batch)
    state.batches.set(batch.batch, batch)
    for (const i of batch.items) state.items.set(i, { status: 'submitted', sealed: sealedOf(run, i), batch: batch.batch })
    checkpoint(run, 'before-send', ++run.counts.beforeSend)
    await sendBatch(ctx, run.issuer, tx, batch.nonce)
    nonce++
    run.counts.submitted += items.length
    checkpoint(run, 'after-submit', ++run.counts.afterSubmit)
    reportProgress(run)
    watch(batch)
  }

  try {
    let pending: ReadyEntry[] = []
    for await (const ready of sealImportEntries(run, todo, Math.max(1, params.sealConcurrency ?? 4))) {
      if (failure) break
      pending.push(ready)
      if (pending.length === run.batchSize) {
        await submit(pending)
        pending = []
      }
    }
    if (pending.length > 0 && !failure) await submit(pending)
  } catch (error) {
    failure ??= error
  }
  while (inFlight.size > 0) await Promise.race(inFlight)
  if (failure) throw failure
}
