/**
 * Accounts in the browser: a keystore file exported by the CLI (`<home>/accounts/NAME.json`) is
 * kept in localStorage exactly as it is, sealed under its passphrase, and opened here with scrypt
 * (@noble/hashes) and AES-256-GCM (WebCrypto) by the rules of src/accounts/keystore.ts. The opened
 * keys live only in memory.
 */
import { scryptAsync } from '@noble/hashes/scrypt.js'
import { type Address, type Hex, bytesToHex, getAddress, hexToBytes } from 'viem'
import { type PrivateKeyAccount, generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { KEYSTORE_SCRYPT, type KeystoreFile, keystoreFileSchema, keystoreSecretsSchema } from '../../../src/accounts/keystoreFormat.js'
import { deriveTagSecret } from '../../../src/core/categoryTags.js'
import { encryptionKeyPairFromSeed, generateEncryptionSeed } from '../../../src/crypto/hpke.js'

export type { KeystoreFile }

/** An opened account: signs with its chain key, opens records with its encryption seed. */
export type BrowserAccount = {
  name: string
  address: Address
  encryptionPublicKey: Hex
  chainAccount: PrivateKeyAccount
  encryptionSeed: Uint8Array
  /**
   * The secret its category tags come from (src/core/categoryTags.ts): the one its keystore stores
   * when it took over another account's records, else derived from its encryption seed, as the CLI does.
   */
  tagSecret: Uint8Array
  /** Seals this account under a passphrase (a passkey's vault only: its recovery kit). */
  reseal?: (passphrase: string) => Promise<KeystoreFile>
}

const STORAGE_KEY = 'medvault.keystores.v1'

export class KeystoreError extends Error {
  override name = 'KeystoreError'
}

/** Parses a keystore file's text; throws KeystoreError with a plain explanation. */
export function parseKeystore(text: string): KeystoreFile {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new KeystoreError('This file is not a medvault account file (it is not JSON).')
  }
  const parsed = keystoreFileSchema.safeParse(json)
  if (!parsed.success) throw new KeystoreError('This file is not a medvault account file. Pick <home>/accounts/NAME.json.')
  return parsed.data
}

/** Opens a keystore file with its passphrase. Throws KeystoreError for a wrong passphrase. */
export async function unlockKeystore(file: KeystoreFile, passphrase: string): Promise<BrowserAccount> {
  const { salt, N, r, p, dkLen } = file.crypto.kdfparams
  const derived = await scryptAsync(new TextEncoder().encode(passphrase.normalize('NFKC')), hexToBytes(salt as Hex), {
    N,
    r,
    p,
    dkLen,
    maxmem: 256 * N * r,
  })
  const key = await crypto.subtle.importKey('raw', derived, 'AES-GCM', false, ['decrypt'])
  derived.fill(0)
  const sealed = new Uint8Array([...hexToBytes(file.crypto.ciphertext as Hex), ...hexToBytes(file.crypto.tag as Hex)])
  let plaintext: Uint8Array
  try {
    plaintext = new Uint8Array(
      await crypto.subtle.decrypt({ name: 'AES-GCM', iv: hexToBytes(file.crypto.iv as Hex) as BufferSource, tagLength: 128 }, key, sealed),
    )
  } catch {
    throw new KeystoreError(`The passphrase does not open the account "${file.name}".`)
  }
  const secrets = keystoreSecretsSchema.parse(JSON.parse(new TextDecoder().decode(plaintext)))
  plaintext.fill(0)
  const chainAccount = privateKeyToAccount(secrets.privateKey as Hex)
  if (chainAccount.address.toLowerCase() !== file.address.toLowerCase()) {
    throw new KeystoreError(`The account file of "${file.name}" is inconsistent; export it again from the CLI.`)
  }
  return {
    name: file.name,
    address: getAddress(file.address),
    encryptionPublicKey: file.encryptionPublicKey as Hex,
    chainAccount,
    encryptionSeed: hexToBytes(secrets.encryptionSeed as Hex),
    tagSecret: secrets.tagSecret ? hexToBytes(secrets.tagSecret as Hex) : deriveTagSecret(hexToBytes(secrets.encryptionSeed as Hex)),
  }
}

/** An account name the CLI accepts (`<home>/accounts/NAME.json`), from the name a person typed. */
export function accountName(typed: string): string {
  const slug = typed
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+|-+$/g, '')
    .slice(0, 40)
  return slug || 'me'
}

/**
 * Makes a new account in this browser: a chain key (secp256k1, viem) and an encryption seed
 * (X25519, for HPKE), from the browser's CSPRNG, sealed under `passphrase` exactly as the CLI
 * seals them (scrypt with the CLI's cost, AES-256-GCM), so `medvault` opens the same file. The
 * keys never leave the browser unsealed.
 */
