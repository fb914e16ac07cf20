import { createHash } from 'node:crypto'
import { type Address, getAddress } from 'viem'
import { providerRegistryAbi } from '../contracts/index.js'
import { computeCommitment } from '../crypto/index.js'
import { AccessDeniedError, RecordErasedError, TamperedRecordError, UntrustedIssuerError } from '../errors.js'

export { checkAttestation }
import { checkAttestation } from './checkAttestation.js'
import { canAccessNow, unwrapKeySlip } from '../consent/index.js'
import type { AccessAttempt, OnProgress, RecordsContext } from '../core/index.js'
import { type EnvelopeOpener, type RecordMeta, openEnvelope } from './envelope.js'
import { type OnChainRecord, currentRecord } from './onChainRecord.js'

export type RecordReader = { address: Address; encryptionSeed: Uint8Array }

export type OpenRecordReturnType = {
  record: OnChainRecord
  meta: RecordMeta
  /**
   * The decrypted document. Each segment is authenticated before it is released; after the last
   * one the stream checks the content against the on-chain commitment and throws
   * TamperedRecordError on a mismatch, so write it somewhere temporary until it ends.
   */
  content: AsyncIterable<Uint8Array>
}

/**
 * Whether `reader` may open the record, per the chain: its owner, an active grant covering it, or
 * an open break-glass window. Every attempt, allowed or denied, goes to the audit trail. An erased
 * record is refused to everyone, its owner included, with RecordErasedError.
 */
export async function checkReadAccess(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment' | 'audit' | 'readCache'>,
  record: OnChainRecord,
  reader: Address,
  action: AccessAttempt['action'] = 'read',
): Promise<'owner' | 'grant'> {
  if (record.erasedAt) {
    await ctx.audit?.record({
      actor: getAddress(reader),
      action,
      tokenId: record.tokenId,
      patient: record.owner,
      outcome: 'denied',
      reason: 'erased',
    })
    throw new RecordErasedError(`Record #${record.tokenId} was erased by its patient on ${record.erasedAt.toISOString()}.`, {
      hint: 'Its keys and its encrypted content were destroyed, so nobody can read it any more.',
    })
  }
  const owner = getAddress(reader) === record.owner
  const allowed = owner || (await canAccessNow(ctx, reader, record.tokenId))
  await ctx.audit?.record({
    actor: getAddress(reader),
    action,
    tokenId: record.tokenId,
    patient: record.owner,
    outcome: allowed ? 'allowed' : 'denied',
    reason: owner ? 'owner' : allowed ? 'grant' : 'no-grant',
  })
  if (!allowed) {
    throw new AccessDeniedError(`This account may not read record #${record.tokenId}.`, {
      hint: 'Only the patient who owns the record, or someone they shared it with, can open it.',
    })
  }
  return owner ? 'owner' : 'grant'
}

/** How `reader` opens the envelope: the owner from its header (or its own slip after a recovery), a grantee from a key slip. */
async function openerFor(
  ctx: RecordsContext,
  record: OnChainRecord,
  reader: RecordReader,
  via: 'owner' | 'grant',
): Promise<EnvelopeOpener> {
  if (via === 'owner') {
    // An owner by recovery or rotation opens with the slip recovery wrapped for it; any other owner is in the header.
    const own = await ctx.keySlips?.get(record.tokenId, reader.address)
    return own ? { recordKey: await unwrapKeySlip(own, reader, record.cid.toString()) } : reader
  }
  const slip =
    (await ctx.keySlips?.get(record.tokenId, reader.address)) ??
    (await ctx.keyRelease?.release({ tokenId: record.tokenId, cid: record.cid.toString(), requester: reader.address }))
  if (!slip) {
    throw new AccessDeniedError(`Access to record #${record.tokenId} is granted, but its key has not been released to this account yet.`, {
      hint: "The patient's medvault releases it the next time it runs (`medvault sync --as PATIENT`).",
    })
  }
  return { recordKey: await unwrapKeySlip(slip, reader, record.cid.toString()) }
}

