import type { ArchiveProgress } from '../archive/index.js'
import type { GlobalOptions } from './output.js'
import { LINE_INTERVAL_MS, recordsPerSecond, terminalBar } from './progressBar.js'

export type ArchiveProgressReporter = {
  update(progress: ArchiveProgress): void
  stop(): void
}

/**
 * Archive progress on stderr, as `medvault import` shows it: a progress bar over the sealing at a
 * terminal, otherwise a plain line every two seconds; then one line for the anchoring; nothing
 * with `--json`.
 */
export function archiveProgressReporter(options: GlobalOptions, stream: NodeJS.WriteStream = process.stderr): ArchiveProgressReporter {
  if (options.json) return { update() {}, stop() {} }
  const started = Date.now()
  const rate = (p: ArchiveProgress) => recordsPerSecond(p.sealed, started)
  let anchoringShown = false
  const anchoring = (p: ArchiveProgress) => {
    if (p.stage !== 'anchoring' || anchoringShown) return
    anchoringShown = true
    stream.write(`archive: ${p.total} records sealed; anchoring their root in one transaction\n`)
  }

  if (stream.isTTY) {
    const bar = terminalBar(stream, 'sealing {bar} {percentage}% | {value}/{total} records | {rate} records/s | ETA {eta_formatted}')
    return {
      update(p) {
        if (p.stage === 'sealing') return bar.show(p.sealed, p.total, { rate: rate(p).toFixed(1) })
        bar.stop()
        anchoring(p)
      },
      stop: bar.stop,
    }
  }

  let last = 0
  return {
    update(p) {
      if (p.stage !== 'sealing') return anchoring(p)
      const now = Date.now()
      if (now - last < LINE_INTERVAL_MS && p.sealed !== p.total) return
      last = now
      const percent = p.total > 0 ? Math.floor((100 * p.sealed) / p.total) : 100
      stream.write(`archive: ${p.sealed}/${p.total} records sealed (${percent}%), ${rate(p).toFixed(1)} records/s\n`)
    },
    stop() {},
  }
}
