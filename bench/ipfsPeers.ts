/**
 * Reading records from another IPFS node: a second Helia node in its own process (`medvault ipfs
 * serve`, the built binary) holds the ciphertexts; this process fetches them over libp2p on
 * loopback (TCP, Noise, Yamux, Bitswap) into an empty repository. Each blob is fetched once, so
 * every byte crosses the connection.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CID } from 'multiformats/cid'
import { createHeliaStore } from '../src/storage/heliaStore.js'
import { MiB, type Metrics, drain, fmt, median, progress, randomChunks, table, tempDir } from './util.js'

const BIN = fileURLToPath(new URL('../bin/medvault.js', import.meta.url))
const SMALL = 20
const LARGE_MIB = 64

type Served = { multiaddrs: string[]; stop: () => Promise<void> }

function serve(repo: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'ipfs', 'serve', '--repo', repo, '--listen', '/ip4/127.0.0.1/tcp/0', '--json'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      if (!out.includes('\n')) return
      const info = JSON.parse(out.split('\n')[0]!) as { multiaddrs?: string[]; error?: { message: string } }
      if (!info.multiaddrs) return reject(new Error(`medvault ipfs serve failed: ${info.error?.message}`))
      resolve({
        multiaddrs: info.multiaddrs,
        stop: () =>
          new Promise((done) => {
            child.once('exit', () => done())
            child.kill('SIGINT')
          }),
      })
    })
    child.once('exit', (code) => reject(new Error(`medvault ipfs serve exited with ${code}: ${out}`)))
  })
}

export async function measureIpfsPeers(): Promise<{ metrics: Metrics; details: unknown; report: string }> {
  const dir = tempDir('ipfs-peers')
  const holder = join(dir.path, 'holder')
  try {
    progress(`ipfs peers: storing ${SMALL} x 1 MiB and 1 x ${LARGE_MIB} MiB in the holder's repository`)
    const offline = await createHeliaStore(holder)
    const small: CID[] = []
    for (let i = 0; i < SMALL; i++) small.push(await offline.add(randomChunks(MiB)))
    const large = await offline.add(randomChunks(LARGE_MIB * MiB))
    await offline.close()

    const served = await serve(holder)
    const reader = await createHeliaStore(join(dir.path, 'reader'), { network: { listen: [], peers: served.multiaddrs } })
    try {
      progress('ipfs peers: first read (dials the peer)')
      let t = performance.now()
      await drain(reader.cat(small[0]!))
      const firstMs = performance.now() - t
      const ms: number[] = []
      for (const cid of small.slice(1)) {
        t = performance.now()
        const bytes = await drain(reader.cat(cid))
        ms.push(performance.now() - t)
        if (bytes !== MiB) throw new Error(`fetched ${bytes} bytes, not 1 MiB`)
      }
      progress(`ipfs peers: fetching ${LARGE_MIB} MiB`)
      t = performance.now()
      const bytes = await drain(reader.cat(large))
      const largeSeconds = (performance.now() - t) / 1000
      const mibPerSecond = bytes / MiB / largeSeconds
      const sorted = [...ms].sort((a, b) => a - b)
      const p90 = sorted[Math.floor(sorted.length * 0.9)]!
      const metrics: Metrics = {
        'ipfsPeers.fetch1MiB.median': { label: 'fetch 1 MiB from a peer process (median)', value: median(ms), unit: 'ms', kind: 'info' },
        'ipfsPeers.fetchLarge': {
          label: `fetch ${LARGE_MIB} MiB from a peer process`,
          value: mibPerSecond,
          unit: 'MiB/s',
          kind: 'throughput',
        },
      }
      const report = table(
        ['read over libp2p loopback (Bitswap)', 'figure'],
        [
          ['first 1 MiB read, dial + Noise + identify included', `${fmt(firstMs, 0)} ms`],
          [`1 MiB, median of ${ms.length} (connected)`, `${fmt(median(ms), 0)} ms`],
          [`1 MiB, p90 of ${ms.length}`, `${fmt(p90, 0)} ms`],
          [`${LARGE_MIB} MiB`, `${fmt(largeSeconds, 1)} s, ${fmt(mibPerSecond)} MiB/s`],
        ],
      )
      return { metrics, details: { firstMs, ms, largeSeconds, mibPerSecond }, report }
    } finally {
      await reader.close()
      await served.stop()
    }
  } finally {
    dir.remove()
  }
}
