import { type Checkpoint, faultPoint } from '../journal/index.js'
import type { ErasureStep } from './eraseRecords.js'

/** The steps an erasure reports, in order; each is a point `MEDVAULT_FAULT=erase:<point>` can kill it at. */
export const ERASE_POINTS = ['marked', 'key-slips', 'journal-keys', 'ciphertext'] as const
export type ErasePoint = (typeof ERASE_POINTS)[number]

/**
 * An `onStep` that kills the process (SIGKILL) at the step `MEDVAULT_FAULT=erase:<point>[:<n>]`
 * names, for crash tests; undefined otherwise. Erasure needs no journal of its own: a re-run reads
 * from the chain which records are marked erased and repeats the off-chain steps, each of which
 * does nothing the second time.
 */
export function erasureFault(spec: string | undefined): ((step: ErasureStep) => void) | undefined {
  const fault: Checkpoint<ErasePoint> | undefined = faultPoint(spec, 'erase', ERASE_POINTS)
  if (!fault) return undefined
  const counts = new Map<ErasePoint, number>()
  return (step) => {
    const n = (counts.get(step.step) ?? 0) + 1
    counts.set(step.step, n)
    fault(step.step, n)
  }
}
