import { type Hex, getAddress, parseEventLogs } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { toMedvaultError } from '../chain/index.js'
import { getGrant } from '../consent/index.js'
import { consentRegistryAbi } from '../contracts/index.js'
import { signContractCall } from '../journal/index.js'
import type { RecordsContext } from '../records/index.js'
import { openOperationJournal, operationJournalPath, operationKey, replayOperation } from './operationJournal.js'
import { type Made, type OperationPoint, submitOnce } from './submitOnce.js'

export type RevokeOnceParameters = {
  /** The patient, or a delegate the patient named. */
  grantor: LocalAccount
  grantId: bigint
  /** Where operation journals live (`<home>/operations`). */
  journalDir: string
  checkpoint?: (point: OperationPoint, count: number) => void
  receiptTimeoutMs?: number
}

export type RevokeOnceReturnType = {
  txHash: Hex
  /** `new`: revoked by this run; `resumed`: finished what a stopped run began; `done-before`: a run of this command revoked it already. */
  outcome: 'new' | 'resumed' | 'done-before'
  journal: string
}

/**
 * Revokes a grant exactly once, crash-safe: the revocation transaction is journaled before it
 * leaves the process, so the same command run again after a crash waits for that transaction (or
 * finds the revocation on chain) instead of sending a second one that the chain would refuse
 * ("already ended"), and run again after it completed reports it done.
 */
export async function revokeOnce(ctx: RecordsContext, params: RevokeOnceParameters): Promise<RevokeOnceReturnType> {
  const grantor = getAddress(params.grantor.address)
  const { grantId } = params
  const counts = new Map<OperationPoint, number>()
  const checkpoint = (point: OperationPoint) => {
    const n = (counts.get(point) ?? 0) + 1
    counts.set(point, n)
    params.checkpoint?.(point, n)
  }
  const key = operationKey('revoke', [ctx.deployment.chainId, ctx.deployment.consent, grantor, grantId])
  const path = operationJournalPath(params.journalDir, 'revoke', key)
  const journal = openOperationJournal(path)
  try {
    let state = replayOperation(journal.entries)
    if (state.done && state.confirmed) return { txHash: state.confirmed.txHash as Hex, outcome: 'done-before', journal: path }
    const resumed = state.begin !== undefined
    if (!state.begin) {
      const block = await ctx.publicClient.getBlock({ blockTag: 'latest' }).catch((error: unknown) => {
        throw toMedvaultError(error)
      })
      // A grant that is not this grantor's to revoke, or already ended, is refused here, before anything is journaled.
      try {
        await ctx.publicClient.simulateContract({
          account: params.grantor,
          address: ctx.deployment.consent,
          abi: consentRegistryAbi,
          functionName: 'revoke',
          args: [grantId],
        })
      } catch (error) {
        throw toMedvaultError(error)
      }
      journal.append({
        t: 'begin',
        v: 1,
        op: 'revoke',
        key,
        chainId: ctx.deployment.chainId,
        contract: ctx.deployment.consent,
        sender: grantor,
        fromBlock: block.number.toString(),
        at: new Date().toISOString(),
        params: { grantId: grantId.toString() },
      })
      journal.sync()
      state = replayOperation(journal.entries)
    }
    const revokedIn = (logs: Parameters<typeof parseEventLogs>[0]['logs']) =>
      parseEventLogs({ abi: consentRegistryAbi, logs, eventName: 'GrantRevoked' }).find(
        (l) => l.address.toLowerCase() === ctx.deployment.consent.toLowerCase() && l.args.grantId === grantId,
      )
    const confirmed = await submitOnce(ctx, {
      journal,
      state,
      sender: params.grantor,
      timeoutMs: params.receiptTimeoutMs ?? 120_000,
      checkpoint,
      sign: (nonce) =>
        signContractCall(ctx, {
          account: params.grantor,
          address: ctx.deployment.consent,
          abi: consentRegistryAbi,
          functionName: 'revoke',
          args: [grantId],
          nonce,
        }),
      fromReceipt(receipt) {
        const log = revokedIn(receipt.logs)
        return log ? { id: grantId, txHash: receipt.transactionHash, block: receipt.blockNumber, gasUsed: receipt.gasUsed } : undefined
      },
      async findOnChain(): Promise<Made | undefined> {
        try {
          const grant = await getGrant(ctx, grantId)
          if (!grant.revokedAt) return undefined
          const latest = await ctx.publicClient.getBlockNumber()
          const from = BigInt(state.begin!.fromBlock)
          const logs = await ctx.publicClient.getContractEvents({
            address: ctx.deployment.consent,
            abi: consentRegistryAbi,
            eventName: 'GrantRevoked',
            args: { grantId },
            fromBlock: from <= latest ? from : BigInt(ctx.deployment.deployedAtBlock),
            toBlock: 'latest',
          })
          const log = logs.find((l) => l.args.grantId === grantId)
          return log ? { id: grantId, txHash: log.transactionHash, block: log.blockNumber, gasUsed: 0n } : undefined
        } catch (error) {
          throw toMedvaultError(error)
        }
      },
    })
    journal.rewrite([...journal.entries, { t: 'done', at: new Date().toISOString() }])
    return { txHash: confirmed.txHash as Hex, outcome: resumed ? 'resumed' : 'new', journal: path }
  } finally {
    journal.close()
  }
}
