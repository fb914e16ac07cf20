/**
 * Peak RSS while storing a 1 GiB blob, measured in a child process (bench/storeLarge.ts) so the
 * parent's own heap (the 100 MiB throughput buffer, viem, anvil clients) does not count. A second
 * child stores a small blob first: the same peak for 16x the data is what "memory does not grow
 * with size" looks like.
 */
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { StoreLargeResult } from './storeLarge.js'
import { type Metrics, fmt, progress, table, tempDir } from './util.js'

export const LARGE_MIB = 1024
const SMALL_MIB = 64
/** Budget for the 1 GiB store's peak RSS (module loading under tsx alone is ~200 MiB of it). */
export const RSS_LIMIT_MIB = 300
/** How much more peak RSS the 1 GiB store may take than the small one. */
const SIZE_SLACK_MIB = 64

const here = dirname(fileURLToPath(import.meta.url))

async function storeInChild(sizeMiB: number): Promise<StoreLargeResult> {
  const dir = tempDir(`store${sizeMiB}`)
  try {
    progress(`memory: child process stores a ${sizeMiB} MiB blob in ${dir.path}`)
    return await new Promise<StoreLargeResult>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'storeLarge.ts'), dir.path, String(sizeMiB)], {
        cwd: join(here, '..'),
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
      child.stderr.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4000)
        for (const line of d.toString().split('\n')) if (line.startsWith('storeLarge: ')) progress(`memory: ${line.slice(12)}`)
      })
      child.on('error', reject)
      child.on('exit', (code, signal) => {
        const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'))
        if (code !== 0 || !line) reject(new Error(`storeLarge exited with ${signal ?? code}: ${stderr.trim()}`))
        else resolve(JSON.parse(line) as StoreLargeResult)
      })
    })
  } finally {
    dir.remove()
    progress(`memory: removed the ${sizeMiB} MiB blockstore`)
  }
}

export async function measureLargeStore(): Promise<{ metrics: Metrics; details: Record<string, StoreLargeResult>; report: string }> {
  const small = await storeInChild(SMALL_MIB)
  const large = await storeInChild(LARGE_MIB)
  const growth = (r: StoreLargeResult) => r.maxRssMiB - r.rssAtStartMiB

  const metrics: Metrics = {
    'memory.storeLarge.maxRss': { label: `peak RSS storing ${LARGE_MIB} MiB`, value: large.maxRssMiB, unit: 'MiB', kind: 'memory' },
    'memory.storeLarge.growth': { label: `RSS growth storing ${LARGE_MIB} MiB`, value: growth(large), unit: 'MiB', kind: 'info' },
    'memory.storeSmall.maxRss': { label: `peak RSS storing ${SMALL_MIB} MiB`, value: small.maxRssMiB, unit: 'MiB', kind: 'info' },
    'throughput.storeLarge': { label: `seal + store + pin ${LARGE_MIB} MiB (child)`, value: large.mibPerSecond, unit: 'MiB/s', kind: 'throughput' },
  }
  const row = (r: StoreLargeResult) => [
    `${fmt(r.bytes / 2 ** 20, 0)} MiB`,
    `${fmt(r.rssAtStartMiB)} MiB`,
    `${fmt(r.maxRssMiB)} MiB`,
    `${fmt(growth(r))} MiB`,
    `${fmt(r.seconds, 1)} s`,
    `${fmt(r.secondsToLastByte, 1)} s`,
    `${fmt(r.mibPerSecond)} MiB/s`,
    `${fmt(r.storedMiB)} MiB`,
  ]
  // Size-independence: 16x the data may not cost more than SIZE_SLACK_MIB of extra peak RSS.
  const extra = large.maxRssMiB - small.maxRssMiB
  const verdict = [
    extra <= SIZE_SLACK_MIB
      ? `Memory does not grow with size: peak ${fmt(large.maxRssMiB)} MiB for ${LARGE_MIB} MiB vs ${fmt(small.maxRssMiB)} MiB for ${SMALL_MIB} MiB (${extra >= 0 ? '+' : ''}${fmt(extra)} MiB).`
      : `WARNING: memory grows with size: peak ${fmt(large.maxRssMiB)} MiB for ${LARGE_MIB} MiB vs ${fmt(small.maxRssMiB)} MiB for ${SMALL_MIB} MiB (+${fmt(extra)} MiB, allowed ${SIZE_SLACK_MIB}).`,
    large.maxRssMiB < RSS_LIMIT_MIB
      ? `Peak RSS is under the ${RSS_LIMIT_MIB} MiB budget.`
      : `WARNING: peak RSS ${fmt(large.maxRssMiB)} MiB is over the ${RSS_LIMIT_MIB} MiB budget; ${fmt(large.rssAtStartMiB)} MiB of it is held before any data (modules loaded under tsx, Helia started), the working set while streaming is ${fmt(growth(large))} MiB.`,
  ].join('\n')
  const report = [
    'child: node --import tsx bench/storeLarge.ts; data generated lazily in fresh 1 MiB chunks; sealEnvelope -> createHeliaStore(tmp).add()',
    '',
    table(['blob', 'RSS idle', 'peak RSS', 'growth', 'elapsed', 'last byte read', 'throughput', 'on disk'], [row(small), row(large)]),
    '',
    `RSS along the ${LARGE_MIB} MiB store: ${large.rssSamplesMiB.map((s) => `${s.atMiB} MiB read -> ${s.rssMiB} MiB`).join(', ')}`,
    `"elapsed" ends when store.add() returns (DAG written and pinned); "last byte read" is when the plaintext was fully consumed.`,
    verdict,
  ].join('\n')
  return { metrics, details: { small, large }, report }
}
