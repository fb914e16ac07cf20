/**
 * A worker thread of the attestation pool (attestationPool.ts): answers batches of
 * `isAttestationBy` calls with the very function the main thread would run. It keeps its own
 * issuers' keys, learnt the same way.
 */
import { parentPort } from 'node:worker_threads'
import { isAttestationBy } from './checkAttestation.js'
import type { AttestationJob, AttestationReply } from './attestationPool.js'

const port = parentPort
if (!port) throw new Error('attestationWorker.ts runs as a worker thread of the attestation pool only.')

port.on('message', async (jobs: AttestationJob[]) => {
  const replies: AttestationReply[] = await Promise.all(
    jobs.map(async (job): Promise<AttestationReply> => {
      try {
        return {
          id: job.id,
          signed: await isAttestationBy({ deployment: job.deployment }, job.message as never, job.signature, job.issuer),
        }
      } catch {
        // The main thread runs it again itself and gets the same exception there.
        return { id: job.id, signed: undefined }
      }
    }),
  )
  port.postMessage(replies)
})
// Until this arrives, the pool checks on the main thread rather than wait for a worker to load.
port.postMessage('ready')
