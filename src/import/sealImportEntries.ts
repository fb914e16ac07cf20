/**
 * The seal step of an import: each entry committed to, sealed for the patient and stored through
 * the issue pipeline (`sealForIssue`), then journaled with its record key boxed for the issuer.
 */
import { CID } from 'multiformats/cid'
import { FHIR_JSON, type MintRequest, categoryCode, commitContent, fullSensitivity, issueTerms, sealForIssue } from '../records/index.js'
import { requestOf } from './batchTransactions.js'
import { type ImportRun, checkpoint, reportProgress, tagOfSealed } from './importRun.js'
import { sealJournalKey } from './journalKeys.js'
import type { SealedEntry } from './journal.js'
import type { ImportEntry } from './parseBundle.js'

/** An entry ready to go into a batch; `recordKey` when it was sealed in this run. */
export type ReadyEntry = { index: number; sealed: SealedEntry; request: MintRequest; recordKey?: Uint8Array }

async function sealEntry(run: ImportRun, entry: ImportEntry): Promise<ReadyEntry> {
  const { ctx, journal, issuerAddress } = run
  const content = { bytes: entry.content }
  const cls = { category: categoryCode(entry.category), sensitivity: fullSensitivity(entry.category, entry.sensitivity) }
  const terms = issueTerms({ category: entry.category, sensitivity: entry.sensitivity, tag: tagOfSealed(run, cls) })
  const committed = await commitContent(content)
  const { request, cid, recordKey } = await sealForIssue(ctx, {
    issuer: run.issuer,
    input: { patient: run.params.patient, content, contentType: FHIR_JSON },
    terms,
    committed,
  })
  const sealed: SealedEntry = {
    t: 'sealed',
    i: entry.index,
    digest: entry.digest,
    cid: cid.toString(),
    commitment: request.commitment,
    category: terms.category,
    sensitivity: terms.sensitivity,
    key: sealJournalKey(run.journalKey, recordKey, cid.toString(), issuerAddress),
  }
  // Written now, made durable with its batch's submitted line (nothing is sent before that).
  journal.append(sealed)
  run.state.items.set(entry.index, { status: 'sealed', sealed })
  run.recordKeys.set(entry.index, recordKey)
  run.counts.sealed++
  checkpoint(run, 'after-seal', run.counts.sealed)
  reportProgress(run)
  return { index: entry.index, sealed, request, recordKey }
}

/** An entry sealed by an earlier run and never sent: reused if its ciphertext is still stored, else sealed afresh. */
async function prepare(run: ImportRun, entry: ImportEntry): Promise<ReadyEntry> {
  const item = run.state.items.get(entry.index)
  if (item?.status === 'sealed' && (await run.ctx.store.has(CID.parse(item.sealed.cid)))) {
    return { index: entry.index, sealed: item.sealed, request: requestOf(run.patient, item.sealed, tagOfSealed(run, item.sealed)) }
  }
  return sealEntry(run, entry)
}

/** Seals the remaining entries a few at a time, in bundle order. */
export async function* sealImportEntries(run: ImportRun, todo: ImportEntry[], concurrency: number): AsyncGenerator<ReadyEntry> {
  const window: Promise<ReadyEntry>[] = []
  let next = 0
  const fill = () => {
    while (window.length < concurrency && next < todo.length) {
      const promise = prepare(run, todo[next++]!)
      promise.catch(() => undefined) // awaited below, in order
      window.push(promise)
    }
  }
  try {
    fill()
    while (window.length > 0) {
      const ready = await window.shift()!
      fill()
      yield ready
    }
  } finally {
    // Stopped early (a failure): let the seals under way finish before the journal closes.
    await Promise.allSettled(window)
  }
}
