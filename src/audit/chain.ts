/** Reading the AuditAnchor contract: how many batches a log has anchored, and each batch. */
import type { Address, Hex } from 'viem'
import { toMedvaultError } from '../chain/index.js'
import type { Deployment } from '../chain/index.js'
import { auditAnchorAbi } from '../contracts/index.js'
import type { RecordsContext } from '../core/index.js'

/** What reading anchors needs: a public client and the AuditAnchor address. */
export type AuditReadContext = Pick<RecordsContext, 'publicClient'> & { deployment: Pick<Deployment, 'audit'> }
/** What anchoring needs: also a wallet for the log's signer. */
export type AuditWriteContext = AuditReadContext & Pick<RecordsContext, 'walletFor'>

export type AnchoredBatch = {
  index: number
  root: Hex
  head: Hex
  firstSeq: number
  lastSeq: number
  anchoredAt: Date
}

async function read<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    throw toMedvaultError(error)
  }
}

/** Number of batches `log` (the signer's address) has anchored. */
export async function anchoredBatchCount(ctx: AuditReadContext, log: Address): Promise<number> {
  const count = await read(() =>
    ctx.publicClient.readContract({ address: ctx.deployment.audit, abi: auditAnchorAbi, functionName: 'batchCount', args: [log] }),
  )
  return Number(count)
}

/** Batch `index` of `log`; the index must be below the batch count. */
export async function anchoredBatch(ctx: AuditReadContext, log: Address, index: number): Promise<AnchoredBatch> {
  const b = await read(() =>
    ctx.publicClient.readContract({
      address: ctx.deployment.audit,
      abi: auditAnchorAbi,
      functionName: 'batchAt',
      args: [log, BigInt(index)],
    }),
  )
  return {
    index,
    root: b.root,
    head: b.head,
    firstSeq: Number(b.firstSeq),
    lastSeq: Number(b.lastSeq),
    anchoredAt: new Date(Number(b.anchoredAt) * 1000),
  }
}

/** Every batch of `log`, oldest first (reads `parallel` batches at a time). */
export async function anchoredBatches(ctx: AuditReadContext, log: Address, parallel = 16): Promise<AnchoredBatch[]> {
  const count = await anchoredBatchCount(ctx, log)
  const batches: AnchoredBatch[] = []
  for (let i = 0; i < count; i += parallel) {
    const indexes = Array.from({ length: Math.min(parallel, count - i) }, (_, k) => i + k)
    batches.push(...(await Promise.all(indexes.map((index) => anchoredBatch(ctx, log, index)))))
  }
  return batches
}

/** The batch of `log` that holds entry `seq`, or undefined when it is not anchored yet (binary search). */
export async function findAnchoredBatch(ctx: AuditReadContext, log: Address, seq: number): Promise<AnchoredBatch | undefined> {
  let lo = 0
  let hi = (await anchoredBatchCount(ctx, log)) - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const batch = await anchoredBatch(ctx, log, mid)
    if (seq < batch.firstSeq) hi = mid - 1
    else if (seq > batch.lastSeq) lo = mid + 1
    else return batch
  }
  return undefined
}
