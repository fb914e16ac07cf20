/**
 * The chain side of an import: `mintBatch` transactions signed locally with explicit nonces (so
 * their hashes are journaled before they are sent), their outcome, and the RecordIssued events of
 * one issuer to one patient.
 */
import { CID } from 'multiformats/cid'
import { type Address, type Hex, type TransactionReceipt, parseEventLogs } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { toMedvaultError } from '../chain/index.js'
import { medicalRecordAbi } from '../contracts/index.js'
import { type SignedOutcome, sendSigned, settleSigned, signContractCall, signedKnown } from '../journal/index.js'
import { type MintRequest, type RecordsContext, mintRequestFor } from '../records/index.js'
import type { BatchState, BatchTx } from './importState.js'
import type { SealedEntry } from './journal.js'

export type ChainContext = Pick<RecordsContext, 'publicClient' | 'walletFor' | 'deployment'>

/** The mint request a journaled sealed entry stands for (a new record: an import amends nothing), with the patient's tag of its class. */
export function requestOf(patient: Address, sealed: SealedEntry, tag: Hex): MintRequest {
  return mintRequestFor({
    patient,
    commitment: sealed.commitment as Hex,
    cid: CID.parse(sealed.cid),
    terms: { category: sealed.category, sensitivity: sealed.sensitivity, tag, supersedes: 0n },
  })
}

/**
 * Signs `mintBatch(requests)` with `nonce` (see signContractCall): a batch the contract would
 * refuse, say after the patient revoked the authorisation, throws before anything is journaled or
 * sent; `replacing` is the batch's earlier version, whose fees a re-signed one must beat.
 */
export function signBatch(
  ctx: ChainContext,
  params: { issuer: LocalAccount; requests: MintRequest[]; nonce: number; replacing?: BatchTx },
): Promise<BatchTx & { serialized: Hex }> {
  return signContractCall(ctx, {
    account: params.issuer,
    address: ctx.deployment.records,
    abi: medicalRecordAbi,
    functionName: 'mintBatch',
    args: [params.requests],
    nonce: params.nonce,
    replacing: params.replacing,
  })
}

/**
 * Broadcasts a signed batch. A node that refuses it because it already has it, or because the nonce
 * was used meanwhile, is not an error here: `settleBatch` finds out what became of the batch.
 */
export function sendBatch(ctx: ChainContext, issuer: LocalAccount, tx: { hash: Hex; serialized: Hex }, nonce: number): Promise<void> {
  return sendSigned(ctx, issuer, tx, nonce)
}

export type BatchOutcome = SignedOutcome

/**
 * What became of a batch: one of its versions mined (with its receipt), its nonce used by some
 * other transaction, or neither by `timeoutMs` (0: look once).
 */
export function settleBatch(
  ctx: ChainContext,
  params: { issuer: Address; batch: Pick<BatchState, 'txs' | 'nonce'>; timeoutMs: number },
): Promise<BatchOutcome> {
  return settleSigned(ctx, { sender: params.issuer, txs: params.batch.txs, nonce: params.batch.nonce, timeoutMs: params.timeoutMs })
}

/** Whether any version of a batch is known to the node (mined or in its mempool). */
export function batchKnown(ctx: ChainContext, batch: Pick<BatchState, 'txs'>): Promise<boolean> {
  return signedKnown(ctx, batch.txs)
}

export type IssuedRecord = {
  tokenId: bigint
  patient: Address
  issuer: Address
  commitment: Hex
  cidDigest: Hex
  cidCodec: number
  tag: Hex
  supersedes: bigint
  blockNumber: bigint
  transactionHash: Hex
}

function toIssued(log: {
  args: {
    tokenId?: bigint | undefined
    patient?: Address | undefined
    issuer?: Address | undefined
    commitment?: Hex | undefined
    cidDigest?: Hex | undefined
    cidCodec?: number | undefined
    tag?: Hex | undefined
    supersedes?: bigint | undefined
  }
  blockNumber: bigint | null
  transactionHash: Hex | null
}): IssuedRecord {
  const { args } = log
  return {
    tokenId: args.tokenId!,
    patient: args.patient!,
    issuer: args.issuer!,
    commitment: args.commitment!,
    cidDigest: args.cidDigest!,
    cidCodec: args.cidCodec!,
    tag: args.tag!,
    supersedes: args.supersedes!,
    blockNumber: log.blockNumber ?? 0n,
    transactionHash: log.transactionHash ?? '0x',
  }
}

/** The records `issuer` issued to `patient` from `fromBlock` on (RecordIssued events), by commitment. */
export async function findIssued(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  params: { patient: Address; issuer: Address; fromBlock: bigint },
): Promise<Map<Hex, IssuedRecord>> {
  try {
    const latest = await ctx.publicClient.getBlockNumber()
    // A chain restored from an older state may be below where the import began.
    const fromBlock = params.fromBlock <= latest ? params.fromBlock : BigInt(ctx.deployment.deployedAtBlock)
    const logs = await ctx.publicClient.getContractEvents({
      address: ctx.deployment.records,
      abi: medicalRecordAbi,
      eventName: 'RecordIssued',
      args: { patient: params.patient, issuer: params.issuer },
      fromBlock,
      toBlock: 'latest',
    })
    return new Map(logs.map((log) => [log.args.commitment!.toLowerCase() as Hex, toIssued(log)]))
  } catch (error) {
    throw toMedvaultError(error)
  }
}

/** The RecordIssued events of a receipt from the records contract, by commitment. */
export function issuedInReceipt(ctx: Pick<RecordsContext, 'deployment'>, receipt: TransactionReceipt): Map<Hex, IssuedRecord> {
  const logs = parseEventLogs({ abi: medicalRecordAbi, logs: receipt.logs, eventName: 'RecordIssued' }).filter(
    (log) => log.address.toLowerCase() === ctx.deployment.records.toLowerCase(),
  )
  return new Map(logs.map((log) => [log.args.commitment.toLowerCase() as Hex, toIssued(log)]))
}

/**
 * True when an on-chain record is exactly what `issuer` asked to mint, and not an amendment. The
 * event carries only the blinded tag (logs say nothing about care); the salted commitment names
 * this request's content alone, and only this request's transaction could mint it.
 */
export function matchesRequest(issued: IssuedRecord, request: MintRequest, issuer: Address): boolean {
  return (
    issued.patient.toLowerCase() === request.patient.toLowerCase() &&
    issued.issuer.toLowerCase() === issuer.toLowerCase() &&
    issued.commitment.toLowerCase() === request.commitment.toLowerCase() &&
    issued.cidDigest.toLowerCase() === request.cidDigest.toLowerCase() &&
    issued.cidCodec === request.cidCodec &&
    issued.tag.toLowerCase() === request.tag.toLowerCase() &&
    issued.supersedes === 0n
  )
}
