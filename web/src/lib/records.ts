/**
 * Opening a record in the browser: the ciphertext (GET /api/records/{id}/envelope) and, for a
 * grantee, its key slip (…/key-slip) are decrypted here, never on the server. The envelope is
 * parsed by the rules of src/records/envelope.ts (shared schemas and HPKE contexts), its STREAM
 * segments opened with WebCrypto's AES-256-GCM under the nonces of src/crypto/streamNonce.ts, and
 * the result checked as the CLI checks it: the issuer's attestation (shared checkAttestation) and
 * the content against the on-chain commitment. The server adds what it checks without keys: the
 * token, the issuer's registry status, the ciphertext against its content address.
 */
import { type Address, type Hex, bytesToHex, getAddress, hexToBytes } from 'viem'
import { CATEGORIES, categoryName } from '../../../src/core/categories.js'
import { type TagTable, buildTagTable, classOf, openTagTable } from '../../../src/core/categoryTags.js'
import { type KeySlip, unwrapKeySlip, wrapKeySlip } from '../../../src/core/keySlipFormat.js'
import { computeCommitment } from '../../../src/crypto/commitment.js'
import { unwrapKey } from '../../../src/crypto/hpke.js'
import { SEGMENT_TAG_LENGTH, segmentNonce } from '../../../src/crypto/streamNonce.js'
import { checkAttestation } from '../../../src/records/checkAttestation.js'
import {
  ENVELOPE_MAGIC,
  type EnvelopeHeader,
  MAX_ENVELOPE_HEADER,
  MAX_ENVELOPE_META,
  type RecordMeta,
  envelopeHeaderSchema,
  recipientAad,
  recordMetaSchema,
} from '../../../src/records/envelopeFormat.js'
import type { Api } from './api.js'
import type { Chainside } from './chain.js'
import type { GrantStruct } from '../../../src/consent/grantTerms.js'

export type RecordSummary = {
  tokenId: string
  patient: Address
  issuer: Address
  issuerName: string
  issuedAt: string
  /** The patient's blinded tag for the record's category (all the chain holds). */
  tag: Hex
  /** The category as the server could map the tag ("unknown" when it holds no table of yours; see `listRecordSummaries`). */
  category: string
  sensitivity: number | null
  supersedes: string | null
  supersededBy: string | null
  cid: string
}

/**
 * What the signed-in account knows of `patient`'s tags: its own table for its own records, else
 * the table the patient sealed to it (GET /api/tag-tables/{patient}), opened here with its key.
 * Undefined when none was shared.
 */
export async function tagTableOf(api: Api, patient: Address): Promise<TagTable | undefined> {
  if (patient === api.account.address) return buildTagTable(api.account.tagSecret)
  const { sealed } = await api.get<{ sealed: string | null }>(`/api/tag-tables/${patient}`)
  if (!sealed) return undefined
  const bytes = Uint8Array.from(atob(sealed), (ch) => ch.charCodeAt(0))
  return openTagTable(api.account.encryptionSeed, bytes, { patient, reader: api.account.address }).catch(() => undefined)
}

/**
 * A patient's records as GET /api/patients/{patient}/records lists them. The server holds only
 * tags and maps them with tables of accounts whose keys it holds; the browser maps the rest with
 * the signed-in account's own table of the patient's tags. Others stay "unknown": never guessed.
 */
export async function listRecordSummaries(api: Api, patient: string): Promise<RecordSummary[]> {
  const { records } = await api.get<{ records: RecordSummary[] }>(`/api/patients/${patient}/records`)
  if (records.every((r) => r.category !== 'unknown')) return records
  const table = await tagTableOf(api, getAddress(patient))
  if (!table) return records
  return records.map((r) => {
    if (r.category !== 'unknown') return r
    const cls = classOf(table, r.tag)
    return cls ? { ...r, category: cls.category, sensitivity: cls.sensitivity } : r
  })
}

export type Check = { id: string; ok: boolean; message: string }

export type OpenedRecord = {
  summary: RecordSummary
  meta: RecordMeta
  content: Uint8Array
  /** The FHIR resource, when the content is FHIR JSON. */
  resource: Record<string, unknown> | undefined
  checks: Check[]
  valid: boolean
}

class EnvelopeError extends Error {}

const u32 = (bytes: Uint8Array, at: number) => new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0)
const sha256 = async (bytes: Uint8Array) => new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource))

