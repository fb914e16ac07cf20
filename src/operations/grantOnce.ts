import { type Address, type Hex, getAddress, parseEventLogs } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { toMedvaultError } from '../chain/index.js'
import { type GrantTerms, type Purpose, getGrant, grantCallArgs } from '../consent/index.js'
import { consentRegistryAbi } from '../contracts/index.js'
import { InvalidInputError } from '../errors.js'
import { signContractCall } from '../journal/index.js'
import type { RecordsContext } from '../records/index.js'
import { openOperationJournal, operationJournalPath, operationKey, replayOperation, withoutKeys } from './operationJournal.js'
import { type Made, type OperationPoint, submitOnce } from './submitOnce.js'

export type GrantOnceParameters = {
  /** The patient, or a delegate the patient named. */
  grantor: LocalAccount
  patient: Address
  grantee: Address
  terms: GrantTerms
  /**
   * How long the grant lasts, from when the operation first begins (the CLI's `--for`); or,
   * instead, `expiresAt`: the exact end (the REST API's), part of the idempotency key then.
   */
  durationSeconds?: number
  expiresAt?: Date
  purpose: Purpose
  /** Where operation journals live (`<home>/operations`). */
  journalDir: string
  /** Wraps the covered records' keys to the grantee (the patient's own key; a delegate has none): the step after the grant. */
  releaseKeys?: (grantId: bigint) => Promise<number>
  checkpoint?: (point: OperationPoint, count: number) => void
  receiptTimeoutMs?: number
}

export type GrantOnceReturnType = {
  grantId: bigint
  txHash: Hex
  /** Key slips written by this run. */
  keysReleased: number
  /** `new`: done by this run; `resumed`: finished what a stopped run began; `done-before`: the same grant is already active. */
  outcome: 'new' | 'resumed' | 'done-before'
  journal: string
}

/**
 * Grants access exactly once, crash-safe: the grant transaction and the key slips of the records
 * it covers, each journaled before it has effects. The idempotency key covers the grantor, the
 * patient, the grantee, the terms, the purpose and the duration (not the clock): the same command
 * run again after a crash finishes it with the expiry it began with, and run again while that
 * grant is active returns it instead of making a second one. Once it is revoked or expired, the
 * same command makes a new grant.
 */
