import { faultPoint } from '../journal/index.js'
import type { ImportCheckpoint } from './importTypes.js'

const POINTS: readonly ImportCheckpoint[] = ['after-seal', 'before-send', 'after-submit', 'after-confirm']

/**
 * Fault injection for crash tests: `import:<point>:<n>` (e.g. `import:after-submit:3`, from
 * `MEDVAULT_FAULT`) gives a checkpoint function that kills this process with SIGKILL the n-th time
 * the import reaches that point (see journal/faults.ts). Undefined (no faults) when `spec` is
 * empty or names another operation.
 */
export function faultCheckpoint(
  spec: string | undefined,
  kill: () => void = () => process.kill(process.pid, 'SIGKILL'),
): ((point: ImportCheckpoint, count: number) => void) | undefined {
  return faultPoint(spec, 'import', POINTS, { requireCount: true, kill })
}
