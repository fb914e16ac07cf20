import { type Address, getAddress } from 'viem'
import type { LocalAccount } from 'viem/accounts'
import { encryptionKeyOf } from '../directory/index.js'
import { InvalidInputError } from '../errors.js'
import {
  FHIR_JSON,
  type IssueTerms,
  NO_TAG,
  type Recipient,
  type RecordsContext,
  type SealRecordReturnType,
  commitContent,
  issueTerms,
  sealForIssue,
} from '../records/index.js'
import type { ArchivedRecord } from './leaf.js'
import type { ArchiveEntry } from './parseArchiveBundle.js'

/** One sealed record of an archive: its leaf, and where its ciphertext is. */
export type SealedArchiveRecord = {
  /** The entry's position in the Bundle or list it came from. */
  entry: number
  record: ArchivedRecord
  /** The ciphertext's CIDv1 (the leaf's codec and digest, as a string). */
  cid: string
}

export type SealArchiveParameters = {
  issuer: LocalAccount
  entries: readonly ArchiveEntry[]
  /** The patients' encryption keys; looked up on chain when absent. */
  recipients?: ReadonlyMap<Address, Recipient>
  /** The leaves' issue time (Unix seconds); the chain's latest block time by default, so it is never after the anchoring. */
  issuedAt?: number
  /** Entries sealed at once (default 8). */
  concurrency?: number
  onSealed?: (sealed: number) => void
  signal?: AbortSignal
}

/**
 * The patients' encryption keys, read from the chain. InvalidInputError when some patient has not
 * published one (nothing can be sealed for them), counting them and naming none.
 */
export async function archiveRecipients(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment'>,
  patients: readonly Address[],
): Promise<Map<Address, Recipient>> {
  const unique = [...new Set(patients.map((p) => getAddress(p)))]
  const keys = await Promise.all(unique.map((address) => encryptionKeyOf(ctx, address)))
  const recipients = new Map<Address, Recipient>()
  const missing: Address[] = []
  unique.forEach((address, i) => {
    const key = keys[i]
    if (key) recipients.set(address, { address, encryptionPublicKey: key })
    else missing.push(address)
  })
  if (missing.length > 0) {
    throw new InvalidInputError(
      `${missing.length} of ${unique.length} patients have no published encryption key, so nothing can be sealed for them.`,
      {
        details: missing.join('\n'),
        hint: 'Each patient runs `medvault account publish NAME` first. Nothing was stored or anchored.',
      },
    )
  }
  return recipients
}

/**
 * The archive's end of the issue pipeline: where a token's mint request goes to the chain, an
 * archived record's leaf carries the same fields, plus the issuer and the issue time a token's
 * mint would record.
 */
function leafOf(sealed: SealRecordReturnType, terms: IssueTerms, issuer: Address, issuedAt: number): ArchivedRecord {
  const { request } = sealed
  // The leaf keeps the category in clear, as before tags: it stays off chain (only the root is
  // anchored), and the archive's issuer was never given the patients' tags.
  return {
    patient: request.patient,
    commitment: request.commitment,
    cidDigest: request.cidDigest,
    cidCodec: request.cidCodec,
    issuer,
    issuedAt,
    category: terms.category,
    sensitivity: terms.sensitivity,
  }
}

/**
 * Seals every entry of an archive through the issue pipeline's steps, exactly as a single record is
 * sealed: its terms (`issueTerms`: the category code, the category's own sensitivity flag added),
 * `commitContent`, then `sealForIssue` (a fresh record key, AES-256-GCM, the key wrapped to the
 * patient, the issuer's attestation inside, stored on IPFS), several at once, and returns each
 * record's leaf. There is no consent step (nothing is minted to the patient) and nothing is sent
 * to the chain. The record keys are zeroed at once: the patient's copy in the envelope is the only one.
 */
export async function sealArchive(
  ctx: Pick<RecordsContext, 'publicClient' | 'deployment' | 'store'>,
  params: SealArchiveParameters,
): Promise<SealedArchiveRecord[]> {
  const { issuer, entries } = params
  const recipients =
    params.recipients ??
    (await archiveRecipients(
      ctx,
      entries.map((e) => e.patient),
    ))
  const issuedAt = params.issuedAt ?? Number((await ctx.publicClient.getBlock({ blockTag: 'latest' })).timestamp)
  const concurrency = Math.max(1, params.concurrency ?? 8)
  const issuerAddress = getAddress(issuer.address)
  const out: SealedArchiveRecord[] = new Array(entries.length)
  let next = 0
  let sealed = 0

  const sealOne = async (entry: ArchiveEntry): Promise<SealedArchiveRecord> => {
    const patient = recipients.get(getAddress(entry.patient))
    if (!patient) throw new InvalidInputError(`Entry ${entry.index} is for a patient without an encryption key.`)
    const content = { bytes: entry.content }
    const committed = await commitContent(content)
    // No tag: an archived record is never minted (see NO_TAG).
    const terms = issueTerms({ category: entry.category, sensitivity: entry.sensitivity, tag: NO_TAG })
    const result = await sealForIssue(ctx, { issuer, input: { patient, content, contentType: FHIR_JSON }, terms, committed })
    result.recordKey.fill(0)
    return { entry: entry.index, cid: result.cid.toString(), record: leafOf(result, terms, issuerAddress, issuedAt) }
  }

  let failed = false
  const worker = async () => {
    // After one failure the other workers stop taking entries: the caller gets the error soon.
    while (next < entries.length && !failed) {
      params.signal?.throwIfAborted()
      const i = next++
      try {
        out[i] = await sealOne(entries[i]!)
      } catch (error) {
        failed = true
        throw error
      }
      params.onSealed?.(++sealed)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, entries.length) }, worker))
  return out
}
