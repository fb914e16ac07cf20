import { InvalidInputError } from '../errors.js'
import type { ImportCheckpoint } from './importBundle.js'

const POINTS: readonly ImportCheckpoint[] = ['after-seal', 'before-send', 'after-submit', 'after-confirm']

/**
 * Fault injection for crash tests: `import:<point>:<n>` (e.g. `import:after-submit:3`, from
 * `MEDVAULT_FAULT`) gives a checkpoint function that kills this process with SIGKILL, as a power
 * cut or the OOM killer would, the n-th time the import reaches that point. Undefined (no faults)
 * when `spec` is empty or names another component.
 */
export function faultCheckpoint(
  spec: string | undefined,
  kill: () => void = () => process.kill(process.pid, 'SIGKILL'),
): ((point: ImportCheckpoint, count: number) => void) | undefined {
  if (!spec?.startsWith('import:')) return undefined
  const [, point, count] = spec.split(':')
  const n = Number(count)
  if (!POINTS.includes(point as ImportCheckpoint) || !Number.isInteger(n) || n < 1) {
    throw new InvalidInputError(`MEDVAULT_FAULT must be import:<${POINTS.join('|')}>:<n>.`)
  }
  return (at, reached) => {
    if (at === point && reached === n) kill()
  }
}