export async function createKeystore(typedName: string, passphrase: string): Promise<{ file: KeystoreFile; account: BrowserAccount }> {
  const privateKey = generatePrivateKey()
  const seed = generateEncryptionSeed()
  const file = await sealKeystore(typedName, { privateKey, encryptionSeed: seed }, passphrase)
  return { file, account: accountFromSecrets(file.name, privateKey, seed, file.encryptionPublicKey as Hex) }
}

export type AccountSecrets = { privateKey: Hex; encryptionSeed: Uint8Array }

/** Seals an account's secrets under a passphrase, in the CLI's keystore format and scrypt cost. */
export async function sealKeystore(typedName: string, secrets: AccountSecrets, passphrase: string): Promise<KeystoreFile> {
  if (passphrase.length < 8) throw new KeystoreError('Choose a passphrase of at least 8 characters; a few unrelated words are best.')
  const { publicKey } = await encryptionKeyPairFromSeed(secrets.encryptionSeed)
  const salt = crypto.getRandomValues(new Uint8Array(32))
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const derived = await scryptAsync(new TextEncoder().encode(passphrase.normalize('NFKC')), salt, {
    ...KEYSTORE_SCRYPT,
    maxmem: 256 * KEYSTORE_SCRYPT.N * KEYSTORE_SCRYPT.r,
  })
  const key = await crypto.subtle.importKey('raw', derived as BufferSource, 'AES-GCM', false, ['encrypt'])
  derived.fill(0)
  const plaintext = secretsJson(secrets)
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, tagLength: 128 }, key, plaintext as BufferSource))
  plaintext.fill(0)
  return {
    version: 1,
    name: accountName(typedName),
    address: privateKeyToAccount(secrets.privateKey).address,
    encryptionPublicKey: bytesToHex(publicKey),
    createdAt: new Date().toISOString(),
    crypto: {
      kdf: 'scrypt',
      kdfparams: { ...KEYSTORE_SCRYPT, salt: bytesToHex(salt) },
      cipher: 'aes-256-gcm',
      iv: bytesToHex(iv),
      // WebCrypto appends the 16-byte tag; the file keeps it apart, as node:crypto gives it.
      ciphertext: bytesToHex(sealed.subarray(0, sealed.length - 16)),
      tag: bytesToHex(sealed.subarray(sealed.length - 16)),
    },
  }
}

/** The sealed plaintext, as the CLI writes it (src/accounts/keystore.ts). */
export function secretsJson(secrets: AccountSecrets): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ privateKey: secrets.privateKey, encryptionSeed: bytesToHex(secrets.encryptionSeed) }))
}

/** Reads the sealed plaintext back. */
export function parseSecrets(plaintext: Uint8Array): AccountSecrets {
  const secrets = keystoreSecretsSchema.parse(JSON.parse(new TextDecoder().decode(plaintext)))
  return { privateKey: secrets.privateKey as Hex, encryptionSeed: hexToBytes(secrets.encryptionSeed as Hex) }
}

/**
 * An opened account. `reseal` is kept only for vaults a passkey locks: it seals the same secrets
 * under a passphrase, for a recovery kit the CLI and other browsers can open.
 */
export function accountFromSecrets(
  name: string,
  privateKey: Hex,
  seed: Uint8Array,
  encryptionPublicKey: Hex,
  reseal = false,
): BrowserAccount {
  const chainAccount = privateKeyToAccount(privateKey)
  return {
    name,
    address: chainAccount.address,
    encryptionPublicKey,
    chainAccount,
    encryptionSeed: seed,
    // A vault made in the browser never took over another account's records: its tags are derived.
    tagSecret: deriveTagSecret(seed),
    ...(reseal ? { reseal: (passphrase: string) => sealKeystore(name, { privateKey, encryptionSeed: seed }, passphrase) } : {}),
  }
}

/** The account files remembered in this browser (still sealed under their passphrases). */
export function rememberedKeystores(): KeystoreFile[] {
  try {
    const list = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '[]') as unknown[]
    return list.flatMap((item) => {
      const parsed = keystoreFileSchema.safeParse(item)
      return parsed.success ? [parsed.data] : []
    })
  } catch {
    return []
  }
}

export function rememberKeystore(file: KeystoreFile) {
  const others = rememberedKeystores().filter((f) => f.address.toLowerCase() !== file.address.toLowerCase())
  localStorage.setItem(STORAGE_KEY, JSON.stringify([...others, file]))
}

export function forgetKeystore(address: string) {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(rememberedKeystores().filter((f) => f.address.toLowerCase() !== address.toLowerCase())))
}
