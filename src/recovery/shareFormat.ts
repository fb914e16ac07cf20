/**
 * Recovery shares without Node: what a guardian holds, how a share is sealed to an account (HPKE,
 * bound to the patient and the holder), and the printed form a paper guardian keeps.
 *
 * The recovery secret is the patient's 32-byte encryption seed, the one thing needed to open the
 * record keys wrapped to the patient (envelope headers and the patient's own key slips), followed by
 * the patient's 32-byte tag secret (issue 22), without which the new account could not tell its
 * records' categories apart nor issue under the same tags. The tag secret is carried even when it
 * is the one derived from the seed: one layout, and an account that took over another's records
 * (a rotation, an earlier recovery) keeps a tag secret no seed gives back. The chain key is never
 * shared: the chain moves the tokens on the guardians' approvals instead, so guardians cannot act
 * as the patient on chain. The secret is split k-of-n with `shamir-secret-sharing`; fewer than k
 * shares say nothing about it.
 */
import { type Address, type Hex, bytesToHex, getAddress, hexToBytes } from 'viem'
import { z } from 'zod'
import { deriveTagSecret } from '../core/index.js'
import { unwrapKey, wrapKey } from '../crypto/index.js'
import { InvalidInputError } from '../errors.js'

/** The secret a patient's shares rebuild: encryption seed ‖ tag secret, 64 bytes. */
export function recoverySecret(keys: { encryptionSeed: Uint8Array; tagSecret: Uint8Array }): Uint8Array {
  if (keys.encryptionSeed.length !== 32 || keys.tagSecret.length !== 32)
    throw new InvalidInputError('A recovery secret is two 32-byte keys.')
  const out = new Uint8Array(64)
  out.set(keys.encryptionSeed, 0)
  out.set(keys.tagSecret, 32)
  return out
}

/**
 * The keys in a rebuilt recovery secret. A 32-byte secret (shares dealt before issue 22, or by a
 * portal that splits the seed alone) is the seed only: its tag secret is the one derived from it.
 */
export function openRecoverySecret(secret: Uint8Array): { encryptionSeed: Uint8Array; tagSecret: Uint8Array } {
  if (secret.length === 32) return { encryptionSeed: secret.slice(), tagSecret: deriveTagSecret(secret) }
  if (secret.length === 64) return { encryptionSeed: secret.slice(0, 32), tagSecret: secret.slice(32) }
  throw new InvalidInputError(`The released shares rebuild a ${secret.length}-byte secret, not a medvault recovery secret.`, {
    hint: 'A share is damaged or from another setup; ask another guardian to release theirs.',
  })
}

const hex = z.string().regex(/^0x[0-9a-f]*$/i)

/** A Shamir share sealed to one holder: the guardian at setup, the new account once released. */
export const shareBoxSchema = z.object({
  v: z.literal(1),
  patient: hex,
  /** The guardian this share was dealt to (a paper guardian's signing address). */
  guardian: hex,
  /** Who can open `enc`/`ct`: the guardian, or the new account it was released to. */
  holder: hex,
  threshold: z.number().int().min(2).max(255),
  /** The patient's encryption public key, so a combined secret can be checked before use. */
  patientKey: hex,
  enc: hex,
  ct: hex,
  createdAt: z.string(),
})
export type ShareBox = z.infer<typeof shareBoxSchema>

const aad = (patient: Address, holder: Address) =>
  new TextEncoder().encode(`medvault/recovery-share/v1/${patient.toLowerCase()}/${holder.toLowerCase()}`)

/** Seals a share to `holder`'s X25519 key. */
export async function sealShare(params: {
  share: Uint8Array
  patient: Address
  guardian: Address
  holder: Address
  holderKey: Hex
  threshold: number
  patientKey: Hex
}): Promise<ShareBox> {
  const wrapped = await wrapKey(hexToBytes(params.holderKey), params.share, aad(params.patient, params.holder))
  return {
    v: 1,
    patient: getAddress(params.patient),
    guardian: getAddress(params.guardian),
    holder: getAddress(params.holder),
    threshold: params.threshold,
    patientKey: params.patientKey,
    enc: bytesToHex(wrapped.enc),
    ct: bytesToHex(wrapped.ct),
    createdAt: new Date().toISOString(),
  }
}

/** Opens a share box with its holder's encryption seed. Throws WrongKeyError for another account's box. */
export function openShare(box: ShareBox, holder: { address: Address; encryptionSeed: Uint8Array }): Promise<Uint8Array> {
  return unwrapKey(
    holder.encryptionSeed,
    { enc: hexToBytes(box.enc as Hex), ct: hexToBytes(box.ct as Hex) },
    aad(getAddress(box.patient), getAddress(holder.address)),
  )
}

export { type PaperSheet, decodePaperSheet, encodePaperSheet } from './paperSheet.js'
