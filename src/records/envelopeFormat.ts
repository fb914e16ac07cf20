/**
 * The parts of the record envelope format that do not depend on Node: the header and meta
 * schemas and the HPKE context a recipient's wrapped key is bound to. envelope.ts seals and opens
 * envelopes as streams in Node; the web portal opens them in the browser with these same rules.
 */
import { z } from 'zod'

export { ENVELOPE_MAGIC, MAX_ENVELOPE_HEADER, MAX_ENVELOPE_META, recipientAad } from './envelopeConstants.js'

const hex = z.string().regex(/^0x[0-9a-f]*$/i)

export const envelopeHeaderSchema = z.object({
  v: z.literal(1),
  alg: z.literal('A256GCM-STREAM'),
  segmentSize: z
    .number()
    .int()
    .min(1024)
    .max(16 << 20),
  recipients: z.array(z.object({ address: hex, enc: hex, ct: hex })).min(1),
})
export type EnvelopeHeader = z.infer<typeof envelopeHeaderSchema>

export const recordMetaSchema = z.object({
  v: z.literal(1),
  contentType: z.string().min(1).max(200),
  size: z.number().int().nonnegative(),
  sha256: hex,
  salt: hex,
  patient: hex,
  issuer: hex,
  category: z.number().int(),
  sensitivity: z.number().int(),
  /** The patient's blinded tag of the category and sensitivity, as the chain holds it (all zero for an archived record). */
  tag: z.string().regex(/^0x[0-9a-fA-F]{16}$/),
  supersedes: z.string().regex(/^\d+$/),
  /** The issuer's EIP-712 RecordAttestation signature. */
  attestation: hex,
  /** FHIR only: a salt per leaf (by JSON Pointer) and the issuer's EIP-712 RecordFields signature, for selective disclosure. */
  fields: z.object({ salts: z.record(z.string(), hex), signature: hex }).optional(),
})
export type RecordMeta = z.infer<typeof recordMetaSchema>
