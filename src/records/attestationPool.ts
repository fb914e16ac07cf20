/**
 * Issuer attestation checks in worker threads. The first read of a long history checks one
 * secp256k1 signature per record, about a fifth of its main-thread time (docs/benchmarks.md#reads);
 * a pool moves that work off the event loop, which meanwhile unwraps keys, decrypts and audits,
 * where there are cores to spare.
 *
 * A worker runs exactly `isAttestationBy`, so it gives exactly its answers. Whatever goes wrong
 * with a worker (it cannot start, it exits, a check throws in it) is answered on the main thread
 * instead, by the same function: a pool never changes an answer, it only moves where it is computed.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { Address, Hex } from 'viem'
import type { AttestationChecker, RecordsContext } from '../core/index.js'
import { type AttestationMessage, isAttestationBy } from './checkAttestation.js'

/** One check as it crosses to a worker (structured clone: bigints and strings only). */
export type AttestationJob = {
  id: number
  deployment: Pick<RecordsContext['deployment'], 'chainId' | 'records'>
  message: AttestationMessage
  signature: Hex
  issuer: Address
}
/** A worker's answer; `signed` undefined when the check threw there (the main thread then runs it). */
export type AttestationReply = { id: number; signed: boolean | undefined }

export type AttestationPool = AttestationChecker & {
  /** Workers running and ready (those that failed are not replaced: their work is done on the main thread). */
  readonly workers: number
  /** Resolves once every worker is ready or has failed. */
  ready(): Promise<void>
  close(): Promise<void>
}

export type CreateAttestationPoolParameters = {
  /**
   * Worker threads. Default: one per core beyond two, at most 4. On two shared cores one worker
   * showed no gain (the first `$everything`: 13.3–16.8 s with it, 12.1–16.9 s without, load
   * average 9–20; docs/benchmarks.md#reads), so there the checks stay on the main thread.
   */
  size?: number
  /** The worker's module; by default attestationWorker beside this file (tests pass a failing one). */
  workerUrl?: URL
}

type Pending = { job: AttestationJob; resolve: (signed: boolean) => void }
type Slot = {
  worker: Worker
  pending: Map<number, Pending>
  batch: AttestationJob[]
  alive: boolean
  ready: boolean
  /** Settles once the worker is ready or has failed. */
  started: Promise<void>
  settle: () => void
}

/**
 * The worker beside this module. Built, that is dist's .js. Run from the .ts source (tests, the
 * bench, under tsx), the worker thread does not get tsx's loader from `--import tsx`, so it
 * registers it first.
 */
function startWorker(url: URL | undefined): Worker {
  if (url) return new Worker(url)
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./attestationWorker.js', import.meta.url))
  const source = new URL('./attestationWorker.ts', import.meta.url).href
  const tsx = import.meta.resolve('tsx/esm/api')
  return new Worker(`import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}) })`, {
    eval: true,
  })
}

/**
 * Starts a pool of worker threads that check issuer attestations.
 *
 * @example
 * const attestations = createAttestationPool()
 * const ctx = { ...mv, attestations }
 * // ... reads check each record's attestation in a worker
 * await attestations.close()
 */
export function createAttestationPool(params: CreateAttestationPoolParameters = {}): AttestationPool {
  const size = params.size ?? Math.min(4, Math.max(0, availableParallelism() - 2))
  let nextId = 0
  let closed = false

  const local = (job: AttestationJob) => isAttestationBy({ deployment: job.deployment }, job.message, job.signature, job.issuer)

  /** A worker that went away: what it still owed is answered here. */
  const fail = (slot: Slot) => {
    if (!slot.alive) return
    slot.alive = false
    slot.settle()
    // Every job it was given, sent or still batched, is in `pending` until answered.
    const owed = [...slot.pending.values()]
    slot.pending.clear()
    slot.batch = []
    for (const { job, resolve } of owed) void local(job).then(resolve)
  }

  const slots: Slot[] = Array.from({ length: size }, () => {
    const worker = startWorker(params.workerUrl)
    let settle = () => {}
    const started = new Promise<void>((resolve) => {
      settle = resolve
    })
    const slot: Slot = { worker, pending: new Map(), batch: [], alive: true, ready: false, started, settle }
    worker.on('message', (replies: AttestationReply[] | 'ready') => {
      if (replies === 'ready') {
        slot.ready = true
        slot.settle()
        // An idle worker does not keep the process alive; one loading or with checks owed does.
        worker.unref()
        return
      }
      for (const { id, signed } of replies) {
        const pending = slot.pending.get(id)
        if (!pending) continue
        slot.pending.delete(id)
        if (slot.pending.size === 0) worker.unref()
        if (signed === undefined) void local(pending.job).then(pending.resolve)
        else pending.resolve(signed)
      }
    })
    worker.on('error', () => fail(slot))
    worker.on('exit', () => fail(slot))
    return slot
  })

  const send = (slot: Slot) => {
    const batch = slot.batch
    slot.batch = []
    if (!slot.alive || batch.length === 0) return
    try {
      slot.worker.postMessage(batch)
    } catch {
      fail(slot)
    }
  }

  return {
    get workers() {
      return slots.filter((s) => s.alive && s.ready).length
    },
    ready: () => Promise.all(slots.map((s) => s.started)).then(() => undefined),
    isAttestationBy(deployment, message, signature, issuer) {
      const job: AttestationJob = {
        id: nextId++,
        deployment: { chainId: deployment.chainId, records: deployment.records },
        message: message as AttestationMessage,
        signature,
        issuer,
      }
      let slot: Slot | undefined
      // A worker still loading (its modules take a while to load) would make the first reads wait for it.
      for (const s of slots) if (s.alive && s.ready && (!slot || s.pending.size < slot.pending.size)) slot = s
      if (closed || !slot) return local(job)
      const chosen = slot
      return new Promise<boolean>((resolve) => {
        if (chosen.pending.size === 0) chosen.worker.ref()
        chosen.pending.set(job.id, { job, resolve })
        // Checks asked for in one turn of the event loop cross to the worker in one message.
        if (chosen.batch.push(job) === 1) queueMicrotask(() => send(chosen))
      })
    },
    async close() {
      closed = true
      await Promise.all(
        slots.map(async (slot) => {
          const worker = slot.worker
          fail(slot)
          await worker.terminate()
        }),
      )
    },
  }
}
