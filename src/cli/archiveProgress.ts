import { Presets, SingleBar } from 'cli-progress'
import type { ArchiveProgress } from '../archive/index.js'
import type { GlobalOptions } from './output.js'

export type ArchiveProgressReporter = {
  update(progress: ArchiveProgress): void
  stop(): void
}

/** Plain progress lines at most this often when stderr is not a terminal. */
const LINE_INTERVAL_MS = 2000

/**
 * Archive progress on stderr, as `medvault import` shows it: a progress bar over the sealing at a
 * terminal, otherwise a plain line every two seconds; then one line for the anchoring; nothing
 * with `--json`.
 */
export function archiveProgressReporter(options: GlobalOptions, stream: NodeJS.WriteStream = process.stderr): ArchiveProgressReporter {
  if (options.json) return { update() {}, stop() {} }
  const started = Date.now()
  const rate = (p: ArchiveProgress) => {
    const seconds = (Date.now() - started) / 1000
    return seconds > 0 ? p.sealed / seconds : 0
  }
  let anchoringShown = false
  const anchoring = (p: ArchiveProgress) => {
    if (p.stage !== 'anchoring' || anchoringShown) return
    anchoringShown = true
    stream.write(`archive: ${p.total} records sealed; anchoring their root in one transaction\n`)
  }

  if (stream.isTTY) {
    const bar = new SingleBar(
      {
        stream,
        format: 'sealing {bar} {percentage}% | {value}/{total} records | {rate} records/s | ETA {eta_formatted}',
        hideCursor: true,
        etaBuffer: 200,
        fps: 10,
      },
      Presets.shades_classic,
    )
    let running = false
    const stop = () => {
      if (running) bar.stop()
      running = false
    }
    return {
      update(p) {
        if (p.stage === 'sealing') {
          const payload = { rate: rate(p).toFixed(1) }
          if (!running) {
            bar.start(p.total, p.sealed, payload)
            running = true
          } else bar.update(p.sealed, payload)
          return
        }
        stop()
        anchoring(p)
      },
      stop,
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