export async function grantOnce(ctx: RecordsContext, params: GrantOnceParameters): Promise<GrantOnceReturnType> {
  const grantor = getAddress(params.grantor.address)
  const counts = new Map<OperationPoint, number>()
  const checkpoint = (point: OperationPoint) => {
    const n = (counts.get(point) ?? 0) + 1
    counts.set(point, n)
    params.checkpoint?.(point, n)
  }
  if ((params.durationSeconds === undefined) === (params.expiresAt === undefined)) {
    throw new InvalidInputError('A grant needs either a duration or an expiry time, not both.')
  }
  const fixedExpiry = params.expiresAt ? Math.floor(params.expiresAt.getTime() / 1000) : undefined
  const probe = grantCallArgs({ ...params, expiresAt: new Date(0) })
  const [patient, grantee, scope, tokenIds, categories, sensitive, , purpose] = probe
  const key = operationKey('grant', [
    ctx.deployment.chainId,
    ctx.deployment.consent,
    grantor,
    patient,
    grantee,
    scope,
    tokenIds.map(String).join(','),
    categories,
    sensitive,
    purpose,
    fixedExpiry === undefined ? params.durationSeconds! : `at:${fixedExpiry}`,
  ])
  const path = operationJournalPath(params.journalDir, 'grant', key)
  const journal = openOperationJournal(path)
  try {
    let state = replayOperation(journal.entries)
    if (state.done && state.confirmed) {
      const grantId = BigInt(state.confirmed.id)
      const grant = await getGrant(ctx, grantId).catch(() => undefined)
      if (grant?.active) return { grantId, txHash: state.confirmed.txHash as Hex, keysReleased: 0, outcome: 'done-before', journal: path }
      // Revoked or expired since: the same command now makes a new grant.
      journal.rewrite([])
      state = replayOperation([])
    }
    const resumed = state.begin !== undefined
    if (!state.begin) {
      const block = await ctx.publicClient.getBlock({ blockTag: 'latest' }).catch((error: unknown) => {
        throw toMedvaultError(error)
      })
      const expiresAt = fixedExpiry ?? Math.max(Math.floor(Date.now() / 1000), Number(block.timestamp)) + params.durationSeconds!
      // Refused terms (a record not the patient's, a delegate sharing sensitive records) fail here, before anything is journaled.
      try {
        await ctx.publicClient.simulateContract({
          account: params.grantor,
          address: ctx.deployment.consent,
          abi: consentRegistryAbi,
          functionName: 'grant',
          args: [patient, grantee, scope, tokenIds, categories, sensitive, expiresAt, purpose],
        })
      } catch (error) {
        throw toMedvaultError(error)
      }
      journal.append({
        t: 'begin',
        v: 1,
        op: 'grant',
        key,
        chainId: ctx.deployment.chainId,
        contract: ctx.deployment.consent,
        sender: grantor,
        fromBlock: block.number.toString(),
        at: new Date().toISOString(),
        params: {
          patient,
          grantee,
          scope,
          tokenIds: tokenIds.map(String),
          categories,
          sensitive,
          purpose,
          expiresAt,
        },
      })
      journal.sync()
      state = replayOperation(journal.entries)
    }
    const expiresAt = Number(state.begin!.params.expiresAt)
    const args = [patient, grantee, scope, tokenIds, categories, sensitive, expiresAt, purpose] as const
    // The contract normalises categories and sensitivity in its event (a records grant covers all
    // sensitivity flags of the named records), so those are not compared; the exact expiry is.
    const matches = (a: {
      grantor?: Address | undefined
      scope?: number | undefined
      tokenIds?: readonly bigint[] | undefined
      expiresAt?: number | undefined
      purpose?: number | undefined
    }) =>
      a.grantor?.toLowerCase() === grantor.toLowerCase() &&
      a.scope === scope &&
      (a.tokenIds ?? []).map(String).join() === tokenIds.map(String).join() &&
      a.expiresAt === expiresAt &&
      a.purpose === purpose

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
          functionName: 'grant',
          args,
          nonce,
        }),
      fromReceipt(receipt) {
        const log = parseEventLogs({ abi: consentRegistryAbi, logs: receipt.logs, eventName: 'GrantCreated' }).find(
          (l) => l.address.toLowerCase() === ctx.deployment.consent.toLowerCase() && matches(l.args),
        )
        return log
          ? { id: log.args.grantId, txHash: receipt.transactionHash, block: receipt.blockNumber, gasUsed: receipt.gasUsed }
          : undefined
      },
      async findOnChain(): Promise<Made | undefined> {
        try {
          const latest = await ctx.publicClient.getBlockNumber()
          const from = BigInt(state.begin!.fromBlock)
          const logs = await ctx.publicClient.getContractEvents({
            address: ctx.deployment.consent,
            abi: consentRegistryAbi,
            eventName: 'GrantCreated',
            args: { patient, grantee },
            fromBlock: from <= latest ? from : BigInt(ctx.deployment.deployedAtBlock),
            toBlock: 'latest',
          })
          const log = logs.find((l) => matches(l.args))
          return log ? { id: log.args.grantId!, txHash: log.transactionHash, block: log.blockNumber, gasUsed: 0n } : undefined
        } catch (error) {
          throw toMedvaultError(error)
        }
      },
    })
    const grantId = BigInt(confirmed.id)

    let keysReleased = 0
    if (!state.slips) {
      if (params.releaseKeys) keysReleased = await params.releaseKeys(grantId)
      journal.append({ t: 'slips', count: keysReleased })
      journal.sync()
      state.slips = true
      checkpoint('after-slips')
    }
    journal.rewrite([...withoutKeys(journal.entries), { t: 'done', at: new Date().toISOString() }])
    return { grantId, txHash: confirmed.txHash as Hex, keysReleased, outcome: resumed ? 'resumed' : 'new', journal: path }
  } finally {
    journal.close()
  }
}
