import { CID } from 'multiformats/cid'
import { type Address, type Hex, getAddress, parseEventLogs } from 'viem'
import { toMedvaultError } from '../chain/index.js'
import { medicalRecordAbi } from '../contracts/index.js'
import { ChainError } from '../errors.js'
import { type JournalKeyBox, journalKeyOf, openJournalKey, sealJournalKey } from '../import/index.js'
import { signContractCall } from '../journal/index.js'
import {
  type IssueRecordParameters,
  type IssueRecordReturnType,
  type MintRequest,
  type RecordsContext,
  commitContent,
  getOnChainRecord,
  granteesForNewRecord,
  issueTerms,
  mintCall,
  mintConsent,
  mintRequestFor,
  preflightMint,
  sealForIssue,
  shareTagsWithIssuer,
  tagForIssue,
  writeNewRecordSlips,
} from '../records/index.js'
import {
  type OperationConfirmed,
  type OperationSealed,
  type OperationState,
  finishOperation,
  openOperationJournal,
  operationJournalPath,
  operationKey,
  replayOperation,
} from './operationJournal.js'
import { type Made, type OnceOptions, type OnceOutcome, countedCheckpoint, submitOnce } from './submitOnce.js'

export type IssueRecordOnceParameters = OnceOptions &
  IssueRecordParameters & {
    /** Brings the home's index up to the chain (the last step); a failure is reported, not thrown: the index is a cache. */
    syncIndex?: () => Promise<void>
  }

export type IssueRecordOnceReturnType = OnceOutcome &
  IssueRecordReturnType & {
    /** Why the index could not be brought up to date, if it could not (the server catches up by itself). */
    indexError?: string
  }

/**
 * Issues a record exactly once, crash-safe: `issueRecord`'s steps (seal and store the ciphertext,
 * mint with the patient's consent, write key slips), each journaled before it has effects, then
 * the index synced. The journal is named by an idempotency key over the issuer, the patient, the
 * content's sha256, its type, category, sensitivity, the record it amends and the deployment (the
 * category tag follows from the patient and the class): the
 * same command run again after a crash finishes the operation (re-using the stored ciphertext and
 * the transaction in flight), and run again after it completed returns the same record. A record
 * the patient has since erased does not count: issuing it again makes a new one.
 *
 * @example
 * const r = await issueRecordOnce(mv, { issuer: lab, patient: alice, content: { bytes }, contentType: FHIR_JSON,
 *   category: 'laboratory', consent: { standing: true }, journalDir: join(mv.paths.dir, 'operations') })
 */
