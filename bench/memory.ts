/**
 * Peak RSS while storing a 1 GiB blob, measured in a child process (bench/storeLarge.ts) so the
 * parent's own heap (the 100 MiB throughput buffer, viem, anvil clients) does not count. A second
 * child stores a small blob first: the same peak for 16x the data is what "memory does not grow
 * with size" looks like.
 */
import { runChild } from './child.js'
import type { StoreLargeResult } from './storeLarge.js'
import { type Metrics, fmt, progress, table, tempDir } from './util.js'

export const LARGE_MIB = 1024
const SMALL_MIB = 64
/** Budget for the 1 GiB store's peak RSS: issue 17's target (modules under tsx and Helia at rest are ~105 MiB of it). */
export const RSS_LIMIT_MIB = 200
/** How much more peak RSS the 1 GiB store may take than the small one. */
const SIZE_SLACK_MIB = 64

async function storeInChild(sizeMiB: number): Promise<StoreLargeResult> {
  const dir = tempDir(`store${sizeMiB}`)
  try {
    progress(`memory: child process stores a ${sizeMiB} MiB blob in ${dir.path}`)
    // viaShell: otherwise the child's maxRSS would start at this parent's RSS (see child.ts).
    return await runChild<StoreLargeResult>('storeLarge.ts', { args: [dir.path, String(sizeMiB)], viaShell: true })
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
    'throughput.storeLarge': {
      label: `seal + store + pin ${LARGE_MIB} MiB (child)`,
      value: large.mibPerSecond,
      unit: 'MiB/s',
      kind: 'throughput',
    },
  }
  const row = (r: StoreLargeResult) => [
    `${fmt(r.bytes / 2 ** 20, 0)} MiB`,
    `${fmt(r.rssAtStartMiB)} MiB`,
    `${fmt(r.maxRssMiB)} MiB`,
    r.vmHwmMiB === null ? 'n/a' : `${fmt(r.vmHwmMiB)} MiB`,
    `${fmt(growth(r))} MiB`,
    `${fmt(r.sampledPeakStreamingMiB)} / ${fmt(r.sampledPeakFinishingMiB)} MiB`,
    `${fmt(r.secondsToLastByte, 1)} / ${fmt(r.seconds, 1)} s`,
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
    table(
      ['blob', 'RSS idle', 'peak RSS', 'VmHWM', 'growth', 'sampled peak stream/finish', 'last byte / done', 'throughput', 'on disk'],
      [row(small), row(large)],
    ),
    '',
    `RSS along the ${LARGE_MIB} MiB store: ${large.rssSamplesMiB.map((s) => `${s.atMiB} MiB read -> ${s.rssMiB} MiB`).join(', ')}`,
    'peak RSS = resourceUsage().maxRSS (VmHWM from /proc as a cross-check); growth = peak - idle (RSS after loading modules and starting Helia, before any data).',
    '"stream" = until the last plaintext byte was consumed; "finish" = after it, until store.add() returned (DAG root written, blocks pinned).',
    verdict,
  ].join('\n')
  return { metrics, details: { small, large }, report }
}
