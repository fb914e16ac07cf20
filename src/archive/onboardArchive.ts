import { mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Address, type Hex, bytesToHex, getAddress } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { InvalidInputError } from '../errors.js'
import type { RecordsContext } from '../records/index.js'
import { anchorArchive, archiveAddress, preflightAnchor } from './archiveContract.js'
import { ARCHIVE_LEAF_ENCODING, archiveIdOf, archiveTree } from './leaf.js'
import type { ArchiveEntry } from './parseArchiveBundle.js'
import { ARCHIVE_MANIFEST_FORMAT, ARCHIVE_PROOF_FORMAT, type ArchiveManifest, type ArchiveProof } from './proofFile.js'
import { archiveRecipients, sealArchive } from './sealArchive.js'

export type ArchiveProgress = {
  stage: 'sealing' | 'anchoring' | 'done'
  /** Records in the archive. */
  total: number
  /** Sealed and stored so far. */
  sealed: number
}

export type OnboardArchiveParameters = {
  /** The provider that issues the records and anchors the root; it pays for one transaction. */
  issuer: LocalAccount
  entries: readonly ArchiveEntry[]
  /** Where the proofs are written, or a function of the archive id that says so. */
  outDir: string | ((archiveId: Hex) => string)
  /** Records sealed at once (default 8). */
  concurrency?: number
  onProgress?: (progress: ArchiveProgress) => void
}

export type OnboardArchiveReturnType = {
  archiveId: Hex
  root: Hex
  count: number
  patients: number
  txHash: Hex
  gasUsed: bigint
  manifestCid: string
  /** The directory holding `archive.json`, `manifest.json` and `proofs/<patient>/entry-<n>.json`. */
  outDir: string
  /** Every record: its entry, patient and proof file. */
  records: { entry: number; patient: Address; proofFile: string }[]
  sealSeconds: number
  seconds: number
}

/** A proof file's path inside an archive's directory. */
export const proofFilePath = (outDir: string, patient: Address, entry: number) =>
  join(outDir, 'proofs', getAddress(patient), `entry-${entry}.json`)

/**
 * Onboards a provider's existing archive: seals every record as `record add` does (fresh key,
 * AES-256-GCM, IPFS, key wrapped to its patient, salted commitment, the issuer's attestation),
 * builds the Merkle tree of their leaves, stores the manifest (every leaf) on IPFS, writes one
 * proof file per record, and anchors the root with `ArchiveAnchor.anchor` in one transaction: the
 * chain cost does not grow with the number of records. Every record is provable against the root
 * from then on ({@link verifyArchivedRecord}); none becomes a token.
 *
 * The issuer must be an active provider: that is checked before anything is sealed. If anchoring
 * fails, the proof files are deleted (the stored ciphertexts stay, unreferenced). `outDir` must be
 * new or empty.
 *
 * @example
 * const archive = parseArchiveBundle(readFileSync('archive.json'), { chainId: mv.deployment.chainId })
 * const result = await onboardArchive(mv, { issuer: lab.chainAccount, entries: archive.entries, outDir: 'proofs' })
 * console.log(`${result.count} records, ${result.gasUsed} gas`)
 */
