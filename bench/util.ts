/** Small helpers shared by the benchmark modules: metrics, tables, timing, temp dirs, test data. */
import { randomFillSync } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const MiB = 1024 * 1024

/**
 * One measured number. `kind` decides how a change against the baseline is judged:
 * gas (lower is better, regression above +1%), throughput (higher is better, regression below -25%),
 * memory (lower is better, regression above +25%), info (derived numbers such as ratios, reported only).
 */
export type Metric = {
  label: string
  value: number
  unit: string
  kind: 'gas' | 'throughput' | 'memory' | 'info'
}

export type Metrics = Record<string, Metric>

/** Set by bench/child.ts for the scripts it starts: their stdout carries only the JSON result. */
export const IN_CHILD = process.env.MEDVAULT_BENCH_CHILD === '1'
export const PROGRESS_PREFIX = 'progress: '

/** A timestamped progress line; in a child it goes to stderr for the parent to stamp and print. */
export function progress(message: string): void {
  if (IN_CHILD) {
    process.stderr.write(`${PROGRESS_PREFIX}${message}\n`)
    return
  }
  const t = ((performance.now() - started) / 1000).toFixed(1).padStart(6)
  console.log(`[${t}s] ${message}`)
}
const started = performance.now()

/** Renders rows as an aligned text table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => String(c)))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  // The first column (a label) is left-aligned, every other column right-aligned.
  const line = (r: string[]) =>
    r
      .map((c, i) => (i > 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  const rule = widths.map((w) => '-'.repeat(w)).join('  ')
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join('\n')
}

export function section(title: string): void {
  console.log(`\n=== ${title} ${'='.repeat(Math.max(0, 72 - title.length))}`)
}

export const fmtInt = (n: number | bigint): string => Number(n).toLocaleString('en-US')
export const fmt = (n: number, digits = 1): string => n.toFixed(digits)

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `medvault-bench-${prefix}-`))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/**
 * `total` bytes of fresh pseudo-random data in `chunkSize` chunks, generated lazily. Every chunk is
 * a new buffer: the AEAD stream keeps references to chunks it has not consumed yet, so a reused
 * buffer would be overwritten under it.
 */
export async function* randomChunks(total: number, chunkSize = MiB): AsyncGenerator<Uint8Array> {
  for (let done = 0; done < total; done += chunkSize) {
    yield randomFillSync(Buffer.allocUnsafe(Math.min(chunkSize, total - done)))
  }
}

/** Replays pre-generated chunks as an async stream. */
export async function* replay(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* chunks
}

/** Consumes a stream, returning how many bytes it carried. */
export async function drain(source: AsyncIterable<Uint8Array>): Promise<number> {
  let bytes = 0
  for await (const chunk of source) bytes += chunk.byteLength
  return bytes
}
