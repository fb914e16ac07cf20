/**
 * The keystore file format, without Node: what `<home>/accounts/NAME.json` holds. keystore.ts
 * writes and opens these files; the web portal imports one and opens it in the browser.
 *
 * The secrets (`{ privateKey, encryptionSeed }` as JSON) are sealed with AES-256-GCM under a key
 * derived from the NFKC-normalised passphrase with scrypt (`kdfparams`, 32-byte key).
 */
import { z } from 'zod'

const hex = z.string().regex(/^0x[0-9a-f]*$/i)

export const keystoreFileSchema = z.object({
  version: z.literal(1),
  name: z.string(),
  address: hex,
  encryptionPublicKey: hex,
  createdAt: z.string(),
  crypto: z.object({
    kdf: z.literal('scrypt'),
    kdfparams: z.object({ N: z.number(), r: z.number(), p: z.number(), dkLen: z.literal(32), salt: hex }),
    cipher: z.literal('aes-256-gcm'),
    iv: hex,
    ciphertext: hex,
    tag: hex,
  }),
})
export type KeystoreFile = z.infer<typeof keystoreFileSchema>

/** The scrypt cost of a new keystore, the CLI's and the portal's alike (about 0.6 s on a laptop). */
export const KEYSTORE_SCRYPT = { N: 1 << 17, r: 8, p: 1, dkLen: 32 } as const

/** The sealed secrets, once decrypted. */
/**
 * The sealed secrets, once decrypted. `tagSecret` (issue 22) is there only when it is not the one
 * derived from `encryptionSeed`: an account that took over another's records (rotation, recovery)
 * keeps the tag secret of the records' first account, so their tags still resolve.
 */
export const keystoreSecretsSchema = z.object({ privateKey: hex, encryptionSeed: hex, tagSecret: hex.optional() })
