import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import type { HomePaths } from './config.js'

/** Written by `medvault start` while it runs, so other commands use its chain instead of starting one. */
export type RunInfo = { pid: number; rpcUrl: string; startedAt: string }

export function readRunInfo(paths: HomePaths): RunInfo | undefined {
  if (!existsSync(paths.run)) return undefined
  try {
    const info = JSON.parse(readFileSync(paths.run, 'utf8')) as RunInfo
    process.kill(info.pid, 0) // throws if the process is gone
    return info
  } catch {
    return undefined
  }
}

export function writeRunInfo(paths: HomePaths, info: RunInfo): void {
  writeFileSync(paths.run, `${JSON.stringify(info, null, 2)}\n`)
}

export function removeRunInfo(paths: HomePaths): void {
  rmSync(paths.run, { force: true })
}
