/**
 * The backup file format: one account's sealed keys and what a new machine needs to use them,
 * as one JSON document with a MAC over its RFC 8785 canonical form.
 *
 * Nothing in it is plaintext health data: the keystore (with the account's tag secret) is sealed
 * under the passphrase, key slips and tag tables are HPKE-wrapped to their readers, and record
 * ciphertexts are the envelopes exactly as stored on IPFS. The MAC key is derived (HKDF-SHA256) from the account's encryption seed, which only the
 * passphrase opens, so a person without the passphrase can neither read nor alter a backup unseen.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'
import canonicalize from 'canonicalize'
import { type Hex, hexToBytes } from 'viem'
import { z } from 'zod'
import { keystoreFileSchema } from '../accounts/index.js'
import { emergencyReasonEntrySchema } from '../consent/index.js'
import { keySlipSchema } from '../core/index.js'
import { configSchema } from '../home/index.js'

export const BACKUP_FORMAT = 'medvault-backup'
export const BACKUP_VERSION = 1

const hex = z.string().regex(/^0x[0-9a-f]*$/i)
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/)
/** A CIDv1 in base32, as medvault writes them; bounded so a crafted file cannot feed a huge string to the parser. */
const cidText = z.string().regex(/^b[a-z2-7]{20,120}$/)

export const backupBodySchema = z.object({
  format: z.literal(BACKUP_FORMAT),
  version: z.literal(BACKUP_VERSION),
  createdAt: z.string(),
  account: z.object({ name: z.string(), address, encryptionPublicKey: hex }),
  /** The keystore file as it is in the home: sealed under the passphrase. */
  keystore: keystoreFileSchema,
  /** The chain and contracts the account's records live on. */
  network: z.object({ chain: configSchema.shape.chain, deployment: configSchema.shape.deployment.unwrap() }),
  /** Record keys wrapped to this account (grants it received, keys a delegate released to it). */
  keySlips: z.array(keySlipSchema),
  /** The ciphertexts of the records the account owns or holds a key slip for, as this home's IPFS store holds them (base64). */
  ciphertexts: z.array(z.object({ cid: cidText, bytes: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/) })),
  /** Nonces of proofs of treatment this account accepted as a verifier (its replay protection). */
  claimNoncesSeen: z.array(z.string().max(200)),
  /** SMART Health Card revocation lists of this account as an issuer, by key id. */
  healthCardCrls: z.array(z.object({ kid: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/), crl: z.unknown() })),
  /**
   * Salts of break-glass reasons for windows the account opened or that were opened on it (see
   * consent/emergencyReasons.ts): without them the patient's access report can show only the
   * commitment. Absent in backups made before they were kept.
   */
  emergencyReasons: z.array(emergencyReasonEntrySchema).max(100_000).optional(),
  /**
   * Category tag tables (consent/tagTables.ts) the account sealed to its readers as a patient, or
   * was given as a reader, each HPKE-sealed to its reader (base64). The account's own tag secret
   * is in the sealed keystore. Absent in backups made before blinded categories.
   */
  tagTables: z
    .array(
      z.object({
        patient: address,
        reader: address,
        sealed: z
          .string()
          .regex(/^[A-Za-z0-9+/]*={0,2}$/)
          .max(65_536),
      }),
    )
    .max(100_000)
    .optional(),
})
export type BackupBody = z.infer<typeof backupBodySchema>

export const backupFileSchema = z.object({
  backup: z.unknown(),
  mac: z.object({ alg: z.literal('hmac-sha256'), salt: hex, value: hex }),
})
export type BackupFile = { backup: BackupBody; mac: { alg: 'hmac-sha256'; salt: Hex; value: Hex } }

function macKey(secret: Uint8Array, salt: Hex): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, hexToBytes(salt), 'medvault/backup-mac/v1', 32))
}

/** The MAC of a backup body under a key from the account's encryption seed. */
export function backupMac(body: unknown, secret: Uint8Array, salt: Hex): Buffer {
  const text = canonicalize(body)
  if (typeof text !== 'string') throw new TypeError('A backup body must be JSON.')
  return createHmac('sha256', macKey(secret, salt)).update(text).digest()
}

/** Whether `value` is the MAC of `body`, compared in constant time. */
export function checkBackupMac(body: unknown, secret: Uint8Array, salt: Hex, value: Hex): boolean {
  const expected = backupMac(body, secret, salt)
  const given = Buffer.from(hexToBytes(value))
  return given.length === expected.length && timingSafeEqual(given, expected)
}
