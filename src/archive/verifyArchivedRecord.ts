import { createHash } from 'node:crypto'
import { type Hex, getAddress } from 'viem'
import { archiveAnchorAbi, providerRegistryAbi } from '../contracts/index.js'
import { computeCommitment } from '../crypto/index.js'
import { TamperedRecordError } from '../errors.js'
import {
  NO_TAG,
  type Check,
  isAttestationBy,
  type RecordMeta,
  type RecordReader,
  type RecordsContext,
  checkReason,
  ciphertextCheck,
  cidFromChain,
  failedReadCheck,
  getProvider,
  openEnvelope,
} from '../records/index.js'
import { type ArchiveInfo, getArchive } from './archiveContract.js'
import { type ArchivedRecord, verifyArchivedLeaf } from './leaf.js'
import type { ArchiveProof } from './proofFile.js'

export type ArchiveCheck = Check<'archive' | 'proof' | 'issuer' | 'ciphertext' | 'access' | 'issuer-signature' | 'commitment'>

export type VerifyArchivedRecordParameters = {
  proof: ArchiveProof
  /** The patient, to also decrypt the record and check its signature and commitment. */
  reader?: RecordReader
  /** Keep the decrypted content in the result (only when every check passed). */
  returnContent?: boolean
  /**
   * Archive and issuer lookups shared by the verifications of one batch (many records of one
   * archive): a revocation after the first lookup is not seen by the later ones.
   */
  cache?: Map<string, Promise<unknown>>
}

export type VerifyArchivedRecordReturnType = {
  valid: boolean
  archiveId: Hex
  record: ArchivedRecord
  archive: ArchiveInfo | undefined
  issuerName: string | undefined
  checks: ArchiveCheck[]
  /** The decrypted document, with `returnContent` and a reader, when valid. */
  content?: Uint8Array
}

function cached<T>(cache: Map<string, Promise<unknown>> | undefined, key: string, load: () => Promise<T>): Promise<T> {
  if (!cache) return load()
  let hit = cache.get(key) as Promise<T> | undefined
  if (!hit) {
    hit = load()
    cache.set(key, hit)
  }
  return hit
}

/**
 * Verifies an archived record without asking its issuer. Anyone: the proof is for this chain's
 * ArchiveAnchor; the archive is anchored and not revoked; the proof leads from the record's leaf
 * to the anchored root (checked here and by `ArchiveAnchor.verifyRecord`); the issuer was an active
 * registered provider when it anchored; the ciphertext is available and matches the leaf's CID.
 * The patient (`reader`): also the decryption, the issuer's EIP-712 attestation over the leaf's
 * fields, and the content against the leaf's salted commitment.
 *
 * @example
 * const proof = parseArchiveProof(readFileSync('proofs/0xAb.../entry-12.json'))
 * const result = await verifyArchivedRecord(mv, { proof, reader: alice })
 * if (!result.valid) console.log(result.checks.filter((c) => !c.ok))
 */
