import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { HomeError } from '../errors.js'
import { freePort } from './ports.js'

export type EmbeddedChain = {
  rpcUrl: string
  chainId: number
  pid: number
  /**
   * Stops anvil gracefully so it writes its state file; resolves once the process has exited. An
   * anvil that has not exited `graceMs` after SIGTERM (default 10 s, as its watchdog waits) is
   * killed, so closing a home never waits on a chain that stopped answering signals.
   */
  stop(options?: { graceMs?: number }): Promise<void>
}

export type StartAnvilParameters = {
  /** State file loaded at start and written at stop (and every `stateIntervalSeconds`). Omit for a throwaway chain. */
  statePath?: string
  /** Default: a free port. */
  port?: number
  /** When `port` is taken, start on a free port instead of failing (`medvault start`'s default 8545). */
  portFallback?: boolean
  chainId?: number
  /** Seconds between automatic state dumps; guards against losing blocks on a hard kill. */
  stateIntervalSeconds?: number
  /** Seconds between blocks; default is to mine each transaction at once. */
  blockTime?: number
  /** More anvil command-line flags (the contract coverage run adds `--steps-tracing` and `--disable-code-size-limit`). */
  extraArgs?: readonly string[]
}

/** The anvil binary shipped by the `@foundry-rs/anvil` npm package (its install script may be skipped). */
export function anvilBinary(): string {
  const require = createRequire(import.meta.url)
  const pkg = dirname(require.resolve('@foundry-rs/anvil-linux-amd64/package.json'))
  const bin = join(pkg, 'bin', 'anvil')
  if (!existsSync(bin)) throw new HomeError(`anvil binary not found at ${bin}.`, { hint: 'Run `npm ci` again.' })
  return bin
}

/**
 * Starts a local anvil chain and waits until it answers JSON-RPC.
 *
 * @example
 * const chain = await startAnvil({ statePath: '/home/me/.medvault/chain/state.json' })
 * await chain.stop()
 */
export async function startAnvil(params: StartAnvilParameters = {}): Promise<EmbeddedChain> {
  // anvil binds its port itself, so a port found free can be taken before anvil binds it (two
  // homes starting at once): it then exits at start saying so, and another free port is tried.
  for (let attempt = 1; ; attempt++) {
    const port = params.port !== undefined && attempt === 1 ? params.port : await freePort()
    try {
      return await startAnvilOn(port, params)
    } catch (error) {
      const fallback = params.port === undefined || params.portFallback === true
      if (!(error instanceof PortTakenError) || !fallback || attempt >= 3) throw error
    }
  }
}

class PortTakenError extends HomeError {}

/** How long stop() lets anvil write its state and exit before killing it. */
const STOP_GRACE_MS = 10_000

async function startAnvilOn(port: number, params: StartAnvilParameters): Promise<EmbeddedChain> {
  const chainId = params.chainId ?? 31337
  const args = ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(chainId), '--silent']
  if (params.statePath) args.push('--state', params.statePath)
  if (params.statePath && params.stateIntervalSeconds) args.push('--state-interval', String(params.stateIntervalSeconds))
  if (params.blockTime) args.push('--block-time', String(params.blockTime))
  if (params.extraArgs) args.push(...params.extraArgs)
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] })
  const watchdog = watchParent(child.pid!)
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.once('exit', () => watchdog.kill())
  const rpcUrl = `http://127.0.0.1:${port}`
  try {
    await waitForRpc(rpcUrl, child, () => stderr)
  } catch (error) {
    watchdog.kill()
    throw error
  }
  return {
    rpcUrl,
    chainId,
    pid: child.pid!,
    async stop(options = {}) {
      if (child.exitCode !== null || child.signalCode !== null) return exited
      child.kill('SIGTERM')
      let timer: NodeJS.Timeout | undefined
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL')
          resolve()
        }, options.graceMs ?? STOP_GRACE_MS)
      })
      try {
        await Promise.race([exited, killed])
        await exited
      } finally {
        clearTimeout(timer)
      }
    },
  }
}

/**
 * The watchdog of an anvil this process started: a small detached shell that holds a pipe from us.
 * When this process dies in any way, SIGKILL included, the kernel closes our end of the pipe; the
 * watchdog's `read` then returns and it stops anvil with SIGTERM (so it writes its state file),
 * SIGKILL after 10 s. When anvil exits first, this process kills the watchdog. Without it, a
 * command killed while it owns the embedded chain would leave anvil running, holding the port and
 * the state file. A POSIX shell, not node: every CLI command that opens a home starts one, and a
 * shell costs about 2 ms of CPU where a node process cost about 0.1 s (docs/tests.md).
 */
function watchParent(anvilPid: number): ChildProcess {
  const watchdog = spawn('/bin/sh', ['-c', WATCHDOG, 'medvault-anvil-watchdog', String(anvilPid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  })
  watchdog.unref()
  // Our end of the pipe must not keep this process alive; it is closed only when we die.
  ;(watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.()
  watchdog.stdin?.on('error', () => undefined)
  watchdog.on('error', () => undefined)
  return watchdog
}

// `read` is a shell builtin: it blocks without a child process until the pipe closes (EOF), so
// killing the shell ends the watchdog. `sleep 0.1` only runs once the owner is gone.
const WATCHDOG = `
pid="$1"
while read -r _; do :; done
kill -TERM "$pid" 2>/dev/null || exit 0
i=0
while kill -0 "$pid" 2>/dev/null; do
  i=$((i + 1))
  if [ "$i" -gt 100 ]; then kill -KILL "$pid" 2>/dev/null; exit 0; fi
  sleep 0.1
done
`

async function waitForRpc(rpcUrl: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const why = stderr().trim() || `code ${child.exitCode}`
      if (/address already in use/i.test(why)) {
        throw new PortTakenError(`The embedded chain (anvil) could not listen on ${rpcUrl}: ${why}.`, {
          hint: 'Another program holds that port: stop it, or give the chain another port (medvault start --port).',
        })
      }
      throw new HomeError(`The embedded chain (anvil) exited at start: ${why}.`, {
        hint: 'Check that the chain state file in the home is not corrupt and no other medvault holds it.',
      })
    }
    try {
      const res = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
        // Something else on the port may accept and never answer; without a limit the probe
        // would wait minutes for it instead of noticing that anvil has exited.
        signal: AbortSignal.timeout(1_000),
      })
      if (res.ok) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  child.kill('SIGKILL')
  throw new HomeError('The embedded chain (anvil) did not start within 15 s.')
}
