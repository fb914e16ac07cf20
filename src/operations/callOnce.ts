import { type Abi, type Address, type Hex, type Log, getAddress, parseEventLogs } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { toMedvaultError } from '../chain/index.js'
import { signContractCall } from '../journal/index.js'
import type { RecordsContext } from '../records/index.js'
import {
  type Operation,
  type OperationBegin,
  openOperationJournal,
  operationJournalPath,
  operationKey,
  finishOperation,
  replayOperation,
} from './operationJournal.js'
import { type Made, type OnceOptions, type OnceOutcome, countedCheckpoint, submitOnce } from './submitOnce.js'

/** An event of the operation's contract, decoded. */
export type DecodedEvent = { args: Record<string, unknown>; transactionHash: Hex; blockNumber: bigint; address: Address }

export type CallOnceParameters = OnceOptions & {
  op: Operation
  /** What makes two runs the same operation, besides the operation, the chain and the contract. */
  keyParts: readonly (string | number | bigint)[]
  sender: LocalAccount
  contract: Address
  abi: Abi
  /** What the command asked for, journaled at begin (addresses, ids, codes, times: no health data). */
  params: (latest: { number: bigint; timestamp: bigint }) => OperationBegin['params']
  /** The call, from the begin entry: a run that resumes sends exactly what the first run began. */
  call: (begin: OperationBegin) => { functionName: string; args: readonly unknown[] }
  /** The event the call emits, and how to tell this operation's among them; `id` is what is journaled as made. */
  effect: {
    eventName: string
    /** Indexed arguments to filter the chain's events by, when looking for the effect without a receipt. */
    filter?: (begin: OperationBegin) => Record<string, unknown>
    match: (event: DecodedEvent, begin: OperationBegin) => bigint | undefined
  }
  /** Whether a completed earlier run still stands (a grant still active); if not, the same command acts anew. */
  stillDone?: (id: bigint, begin: OperationBegin) => Promise<boolean>
  /** The step after the transaction (key slips), journaled as done once it ran; returns a count to report. */
  after?: (id: bigint, begin: OperationBegin) => Promise<number>
}

export type CallOnceReturnType = OnceOutcome & {
  id: bigint
  txHash: Hex
  begin: OperationBegin
  /** What `after` returned in this run (0 when it ran before or there is none). */
  afterCount: number
}

/**
 * One contract call made exactly once, crash-safe: the shape grant, revoke, delegate and
 * emergency share (record issuing adds sealing, see issueRecordOnce). The call is dry-run before
 * anything is journaled, so a refusal leaves no journal; then begin, the signed transaction, its
 * confirmation and the step after it are each journaled before they have effects, and the same
 * command run again finishes what a killed run left in flight instead of sending a second call.
 */
export async function callOnce(ctx: RecordsContext, p: CallOnceParameters): Promise<CallOnceReturnType> {
  const sender = getAddress(p.sender.address)
  const contract = getAddress(p.contract)
  const checkpoint = countedCheckpoint(p.checkpoint)
  const key = operationKey(p.op, [ctx.deployment.chainId, contract, sender, ...p.keyParts])
  const path = operationJournalPath(p.journalDir, p.op, key)
  const journal = openOperationJournal(path)
  const decode = (logs: readonly Log[]): DecodedEvent[] =>
    (parseEventLogs({ abi: p.abi, logs: [...logs], eventName: p.effect.eventName } as never) as unknown as DecodedEvent[]).filter(
      (e) => getAddress(e.address) === contract,
    )
  try {
    let state = replayOperation(journal.entries)
    if (state.done && state.confirmed && state.begin) {
      const id = BigInt(state.confirmed.id)
      const stands = p.stillDone ? await p.stillDone(id, state.begin) : true
      if (stands) {
        return { id, txHash: state.confirmed.txHash as Hex, begin: state.begin, afterCount: 0, outcome: 'done-before', journal: path }
      }
      // Undone since (a grant revoked or expired, a delegate removed): the same command acts anew.
      journal.rewrite([])
      state = replayOperation([])
    }
    const resumed = state.begin !== undefined
    if (!state.begin) {
      const latest = await ctx.publicClient.getBlock({ blockTag: 'latest' }).catch((error: unknown) => {
        throw toMedvaultError(error)
      })
      const begin: OperationBegin = {
        t: 'begin',
        v: 1,
        op: p.op,
        key,
        chainId: ctx.deployment.chainId,
        contract,
        sender,
        fromBlock: latest.number.toString(),
        at: new Date().toISOString(),
        params: p.params(latest),
      }
      // Refused calls (not the caller's to make, already ended, bad terms) fail here, before anything is journaled.
      try {
        await ctx.publicClient.simulateContract({ account: p.sender, address: contract, abi: p.abi, ...p.call(begin) } as never)
      } catch (error) {
        throw toMedvaultError(error)
      }
      journal.append(begin)
      journal.sync()
      state = replayOperation(journal.entries)
    }
    const begin = state.begin!
    const { functionName, args } = p.call(begin)
    const made = (event: DecodedEvent | undefined, gasUsed: bigint): Made | undefined => {
      const id = event && p.effect.match(event, begin)
      return id === undefined ? undefined : { id, txHash: event!.transactionHash, block: event!.blockNumber, gasUsed }
    }
    const confirmed = await submitOnce(ctx, {
      journal,
      state,
      sender: p.sender,
      timeoutMs: p.receiptTimeoutMs ?? 120_000,
      checkpoint,
      sign: (nonce) => signContractCall(ctx, { account: p.sender, address: contract, abi: p.abi, functionName, args, nonce } as never),
      fromReceipt: (receipt) =>
        decode(receipt.logs)
          .map((e) => made(e, receipt.gasUsed))
          .find(Boolean),
      async findOnChain() {
        try {
          const latest = await ctx.publicClient.getBlockNumber()
          const from = BigInt(begin.fromBlock)
          const events = (await ctx.publicClient.getContractEvents({
            address: contract,
            abi: p.abi,
            eventName: p.effect.eventName,
            args: p.effect.filter?.(begin),
            fromBlock: from <= latest ? from : BigInt(ctx.deployment.deployedAtBlock),
            toBlock: 'latest',
          } as never)) as unknown as DecodedEvent[]
          return events.map((e) => made(e, 0n)).find(Boolean)
        } catch (error) {
          throw toMedvaultError(error)
        }
      },
    })
    const id = BigInt(confirmed.id)
    let afterCount = 0
    if (p.after && !state.slips) {
      afterCount = await p.after(id, begin)
      journal.append({ t: 'slips', count: afterCount })
      journal.sync()
      state.slips = true
      checkpoint('after-slips')
    }
    finishOperation(journal)
    return { id, txHash: confirmed.txHash as Hex, begin, afterCount, outcome: resumed ? 'resumed' : 'new', journal: path }
  } finally {
    journal.close()
  }
}