export async function issueRecordOnce(ctx: RecordsContext, params: IssueRecordOnceParameters): Promise<IssueRecordOnceReturnType> {
  const issuer = params.issuer.chainAccount
  const issuerAddress = getAddress(issuer.address)
  const patient = getAddress(params.patient.address)
  // Computed afresh on every run (it is a function of the patient's secret and the class), so the journal need not keep it.
  const tag = await tagForIssue(ctx, { ...params, patient })
  const terms = issueTerms({ ...params, tag })
  const { category, sensitivity, supersedes } = terms
  const op = supersedes === 0n ? 'record-add' : 'record-amend'
  const checkpoint = countedCheckpoint(params.checkpoint)

  const committed = await commitContent(params.content, params.onProgress)
  const sha256 = `0x${Buffer.from(committed.sha256).toString('hex')}`
  const key = operationKey(op, [
    ctx.deployment.chainId,
    ctx.deployment.records,
    issuerAddress,
    patient,
    sha256,
    params.contentType,
    category,
    sensitivity,
    supersedes,
  ])
  const path = operationJournalPath(params.journalDir, op, key)
  const journal = openOperationJournal(path)
  const journalKey = journalKeyOf(params.issuer.encryptionSeed)
  let recordKey: Uint8Array | undefined
  try {
    let state = replayOperation(journal.entries)
    if (state.done) {
      const previous = await completed(ctx, state, patient)
      if (previous) return { ...previous, outcome: 'done-before', journal: path }
      // Erased since (or gone from a chain restored from an older state): this is a new operation.
      journal.rewrite([])
      state = replayOperation([])
    }
    const resumed = state.begin !== undefined

    // The patient's consent for the mint, signed afresh for each transaction (it carries their nonce).
    const consentFor = () =>
      mintConsent(ctx, {
        consent: params.consent,
        issuer: issuerAddress,
        commitment: (state.sealed?.commitment ?? committed.commitment) as Hex,
        terms,
      })
    const base = { address: ctx.deployment.records, abi: medicalRecordAbi } as const

    if (!state.begin) {
      // Dry-run the mint (a placeholder content address) before storing anything: an inactive
      // issuer, a refused consent or bad fields leave no orphan ciphertext and no journal behind.
      const { deadline, consent } = await consentFor()
      const fromBlock = await ctx.publicClient
        .getBlockNumber()
        .then((n) => n.toString())
        .catch((error: unknown) => {
          throw toMedvaultError(error)
        })
      await preflightMint(ctx, { issuer, patient, commitment: committed.commitment, terms, deadline, consent })
      // Shared again if a crash comes before the journal begins: a newer table replaces the same one.
      await shareTagsWithIssuer(ctx, { consent: params.consent, issuer: params.issuer })
      journal.append({
        t: 'begin',
        v: 1,
        op,
        key,
        chainId: ctx.deployment.chainId,
        contract: ctx.deployment.records,
        sender: issuerAddress,
        fromBlock,
        at: new Date().toISOString(),
        params: {
          patient,
          issuer: issuerAddress,
          sha256,
          contentType: params.contentType,
          category,
          sensitivity,
          supersedes: supersedes.toString(),
        },
      })
      journal.sync()
      state = replayOperation(journal.entries)
    }

    // Seal and store, unless an earlier run did and the ciphertext is still there.
    const sealedStored = state.sealed && (await ctx.store.has(CID.parse(state.sealed.cid)))
    if (!state.confirmed && state.inFlight.length === 0 && !sealedStored) {
      const sealed = await sealForIssue(ctx, { issuer, input: params, terms, committed })
      recordKey = sealed.recordKey
      const cid = sealed.cid.toString()
      journal.append({
        t: 'sealed',
        cid,
        commitment: sealed.commitment,
        category,
        sensitivity,
        key: sealJournalKey(journalKey, sealed.recordKey, cid, issuerAddress),
      })
      journal.sync()
      state = replayOperation(journal.entries)
      checkpoint('after-seal')
    }
    const sealed = state.sealed
    if (!sealed) throw new ChainError('The operation journal holds a transaction but no sealed record.')
    const request = mintRequestFor({ patient, commitment: sealed.commitment as Hex, cid: CID.parse(sealed.cid), terms })

    params.onProgress?.({ stage: 'minting' })
    const confirmed = await submitOnce(ctx, {
      journal,
      state,
      sender: issuer,
      timeoutMs: params.receiptTimeoutMs ?? 120_000,
      checkpoint,
      async sign(nonce) {
        const { deadline, consent } = await consentFor()
        const call = mintCall(terms, request, deadline, consent)
        return call.functionName === 'mint'
          ? signContractCall(ctx, { ...base, account: issuer, functionName: 'mint', args: call.args, nonce })
          : signContractCall(ctx, { ...base, account: issuer, functionName: 'amend', args: call.args, nonce })
      },
      fromReceipt(receipt) {
        const logs = parseEventLogs({ abi: medicalRecordAbi, logs: receipt.logs, eventName: 'RecordIssued' })
        const log = logs.find(
          (l) =>
            l.address.toLowerCase() === ctx.deployment.records.toLowerCase() &&
            l.args.commitment.toLowerCase() === request.commitment.toLowerCase(),
        )
        return log
          ? { id: log.args.tokenId, txHash: receipt.transactionHash, block: receipt.blockNumber, gasUsed: receipt.gasUsed }
          : undefined
      },
      findOnChain: () => findIssued(ctx, { request, issuer: issuerAddress, supersedes, fromBlock: BigInt(state.begin!.fromBlock) }),
    })
    const tokenId = BigInt(confirmed.id)

    if (!state.slips) {
      const box = sealed.key
      recordKey ??= box && box.ct !== '0x' ? openJournalKey(journalKey, box as JournalKeyBox, sealed.cid, issuerAddress) : undefined
      if (recordKey) {
        const grantees = await granteesForNewRecord(ctx, { patient, tag })
        await writeNewRecordSlips(ctx, { issuer: issuerAddress, recordKey, tokenId, cid: sealed.cid, sensitivity, grantees })
      }
      journal.append({ t: 'slips', count: 1 })
      journal.sync()
      state.slips = true
      checkpoint('after-slips')
    }

    let indexError: string | undefined
    if (params.syncIndex)
      await params.syncIndex().catch((error: unknown) => (indexError = error instanceof Error ? error.message : String(error)))
    finishOperation(journal)
    return {
      ...issuedRecord(sealed, confirmed),
      outcome: resumed ? 'resumed' : 'new',
      journal: path,
      ...(indexError ? { indexError } : {}),
    }
  } finally {
    recordKey?.fill(0)
    journalKey.fill(0)
    journal.close()
  }
}

