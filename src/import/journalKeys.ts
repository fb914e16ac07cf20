/**
 * Record keys in the import journal. After a crash, the key slips of records minted in flight are
 * written from the journal, so it keeps each record key, encrypted (AES-256-GCM) under a key
 * derived (HKDF-SHA256) from the issuer's encryption seed: only the issuer, who sealed the record
 * and knows its content anyway, can read them back. Bound to the record's CID and the issuer.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { type Address, type Hex, bytesToHex, hexToBytes } from 'viem'
import { ImportJournalError } from '../errors.js'

export type JournalKeyBox = { iv: Hex; ct: Hex }

const INFO = 'medvault/import-journal/record-keys/v1'
const aad = (cid: string, issuer: Address) => Buffer.from(`medvault/import/record-key/${cid}/${issuer.toLowerCase()}`)

/** The issuer's journal key, from its X25519 encryption seed. */
export function journalKeyOf(encryptionSeed: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', encryptionSeed, new Uint8Array(0), INFO, 32))
}

export function sealJournalKey(journalKey: Uint8Array, recordKey: Uint8Array, cid: string, issuer: Address): JournalKeyBox {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', journalKey, iv).setAAD(aad(cid, issuer))
  const ct = Buffer.concat([cipher.update(recordKey), cipher.final(), cipher.getAuthTag()])
  return { iv: bytesToHex(iv), ct: bytesToHex(ct) }
}

export function openJournalKey(journalKey: Uint8Array, box: JournalKeyBox, cid: string, issuer: Address): Uint8Array {
  const ct = Buffer.from(hexToBytes(box.ct))
  try {
    const decipher = createDecipheriv('aes-256-gcm', journalKey, hexToBytes(box.iv)).setAAD(aad(cid, issuer))
    decipher.setAuthTag(ct.subarray(ct.length - 16))
    return new Uint8Array(Buffer.concat([decipher.update(ct.subarray(0, ct.length - 16)), decipher.final()]))
  } catch (cause) {
    throw new ImportJournalError('A record key in the import journal does not open with this provider’s key.', {
      cause,
      hint: 'Run the import as the provider that started it.',
    })
  }
}
