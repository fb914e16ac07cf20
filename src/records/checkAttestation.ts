/**
 * The issuer's attestation check, without Node, so the web portal verifies a record it opened in
 * the browser by exactly the rules the CLI and the server use.
 *
 * Recovering the signer of each record's attestation (secp256k1 in JavaScript, about 1–4 ms) was a
 * quarter of a history's first read. An issuer signs many records with one key, so the first
 * attestation of an issuer is recovered in full, and its public key, once it hashes to the issuer's
 * address, is kept with a precomputed table. Later attestations of that issuer are checked against
 * the key: `R = (h/s)·G + (r/s)·Q` must be the very point recovery starts from (`x = r`, y parity
 * `= v`), which holds exactly when recovering (r, s, v) gives Q. The same signatures pass as before;
 * anything the fast check does not accept takes the full recovery.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { type Address, type Hex, getAddress, recoverPublicKey, recoverTypedDataAddress } from 'viem'
import { publicKeyToAddress } from 'viem/accounts'
import { TamperedRecordError } from '../errors.js'
import { recordAttestationDigest, recordAttestationTypes, recordsDomain } from '../core/index.js'
import type { RecordAttestation, RecordsContext } from '../core/index.js'
import type { RecordMeta } from './envelopeFormat.js'
import type { OnChainRecord } from './onChainRecord.js'

/**
 * Checks the issuer's EIP-712 attestation inside the envelope against the token. The chain holds
 * only the patient's tag: the category and sensitivity are the issuer's signed word in the meta, and
 * the tag they were signed with must be the token's.
 */
export async function checkAttestation(
  ctx: Pick<RecordsContext, 'deployment' | 'attestations'>,
  record: Pick<OnChainRecord, 'tokenId' | 'commitment' | 'issuer' | 'tag' | 'supersedes'>,
  meta: RecordMeta,
) {
  if (
    meta.tag.toLowerCase() !== record.tag.toLowerCase() ||
    BigInt(meta.supersedes) !== record.supersedes ||
    getAddress(meta.issuer) !== record.issuer
  ) {
    throw new TamperedRecordError(`The stored content does not belong to record #${record.tokenId}.`, {
      hint: 'Its sealed description differs from the token (category tag, issuer or amendment link). Do not trust it.',
    })
  }
  const message: AttestationMessage = {
    patient: getAddress(meta.patient),
    commitment: record.commitment,
    category: meta.category,
    sensitivity: meta.sensitivity,
    tag: record.tag,
    supersedes: record.supersedes,
  }
  const signature = meta.attestation as Hex
  // A server checks them in worker threads (attestationPool.ts), with the same answers.
  const signed = ctx.attestations
    ? await ctx.attestations.isAttestationBy(ctx.deployment, message, signature, record.issuer)
    : await isAttestationBy(ctx, message, signature, record.issuer)
  if (!signed) {
    throw new TamperedRecordError(`The issuer signature on record #${record.tokenId} is not valid for this token.`, {
      details: 'issuer-signature',
      hint: 'The record was not signed by the provider the chain names as its issuer, or its content was swapped. Do not trust it.',
    })
  }
}

/**
 * Who signed an issuer attestation (EIP-712 `RecordAttestation` in this deployment's domain), or the
 * zero address for a signature that does not even parse: the plain recovery that `isAttestationBy`
 * must agree with (its tests hold it to this).
 */
export async function attestationSigner(
  ctx: Pick<RecordsContext, 'deployment'>,
  message: AttestationMessage,
  signature: Hex,
): Promise<Address> {
  try {
    return await recoverTypedDataAddress({
      domain: recordsDomain(ctx.deployment.chainId, ctx.deployment.records),
      types: recordAttestationTypes,
      primaryType: 'RecordAttestation',
      message,
      signature,
    })
  } catch {
    return '0x0000000000000000000000000000000000000000'
  }
}

export type AttestationMessage = RecordAttestation
type PublicKey = ReturnType<typeof secp256k1.Point.fromHex>

/** Issuers' public keys, each learnt from a full recovery that gave the issuer's address. Public facts that never change. */
const issuerKeys = new Map<Address, PublicKey>()
/** Bounds the memory of a process that meets many issuers: about 60 KiB of tables per key. */
const MAX_ISSUER_KEYS = 256
const SIGNATURE_65 = /^0x[0-9a-fA-F]{130}$/

/**
 * Whether `issuer` signed the attestation `message` (EIP-712 `RecordAttestation` in this
 * deployment's domain), for tokens and archive leaves alike: the same answer as `attestationSigner(...) === issuer`, faster for an
 * issuer met before (see the module comment).
 */
export async function isAttestationBy(
  ctx: { deployment: Pick<RecordsContext['deployment'], 'chainId' | 'records'> },
  message: AttestationMessage,
  signature: Hex,
  issuer: Address,
): Promise<boolean> {
  let digest: Hex
  try {
    digest = recordAttestationDigest(ctx.deployment, message)
  } catch {
    return false
  }
  const known = issuerKeys.get(issuer)
  if (known && signedWith(known, digest, signature)) return true
  let publicKey: Hex
  try {
    publicKey = await recoverPublicKey({ hash: digest, signature })
  } catch {
    return false
  }
  if (publicKeyToAddress(publicKey) !== issuer) return false
  if (!known) {
    if (issuerKeys.size >= MAX_ISSUER_KEYS) issuerKeys.delete(issuerKeys.keys().next().value as Address)
    // Lazy: the table is built by the first fast check (multiplyUnsafe), which is the only user. An
    // eager precompute(8, false) built it with a constant-time, blinded multiply, whose table (wider,
    // for the blinding) multiplyUnsafe does not use: ~0.1 s per process and issuer for nothing, and a
    // command that checks one record never needs a table at all.
    issuerKeys.set(issuer, secp256k1.Point.fromHex(publicKey.slice(2)).precompute(8))
  }
  return true
}

/** Whether recovering the 65-byte signature (r, s, v) over `digest` gives `key`; false also for what it leaves to a full recovery. */
function signedWith(key: PublicKey, digest: Hex, signature: Hex): boolean {
  if (!SIGNATURE_65.test(signature)) return false
  const { Fn, BASE } = secp256k1.Point
  const r = BigInt(`0x${signature.slice(2, 66)}`)
  const s = BigInt(`0x${signature.slice(66, 130)}`)
  const v = Number.parseInt(signature.slice(130), 16)
  // viem reads v as 27/28 or 0/1; any other value is left to the full recovery to refuse.
  const parity = v === 27 || v === 28 ? v - 27 : v === 0 || v === 1 ? v : undefined
  if (parity === undefined || r <= 0n || r >= Fn.ORDER || s <= 0n || s >= Fn.ORDER) return false
  try {
    const w = Fn.inv(s)
    // Every scalar here is public (a signature check, no secret), so the faster variable-time
    // multiplication over the precomputed tables of G and of the issuer's key is safe.
    const point = BASE.multiplyUnsafe(Fn.mul(Fn.create(BigInt(digest)), w)).add(key.multiplyUnsafe(Fn.mul(r, w)))
    if (point.is0()) return false
    const { x, y } = point.toAffine()
    return x === r && Number(y & 1n) === parity
  } catch {
    // Whatever the arithmetic refuses, the full recovery decides.
    return false
  }
}
