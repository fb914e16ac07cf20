import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'

/**
 * Mounts a small tmpfs at `dir` (created), for disk-full faults on a real filesystem. Returns false,
 * saying why on the test output, where mounting is not permitted (the tests then skip).
 */
export function mountTmpfs(dir: string, size = '2m'): boolean {
  mkdirSync(dir, { recursive: true })
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' })
    return true
  } catch (error) {
    process.stdout.write(`# skipping the disk faults: cannot mount a tmpfs here (${String(error).split('\n')[0]})\n`)
    return false
  }
}