function parseHeader(envelope: Uint8Array): { header: EnvelopeHeader; headerBytes: Uint8Array; rest: Uint8Array } {
  if (envelope.length < 8 || ENVELOPE_MAGIC.some((b, i) => envelope[i] !== b)) throw new EnvelopeError('This is not a medvault record.')
  const length = u32(envelope, 4)
  if (length > MAX_ENVELOPE_HEADER || envelope.length < 8 + length) throw new EnvelopeError('The stored record is damaged (header).')
  const headerBytes = envelope.subarray(8, 8 + length)
  const parsed = envelopeHeaderSchema.safeParse(JSON.parse(new TextDecoder().decode(headerBytes)))
  if (!parsed.success) throw new EnvelopeError('The stored record is damaged (header fields).')
  return { header: parsed.data, headerBytes, rest: envelope.subarray(8 + length) }
}

/** The record key from the envelope header, for a recipient named in it (the patient). */
async function headerKey(header: EnvelopeHeader, reader: { address: Address; encryptionSeed: Uint8Array }) {
  const slot = header.recipients.find((r) => getAddress(r.address) === reader.address)
  if (!slot) throw new EnvelopeError('This record was not sealed for your account.')
  return unwrapKey(
    reader.encryptionSeed,
    { enc: hexToBytes(slot.enc as Hex), ct: hexToBytes(slot.ct as Hex) },
    recipientAad(reader.address),
  )
}

/** Decrypts every STREAM segment (each authenticated before use) and splits meta from content. */
async function decrypt(header: EnvelopeHeader, headerBytes: Uint8Array, ciphertext: Uint8Array, recordKey: Uint8Array) {
  const key = await crypto.subtle.importKey('raw', recordKey as BufferSource, 'AES-GCM', false, ['decrypt'])
  const aad = await sha256(headerBytes)
  const sealedSize = header.segmentSize + SEGMENT_TAG_LENGTH
  const count = Math.max(1, Math.ceil(ciphertext.length / sealedSize))
  const parts: Uint8Array[] = []
  for (let i = 0; i < count; i++) {
    const piece = ciphertext.subarray(i * sealedSize, (i + 1) * sealedSize)
    if (piece.length < SEGMENT_TAG_LENGTH) throw new EnvelopeError('The stored record is truncated.')
    try {
      const plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: segmentNonce(i, i === count - 1) as BufferSource, additionalData: aad, tagLength: 128 },
        key,
        piece as BufferSource,
      )
      parts.push(new Uint8Array(plain))
    } catch {
      throw new EnvelopeError('The stored record failed its integrity check: it was altered. Do not trust it.')
    }
  }
  const plain = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    plain.set(p, at)
    at += p.length
  }
  const metaLength = u32(plain, 0)
  if (metaLength > MAX_ENVELOPE_META) throw new EnvelopeError('The stored record is damaged (meta).')
  const meta = recordMetaSchema.parse(JSON.parse(new TextDecoder().decode(plain.subarray(4, 4 + metaLength))))
  return { meta, content: plain.subarray(4 + metaLength) }
}

/**
 * Decrypts one of the patient's own envelopes with the key in its header, in this browser: the
 * AES-GCM segments authenticate the content, but the issuer's signature and the on-chain
 * fingerprint are not checked here (openRecord does that when the record is opened). Returns
 * undefined for an envelope not sealed to this account (an owner by recovery opens it by key slip).
 */
export async function decryptOwnEnvelope(
  envelope: Uint8Array,
  reader: { address: Address; encryptionSeed: Uint8Array },
): Promise<{ meta: RecordMeta; resource: Record<string, unknown> | undefined } | undefined> {
  const { header, headerBytes, rest } = parseHeader(envelope)
  if (!header.recipients.some((r) => getAddress(r.address) === reader.address)) return undefined
  const recordKey = await headerKey(header, reader)
  const { meta, content } = await decrypt(header, headerBytes, rest, recordKey)
  recordKey.fill(0)
  return { meta, resource: parseResource(meta, content) }
}

function parseResource(meta: RecordMeta, content: Uint8Array): Record<string, unknown> | undefined {
  if (!/json/.test(meta.contentType)) return undefined
  try {
    return JSON.parse(new TextDecoder().decode(content)) as Record<string, unknown>
  } catch {
    return undefined
  }
}