export async function onboardArchive(ctx: RecordsContext, params: OnboardArchiveParameters): Promise<OnboardArchiveReturnType> {
  const started = performance.now()
  const { issuer, entries } = params
  const issuerAddress = getAddress(issuer.address)
  const archiveAnchor = archiveAddress(ctx)
  const total = entries.length
  await preflightAnchor(ctx, issuer)
  if (typeof params.outDir === 'string') await checkEmpty(params.outDir)
  const recipients = await archiveRecipients(
    ctx,
    entries.map((e) => e.patient),
  )

  params.onProgress?.({ stage: 'sealing', total, sealed: 0 })
  const sealed = await sealArchive(ctx, {
    issuer,
    entries,
    recipients,
    ...(params.concurrency ? { concurrency: params.concurrency } : {}),
    onSealed: (n) => params.onProgress?.({ stage: 'sealing', total, sealed: n }),
  })
  const sealSeconds = (performance.now() - started) / 1000

  const tree = archiveTree(sealed.map((s) => s.record))
  const root = tree.root as Hex
  const archiveId = archiveIdOf(issuerAddress, root)
  const manifest: ArchiveManifest = {
    format: ARCHIVE_MANIFEST_FORMAT,
    chainId: ctx.deployment.chainId,
    archiveAnchor,
    issuer: issuerAddress,
    archiveId,
    root,
    count: total,
    leafEncoding: ARCHIVE_LEAF_ENCODING,
    records: sealed,
  }
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest))
  const manifestCid = await ctx.store.add(
    (async function* () {
      yield manifestBytes
    })(),
  )

  const outDir = typeof params.outDir === 'function' ? params.outDir(archiveId) : params.outDir
  const records: OnboardArchiveReturnType['records'] = []
  await checkEmpty(outDir)
  await mkdir(outDir, { recursive: true })
  await writeFile(join(outDir, 'manifest.json'), manifestBytes)
  const patients = new Set(sealed.map((s) => s.record.patient))
  for (const patient of patients) await mkdir(join(outDir, 'proofs', patient), { recursive: true })
  for (const [i, s] of sealed.entries()) {
    const proof: ArchiveProof = {
      format: ARCHIVE_PROOF_FORMAT,
      chainId: ctx.deployment.chainId,
      archiveAnchor,
      archiveId,
      root,
      record: s.record,
      cid: s.cid,
      proof: tree.getProof(i) as Hex[],
      entry: s.entry,
    }
    const file = proofFilePath(outDir, s.record.patient, s.entry)
    await writeFile(file, `${JSON.stringify(proof, null, 2)}\n`)
    records.push({ entry: s.entry, patient: s.record.patient, proofFile: file })
  }

  params.onProgress?.({ stage: 'anchoring', total, sealed: total })
  let anchored: Awaited<ReturnType<typeof anchorArchive>>
  try {
    anchored = await anchorArchive(ctx, {
      issuer,
      root,
      count: total,
      manifest: { digest: bytesToHex(manifestCid.multihash.digest), codec: manifestCid.code },
    })
  } catch (error) {
    // Proofs of an archive that was never anchored prove nothing; the directory was empty before.
    await rm(join(outDir, 'proofs'), { recursive: true, force: true })
    await rm(join(outDir, 'manifest.json'), { force: true })
    throw error
  }
  await writeFile(
    join(outDir, 'archive.json'),
    `${JSON.stringify(
      {
        chainId: ctx.deployment.chainId,
        archiveAnchor,
        archiveId,
        root,
        count: total,
        issuer: issuerAddress,
        manifestCid: manifestCid.toString(),
        txHash: anchored.txHash,
        blockNumber: anchored.blockNumber.toString(),
        anchoredAt: anchored.anchoredAt.toISOString(),
        gasUsed: anchored.gasUsed.toString(),
      },
      null,
      2,
    )}\n`,
  )
  params.onProgress?.({ stage: 'done', total, sealed: total })
  return {
    archiveId,
    root,
    count: total,
    patients: patients.size,
    txHash: anchored.txHash,
    gasUsed: anchored.gasUsed,
    manifestCid: manifestCid.toString(),
    outDir,
    records,
    sealSeconds,
    seconds: (performance.now() - started) / 1000,
  }
}

/** Proofs never mix with other files: the directory must be new or empty. */
async function checkEmpty(dir: string): Promise<void> {
  const existing = await readdir(dir).catch(() => [])
  if (existing.length > 0) {
    throw new InvalidInputError(`${dir} is not empty; an archive's proofs go into a new directory.`, {
      hint: 'Choose another directory (--out DIR).',
    })
  }
}
