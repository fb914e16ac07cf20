/**
 * Accounts in the browser: a keystore file exported by the CLI (`<home>/accounts/NAME.json`) is
 * kept in localStorage exactly as it is, sealed under its passphrase, and opened here with scrypt
 * (@noble/hashes) and AES-256-GCM (WebCrypto) by the rules of src/accounts/keystore.ts. The opened
 * keys live only in memory.
 */
import { scryptAsync } from '@noble/hashes/scrypt.js'
import { type Address, type Hex, getAddress, hexToBytes } from 'viem'
import { type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'
import { type KeystoreFile, keystoreFileSchema, keystoreSecretsSchema } from '../../../src/accounts/keystoreFormat.js'

export type { KeystoreFile }

/** An opened account: signs with its chain key, opens records with its encryption seed. */
export type BrowserAccount = {
  name: string
  address: Address
  encryptionPublicKey: Hex
  chainAccount: PrivateKeyAccount
  encryptionSeed: Uint8Array
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
