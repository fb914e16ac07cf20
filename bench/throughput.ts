/**
 * Throughput on one 100 MiB random buffer (generated once, in 1 MiB chunks):
 *   (a) node:crypto AES-256-GCM, one createCipheriv over all bytes (the ceiling);
 *   (b) medvault's segmented AES-256-GCM stream (encryptStream) alone;
 *   (c) sealEnvelope piped into a fresh embedded Helia store's add();
 *   (d) reading it back: store.cat + openEnvelope + draining the content;
 *   (e) node:crypto SHA-256 of the same bytes (what content addressing costs), (f) writing them as
 *   1 MiB files (temporary name, then rename, as the blockstore does) and (g) reading those back,
 *   four at a time: the parts no code of ours can make faster. From (a), (e), (f) and (g) the
 *   bench derives what (c) and (d) could reach on two cores if the encryption, the hashing and the
 *   file I/O ran in perfect parallel with nothing else: the ceiling the 0.5x targets meet.
 * After an untimed warm-up of the in-memory cases (a), (b) and (e), each is run THROUGHPUT_RUNS
 * times, those three IN_MEMORY_RUNS times (interleaved, with a full GC before each), and the best
 * run counts.
 *
 * It runs in a child process (bench/throughputChild.ts) with glibc told to keep freed memory:
 * every case allocates ~100 MiB of fresh 1 MiB output buffers, and with glibc's default,
 * size-dependent mmap/trim heuristics a run either reuses freed pages or faults in new ones from
 * the kernel, which on a VM made the same run 300 or 2000 MiB/s at random. Keeping the pages
 * measures the code, the same way for every case, and makes a 25% threshold meaningful.
 */
import { createCipheriv, createHash, randomBytes, randomFillSync } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { bytesToHex } from 'viem'
import { privateKeyToAccount, generatePrivateKey } from 'viem/accounts'
import type { CID } from 'multiformats/cid'
import {
  type RecordMeta,
  createHeliaStore,
  encryptStream,
  encryptionKeyPairFromSeed,
  generateEncryptionSeed,
  openEnvelope,
  randomKey,
  sealEnvelope,
} from '../src/index.js'
import { runChild } from './child.js'
import { MiB, type Metrics, drain, fmt, progress, replay, table, tempDir } from './util.js'

export const THROUGHPUT_MIB = 100
/** Best of five: on two shared cores (a) alone ranged 2,226–3,792 MiB/s between runs minutes apart. */
const THROUGHPUT_RUNS = 5
/**
 * The in-memory cases, (a), (b) and (e), take 25–55 ms a pass: best of five of those gave (b)/(a)
 * anywhere from 0.61x to 0.95x for the same code (2026-12-07), whichever pass a neighbour slowed.
 * Fifteen passes of each cost under 1.5 s more.
 */
const IN_MEMORY_RUNS = 15
/** glibc: serve 1 MiB buffers from the heap and never hand freed memory back (see above). */
const ALLOCATOR_TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=2147483647'

export type ThroughputResult = { metrics: Metrics; details: Record<string, number[]>; report: string }

/** Runs the measurement in a child process; see the file comment. */
export function measureThroughput(): Promise<ThroughputResult> {
  const tunables = [process.env.GLIBC_TUNABLES, ALLOCATOR_TUNABLES].filter(Boolean).join(':')
  return runChild<ThroughputResult>('throughputChild.ts', { nodeFlags: ['--expose-gc'], env: { GLIBC_TUNABLES: tunables } })
}

const collectGarbage = (globalThis as { gc?: () => void }).gc ?? (() => undefined)

type Case = { key: string; label: string; run: () => Promise<number> }

/** Runs `task` over `items`, `width` at a time. */
async function inBatches<T>(items: readonly T[], width: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map((item, j) => task(item, i + j)))
}