/** Fetches, decrypts and verifies one record as the signed-in account. */
export async function openRecord(api: Api, chain: Chainside, tokenId: string): Promise<OpenedRecord> {
  const id = tokenId
  // The server checks access first (and logs the attempt); a refusal stops here.
  const server = await api.get<{ record: RecordSummary; valid: boolean; checks: Check[] }>(`/api/records/${id}`)
  const summary = server.record
  const [envelope, onChain] = await Promise.all([api.bytes(`/api/records/${id}/envelope`), chain.record(BigInt(id))])
  const { header, headerBytes, rest } = parseHeader(envelope)
  let recordKey: Uint8Array
  const inHeader = header.recipients.some((r) => getAddress(r.address) === api.account.address)
  if (summary.patient === api.account.address && inHeader) {
    recordKey = await headerKey(header, api.account)
  } else {
    // A grantee, or an owner by recovery or rotation (not in the header): both open their key slip.
    const { slip } = await api.get<{ slip: KeySlip | null }>(`/api/records/${id}/key-slip`)
    if (!slip) throw new EnvelopeError('No key for this record has been released to you.')
    recordKey = await unwrapKeySlip(slip, api.account, summary.cid)
  }
  const { meta, content } = await decrypt(header, headerBytes, rest, recordKey)
  recordKey.fill(0)
  const checks: Check[] = server.checks.filter((c) => ['token', 'issuer', 'ciphertext'].includes(c.id))
  checks.push({ id: 'decryption', ok: true, message: 'Decrypted in this browser with your key; every segment passed its integrity check.' })
  try {
    await checkAttestation({ deployment: chain.deployment }, onChain, meta)
    checks.push({ id: 'issuer-signature', ok: true, message: `The issuer's signature is valid and names ${onChain.issuer}.` })
  } catch (error) {
    checks.push({ id: 'issuer-signature', ok: false, message: (error as Error).message })
  }
  const digest = await sha256(content)
  const matches =
    content.length === meta.size &&
    bytesToHex(digest) === meta.sha256.toLowerCase() &&
    computeCommitment(hexToBytes(meta.salt as Hex), digest) === onChain.commitment
  checks.push(
    matches
      ? { id: 'commitment', ok: true, message: 'The content matches the fingerprint recorded on chain when it was issued.' }
      : { id: 'commitment', ok: false, message: 'The content does not match its on-chain fingerprint: it was altered. Do not trust it.' },
  )
  const resource = parseResource(meta, content)
  // The chain holds only the tag; the issuer's signed envelope names the category, once its signature
  // (which covers the tag on chain) checked out. Never taken from an envelope that did not verify.
  const signed = checks.some((c) => c.id === 'issuer-signature' && c.ok)
  const named =
    summary.category === 'unknown' && signed && meta.category >= 0 && meta.category < CATEGORIES.length
      ? { ...summary, category: categoryName(meta.category), sensitivity: meta.sensitivity }
      : summary
  return { summary: named, meta, content, resource, checks, valid: server.valid && checks.every((c) => c.ok) }
}

/**
 * After a grant, wraps the key of every record it covers to the grantee, here in the patient's
 * browser (the keys never reach the server in the clear), and stores the slips on the server.
 * Mirrors releasePendingKeys in src/consent/releaseKeys.ts. Returns how many were released.
 */
export async function releaseKeys(
  api: Api,
  chain: Chainside,
  grant: { grantId: bigint; terms: GrantStruct },
  grantee: Address,
  records: RecordSummary[],
) {
  const granteeKey = await chain.encryptionKeyOf(grantee)
  if (!granteeKey) return 0
  const slips: KeySlip[] = []
  for (const record of records) {
    if (!(await chain.grantCovers(grant.grantId, grant.terms, BigInt(record.tokenId)))) continue
    const { header } = parseHeader(await api.bytes(`/api/records/${record.tokenId}/envelope`))
    const recordKey = await headerKey(header, api.account)
    slips.push(
      await wrapKeySlip({
        recordKey,
        tokenId: BigInt(record.tokenId),
        cid: record.cid,
        grantee,
        granteeKey,
        wrappedBy: api.account.address,
      }),
    )
    recordKey.fill(0)
  }
  if (slips.length > 0) await api.post('/api/key-slips', { slips })
  return slips.length
}
