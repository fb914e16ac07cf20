/**
 * Runs a bench script in a child node process (under tsx) and returns the JSON object it prints as
 * the last line of its stdout. The child's progress lines (see util.progress) are printed here.
 */
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PROGRESS_PREFIX, progress } from './util.js'

const here = dirname(fileURLToPath(import.meta.url))

export type ChildOptions = {
  args?: string[]
  nodeFlags?: string[]
  env?: Record<string, string>
  /**
   * Start node from a small shell instead of from this process. Linux carries the forking
   * process's RSS into the child's maxRSS (the pre-exec high-water mark survives exec), so a node
   * spawned straight from this several-hundred-MiB parent would report at least the parent's RSS
   * as its own peak. `sh -c '...; exit'` forks node from sh (a few MiB) instead of exec'ing it.
   */
  viaShell?: boolean
}

export function runChild<T>(script: string, options: ChildOptions = {}): Promise<T> {
  const command = [process.execPath, ...(options.nodeFlags ?? []), '--import', 'tsx', join(here, script), ...(options.args ?? [])]
  const [file, args] = options.viaShell ? ['/bin/sh', ['-c', '"$0" "$@"; exit $?', ...command]] : [command[0]!, command.slice(1)]
  return new Promise<T>((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: join(here, '..'),
      env: { ...process.env, ...options.env, MEDVAULT_BENCH_CHILD: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let partial = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => {
      const text = partial + d.toString()
      const lines = text.split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) {
        if (line.startsWith(PROGRESS_PREFIX)) progress(line.slice(PROGRESS_PREFIX.length))
        else stderr = `${stderr}${line}\n`.slice(-4000)
      }
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      const line = stdout
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'))
      if (code !== 0 || !line) reject(new Error(`${script} exited with ${signal ?? code}: ${(stderr + partial).trim()}`))
      else resolve(JSON.parse(line) as T)
    })
  })
}
