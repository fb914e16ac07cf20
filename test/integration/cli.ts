import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

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

/** Starts `medvault start` and resolves once it says it is running. */
export function startMedvault(
  home: string,
  args: string[] = [],
): Promise<{ child: ChildProcess; output: () => string; stop: () => Promise<number> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'start', ...args], {
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
