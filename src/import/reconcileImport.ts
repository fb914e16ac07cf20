/**
 * The recovery side of an import: before anything new is minted, the journal an earlier run left
 * is brought in line with the chain.
 */
import type { Hex } from 'viem'
import { ChainError, ImportJournalError } from '../errors.js'
import { type IssuedRecord, batchKnown, sendBatch, settleBatch } from './batchTransactions.js'
import type { BatchState } from './importState.js'
import { type ImportRun, confirmedCount, loadImportTags, reportProgress, sealedOf } from './importRun.js'
import { preflightImport, signImportBatch } from './sendImportBatches.js'
import { confirmFromEvents, issuedSinceBegin, lookUpBatch, settleImportBatch } from './settleImportBatch.js'

/**
 * Brings the journal in line with the chain before anything new is minted: confirmed batches
 * must be on chain (else they are reopened and resolved again), and batches in flight are
 * settled from their receipts, the RecordIssued events carrying their commitments, or by sending
 * them again under the same nonce (so at most one version can ever be mined). Sets
 * `run.alreadyImported` and counts the entries it settles as `recovered`.
 */
export async function reconcileImport(run: ImportRun): Promise<void> {
  if (run.state.items.size === 0) return
  // Journaled entries are matched to the chain by their whole mint request, tag included.
  await loadImportTags(run)
  const issued = await issuedSinceBegin(run)
  reopenLostBatches(run, issued)
  run.alreadyImported = confirmedCount(run)
  await settleInFlight(run, issued)
  checkNeverMinted(run, issued)
  reportProgress(run)
}

/** Confirmed batches the chain does not hold as journaled (restored from an older state, or moved) are reopened. */
function reopenLostBatches(run: ImportRun, issued: Map<Hex, IssuedRecord>): void {
  const { journal, state } = run
  for (const batch of state.batches.values()) {
    if (batch.status !== 'confirmed') continue
    const found = lookUpBatch(run, batch, issued)
    const same =
      found &&
      batch.items.every((i) => {
        const item = state.items.get(i)
        return item?.status === 'confirmed' && item.tokenId === found.get(i)!.tokenId
      })
    if (same) continue
    // The chain lost it (restored from an older state) or it moved: resolve it like a batch in flight.
    journal.append({ t: 'reopened', batch: batch.batch, reason: 'not-on-chain' })
    journal.sync()
    for (const i of batch.items) state.items.set(i, { status: 'submitted', sealed: sealedOf(run, i), batch: batch.batch })
    batch.status = 'submitted'
    delete batch.confirmed
  }
}

/**
 * Settles every batch in flight, lowest nonce first: from its receipt or the events if mined, else
 * sent again (same nonce and entries) and waited for. A batch dropped here has its entries minted
 * afresh by `mintRemaining`, after its preflight checks.
 */
async function settleInFlight(run: ImportRun, issued: Map<Hex, IssuedRecord>): Promise<void> {
  const { ctx, issuerAddress, counts } = run
  const inFlight = [...run.state.batches.values()].filter((b) => b.status === 'submitted').sort((a, b) => a.nonce - b.nonce)
  const waiting: BatchState[] = []
  let checked: Promise<void> | undefined
  for (const batch of inFlight) {
    const before = confirmedCount(run)
    const outcome = await settleBatch(ctx, { issuer: issuerAddress, batch, timeoutMs: 0 })
    if (await settleImportBatch(run, batch, outcome, issued)) {
      counts.recovered += confirmedCount(run) - before
      continue
    }
    const found = lookUpBatch(run, batch, issued)
    if (found) {
      await confirmFromEvents(run, batch, found)
      counts.recovered += batch.items.length
      continue
    }
    // Never sent, or lost by the node: send it again, same nonce and entries.
    if (!(await batchKnown(ctx, batch))) {
      checked ??= preflightImport(run)
      await checked
      await sendBatch(ctx, run.issuer, await signImportBatch(run, batch), batch.nonce)
    }
    waiting.push(batch)
  }
  for (const batch of waiting) {
    const before = confirmedCount(run)
    const outcome = await settleBatch(ctx, { issuer: issuerAddress, batch, timeoutMs: run.receiptTimeoutMs })
    if (!(await settleImportBatch(run, batch, outcome))) {
      throw new ChainError(`Batch ${batch.batch} (nonce ${batch.nonce}) is not mined yet.`, {
        hint: 'Check that the chain is running, then run the import again: it waits for that batch before minting anything else.',
      })
    }
    counts.recovered += confirmedCount(run) - before
  }
}

/** An entry the journal has as never minted must not be on chain already. */
function checkNeverMinted(run: ImportRun, issued: Map<Hex, IssuedRecord>): void {
  for (const [i, item] of run.state.items) {
    if (item.status !== 'sealed') continue
    const onChain = issued.get(item.sealed.commitment.toLowerCase() as Hex)
    if (onChain) {
      throw new ImportJournalError(`Entry ${i} is on chain as record #${onChain.tokenId}, but the journal has it as never minted.`, {
        hint: 'The journal was edited or restored from an older copy; stop and investigate before importing again.',
      })
    }
  }
}
