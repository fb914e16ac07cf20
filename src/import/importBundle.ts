import { CID } from 'multiformats/cid'
import { type Address, type Hex, type TransactionReceipt, getAddress } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { toMedvaultError } from '../chain/index.js'
import { medicalRecordAbi } from '../contracts/index.js'
import { ChainError, ImportJournalError, InvalidInputError } from '../errors.js'
import {
  FHIR_JSON,
  type MintRequest,
  type Recipient,
  type RecordsContext,
  checkStandingAuthorisation,
  commitContent,
  granteesForNewRecord,
  issueTerms,
  sealForIssue,
  writeNewRecordSlips,
} from '../records/index.js'
import {
  type IssuedRecord,
  batchKnown,
  findIssued,
  issuedInReceipt,
  matchesRequest,
  requestOf,
  sendBatch,
  settleBatch,
  signBatch,
} from './batchTransactions.js'
import { beginJournal, compactJournal, importKey } from './beginImport.js'
import { type BatchState, type ImportState, replayJournal } from './importState.js'
import { checkSubjects, linkToPatient } from './linkBundle.js'
import { type JournalKeyBox, journalKeyOf, openJournalKey, sealJournalKey } from './journalKeys.js'
import { type BeginEntry, type ImportJournal, type SealedEntry, importJournalPath, openImportJournal } from './journal.js'
import type { ImportEntry, ParsedImportBundle, SkippedEntry } from './parseBundle.js'

/** Most records in one `mintBatch` (MedicalRecord.MAX_BATCH_SIZE). */
export const MAX_BATCH_SIZE = 100
export const DEFAULT_BATCH_SIZE = 50

/** The issuing provider: signs and pays; its encryption seed keeps the record keys in the journal readable only to it. */
export type ImportIssuer = { chainAccount: LocalAccount; encryptionSeed: Uint8Array }

/**
 * Named points of an import, for fault injection in crash tests (`MEDVAULT_FAULT=import:after-submit:3`):
 * after an entry is sealed and journaled, after a batch is journaled but before it is sent, after
 * it is sent, after its confirmation is journaled. `count` is how many times the point was reached.
 */
export type ImportCheckpoint = 'after-seal' | 'before-send' | 'after-submit' | 'after-confirm'

export type ImportProgress = {
  /** Records the bundle holds. */
  total: number
  /** Confirmed before this run (skipped). */
  alreadyImported: number
  /** Confirmed in total, including `alreadyImported`. */
  confirmed: number
  /** Sealed and stored in this run. */
  sealed: number
  /** Sent in this run (records). */
  submitted: number
  /** Batches confirmed in this run. */
  batches: number
  gasUsed: bigint
}

export type ImportBundleParameters = {
  issuer: ImportIssuer
  patient: Recipient
  bundle: ParsedImportBundle
  /** Where journals live (`<home>/imports`). */
  journalDir: string
  /** Records per mintBatch, 1..100 (default 50). */
  batchSize?: number
  /** Batches sent and not yet confirmed at once (default 4). */
  maxInFlight?: number
  /** Entries sealed at once (default 4). */
  sealConcurrency?: number
  /** How long to wait for a batch to be mined (default 5 minutes). */
  receiptTimeoutMs?: number
  onProgress?: (progress: ImportProgress) => void
  checkpoint?: (point: ImportCheckpoint, count: number) => void
}

export type ImportedBatch = { batch: number; records: number; gasUsed: bigint; txHash: Hex }

export type ImportBundleReturnType = {
  /** The journal file. */
  journal: string
  /** Records the bundle holds. */
  total: number
  /** Records confirmed in this run, `recovered` included. */
  imported: number
  /** Records in flight when an earlier run stopped, found minted on chain in this run. */
  recovered: number
  /** Records imported by an earlier run (checked on chain) and skipped. */
  alreadyImported: number
  /** Bundle entries that are not records (the Patient). */
  skipped: SkippedEntry[]
  /** Batches confirmed in this run. */
  batches: ImportedBatch[]
  gasUsed: bigint
  seconds: number
  /** `imported / seconds`. */
  recordsPerSecond: number
  /** Every record of the bundle, by entry position. */
  records: { entry: number; tokenId: bigint }[]
}

