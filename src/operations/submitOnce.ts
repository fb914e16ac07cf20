import type { Hex, TransactionReceipt } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { toMedvaultError } from '../chain/index.js'
import { ChainError } from '../errors.js'
import { type ChainContext, type SignedTx, sendSigned, settleSigned, signedKnown } from '../journal/index.js'
import type { OperationConfirmed, OperationJournal, OperationState } from './operationJournal.js'

/** What an operation's transaction made: the token or grant id, where. */
export type Made = { id: bigint; txHash: Hex; block: bigint; gasUsed: bigint }

/** Named points of an operation, for fault injection (`MEDVAULT_FAULT=record-add:after-submit`). */
export type OperationPoint = 'after-seal' | 'before-send' | 'after-submit' | 'after-confirm' | 'after-slips'

/** How a crash-safe operation is journaled and waited for: the same for every `*Once` operation. */
export type OnceOptions = {
  /** Where operation journals live (`<home>/operations`). */
  journalDir: string
  checkpoint?: ((point: OperationPoint, count: number) => void) | undefined
  /** How long to wait for the transaction to be mined (default 2 minutes). */
  receiptTimeoutMs?: number | undefined
}

/** What every `*Once` operation reports besides its result. */
export type OnceOutcome = {
  /** `new`: done by this run; `resumed`: finished what a stopped run began; `done-before`: a completed run's result still stands. */
  outcome: 'new' | 'resumed' | 'done-before'
  /** The operation's journal file. */
  journal: string
}

/** The OnceOptions of a wider parameter object (so an operation passes on exactly these). */
export function onceOptions(p: OnceOptions): OnceOptions {
  return { journalDir: p.journalDir, checkpoint: p.checkpoint, receiptTimeoutMs: p.receiptTimeoutMs }
}

/** A checkpoint that counts how often each point was reached in this run, for `MEDVAULT_FAULT=op:point:n`. */
export function countedCheckpoint(report?: (point: OperationPoint, count: number) => void): (point: OperationPoint) => void {
  const counts = new Map<OperationPoint, number>()
  return (point) => {
    const n = (counts.get(point) ?? 0) + 1
    counts.set(point, n)
    report?.(point, n)
  }
}

export type SubmitOnceParameters = {
  journal: OperationJournal
  state: OperationState
  sender: LocalAccount
  /** Builds and signs the operation's transaction with `nonce`; throws a typed error if the chain would refuse it. */
  sign(nonce: number): Promise<SignedTx>
  /** What a successful receipt of the operation's transaction made. */
  fromReceipt(receipt: TransactionReceipt): Made | undefined
  /** The operation's result in the chain's events, if it is there (found by content, not by transaction). */
  findOnChain(): Promise<Made | undefined>
  checkpoint(point: OperationPoint): void
  /** How long to wait for the transaction to be mined. */
  timeoutMs: number
}

const MAX_ATTEMPTS = 4

/**
 * Gets an operation's one transaction mined exactly once. A transaction journaled by an earlier
 * run is settled first: from its receipt, or (its nonce taken by another transaction) from the
 * chain's events; one the node never saw is broadcast again, the same signed bytes, so at most
 * one version can ever be mined. Only when the journal shows that none can be mined any more
 * (reverted, or its nonce used by another transaction without the result on chain) is a new
 * transaction signed, journaled and sent.
 */
export async function submitOnce(ctx: ChainContext, p: SubmitOnceParameters): Promise<OperationConfirmed> {
  const { journal, state, sender } = p
  const confirm = (made: Made) => {
    const entry: OperationConfirmed = {
      t: 'confirmed',
      txHash: made.txHash,
      block: made.block.toString(),
      gasUsed: made.gasUsed.toString(),
      id: made.id.toString(),
    }
    journal.append(entry)
    journal.sync()
    state.confirmed = entry
    state.inFlight = []
    p.checkpoint('after-confirm')
  }
  const drop = (reason: 'reverted' | 'replaced') => {
    journal.append({ t: 'dropped', reason })
    journal.sync()
    state.inFlight = []
  }

  const txs = () => state.inFlight.map((e) => ({ hash: e.txHash as Hex }))

  for (let attempt = 0; attempt < MAX_ATTEMPTS && !state.confirmed; attempt++) {
    if (state.inFlight.length === 0) {
      // Nothing in flight per the journal; the chain is asked anyway before a new transaction goes out.
      const found = await p.findOnChain()
      if (found) {
        confirm(found)
        break
      }
      const nonce = await ctx.publicClient.getTransactionCount({ address: sender.address, blockTag: 'pending' }).catch((error: unknown) => {
        throw toMedvaultError(error)
      })
      const tx = await p.sign(nonce)
      const entry = { t: 'submitted' as const, nonce, txHash: tx.hash, raw: tx.serialized }
      journal.append(entry)
      // On disk before the transaction leaves the process.
      journal.sync()
      state.inFlight.push(entry)
      p.checkpoint('before-send')
      await sendSigned(ctx, sender, tx, nonce)
      p.checkpoint('after-submit')
    } else {
      const quick = await settleSigned(ctx, { sender: sender.address, txs: txs(), nonce: state.inFlight[0]!.nonce, timeoutMs: 0 })
      if (quick.status === 'pending' && !(await signedKnown(ctx, txs()))) {
        // Journaled but never sent, or lost by the node: the same signed bytes again.
        const last = state.inFlight.at(-1)!
        await sendSigned(ctx, sender, { hash: last.txHash as Hex, serialized: last.raw as Hex }, last.nonce)
      }
    }
    const nonce = state.inFlight[0]!.nonce
    const outcome = await settleSigned(ctx, { sender: sender.address, txs: txs(), nonce, timeoutMs: p.timeoutMs })
    if (outcome.status === 'mined') {
      if (outcome.receipt.status === 'success') {
        const made = p.fromReceipt(outcome.receipt)
        if (!made) throw new ChainError(`Transaction ${outcome.receipt.transactionHash} was mined but did not do what was asked.`)
        confirm(made)
      } else {
        // Mined and refused (an expired consent, a grant that lapsed meanwhile): signed afresh next,
        // where gas estimation names the reason if the chain still refuses.
        drop('reverted')
      }
      continue
    }
    if (outcome.status === 'replaced') {
      const found = await p.findOnChain()
      if (found) confirm(found)
      else drop('replaced')
      continue
    }
    throw new ChainError(`Transaction ${state.inFlight.at(-1)!.txHash} (nonce ${nonce}) is not mined yet.`, {
      hint: 'Check that the chain is running, then run the same command again: it waits for that transaction and never sends a second one.',
    })
  }
  if (!state.confirmed) {
    throw new ChainError(`The transaction was refused or replaced ${MAX_ATTEMPTS} times.`, {
      hint: 'Do not use this account elsewhere meanwhile, then run the same command again.',
    })
  }
  return state.confirmed
}
