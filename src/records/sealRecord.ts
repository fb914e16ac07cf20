import { createHash } from 'node:crypto'
import { type Address, type Hex, bytesToHex } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import type { CID } from 'multiformats/cid'
import {
  type RecordAttestation,
  commitFields,
  recordAttestationDigest,
  recordAttestationTypes,
  recordFieldsDigest,
  recordFieldsTypes,
  recordsDomain,
} from '../core/index.js'
import { computeCommitment, randomKey, randomSalt } from '../crypto/index.js'
import { InvalidInputError } from '../errors.js'
import type { OnProgress, RecordsContext } from '../core/index.js'
import { FHIR_JSON } from './documentInput.js'
import { type Recipient, type RecordMeta, sealEnvelope } from './envelope.js'

/** A document given as bytes, or as a stream that can be opened twice (hashed, then encrypted). */
export type RecordContent = { bytes: Uint8Array } | { open: () => AsyncIterable<Uint8Array> }

/** What `MedicalRecord.mint`, `amend` and `mintBatch` take for one record. */
export type MintRequest = {
  patient: Address
  commitment: Hex
  cidDigest: Hex
  cidCodec: number
  /** The patient's blinded tag of the record's category and sensitivity (core/categoryTags.ts). */
  tag: Hex
}

/** The salted content commitment of a document, before anything is stored. */
export type ContentCommitment = {
  /** sha256 of the content. */
  sha256: Uint8Array
  size: number
  /** The 32-byte salt; kept inside the envelope. */
  salt: Uint8Array
  /** keccak256("medvault.commitment.v1" ‖ salt ‖ sha256), the on-chain commitment. */
  commitment: Hex
}

export type SealRecordParameters = {
  issuer: LocalAccount
  patient: Recipient
  content: RecordContent
  contentType: string
  /** On-chain category code. */
  category: number
  /** The full sensitivity flags (the category's own flag included). */
  sensitivity: number
  /** The patient's tag of that category and sensitivity: what the chain will hold. */
  tag: Hex
  /** Token this record corrects (amendment), or 0. */
  supersedes: bigint
  /** From {@link commitContent}. */
  committed: ContentCommitment
  onProgress?: OnProgress
}

export type SealRecordReturnType = {
  /** The mint request, content address included. */
  request: MintRequest
  cid: CID
  commitment: Hex
  /**
   * The record key the envelope was sealed under, for key slips. The caller zeroes it when done
   * (`recordKey.fill(0)`).
   */
  recordKey: Uint8Array
}

export function openContent(content: RecordContent): AsyncIterable<Uint8Array> {
  if ('bytes' in content) {
    return (async function* () {
      yield content.bytes
    })()
  }
  return content.open()
}

/**
 * Hashes a document and commits to it with a fresh 32-byte salt
 * (`keccak256("medvault.commitment.v1" ‖ salt ‖ sha256(content))`). Nothing is stored.
 */
export async function commitContent(content: RecordContent, onProgress?: OnProgress): Promise<ContentCommitment> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of openContent(content)) {
    hash.update(chunk)
    size += chunk.byteLength
    onProgress?.({ stage: 'hashing', bytes: size })
  }
  const sha256 = hash.digest()
  const salt = randomSalt()
  return { sha256, size, salt, commitment: computeCommitment(salt, sha256) }
}

/** Signs the issuer's RecordAttestation that travels inside the envelope. */
export function signAttestation(ctx: Pick<RecordsContext, 'deployment'>, issuer: LocalAccount, message: RecordAttestation): Promise<Hex> {
  return signStatement(issuer, recordAttestationDigest(ctx.deployment, message), {
    domain: recordsDomain(ctx.deployment.chainId, ctx.deployment.records),
    types: recordAttestationTypes,
    primaryType: 'RecordAttestation',
    message,
  })
}

/** Signs the issuer's RecordFields statement (the field commitments). */
function signFields(ctx: Pick<RecordsContext, 'deployment'>, issuer: LocalAccount, message: { commitment: Hex; fieldsHash: Hex }) {
  return signStatement(issuer, recordFieldsDigest(ctx.deployment, message), {
    domain: recordsDomain(ctx.deployment.chainId, ctx.deployment.records),
    types: recordFieldsTypes,
    primaryType: 'RecordFields',
    message,
  })
}

/**
 * An account that signs digests signs the one core/recordDigests.ts computed (the digest viem
 * would compute, with the domain separator hashed once); one that does not gets the typed data.
 */
function signStatement(issuer: LocalAccount, digest: Hex, typedData: Parameters<LocalAccount['signTypedData']>[0]): Promise<Hex> {
  if (issuer.sign) return issuer.sign({ hash: digest })
  if (!issuer.signTypedData) throw new InvalidInputError('The issuer account cannot sign typed data.')
  return issuer.signTypedData(typedData)
}

/**
 * Seals a committed document for the patient and stores it: signs the issuer's attestation (and,
 * for FHIR given as bytes, per-field commitments for selective disclosure), encrypts the envelope
 * under a fresh record key wrapped to the patient, and stores it on IPFS. Returns the mint request
 * with the content address filled in; nothing is sent to the chain.
 *
 * @example
 * const committed = await commitContent({ bytes })
 * const sealed = await sealRecord(ctx, { issuer, patient, content: { bytes }, contentType: FHIR_JSON,
 *   category: categoryCode('laboratory'), sensitivity: 0, tag, supersedes: 0n, committed })
 */
export async function sealRecord(
  ctx: Pick<RecordsContext, 'deployment' | 'store'>,
  params: SealRecordParameters,
): Promise<SealRecordReturnType> {
  const { issuer, patient, category, sensitivity, tag, supersedes, committed, onProgress } = params
  const { commitment } = committed
  const attestation = await signAttestation(ctx, issuer, { patient: patient.address, commitment, category, sensitivity, tag, supersedes })

  // FHIR documents also get per-field commitments, so the patient can later disclose single fields.
  let fields: RecordMeta['fields']
  if ('bytes' in params.content && params.contentType === FHIR_JSON) {
    const fieldCommitments = commitFields(JSON.parse(Buffer.from(params.content.bytes).toString('utf8')))
    const signature = await signFields(ctx, issuer, { commitment, fieldsHash: fieldCommitments.hash })
    fields = { salts: fieldCommitments.salts, signature }
  }

  const meta: RecordMeta = {
    v: 1,
    contentType: params.contentType,
    size: committed.size,
    sha256: bytesToHex(committed.sha256),
    salt: bytesToHex(committed.salt),
    patient: patient.address,
    issuer: issuer.address,
    category,
    sensitivity,
    tag,
    supersedes: supersedes.toString(),
    attestation,
    ...(fields ? { fields } : {}),
  }
  let encrypted = 0
  const recordKey = randomKey()
  try {
    const sealed = await sealEnvelope({ meta, content: openContent(params.content), recipients: [patient], key: recordKey })
    const cid = await ctx.store.add(
      (async function* () {
        for await (const chunk of sealed) {
          encrypted += chunk.byteLength
          onProgress?.({ stage: 'encrypting', bytes: encrypted })
          yield chunk
        }
      })(),
    )
    const request: MintRequest = {
      patient: patient.address,
      commitment,
      cidDigest: bytesToHex(cid.multihash.digest),
      cidCodec: cid.code,
      tag,
    }
    return { request, cid, commitment, recordKey }
  } catch (error) {
    recordKey.fill(0)
    throw error
  }
}