type Ready = { index: number; sealed: SealedEntry; request: MintRequest; recordKey?: Uint8Array }

/**
 * Imports a patient's history: every entry of a parsed Bundle becomes one record, issued by
 * `issuer` under the patient's standing authorisation, sealed and stored like `issueRecord` does
 * it, minted through `MedicalRecord.mintBatch` in batches (several in flight, explicit nonces from
 * the issuer's account), with the key slips a single issue writes.
 *
 * Crash-safe: each step is journaled (`journal.ts`) before it has effects. Running the same import
 * again (same bundle, patient, issuer and chain) skips what is confirmed (after checking it is on
 * chain), settles what was in flight from its receipts or, failing that, the RecordIssued events
 * carrying its commitments, re-sends what was journaled but never mined under the same nonce,
 * and mints the rest, so each entry ends up exactly one record.
 *
 * @example
 * const bundle = parseImportBundle(readFileSync('alice.json'))
 * const result = await importBundle(mv, { issuer: lab, patient: alice, bundle, journalDir: join(mv.paths.dir, 'imports') })
 * console.log(`${result.imported} records, ${result.gasUsed / BigInt(result.imported)} gas each`)
 */
export async function importBundle(ctx: RecordsContext, params: ImportBundleParameters): Promise<ImportBundleReturnType> {
  const batchSize = params.batchSize ?? DEFAULT_BATCH_SIZE
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new InvalidInputError(`The batch size must be a whole number from 1 to ${MAX_BATCH_SIZE}.`)
  }
  const started = performance.now()
  const issuer = params.issuer.chainAccount
  const issuerAddress = getAddress(issuer.address)
  const patient = getAddress(params.patient.address)
  const bundle = linkToPatient(params.bundle, patient)
  params = { ...params, bundle }
  checkSubjects(bundle, patient, ctx.deployment.chainId)
  const path = importJournalPath(
    params.journalDir,
    importKey({
      bundleDigest: bundle.bundleDigest,
      patient,
      issuer: issuerAddress,
      chainId: ctx.deployment.chainId,
      records: ctx.deployment.records,
    }),
  )
  const journal = openImportJournal(path)
  try {
    const state = replayJournal(journal.entries)
    const begin = await beginJournal(ctx, journal, state, { bundle, patient, issuer: issuerAddress })
    const run = createRun(ctx, params, { journal, state, begin, batchSize, patient, issuerAddress })
    try {
      await run.reconcile()
      await run.importRest()
      const result = run.result(path, (performance.now() - started) / 1000)
      compactJournal(journal)
      return result
    } finally {
      run.dispose()
    }
  } finally {
    journal.close()
  }
}

type RunContext = {
  journal: ImportJournal
  state: ImportState
  begin: BeginEntry
  batchSize: number
  patient: Address
  issuerAddress: Address
}

