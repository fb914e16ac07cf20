import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

/** Whether `pid` is a running process (a zombie waiting to be reaped counts as gone). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

describe('the embedded chain of a killed command', () => {
  it('is stopped by its watchdog when the process that started it dies by SIGKILL', async () => {
    const anvil = fileURLToPath(new URL('./anvil.ts', import.meta.url))
    // A command that starts anvil, prints its pid and is killed at once, with no chance to clean up.
    const child = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `const { startAnvil } = await import(${JSON.stringify(anvil)}); const c = await startAnvil({}); process.stdout.write(String(c.pid)); process.kill(process.pid, 'SIGKILL')`,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    )
    assert.equal(child.signal, 'SIGKILL', child.stderr)
    const pid = Number(child.stdout)
    assert.ok(pid > 0, `anvil's pid: ${child.stdout}`)
    const deadline = Date.now() + 15_000
    while (running(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    const left = running(pid)
    if (left) process.kill(pid, 'SIGKILL')
    assert.equal(left, false, 'anvil outlived the command that started it')
  })
})
