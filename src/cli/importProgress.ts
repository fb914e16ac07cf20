import type { ImportProgress } from '../import/index.js'
import type { GlobalOptions } from './output.js'
import { LINE_INTERVAL_MS, recordsPerSecond, terminalBar } from './progressBar.js'

export type ImportProgressReporter = {
  update(progress: ImportProgress): void
  stop(): void
}

/**
 * Import progress on stderr: a progress bar (cli-progress) at a terminal; otherwise (a pipe, a CI
 * log) a plain line every two seconds; nothing with `--json`.
 */
export function importProgressReporter(options: GlobalOptions, stream: NodeJS.WriteStream = process.stderr): ImportProgressReporter {
  if (options.json) return { update() {}, stop() {} }
  const started = Date.now()
  const rate = (p: ImportProgress) => recordsPerSecond(p.confirmed - p.alreadyImported, started)

  if (stream.isTTY) {
    const bar = terminalBar(
      stream,
      'importing {bar} {percentage}% | {value}/{total} records | {batches} batches | {rate} records/s | ETA {eta_formatted}',
    )
    return {
      update: (p) => bar.show(p.confirmed, p.total, { batches: String(p.batches), rate: rate(p).toFixed(1) }),
      stop: bar.stop,
    }
  }

  let last = 0
  let lastConfirmed = -1
  return {
    update(p) {
      const now = Date.now()
      if (now - last < LINE_INTERVAL_MS && p.confirmed !== p.total) return
      if (p.confirmed === lastConfirmed && p.confirmed === p.total) return
      last = now
      lastConfirmed = p.confirmed
      const percent = p.total > 0 ? Math.floor((100 * p.confirmed) / p.total) : 100
      stream.write(
        `import: ${p.confirmed}/${p.total} records (${percent}%), ${p.sealed} sealed and ${p.submitted} sent in this run, ` +
          `${p.batches} batches confirmed, ${rate(p).toFixed(1)} records/s\n`,
      )
    },
    stop() {},
  }
}