/** A completed operation's record, if it is still on chain, the patient's and not erased. */
async function completed(ctx: RecordsContext, state: OperationState, patient: Address) {
  const { confirmed, sealed } = state
  if (!confirmed || !sealed) return undefined
  const tokenId = BigInt(confirmed.id)
  const record = await getOnChainRecord(ctx, tokenId).catch(() => undefined)
  if (!record || record.erasedAt || record.owner !== patient || record.commitment.toLowerCase() !== sealed.commitment.toLowerCase())
    return undefined
  return issuedRecord(sealed, confirmed)
}

/** The record an operation issued, per its journal. */
function issuedRecord(sealed: OperationSealed, confirmed: OperationConfirmed): IssueRecordReturnType {
  return {
    tokenId: BigInt(confirmed.id),
    cid: CID.parse(sealed.cid),
    commitment: sealed.commitment as Hex,
    txHash: confirmed.txHash as Hex,
    gasUsed: BigInt(confirmed.gasUsed),
  }
}

/** The record this operation asked for, in the RecordIssued events since it began (every field checked). */
async function findIssued(
  ctx: RecordsContext,
  params: { request: MintRequest; issuer: Address; supersedes: bigint; fromBlock: bigint },
): Promise<Made | undefined> {
  const { request } = params
  try {
    const latest = await ctx.publicClient.getBlockNumber()
    const logs = await ctx.publicClient.getContractEvents({
      address: ctx.deployment.records,
      abi: medicalRecordAbi,
      eventName: 'RecordIssued',
      args: { patient: request.patient, issuer: params.issuer },
      fromBlock: params.fromBlock <= latest ? params.fromBlock : BigInt(ctx.deployment.deployedAtBlock),
      toBlock: 'latest',
    })
    const log = logs.find(
      (l) =>
        l.args.commitment?.toLowerCase() === request.commitment.toLowerCase() &&
        l.args.cidDigest?.toLowerCase() === request.cidDigest.toLowerCase() &&
        l.args.supersedes === params.supersedes,
    )
    if (!log) return undefined
    const receipt = await ctx.publicClient.getTransactionReceipt({ hash: log.transactionHash }).catch(() => undefined)
    return { id: log.args.tokenId!, txHash: log.transactionHash, block: log.blockNumber, gasUsed: receipt?.gasUsed ?? 0n }
  } catch (error) {
    throw toMedvaultError(error)
  }
}
