/**
 * The checks a verification of a record and of an archived record share: that the ciphertext is
 * there and matches its content address (anyone can check that), and which check a failed
 * decryption names.
 */
import type { CID } from 'multiformats/cid'
import { AccessDeniedError, MedvaultError, TamperedRecordError } from '../errors.js'
import type { RecordsContext } from '../core/index.js'
import { ByteReader } from './byteReader.js'
import { readEnvelopeHeader } from './envelope.js'

/** One check of a verification: which, whether it passed, and what it found, in words. */
export type Check<Id extends string> = { id: Id; ok: boolean; message: string }

/** A failed check's message: the error's own short message. */
export const checkReason = (error: unknown): string => (error instanceof MedvaultError ? error.shortMessage : String(error))

/**
 * The `ciphertext` check without a reader: every block is read through the verifying blockstore
 * (each checked against its hash) and the envelope's public header parsed.
 */
export async function ciphertextCheck(ctx: Pick<RecordsContext, 'store'>, cid: CID): Promise<Check<'ciphertext'>> {
  try {
    const bytes = new ByteReader(ctx.store.cat(cid))
    await readEnvelopeHeader(bytes)
    for await (const _ of bytes.rest()) {
      // draining checks every block's hash
    }
    return { id: 'ciphertext', ok: true, message: `The encrypted document ${cid} is available and matches its content address.` }
  } catch (error) {
    return { id: 'ciphertext', ok: false, message: checkReason(error) }
  }
}

/** Which check a reader's failed open and verification of the content names. */
export function failedReadCheck(error: unknown): 'access' | 'issuer-signature' | 'commitment' | 'ciphertext' {
  if (error instanceof AccessDeniedError) return 'access'
  if (error instanceof TamperedRecordError && (error.details === 'issuer-signature' || error.details === 'commitment')) return error.details
  return 'ciphertext'
}
