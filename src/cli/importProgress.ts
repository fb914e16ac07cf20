import { Presets, SingleBar } from 'cli-progress'
import type { ImportProgress } from '../import/index.js'
import type { GlobalOptions } from './output.js'

export type ImportProgressReporter = {
  update(progress: ImportProgress): void
  stop(): void
}

/** Plain progress lines at most this often when stderr is not a terminal. */
const LINE_INTERVAL_MS = 2000

/**
 * Import progress on stderr: a progress bar (cli-progress) at a terminal; otherwise (a pipe, a CI
 * log) a plain line every two seconds; nothing with `--json`.
 */
export function importProgressReporter(options: GlobalOptions, stream: NodeJS.WriteStream = process.stderr): ImportProgressReporter {
  if (options.json) return { update() {}, stop() {} }
  const started = Date.now()
  const rate = (p: ImportProgress) => {
    const seconds = (Date.now() - started) / 1000
    return seconds > 0 ? (p.confirmed - p.alreadyImported) / seconds : 0
  }

  if (stream.isTTY) {
    const bar = new SingleBar(
      {
        stream,
        format: 'importing {bar} {percentage}% | {value}/{total} records | {batches} batches | {rate} records/s | ETA {eta_formatted}',
        hideCursor: true,
        etaBuffer: 200,
        fps: 10,
      },
      Presets.shades_classic,
    )
    let running = false
    return {
      update(p) {
        const payload = { batches: p.batches, rate: rate(p).toFixed(1) }
        if (!running) {
          bar.start(p.total, p.confirmed, payload)
          running = true
        } else bar.update(p.confirmed, payload)
      },
      stop() {
        if (running) bar.stop()
        running = false
      },
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
