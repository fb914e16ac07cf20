import { InvalidInputError } from '../errors.js'

/** A checkpoint: called each time an operation reaches a named point, with how many times it has. */
export type Checkpoint<P extends string> = (point: P, count: number) => void

/**
 * Fault injection for crash tests. `MEDVAULT_FAULT=<operation>:<point>[:<n>]` (e.g.
 * `record-add:after-submit`, `import:after-submit:3`) gives the checkpoint of that operation a
 * function that kills this process with SIGKILL, as a power cut or the OOM killer would, the n-th
 * time (default: the first) it reaches that point. Undefined (no faults) when `spec` is empty or
 * names another operation.
 */
export function faultPoint<P extends string>(
  spec: string | undefined,
  operation: string,
  points: readonly P[],
  options: { requireCount?: boolean; kill?: () => void } = {},
): Checkpoint<P> | undefined {
  if (!spec?.startsWith(`${operation}:`)) return undefined
  const [, point, count, ...rest] = spec.split(':')
  const n = count === undefined && !options.requireCount ? 1 : Number(count)
  if (!points.includes(point as P) || !Number.isInteger(n) || n < 1 || rest.length > 0) {
    throw new InvalidInputError(`MEDVAULT_FAULT must be ${operation}:<${points.join('|')}>${options.requireCount ? ':<n>' : '[:<n>]'}.`)
  }
  const kill = options.kill ?? (() => process.kill(process.pid, 'SIGKILL'))
  return (at, reached) => {
    if (at === point && reached === n) kill()
  }
}
