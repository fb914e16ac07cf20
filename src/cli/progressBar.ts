import { Presets, SingleBar } from 'cli-progress'

/** Plain progress lines at most this often when stderr is not a terminal. */
export const LINE_INTERVAL_MS = 2000

export type TerminalBar = {
  /** Draws `value` of `total`, starting the bar on the first call. */
  show(value: number, total: number, payload: Record<string, string>): void
  /** Ends the bar if it was drawn; it starts again on the next `show`. */
  stop(): void
}

/** The progress bar `import` and `archive anchor` draw at a terminal (cli-progress), with their own `format`. */
export function terminalBar(stream: NodeJS.WriteStream, format: string): TerminalBar {
  const bar = new SingleBar({ stream, format, hideCursor: true, etaBuffer: 200, fps: 10 }, Presets.shades_classic)
  let running = false
  return {
    show(value, total, payload) {
      if (!running) {
        bar.start(total, value, payload)
        running = true
      } else bar.update(value, payload)
    },
    stop() {
      if (running) bar.stop()
      running = false
    },
  }
}

/** Records a second since `started` (Date.now()). */
export function recordsPerSecond(records: number, started: number): number {
  const seconds = (Date.now() - started) / 1000
  return seconds > 0 ? records / seconds : 0
}
