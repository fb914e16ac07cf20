import { MedvaultError } from '../errors.js'
import type { Progress } from '../records/index.js'

export type GlobalOptions = { home?: string; json?: boolean }

/** JSON-safe copy: bigints as strings, dates as ISO strings, CIDs as strings. */
export function toJson(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_key, v) => {
      if (typeof v === 'bigint') return v.toString()
      // A CID's toJSON gives the dag-json link form { "/": "bafy..." }; scripts want the plain string.
      if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && typeof v['/'] === 'string') return v['/']
      return v
    }),
  )
}

/**
 * Prints a command's result: one JSON object on stdout with `--json`, otherwise the human lines.
 */
export function emit(options: GlobalOptions, result: Record<string, unknown>, human: () => string[]): void {
  if (options.json) process.stdout.write(`${JSON.stringify(toJson(result))}\n`)
  else process.stdout.write(`${human().join('\n')}\n`)
}

/** A one-line error that says what to do; with `--json`, `{ "error": { code, message } }`. */
export function emitError(options: GlobalOptions, error: unknown): number {
  const known = error instanceof MedvaultError ? error : undefined
  const message = known ? known.message : `Unexpected error: ${error instanceof Error ? error.message : String(error)}`
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ error: { code: known?.code ?? 'INTERNAL', message } })}\n`)
  } else {
    process.stderr.write(`medvault: ${message}\n`)
    if (process.env.MEDVAULT_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`)
  }
  return known?.exitCode ?? 1
}

/** Progress on stderr for people at a terminal; silent for scripts and `--json`. */
export function progressPrinter(options: GlobalOptions): ((p: Progress) => void) | undefined {
  if (options.json || !process.stderr.isTTY) return undefined
  let last = 0
  return (p) => {
    const now = Date.now()
    if (now - last < 200 && p.stage !== 'minting') return
    last = now
    const amount = p.bytes === undefined ? '' : ` ${(p.bytes / 1e6).toFixed(1)} MB`
    process.stderr.write(`\r\x1b[K${p.stage}${amount}`)
    if (p.stage === 'minting') process.stderr.write('\n')
  }
}

export const shortAddress = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`

/** Commander option parser for repeatable, comma-separated lists: `--x a,b --x c` → [a, b, c]. */
export const collectList = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
]

/** What a re-run did, for people: nothing new, or finishing what a stopped run began. */
export function outcomeLine(outcome: 'new' | 'resumed' | 'done-before', what: string): string[] {
  if (outcome === 'done-before') return [`(${what} was already done by an earlier run of this command; nothing was done twice.)`]
  if (outcome === 'resumed') return [`(Finished ${what} that an earlier run of this command began.)`]
  return []
}
