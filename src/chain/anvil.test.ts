import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { HomeError } from '../errors.js'
import { startAnvil } from './anvil.js'

/** Whether `pid` is a running process (a zombie waiting to be reaped counts as gone). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/** Runs a command that starts anvil, prints its pid and is killed at once, with no chance to clean up. */
function startAndDie(statePath?: string): number {
  const anvil = fileURLToPath(new URL('./anvil.ts', import.meta.url))
  const params = statePath ? JSON.stringify({ statePath }) : '{}'
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `const { startAnvil } = await import(${JSON.stringify(anvil)}); const c = await startAnvil(${params}); process.stdout.write(String(c.pid)); process.kill(process.pid, 'SIGKILL')`,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  )
  assert.equal(child.signal, 'SIGKILL', child.stderr)
  const pid = Number(child.stdout)
  assert.ok(pid > 0, `anvil's pid: ${child.stdout}`)
  return pid
}

async function waitGone(pid: number): Promise<boolean> {
  const deadline = Date.now() + 15_000
  while (running(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  const left = running(pid)
  if (left) process.kill(pid, 'SIGKILL')
  return !left
}

describe('the embedded chain of a killed command', () => {
  it('is stopped by its watchdog when the process that started it dies by SIGKILL', async () => {
    const pid = startAndDie()
    assert.equal(await waitGone(pid), true, 'anvil outlived the command that started it')
  })

  it('is stopped gracefully, so it writes its state file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medvault-watchdog-'))
    try {
      const statePath = join(dir, 'state.json')
      const pid = startAndDie(statePath)
      assert.equal(await waitGone(pid), true, 'anvil outlived the command that started it')
      // anvil dumps its state only on a graceful stop (SIGTERM); a SIGKILL leaves no file.
      const state = JSON.parse(readFileSync(statePath, 'utf8')) as { block?: unknown }
      assert.ok(state.block, 'the state file holds the chain')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('stopping the embedded chain', () => {
  it('kills an anvil that does not exit after SIGTERM, instead of waiting for it forever', { timeout: 15_000 }, async () => {
    const chain = await startAnvil()
    // A stopped process takes no SIGTERM until it is continued; SIGKILL still ends it.
    process.kill(chain.pid, 'SIGSTOP')
    const started = performance.now()
    await chain.stop({ graceMs: 500 })
    assert.equal(running(chain.pid), false)
    assert.ok(performance.now() - started < 5_000, 'stop() returned once the grace period was over')
  })

  it('returns at once for an anvil that already exited', async () => {
    const chain = await startAnvil()
    await chain.stop()
    await chain.stop()
    assert.equal(running(chain.pid), false)
  })
})

describe('the embedded chain on a port someone else holds', () => {
  it('starts on another port when asked to fall back, and fails saying so when not', async () => {
    // A plain TCP listener: it holds the port without answering JSON-RPC, as a port taken between
    // `medvault start`'s check and anvil's bind does.
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const taken = (holder.address() as AddressInfo).port
    try {
      const chain = await startAnvil({ port: taken, portFallback: true })
      try {
        assert.notEqual(new URL(chain.rpcUrl).port, String(taken))
        const answer = await fetch(chain.rpcUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
        })
        assert.equal(((await answer.json()) as { result: string }).result, '0x7a69')
      } finally {
        await chain.stop()
      }
      await assert.rejects(startAnvil({ port: taken }), (error: Error) => {
        assert.ok(error instanceof HomeError)
        assert.match(error.message, /Address already in use/)
        return true
      })
    } finally {
      holder.close()
    }
  })
})