/** The measurement itself, in the current process. */
export async function measureThroughputHere(): Promise<ThroughputResult> {
  progress(`throughput: generating ${THROUGHPUT_MIB} MiB of random data in 1 MiB chunks`)
  const chunks = Array.from({ length: THROUGHPUT_MIB }, () => randomFillSync(Buffer.allocUnsafe(MiB)))
  const total = THROUGHPUT_MIB * MiB
  const sha256 = createHash('sha256')
  for (const c of chunks) sha256.update(c)

  const seed = generateEncryptionSeed()
  const { publicKey } = await encryptionKeyPairFromSeed(seed)
  const patient = privateKeyToAccount(generatePrivateKey()).address
  const issuer = privateKeyToAccount(generatePrivateKey()).address
  const meta: RecordMeta = {
    v: 1,
    contentType: 'application/octet-stream',
    size: total,
    sha256: bytesToHex(sha256.digest()),
    salt: bytesToHex(randomBytes(32)),
    patient,
    issuer,
    category: 1,
    sensitivity: 0,
    tag: bytesToHex(randomBytes(8)),
    supersedes: '0',
    attestation: bytesToHex(randomBytes(65)), // not checked by the envelope layer
  }

  // (c) leaves its store open for (d) to read back; (d) closes and deletes it.
  let stored: { cid: CID; store: Awaited<ReturnType<typeof createHeliaStore>>; dir: ReturnType<typeof tempDir> } | undefined

  const cases: Case[] = [
    {
      key: 'aesGcm',
      label: '(a) node:crypto AES-256-GCM, one cipher',
      async run() {
        const cipher = createCipheriv('aes-256-gcm', randomKey(), randomBytes(12))
        const t0 = performance.now()
        for (const c of chunks) cipher.update(c)
        cipher.final()
        cipher.getAuthTag()
        return performance.now() - t0
      },
    },
    {
      key: 'encryptStream',
      label: '(b) encryptStream (1 MiB segments)',
      async run() {
        const t0 = performance.now()
        // With the length, as sealEnvelope calls it (aeadStream.ts: segments sealed as bytes arrive).
        const out = await drain(encryptStream(replay(chunks), { key: randomKey(), aad: randomBytes(32), size: total }))
        const ms = performance.now() - t0
        if (out !== total + THROUGHPUT_MIB * 16) throw new Error(`encryptStream produced ${out} bytes`)
        return ms
      },
    },
    {
      key: 'sealAndStore',
      label: '(c) sealEnvelope -> Helia add (fresh store)',
      async run() {
        const dir = tempDir('tput')
        const store = await createHeliaStore(dir.path)
        const t0 = performance.now()
        const sealed = await sealEnvelope({
          meta,
          content: replay(chunks),
          recipients: [{ address: patient, encryptionPublicKey: bytesToHex(publicKey) }],
        })
        const cid = await store.add(sealed)
        const ms = performance.now() - t0
        stored = { cid, store, dir }
        return ms
      },
    },
    {
      key: 'catAndOpen',
      label: '(d) Helia cat -> openEnvelope -> drain',
      async run() {
        if (!stored) throw new Error('nothing stored')
        const { cid, store, dir } = stored
        stored = undefined
        try {
          const t0 = performance.now()
          const { content } = await openEnvelope(store.cat(cid), { address: patient, encryptionSeed: seed })
          const out = await drain(content)
          const ms = performance.now() - t0
          if (out !== total) throw new Error(`read back ${out} bytes, expected ${total}`)
          return ms
        } finally {
          await store.close()
          dir.remove()
        }
      },
    },
    {
      key: 'sha256',
      label: '(e) node:crypto SHA-256',
      async run() {
        const t0 = performance.now()
        for (const c of chunks) createHash('sha256').update(c).digest()
        return performance.now() - t0
      },
    },
    {
      key: 'fileWrite',
      label: '(f) write 1 MiB files, 4 at a time',
      async run() {
        const dir = tempDir('tput-files')
        filesDir?.remove()
        filesDir = dir
        const t0 = performance.now()
        await inBatches(chunks, 4, async (chunk, i) => {
          const shard = join(dir.path, String(i % 16))
          mkdirSync(shard, { recursive: true })
          await writeFile(join(shard, `${i}.tmp`), chunk)
          await rename(join(shard, `${i}.tmp`), join(shard, `${i}.data`))
        })
        return performance.now() - t0
      },
    },
    {
      key: 'fileRead',
      label: '(g) read them back, 4 at a time',
      async run() {
        if (!filesDir) throw new Error('nothing written')
        const { path } = filesDir
        let read = 0
        const t0 = performance.now()
        await inBatches(chunks, 4, async (_, i) => {
          const bytes = await readFile(join(path, String(i % 16), `${i}.data`))
          read += bytes.byteLength
        })
        const ms = performance.now() - t0
        if (read !== total) throw new Error(`read back ${read} bytes, expected ${total}`)
        return ms
      },
    },
  ]
  /** Cases timed in memory: many passes, since each takes only tens of milliseconds. */
  const inMemory = new Set(['aesGcm', 'encryptStream', 'sha256'])
  let filesDir: ReturnType<typeof tempDir> | undefined

  // One untimed pass of the in-memory cases first: the first 100 MiB of cipher output pays for
  // fresh pages from the kernel.
  progress('throughput: warm-up pass of (a), (b) and (e), not timed')
  for (const c of cases.filter((c) => inMemory.has(c.key))) await c.run()

  const times: Record<string, number[]> = {}
  try {
    for (let run = 1; run <= IN_MEMORY_RUNS; run++) {
      for (const c of cases) {
        const runs = inMemory.has(c.key) ? IN_MEMORY_RUNS : THROUGHPUT_RUNS
        if (run > runs) continue
        collectGarbage()
        const ms = await c.run()
        times[c.key] = [...(times[c.key] ?? []), ms]
        progress(`throughput: run ${run}/${runs} ${c.label}: ${fmt(total / MiB / (ms / 1000))} MiB/s`)
      }
    }
  } finally {
    if (stored) {
      await stored.store.close().catch(() => undefined)
      stored.dir.remove()
    }
    filesDir?.remove()
  }

  const best = (key: string) => total / MiB / (Math.min(...(times[key] ?? [])) / 1000)
  const ceiling = best('aesGcm')
  const metrics: Metrics = {}
  const details: Record<string, number[]> = {}
  const rows = cases.map((c) => {
    const mibs = best(c.key)
    metrics[`throughput.${c.key}`] = { label: c.label, value: mibs, unit: 'MiB/s', kind: 'throughput' }
    details[c.key] = (times[c.key] ?? []).map((ms) => Math.round(ms))
    return [c.label, fmt(mibs), `${fmt(mibs / ceiling, 2)}x`, (times[c.key] ?? []).map((ms) => fmt(ms / 1000, 2)).join(' / ')]
  })
  // Each MiB stored costs one encryption, one SHA-256 and one file write; each MiB read one file
  // read, one SHA-256 and one decryption (as fast as (a)). Spread perfectly over the cores with no
  // other cost, that work takes (sum of the per-MiB times) / cores: the most (c) and (d) could reach.
  const cores = Math.min(availableParallelism(), 2)
  const ceiling2 = (...rates: number[]) => cores / rates.reduce((sum, rate) => sum + 1 / rate, 0)
  const ceilings = [
    {
      key: 'storeCeiling',
      label: `(c) ceiling on ${cores} cores: (a) + (e) + (f) in parallel`,
      value: ceiling2(ceiling, best('sha256'), best('fileWrite')),
    },
    {
      key: 'fetchCeiling',
      label: `(d) ceiling on ${cores} cores: (g) + (e) + (a) in parallel`,
      value: ceiling2(best('fileRead'), best('sha256'), ceiling),
    },
  ]
  for (const c of ceilings) {
    metrics[`throughput.${c.key}`] = { label: c.label, value: c.value, unit: 'MiB/s', kind: 'throughput' }
    rows.push([c.label, fmt(c.value), `${fmt(c.value / ceiling, 2)}x`, 'derived'])
  }
  const report = [
    `${THROUGHPUT_MIB} MiB of random bytes, best of ${IN_MEMORY_RUNS} runs ((a), (b), (e)) or ${THROUGHPUT_RUNS} (the others) after a warm-up; MiB/s of plaintext`,
    `child process, GLIBC_TUNABLES=${ALLOCATOR_TUNABLES} (freed memory is reused, not returned to the kernel), GC before each run`,
    '',
    table(['case', 'MiB/s', 'vs (a)', 'seconds per run'], rows),
    '',
    '(c) ends when store.add() returns, i.e. after Helia has pinned every block; section 3 splits streaming from that tail.',
    `(c) reaches ${fmt(best('sealAndStore') / ceilings[0]!.value, 2)} of its ceiling, (d) ${fmt(best('catAndOpen') / ceilings[1]!.value, 2)} of its own.`,
  ].join('\n')
  return { metrics, details, report }
}
