/**
 * The files an archive's records are proved with: one proof per record (given to its patient, or
 * to whoever the patient shows it), and the archive's manifest (every leaf, so any proof can be
 * made again). Neither holds health data: a leaf holds what a record token holds on chain.
 */
import { type Address, type Hex, getAddress } from 'viem'
import { z } from 'zod'
import { InvalidInputError } from '../errors.js'
import type { ARCHIVE_LEAF_ENCODING, ArchivedRecord } from './leaf.js'

export const ARCHIVE_PROOF_FORMAT = 'medvault-archive-proof-v1'
export const ARCHIVE_MANIFEST_FORMAT = 'medvault-archive-manifest-v1'

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/) as unknown as z.ZodType<Hex>
const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/)
  .transform((a) => getAddress(a)) as unknown as z.ZodType<Address>
const uint8 = z.number().int().min(0).max(255)

export const archivedRecordSchema = z.object({
  patient: address,
  commitment: hex32,
  cidDigest: hex32,
  cidCodec: uint8,
  issuer: address,
  issuedAt: z
    .number()
    .int()
    .min(0)
    .max(2 ** 40 - 1),
  category: uint8,
  sensitivity: uint8,
}) satisfies z.ZodType<ArchivedRecord>

export const archiveProofSchema = z.object({
  format: z.literal(ARCHIVE_PROOF_FORMAT),
  chainId: z.number().int().positive(),
  /** The ArchiveAnchor contract. */
  archiveAnchor: address,
  archiveId: hex32,
  root: hex32,
  record: archivedRecordSchema,
  /** The ciphertext's CIDv1, for people; verification derives it from the leaf. */
  cid: z.string().max(200),
  proof: z.array(hex32).max(64),
  /** Position of the record's resource in the archived Bundle. */
  entry: z.number().int().nonnegative(),
})
export type ArchiveProof = z.infer<typeof archiveProofSchema>

/** Parses a proof file; InvalidInputError (naming the paths, never values) when it is not one. */
export function parseArchiveProof(bytes: Uint8Array | string): ArchiveProof {
  let json: unknown
  try {
    json = JSON.parse(typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes))
  } catch {
    throw new InvalidInputError('The proof file is not valid JSON.')
  }
  const parsed = archiveProofSchema.safeParse(json)
  if (!parsed.success) {
    const paths = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(top level)'))].slice(0, 5).join(', ')
    throw new InvalidInputError(`The file is not a medvault archive proof (${ARCHIVE_PROOF_FORMAT}): check ${paths}.`)
  }
  return parsed.data
}

/** An archive's manifest, stored on IPFS; its CID is anchored with the root. */
export type ArchiveManifest = {
  format: typeof ARCHIVE_MANIFEST_FORMAT
  chainId: number
  archiveAnchor: Address
  issuer: Address
  archiveId: Hex
  root: Hex
  count: number
  leafEncoding: typeof ARCHIVE_LEAF_ENCODING
  /** Every leaf in tree order of entry: `[entry position, leaf fields, cid]`. */
  records: { entry: number; record: ArchivedRecord; cid: string }[]
}
