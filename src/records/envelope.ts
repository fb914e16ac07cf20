/**
 * The record envelope stored on IPFS:
 *
 *   "MVR1" | u32 header length | header JSON | STREAM(AES-256-GCM) ciphertext
 *
 * The header is public: the format, the segment size and, per recipient, the record key wrapped
 * with HPKE to that recipient's X25519 key (bound to the recipient's address). Every ciphertext
 * segment is bound to sha256(header), so a header cannot be swapped onto another ciphertext.
 *
 * The plaintext is `u32 meta length | meta JSON | content`. The meta (salt, content digest, issuer
 * attestation, ...) is only visible to someone who can open the record.
 */
import { createHash } from 'node:crypto'
import type { Address, Hex } from 'viem'
import { DEFAULT_SEGMENT_SIZE, decryptStream, encryptStream, randomKey, unwrapKey, wrapKey } from '../crypto/index.js'
import { AccessDeniedError, TamperedRecordError } from '../errors.js'
import { ByteReader } from './byteReader.js'
import { ENVELOPE_MAGIC, MAX_ENVELOPE_HEADER, MAX_ENVELOPE_META, recipientAad } from './envelopeConstants.js'
import type { EnvelopeHeader, RecordMeta } from './envelopeFormat.js'

const MAGIC = Buffer.from(ENVELOPE_MAGIC)
const MAX_HEADER = MAX_ENVELOPE_HEADER
const MAX_META = MAX_ENVELOPE_META
export type { EnvelopeHeader, RecordMeta }

// Sealing loads neither viem nor zod (together ~60 MiB of RSS and a second of loading, measured in
// bench section 3): hex is done with Buffer here, and the schemas are loaded when an envelope is opened.
// Loaded once, on first use (a store-only process never needs zod); not re-imported per envelope.
let schemasModule: Promise<typeof import('./envelopeFormat.js')> | undefined
const schemas = () => (schemasModule ??= import('./envelopeFormat.js'))
const toHex = (bytes: Uint8Array): Hex => `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`
function fromHex(hex: string): Uint8Array {
  if (!/^0x(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new TypeError('expected 0x-prefixed hex of whole bytes')
  return Buffer.from(hex.slice(2), 'hex')
}

export type Recipient = { address: Address; encryptionPublicKey: Hex }

/**
 * Seals `content` under a fresh record key wrapped to every recipient.
 * Returns the envelope as a byte stream (memory use: one segment).
 */
export async function sealEnvelope(params: {
  meta: RecordMeta
  content: AsyncIterable<Uint8Array>
  recipients: Recipient[]
  /** The record key; a fresh one by default. The issuer passes its own to also wrap it to grantees. */
  key?: Uint8Array
  segmentSize?: number
}): Promise<AsyncIterable<Uint8Array>> {
  const key = params.key ?? randomKey()
  const segmentSize = params.segmentSize ?? DEFAULT_SEGMENT_SIZE
  const recipients = await Promise.all(
    params.recipients.map(async (r) => {
      const wrapped = await wrapKey(fromHex(r.encryptionPublicKey), key, recipientAad(r.address))
      return { address: r.address, enc: toHex(wrapped.enc), ct: toHex(wrapped.ct) }
    }),
  )
  const header: EnvelopeHeader = { v: 1, alg: 'A256GCM-STREAM', segmentSize, recipients }
  const headerBytes = Buffer.from(JSON.stringify(header))
  const metaBytes = Buffer.from(JSON.stringify(params.meta))
  const aad = createHash('sha256').update(headerBytes).digest()

  async function* plaintext() {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(metaBytes.length)
    yield Buffer.concat([length, metaBytes])
    yield* params.content
  }

  return (async function* () {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(headerBytes.length)
    yield Buffer.concat([MAGIC, length, headerBytes])
    // The length is known (meta.size is the content's), so segments are sealed as bytes arrive;
    // content that is not the size its meta says fails here, before anything is stored.
    yield* encryptStream(plaintext(), { key, aad, segmentSize, size: 4 + metaBytes.length + params.meta.size })
  })()
}

function malformed(what: string) {
  return new TamperedRecordError(`The stored record is malformed (${what}).`, {
    hint: 'The stored copy is damaged or is not a medvault record.',
  })
}

/** Reads the public header only (no key needed). */
export async function readEnvelopeHeader(reader: ByteReader): Promise<{ header: EnvelopeHeader; aad: Buffer }> {
  const prefix = await reader.read(8)
  if (prefix.length < 8 || !prefix.subarray(0, 4).equals(MAGIC)) throw malformed('bad magic')
  const length = prefix.readUInt32BE(4)
  if (length > MAX_HEADER) throw malformed('header too large')
  const headerBytes = await reader.read(length)
  if (headerBytes.length < length) throw malformed('truncated header')
  let json: unknown
  try {
    json = JSON.parse(headerBytes.toString('utf8'))
  } catch {
    throw malformed('header is not JSON')
  }
  const parsed = (await schemas()).envelopeHeaderSchema.safeParse(json)
  if (!parsed.success) throw malformed('unexpected header fields')
  return { header: parsed.data, aad: createHash('sha256').update(headerBytes).digest() }
}

/** Who opens an envelope: a recipient named in its header, or someone holding the record key already (a grantee's key slip). */
export type EnvelopeOpener = { address: Address; encryptionSeed: Uint8Array } | { recordKey: Uint8Array }

async function unwrapHeaderKey(header: EnvelopeHeader, reader: { address: Address; encryptionSeed: Uint8Array }): Promise<Uint8Array> {
  // Addresses compare case-insensitively (an EIP-55 checksum is only a spelling of the same address).
  const slot = header.recipients.find((r) => r.address.toLowerCase() === reader.address.toLowerCase())
  if (!slot) {
    throw new AccessDeniedError('This record was not sealed for your account.', {
      hint: "Ask the record's owner to share it with you.",
    })
  }
  return unwrapKey(reader.encryptionSeed, { enc: fromHex(slot.enc), ct: fromHex(slot.ct) }, recipientAad(reader.address))
}

/** The record key, unwrapped from the header by one of its recipients (reads only the header). */
export async function readRecordKey(
  source: AsyncIterable<Uint8Array>,
  reader: { address: Address; encryptionSeed: Uint8Array },
): Promise<Uint8Array> {
  const { header } = await readEnvelopeHeader(new ByteReader(source))
  return unwrapHeaderKey(header, reader)
}

/**
 * Opens an envelope. The meta is authenticated before it is returned; the content stream
 * authenticates each segment before releasing it.
 */
export async function openEnvelope(
  source: AsyncIterable<Uint8Array>,
  opener: EnvelopeOpener,
): Promise<{ header: EnvelopeHeader; meta: RecordMeta; content: AsyncIterable<Uint8Array> }> {
  const bytes = new ByteReader(source)
  const { header, aad } = await readEnvelopeHeader(bytes)
  const key = 'recordKey' in opener ? opener.recordKey : await unwrapHeaderKey(header, opener)
  const plain = new ByteReader(decryptStream(bytes.rest(), { key, aad, segmentSize: header.segmentSize }))
  const metaLength = (await plain.read(4)).readUInt32BE(0)
  if (metaLength > MAX_META) throw malformed('meta too large')
  const metaBytes = await plain.read(metaLength)
  const { recordMetaSchema } = await schemas()
  let meta: RecordMeta
  try {
    meta = recordMetaSchema.parse(JSON.parse(metaBytes.toString('utf8')))
  } catch {
    throw malformed('meta')
  }
  return { header, meta, content: plain.rest() }
}