/** Checks that the issuer was an active registered provider when it issued the record. */
export async function checkIssuerStatus(ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>, record: OnChainRecord) {
  const active = await ctx.publicClient.readContract({
    address: ctx.deployment.registry,
    abi: providerRegistryAbi,
    functionName: 'wasActiveAt',
    args: [record.issuer, BigInt(Math.floor(record.issuedAt.getTime() / 1000))],
  })
  if (!active) {
    throw new UntrustedIssuerError(`The issuer of record #${record.tokenId} was not an active provider when it issued it.`)
  }
}

/** Hashes content as it passes and checks it against the meta and the on-chain commitment at the end. */
async function* checkedContent(content: AsyncIterable<Uint8Array>, meta: RecordMeta, record: OnChainRecord, onProgress?: OnProgress) {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of content) {
    hash.update(chunk)
    size += chunk.byteLength
    onProgress?.({ stage: 'fetching', bytes: size })
    yield chunk
  }
  const digest = hash.digest()
  const matches =
    size === meta.size &&
    `0x${digest.toString('hex')}` === meta.sha256.toLowerCase() &&
    computeCommitment(Buffer.from(meta.salt.slice(2), 'hex'), digest) === record.commitment
  if (!matches) {
    throw new TamperedRecordError(`The content of record #${record.tokenId} does not match its on-chain commitment.`, {
      details: 'commitment',
      hint: 'The stored copy was altered. Do not use it; ask the issuer to re-issue.',
    })
  }
}

/**
 * Opens a record for a reader: checks access against the chain, fetches the ciphertext by the
 * token's CID, unwraps the key, checks the issuer's signature and registry status, and streams
 * the content with the commitment check at its end.
 */
export async function openRecord(
  ctx: RecordsContext,
  params: { tokenId: bigint; reader: RecordReader; onProgress?: OnProgress },
): Promise<OpenRecordReturnType> {
  const record = await currentRecord(ctx, params.tokenId)
  const via = await checkReadAccess(ctx, record, params.reader.address)
  return openChecked(ctx, record, via, params)
}

/** Opens a record whose access was just checked. */
async function openChecked(
  ctx: RecordsContext,
  record: OnChainRecord,
  via: 'owner' | 'grant',
  params: { reader: RecordReader; onProgress?: OnProgress },
): Promise<OpenRecordReturnType> {
  const { meta, content } = await openEnvelope(ctx.store.cat(record.cid), await openerFor(ctx, record, params.reader, via))
  const verifiedKey = `${record.tokenId}:${record.cid}:${record.commitment}:${meta.attestation}`
  if (!ctx.verified?.has(verifiedKey)) {
    // The registry's answer for an issuer at a past second is fixed: records issued in one block share it.
    const statusKey = `issuer:${record.issuer}:${Math.floor(record.issuedAt.getTime() / 1000)}`
    await Promise.all([
      checkAttestation(ctx, record, meta),
      ctx.verified?.has(statusKey) ? undefined : checkIssuerStatus(ctx, record).then(() => ctx.verified?.add(statusKey)),
    ])
    ctx.verified?.add(verifiedKey)
  }
  return { record, meta, content: checkedContent(content, meta, record, params.onProgress) }
}

/**
 * Opens a record and reads it whole into memory (for FHIR documents; stream large binaries instead).
 * With a read cache, access is still checked (and audited) against the chain's head block on every
 * call, and only the content, verified on its first read and fixed since the record was minted,
 * comes from memory, and only for a reader who opened it before.
 */
export async function readRecord(
  ctx: RecordsContext,
  params: { tokenId: bigint; reader: RecordReader },
): Promise<{ record: OnChainRecord; meta: RecordMeta; bytes: Buffer }> {
  const record = await currentRecord(ctx, params.tokenId)
  const via = await checkReadAccess(ctx, record, params.reader.address)
  const version = `${record.cid}:${record.commitment}`
  const cached = ctx.readCache?.content(record.tokenId, params.reader.address, version)
  if (cached) return { record, meta: cached.meta as RecordMeta, bytes: cached.bytes }
  const { meta, content } = await openChecked(ctx, record, via, params)
  const parts: Uint8Array[] = []
  for await (const part of content) parts.push(part)
  const bytes = Buffer.concat(parts)
  ctx.readCache?.putContent(record.tokenId, params.reader.address, version, { meta, bytes })
  return { record, meta, bytes }
}