export async function verifyArchivedRecord(
  ctx: RecordsContext,
  params: VerifyArchivedRecordParameters,
): Promise<VerifyArchivedRecordReturnType> {
  const { proof, cache } = params
  const record = proof.record
  const checks: ArchiveCheck[] = []
  let content: Uint8Array | undefined
  const done = (archive?: ArchiveInfo, issuerName?: string): VerifyArchivedRecordReturnType => {
    const valid = checks.every((c) => c.ok)
    return {
      valid,
      archiveId: proof.archiveId,
      record,
      archive,
      issuerName,
      checks,
      ...(valid && content && params.returnContent ? { content } : {}),
    }
  }

  const anchorAddress = ctx.deployment.archive
  if (proof.chainId !== ctx.deployment.chainId || !anchorAddress || getAddress(proof.archiveAnchor) !== getAddress(anchorAddress)) {
    checks.push({
      id: 'archive',
      ok: false,
      message: `The proof is for the ArchiveAnchor ${proof.archiveAnchor} on chain ${proof.chainId}, not this medvault's (${anchorAddress ?? 'none'} on chain ${ctx.deployment.chainId}).`,
    })
    return done()
  }

  let archive: ArchiveInfo | undefined
  try {
    archive = await cached(cache, `archive:${proof.archiveId}`, () => getArchive(ctx, proof.archiveId))
  } catch (error) {
    checks.push({ id: 'archive', ok: false, message: checkReason(error) })
    return done()
  }
  if (!archive) {
    checks.push({ id: 'archive', ok: false, message: `No archive ${proof.archiveId} is anchored on this chain.` })
    return done()
  }
  const provider = await cached(cache, `provider:${archive.issuer}`, () => getProvider(ctx, archive.issuer))
  if (archive.revokedAt) {
    checks.push({
      id: 'archive',
      ok: false,
      message: `Archive ${proof.archiveId} was revoked on ${archive.revokedAt.toISOString()}: its records are no longer vouched for.`,
    })
    return done(archive, provider.name)
  }
  checks.push({
    id: 'archive',
    ok: true,
    message: `Archive ${proof.archiveId} of ${archive.count} records was anchored by ${provider.name} on ${archive.anchoredAt.toISOString()} and is not revoked.`,
  })

  const here = verifyArchivedLeaf(archive.root, record, proof.proof)
  const onChain = await ctx.publicClient
    .readContract({
      address: anchorAddress,
      abi: archiveAnchorAbi,
      functionName: 'verifyRecord',
      args: [proof.archiveId, record, proof.proof],
    })
    .catch(() => false)
  const proved = here && onChain && getAddress(record.issuer) === archive.issuer
  checks.push({
    id: 'proof',
    ok: proved,
    message: proved
      ? `The record's leaf is in the archive: its proof (${proof.proof.length} hashes) leads to the anchored root, and ArchiveAnchor.verifyRecord agrees.`
      : 'The record is not part of this archive: its fields or its proof do not lead to the anchored root. Do not trust it.',
  })
  if (!proved) return done(archive, provider.name)

  const anchoredAt = BigInt(Math.floor(archive.anchoredAt.getTime() / 1000))
  const wasActive = await cached(cache, `active:${archive.issuer}:${anchoredAt}`, () =>
    ctx.publicClient.readContract({
      address: ctx.deployment.registry,
      abi: providerRegistryAbi,
      functionName: 'wasActiveAt',
      args: [archive.issuer, anchoredAt],
    }),
  )
  const now = provider.status === 'active' ? '' : ` It is ${provider.status} now; archives it anchored before stay valid unless revoked.`
  checks.push({
    id: 'issuer',
    ok: wasActive,
    message: wasActive
      ? `Issued by ${provider.name} (${archive.issuer}), an active registered provider when it anchored the archive.${now}`
      : `The issuer ${archive.issuer} was not an active provider when the archive was anchored.`,
  })

  const cid = cidFromChain(record.cidCodec, record.cidDigest)
  if (!params.reader) {
    checks.push(await ciphertextCheck(ctx, cid))
    return done(archive, provider.name)
  }

  try {
    const opened = await openEnvelope(ctx.store.cat(cid), params.reader)
    checks.push({
      id: 'ciphertext',
      ok: true,
      message: `The encrypted document ${cid} is available, matches its content address and decrypts.`,
    })
    await checkArchivedAttestation(ctx, record, opened.meta)
    checks.push({ id: 'issuer-signature', ok: true, message: `The issuer's EIP-712 signature is valid and names ${record.issuer}.` })
    const parts: Uint8Array[] = []
    const hash = createHash('sha256')
    let size = 0
    for await (const chunk of opened.content) {
      hash.update(chunk)
      size += chunk.byteLength
      if (params.returnContent) parts.push(chunk)
    }
    const digest = hash.digest()
    const matches =
      size === opened.meta.size &&
      `0x${digest.toString('hex')}` === opened.meta.sha256.toLowerCase() &&
      computeCommitment(Buffer.from(opened.meta.salt.slice(2), 'hex'), digest) === record.commitment
    checks.push({
      id: 'commitment',
      ok: matches,
      message: matches
        ? "The content matches the leaf's commitment."
        : "The content does not match the leaf's commitment: the stored copy was altered. Do not use it.",
    })
    if (matches && params.returnContent) content = Buffer.concat(parts)
  } catch (error) {
    checks.push({ id: failedReadCheck(error), ok: false, message: checkReason(error) })
  }
  return done(archive, provider.name)
}

/** The envelope's sealed description and the issuer's attestation must be the leaf's. */
async function checkArchivedAttestation(ctx: Pick<RecordsContext, 'deployment'>, record: ArchivedRecord, meta: RecordMeta): Promise<void> {
  if (
    getAddress(meta.patient) !== getAddress(record.patient) ||
    getAddress(meta.issuer) !== getAddress(record.issuer) ||
    meta.category !== record.category ||
    meta.sensitivity !== record.sensitivity ||
    meta.tag.toLowerCase() !== NO_TAG ||
    meta.supersedes !== '0'
  ) {
    throw new TamperedRecordError(
      'The stored content does not belong to this archived record: its sealed description differs from the leaf.',
      {
        details: 'issuer-signature',
        hint: 'Do not trust it.',
      },
    )
  }
  const signed = await isAttestationBy(
    ctx,
    {
      patient: getAddress(record.patient),
      commitment: record.commitment,
      category: record.category,
      sensitivity: record.sensitivity,
      tag: NO_TAG,
      supersedes: 0n,
    },
    meta.attestation as Hex,
    getAddress(record.issuer),
  )
  if (!signed) {
    throw new TamperedRecordError('The issuer signature on this archived record is not valid for its leaf.', {
      details: 'issuer-signature',
      hint: 'The record was not signed by the provider that anchored it, or its content was swapped. Do not trust it.',
    })
  }
}