function createRun(ctx: RecordsContext, params: ImportBundleParameters, run: RunContext) {
  const { journal, state, begin, batchSize, patient, issuerAddress } = run
  const issuer = params.issuer.chainAccount
  const receiptTimeoutMs = params.receiptTimeoutMs ?? 300_000
  const entries = new Map(params.bundle.entries.map((e) => [e.index, e]))
  const total = params.bundle.entries.length
  const recordKeys = new Map<number, Uint8Array>()
  const journalKey = journalKeyOf(params.issuer.encryptionSeed)
  const grantees = new Map<string, Promise<readonly Address[]>>()
  const granteeKeys = new Map<Address, Hex | undefined>()
  const confirmedBatches: ImportedBatch[] = []
  const counts = { sealed: 0, submitted: 0, recovered: 0, beforeSend: 0, afterSubmit: 0, afterConfirm: 0 }
  let alreadyImported = 0

  // Every journaled entry must be an entry of this bundle, with the same content.
  for (const [i, item] of state.items) {
    if (entries.get(i)?.digest.toLowerCase() !== item.sealed.digest.toLowerCase()) {
      throw new ImportJournalError(`The import journal ${journal.path} does not match the bundle (entry ${i}).`)
    }
  }

  const confirmedCount = () => [...state.items.values()].filter((item) => item.status === 'confirmed').length
  const progress = () =>
    params.onProgress?.({
      total,
      alreadyImported,
      confirmed: confirmedCount(),
      sealed: counts.sealed,
      submitted: counts.submitted,
      batches: confirmedBatches.length,
      gasUsed: confirmedBatches.reduce((sum, b) => sum + b.gasUsed, 0n),
    })
  const checkpoint = (point: ImportCheckpoint, count: number) => params.checkpoint?.(point, count)
  const sealedOf = (i: number) => state.items.get(i)!.sealed

  function recordKeyOf(i: number): Uint8Array | undefined {
    const held = recordKeys.get(i)
    if (held) return held
    const { cid, key } = sealedOf(i)
    // A journal compacted after a complete import holds no keys (only a chain restored from an
    // older state re-mints such entries, and their slips were written the first time), and an
    // erased record's key was destroyed (an empty box): no slips for those.
    return key && key.ct !== '0x' ? openJournalKey(journalKey, key as JournalKeyBox, cid, issuerAddress) : undefined
  }

  async function writeSlips(i: number, tokenId: bigint): Promise<void> {
    if (!ctx.keySlips) return
    const sealed = sealedOf(i)
    const group = `${sealed.category}/${sealed.sensitivity}`
    if (!grantees.has(group))
      grantees.set(group, granteesForNewRecord(ctx, { patient, category: sealed.category, sensitivity: sealed.sensitivity }))
    const recordKey = recordKeyOf(i)
    if (!recordKey) return
    try {
      await writeNewRecordSlips(ctx, {
        issuer: issuerAddress,
        recordKey,
        tokenId,
        cid: sealed.cid,
        sensitivity: sealed.sensitivity,
        grantees: await grantees.get(group)!,
        keyCache: granteeKeys,
      })
    } finally {
      recordKey.fill(0)
      recordKeys.delete(i)
    }
  }

  /** Journals a batch as confirmed with the tokens the chain gave its entries, after writing their key slips. */
  async function confirm(batch: BatchState, found: Map<number, IssuedRecord>, tx: { hash: Hex; block: bigint; gasUsed: bigint }) {
    for (const i of batch.items) await writeSlips(i, found.get(i)!.tokenId)
    journal.append({
      t: 'confirmed',
      batch: batch.batch,
      txHash: tx.hash,
      block: tx.block.toString(),
      gasUsed: tx.gasUsed.toString(),
      tokens: batch.items.map((i) => [i, found.get(i)!.tokenId.toString()]),
    })
    journal.sync()
    for (const i of batch.items) {
      state.items.set(i, { status: 'confirmed', sealed: sealedOf(i), batch: batch.batch, tokenId: found.get(i)!.tokenId })
    }
    batch.status = 'confirmed'
    batch.confirmed = { txHash: tx.hash, block: tx.block, gasUsed: tx.gasUsed }
    confirmedBatches.push({ batch: batch.batch, records: batch.items.length, gasUsed: tx.gasUsed, txHash: tx.hash })
    checkpoint('after-confirm', ++counts.afterConfirm)
    progress()
  }

  /** Which of the batch's entries `issued` holds, exactly as requested; throws if only some are. */
  function lookUp(batch: BatchState, issued: Map<Hex, IssuedRecord>): Map<number, IssuedRecord> | undefined {
    const found = new Map<number, IssuedRecord>()
    for (const i of batch.items) {
      const request = requestOf(patient, sealedOf(i))
      const record = issued.get(request.commitment.toLowerCase() as Hex)
      if (!record) continue
      if (!matchesRequest(record, request, issuerAddress)) {
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

  async function confirmFromReceipt(batch: BatchState, receipt: TransactionReceipt) {
    const found = lookUp(batch, issuedInReceipt(ctx, receipt))
    if (!found) throw new ChainError(`Batch ${batch.batch}'s transaction holds none of its entries.`)
    await confirm(batch, found, { hash: receipt.transactionHash, block: receipt.blockNumber, gasUsed: receipt.gasUsed })
  }

  /** Confirms a batch whose entries the RecordIssued events hold (its receipt, if the node has it, gives the gas). */
  async function confirmFromEvents(batch: BatchState, found: Map<number, IssuedRecord>) {
    const first = found.values().next().value as IssuedRecord
    const receipt = await ctx.publicClient.getTransactionReceipt({ hash: first.transactionHash }).catch(() => undefined)
    await confirm(batch, found, { hash: first.transactionHash, block: first.blockNumber, gasUsed: receipt?.gasUsed ?? 0n })
  }

  /** Refused by the chain: the reason, from a dry run of the same batch now. */
  async function revertReason(batch: BatchState): Promise<Error> {
    const requests = batch.items.map((i) => requestOf(patient, sealedOf(i)))
    try {
      await ctx.publicClient.simulateContract({
        account: issuer,
        address: ctx.deployment.records,
        abi: medicalRecordAbi,
        functionName: 'mintBatch',
        args: [requests],
      })
    } catch (error) {
      return toMedvaultError(error)
    }
    return new ChainError(`Batch ${batch.batch} was refused by the chain.`, { hint: 'Run the import again to retry it.' })
  }

  function drop(batch: BatchState, reason: 'reverted' | 'replaced') {
    journal.append({ t: 'dropped', batch: batch.batch, reason })
    journal.sync()
    for (const i of batch.items) state.items.set(i, { status: 'sealed', sealed: sealedOf(i) })
    batch.status = 'dropped'
  }

  /** Signs a batch (again, same nonce and entries) and journals this version before sending it. */
  async function sign(batch: BatchState) {
    const requests = batch.items.map((i) => requestOf(patient, sealedOf(i)))
    const replacing = batch.txs.at(-1)
    const tx = await signBatch(ctx, { issuer, requests, nonce: batch.nonce, ...(replacing ? { replacing } : {}) })
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

  /**
   * Settles an outcome: a mined batch is confirmed (or dropped if it reverted); a replaced one is
   * confirmed if the events hold its entries anyway, else dropped. Returns false for pending.
   */
  async function settle(batch: BatchState, outcome: Awaited<ReturnType<typeof settleBatch>>, issued?: Map<Hex, IssuedRecord>) {
    if (outcome.status === 'mined') {
      if (outcome.receipt.status === 'success') await confirmFromReceipt(batch, outcome.receipt)
      else drop(batch, 'reverted')
      return true
    }
    if (outcome.status === 'replaced') {
      const events = issued ?? (await findIssued(ctx, { patient, issuer: issuerAddress, fromBlock: BigInt(begin.fromBlock) }))
      const found = lookUp(batch, events)
      if (found) await confirmFromEvents(batch, found)
      else drop(batch, 'replaced')
      return true
    }
    return false
  }

  /**
   * Brings the journal in line with the chain before anything new is minted: confirmed batches
   * must be on chain (else they are reopened and resolved again), and batches in flight are
   * settled from their receipts, the RecordIssued events carrying their commitments, or by sending
   * them again under the same nonce (so at most one version can ever be mined).
   */
  async function reconcile() {
    if (state.items.size === 0) return
    const issued = await findIssued(ctx, { patient, issuer: issuerAddress, fromBlock: BigInt(begin.fromBlock) })

    for (const batch of state.batches.values()) {
      if (batch.status !== 'confirmed') continue
      const found = lookUp(batch, issued)
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
      for (const i of batch.items) state.items.set(i, { status: 'submitted', sealed: sealedOf(i), batch: batch.batch })
      batch.status = 'submitted'
      delete batch.confirmed
    }
    alreadyImported = confirmedCount()

    const inFlight = [...state.batches.values()].filter((b) => b.status === 'submitted').sort((a, b) => a.nonce - b.nonce)
    const waiting: BatchState[] = []
    let checked: Promise<void> | undefined
    for (const batch of inFlight) {
      const before = confirmedCount()
      const outcome = await settleBatch(ctx, { issuer: issuerAddress, batch, timeoutMs: 0 })
      if (await settle(batch, outcome, issued)) {
        counts.recovered += confirmedCount() - before
        continue
      }
      const found = lookUp(batch, issued)
      if (found) {
        await confirmFromEvents(batch, found)
        counts.recovered += batch.items.length
        continue
      }
      // Never sent, or lost by the node: send it again, same nonce and entries.
      if (!(await batchKnown(ctx, batch))) {
        checked ??= preflight()
        await checked
        await sendBatch(ctx, issuer, await sign(batch), batch.nonce)
      }
      waiting.push(batch)
    }
    for (const batch of waiting) {
      const before = confirmedCount()
      const outcome = await settleBatch(ctx, { issuer: issuerAddress, batch, timeoutMs: receiptTimeoutMs })
      if (!(await settle(batch, outcome))) {
        throw new ChainError(`Batch ${batch.batch} (nonce ${batch.nonce}) is not mined yet.`, {
          hint: 'Check that the chain is running, then run the import again: it waits for that batch before minting anything else.',
        })
      }
      // A dropped batch's entries are minted afresh below, after the preflight checks.
      counts.recovered += confirmedCount() - before
    }

    // An entry the journal has as never minted must not be on chain already.
    for (const [i, item] of state.items) {
      if (item.status !== 'sealed') continue
      const onChain = issued.get(item.sealed.commitment.toLowerCase() as Hex)
      if (onChain) {
        throw new ImportJournalError(`Entry ${i} is on chain as record #${onChain.tokenId}, but the journal has it as never minted.`, {
          hint: 'The journal was edited or restored from an older copy; stop and investigate before importing again.',
        })
      }
    }
    progress()
  }

  /** The issuer is active and the patient's standing authorisation holds: checked before anything new is minted. */
  const preflight = () => checkStandingAuthorisation(ctx, { issuer: issuerAddress, patient })

  async function sealEntry(entry: ImportEntry): Promise<Ready> {
    const content = { bytes: entry.content }
    const terms = issueTerms({ category: entry.category, sensitivity: entry.sensitivity })
    const committed = await commitContent(content)
    const { request, cid, recordKey } = await sealForIssue(ctx, {
      issuer,
      input: { patient: params.patient, content, contentType: FHIR_JSON },
      terms,
      committed,
    })
    const sealed: SealedEntry = {
      t: 'sealed',
      i: entry.index,
      digest: entry.digest,
      cid: cid.toString(),
      commitment: request.commitment,
      category: request.category,
      sensitivity: request.sensitivity,
      key: sealJournalKey(journalKey, recordKey, cid.toString(), issuerAddress),
    }
    // Written now, made durable with its batch's submitted line (nothing is sent before that).
    journal.append(sealed)
    state.items.set(entry.index, { status: 'sealed', sealed })
    recordKeys.set(entry.index, recordKey)
    counts.sealed++
    checkpoint('after-seal', counts.sealed)
    progress()
    return { index: entry.index, sealed, request, recordKey }
  }

  /** An entry sealed by an earlier run and never sent: reused if its ciphertext is still stored, else sealed afresh. */
  async function prepare(entry: ImportEntry): Promise<Ready> {
    const item = state.items.get(entry.index)
    if (item?.status === 'sealed' && (await ctx.store.has(CID.parse(item.sealed.cid)))) {
      return { index: entry.index, sealed: item.sealed, request: requestOf(patient, item.sealed) }
    }
    return sealEntry(entry)
  }

  /** Seals the remaining entries a few at a time, in bundle order. */
  async function* prepared(todo: ImportEntry[], concurrency: number): AsyncGenerator<Ready> {
    const window: Promise<Ready>[] = []
    let next = 0
    const fill = () => {
      while (window.length < concurrency && next < todo.length) {
        const promise = prepare(todo[next++]!)
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

  async function importRest() {
    const todo = params.bundle.entries.filter((e) => {
      const status = state.items.get(e.index)?.status
      return status === undefined || status === 'sealed'
    })
    if (todo.length === 0) return
    await preflight()
    let nonce = await ctx.publicClient.getTransactionCount({ address: issuerAddress, blockTag: 'pending' }).catch((error: unknown) => {
      throw toMedvaultError(error)
    })
    const maxInFlight = Math.max(1, params.maxInFlight ?? 4)
    const inFlight = new Set<Promise<void>>()
    let failure: unknown

    const watch = (batch: BatchState) => {
      const settled = (async () => {
        const outcome = await settleBatch(ctx, { issuer: issuerAddress, batch, timeoutMs: receiptTimeoutMs })
        if (!(await settle(batch, outcome))) {
          throw new ChainError(`Batch ${batch.batch} was not mined within ${Math.round(receiptTimeoutMs / 1000)} s.`, {
            hint: 'Check that the chain is running, then run the import again to resume.',
          })
        }
        if (batch.status === 'dropped') {
          throw outcome.status === 'mined'
            ? await revertReason(batch)
            : new ChainError(`Another transaction from ${issuerAddress} used batch ${batch.batch}'s nonce.`, {
                hint: 'Do not use the provider account elsewhere during an import; run the import again to resume.',
              })
        }
      })()
        .catch((error: unknown) => {
          failure ??= error
        })
        .finally(() => inFlight.delete(settled))
      inFlight.add(settled)
    }

    const submit = async (items: Ready[]) => {
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight)
      if (failure) return
      const batch: BatchState = { batch: state.nextBatch++, items: items.map((r) => r.index), nonce, txs: [], status: 'submitted' }
      const tx = await sign(batch)
      state.batches.set(batch.batch, batch)
      for (const i of batch.items) state.items.set(i, { status: 'submitted', sealed: sealedOf(i), batch: batch.batch })
      checkpoint('before-send', ++counts.beforeSend)
      await sendBatch(ctx, issuer, tx, batch.nonce)
      nonce++
      counts.submitted += items.length
      checkpoint('after-submit', ++counts.afterSubmit)
      progress()
      watch(batch)
    }

    try {
      let pending: Ready[] = []
      for await (const ready of prepared(todo, Math.max(1, params.sealConcurrency ?? 4))) {
        if (failure) break
        pending.push(ready)
        if (pending.length === batchSize) {
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

  function result(journalPath: string, seconds: number): ImportBundleReturnType {
    const records: { entry: number; tokenId: bigint }[] = []
    for (const entry of params.bundle.entries) {
      const item = state.items.get(entry.index)
      if (item?.status !== 'confirmed')
        throw new ChainError(`Entry ${entry.index} was not imported.`, { hint: 'Run the import again to resume.' })
      records.push({ entry: entry.index, tokenId: item.tokenId })
    }
    const imported = total - alreadyImported
    const gasUsed = confirmedBatches.reduce((sum, b) => sum + b.gasUsed, 0n)
    return {
      journal: journalPath,
      total,
      imported,
      recovered: counts.recovered,
      alreadyImported,
      skipped: params.bundle.skipped,
      batches: confirmedBatches,
      gasUsed,
      seconds,
      recordsPerSecond: seconds > 0 ? imported / seconds : 0,
      records,
    }
  }

  /** Zeroes the record keys still held (entries not confirmed when the run stopped). */
  function dispose() {
    for (const key of recordKeys.values()) key.fill(0)
    recordKeys.clear()
    journalKey.fill(0)
  }

  return { reconcile, importRest, result, dispose }
}
