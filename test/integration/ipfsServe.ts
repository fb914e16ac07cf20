import { type ChildProcess, spawn } from 'node:child_process'
import { BIN } from './cli.js'

export type ServedNode = {
  child: ChildProcess
  peerId: string
  /** Where peers dial it, each ending in /p2p/<peer id>. */
  multiaddrs: string[]
  stop: () => Promise<number>
}

/**
 * Starts `medvault ipfs serve --json` (the real binary, its own process) and resolves with the
 * peer id and addresses it prints once it listens.
 */
export function serveIpfs(args: string[], env: Record<string, string> = {}): Promise<ServedNode> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'ipfs', 'serve', '--json', ...args], {
      env: { ...process.env, MEDVAULT_PASSPHRASE: 'correct-horse-battery', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    const timer = setTimeout(() => reject(new Error(`medvault ipfs serve did not come up:\n${out}\n${err}`)), 60_000)
    const stop = () =>
      new Promise<number>((done) => {
        if (child.exitCode !== null) return done(child.exitCode)
        child.once('exit', (code) => done(code ?? -1))
        child.kill('SIGINT')
      })
    child.stderr.on('data', (d) => (err += d))
    child.stdout.on('data', (d) => {
      out += d
      const line = out.split('\n')[0]
      if (out.includes('\n') && line) {
        clearTimeout(timer)
        const info = JSON.parse(line) as { peerId: string; multiaddrs: string[]; error?: { message: string } }
        if (info.error) reject(new Error(`medvault ipfs serve failed: ${info.error.message}`))
        else resolve({ child, peerId: info.peerId, multiaddrs: info.multiaddrs, stop })
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`medvault ipfs serve exited with ${code}:\n${out}\n${err}`))
    })
  })
}
