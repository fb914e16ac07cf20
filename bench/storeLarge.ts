/**
 * Child process of `npm run bench`: seals SIZE_MIB of pseudo-random data with sealEnvelope and
 * stores it in an embedded Helia store under DIR, generating the data lazily in 1 MiB chunks (never
 * holding more than a few MiB of it). Prints one JSON line on stdout: peak RSS, elapsed time,
 * throughput and RSS samples taken along the way. Progress goes to stderr.
 *
 *   node --import tsx bench/storeLarge.ts DIR [SIZE_MIB=1024]
 *
 * DIR is created by the parent (bench/memory.ts, through bench/child.ts), which also deletes it.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Address, Hex } from 'viem'
// Only the modules storing needs: src/index.js would also load the FHIR definitions and the CLI's
// dependencies, which add ~50 MiB of RSS that has nothing to do with storing. Not viem either (for
// hex, here and in the envelope): storing does not need it.
import { encryptionKeyPairFromSeed, generateEncryptionSeed } from '../src/crypto/hpke.js'
import { type RecordMeta, sealEnvelope } from '../src/records/envelope.js'
import { createHeliaStore } from '../src/storage/heliaStore.js'
import { MiB, progress, randomChunks } from './util.js'

export type StoreLargeResult = {
  bytes: number
  /** From the first byte sealed to store.add() returning (the blob stored and pinned). */
  seconds: number
  /** From the first byte to the last plaintext byte being consumed; the rest is Helia finishing the DAG and pinning. */
  secondsToLastByte: number
  mibPerSecond: number
  /**
   * process.resourceUsage().maxRSS: the high-water mark over the child's whole life. On Linux it
   * also counts the RSS of the process that forked this one (the kernel keeps the pre-exec
   * high-water mark), so the parent must start this script from a small process (see memory.ts).
   */
  maxRssMiB: number
  /** VmHWM from /proc/self/status: this process image's own peak RSS (Linux only; cross-check). */
  vmHwmMiB: number | null
  /** RSS once the modules are loaded and the Helia store is started, before any data. */
  rssAtStartMiB: number
  /** Highest RSS seen by a 10 ms sampler while the plaintext was being read. */
  sampledPeakStreamingMiB: number
  /** Highest RSS seen by the sampler after the last plaintext byte (DAG root, pinning). */
  sampledPeakFinishingMiB: number
  /** RSS when 25%, 50%, 75% and 100% of the plaintext had been read. */
  rssSamplesMiB: { atMiB: number; rssMiB: number }[]
  storedMiB: number
  cid: string
}

function diskUsage(dir: string): number {
  let bytes = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name)
    bytes += entry.isDirectory() ? diskUsage(full) : statSync(full).size
  }
  return bytes
}

const rssMiB = () => process.memoryUsage().rss / MiB

function vmHwmMiB(): number | null {
  try {
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]
    return kib ? Number(kib) / 1024 : null
  } catch {
    return null
  }
}

async function main() {
  const [dir, sizeArg] = process.argv.slice(2)
  if (!dir) throw new Error('usage: storeLarge.ts DIR [SIZE_MIB]')
  const sizeMiB = Number(sizeArg ?? 1024)
  const total = sizeMiB * MiB

  const { publicKey } = await encryptionKeyPairFromSeed(generateEncryptionSeed())
  const bytesToHex = (bytes: Uint8Array): Hex => `0x${Buffer.from(bytes).toString('hex')}`
  const address = (): Address => bytesToHex(randomBytes(20))
  const patient = address()
  const meta: RecordMeta = {
    v: 1,
    contentType: 'application/octet-stream',
    size: total,
    sha256: bytesToHex(randomBytes(32)), // not checked when sealing
    salt: bytesToHex(randomBytes(32)),
    patient,
    issuer: address(),
    category: 1,
    sensitivity: 0,
    tag: bytesToHex(randomBytes(8)),
    supersedes: '0',
    attestation: bytesToHex(randomBytes(65)),
  }

  const store = await createHeliaStore(dir)
  try {
    const rssAtStartMiB = rssMiB()
    const samples: { atMiB: number; rssMiB: number }[] = []
    let read = 0
    let lastByteAt = 0
    const every = Math.max(1, Math.floor(sizeMiB / 4))
    async function* content() {
      for await (const chunk of randomChunks(total)) {
        yield chunk
        read += chunk.byteLength
        const mib = read / MiB
        if (mib % every === 0 || read === total) {
          samples.push({ atMiB: mib, rssMiB: Math.round(rssMiB()) })
          const m = process.memoryUsage()
          progress(
            `memory: ${mib}/${sizeMiB} MiB read, rss ${Math.round(m.rss / MiB)} MiB (JS heap ${Math.round(m.heapUsed / MiB)}, buffers ${Math.round(m.arrayBuffers / MiB)})`,
          )
        }
      }
      lastByteAt = performance.now()
    }
    // Sampled RSS high-water marks, split at the moment the last plaintext byte was consumed.
    const sampled = { streaming: 0, finishing: 0 }
    const sampler = setInterval(() => {
      const phase = lastByteAt === 0 ? 'streaming' : 'finishing'
      sampled[phase] = Math.max(sampled[phase], rssMiB())
    }, 10)
    const t0 = performance.now()
    const sealed = await sealEnvelope({
      meta,
      content: content(),
      recipients: [{ address: patient, encryptionPublicKey: bytesToHex(publicKey) }],
    })
    const cid = await store.add(sealed)
    const seconds = (performance.now() - t0) / 1000
    clearInterval(sampler)
    if (read !== total) throw new Error(`only ${read} of ${total} bytes were consumed`)
    const result: StoreLargeResult = {
      bytes: total,
      seconds,
      secondsToLastByte: (lastByteAt - t0) / 1000,
      mibPerSecond: sizeMiB / seconds,
      maxRssMiB: process.resourceUsage().maxRSS / 1024, // maxRSS is in KiB
      vmHwmMiB: vmHwmMiB(),
      rssAtStartMiB,
      sampledPeakStreamingMiB: sampled.streaming,
      sampledPeakFinishingMiB: sampled.finishing,
      rssSamplesMiB: samples,
      storedMiB: diskUsage(dir) / MiB,
      cid: cid.toString(),
    }
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } finally {
    await store.close()
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
