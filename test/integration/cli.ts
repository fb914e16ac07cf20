import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../src/chain/ports.js'

export const BIN = fileURLToPath(new URL('../../bin/medvault.js', import.meta.url))

export type CliResult = { code: number; stdout: string; stderr: string; json: any }

/** Runs the real `medvault` binary (built dist/) in `home`. */
export function medvault(home: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, MEDVAULT_HOME: home, MEDVAULT_PASSPHRASE: 'correct-horse-battery', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => {
      let json: unknown
      try {
        json = args.includes('--json') ? JSON.parse(stdout) : undefined
      } catch {
        json = undefined
      }
      resolve({ code: code ?? -1, stdout, stderr, json })
    })
  })
}

/**
 * `--port`, `--http-port` and `--api-port` options with ports of its own for each one `args` does
 * not set. `medvault start` prefers 8545, 8787 and 8788, checks that each is free and then binds
 * it, so two test files starting it at the same moment both found 8788 free and one of them died
 * with EADDRINUSE (a CI run failed that way).
 */
export async function withOwnPorts(args: readonly string[]): Promise<string[]> {
  const own = []
  for (const option of ['--port', '--http-port', '--api-port']) {
    if (!args.includes(option)) own.push(option, String(await freePort()))
  }
  return [...args, ...own]
}

/** Starts `medvault start` (on ports of its own unless `args` sets them) and resolves once it says it is running. */
export async function startMedvault(
  home: string,
  args: string[] = [],
): Promise<{ child: ChildProcess; output: () => string; stop: () => Promise<number> }> {
  const startArgs = await withOwnPorts(args)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'start', ...startArgs], {
      env: { ...process.env, MEDVAULT_HOME: home, MEDVAULT_PASSPHRASE: 'correct-horse-battery' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    const timer = setTimeout(() => reject(new Error(`medvault start did not come up:\n${out}`)), 60_000)
    const stop = () =>
      new Promise<number>((done) => {
        if (child.exitCode !== null) return done(child.exitCode)
        child.once('exit', (code) => done(code ?? -1))
        child.kill('SIGINT')
      })
    const onData = (d: Buffer) => {
      out += d
      if (out.includes('Press Ctrl-C to stop')) {
        clearTimeout(timer)
        resolve({ child, output: () => out, stop })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`medvault start exited with ${code}:\n${out}`))
    })
  })
}
