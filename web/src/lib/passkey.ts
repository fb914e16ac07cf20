/**
 * Vaults a passkey locks instead of a passphrase, where the browser and the authenticator support
 * the WebAuthn PRF extension (https://w3c.github.io/webauthn/#prf-extension): the authenticator
 * computes a secret from the credential and a salt of ours; HKDF-SHA256 turns it into the
 * AES-256-GCM key that seals the same secrets a keystore file holds. The secret never leaves the
 * browser and is not stored; only the sealed vault, the credential id and the salt are kept (in
 * localStorage, beside the passphrase vaults). Where PRF is missing the passphrase path stays.
 */
import { type Hex, bytesToHex, getAddress, hexToBytes } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { z } from 'zod'
import { encryptionKeyPairFromSeed, generateEncryptionSeed } from '../../../src/crypto/hpke.js'
import { type BrowserAccount, KeystoreError, accountFromSecrets, accountName, parseSecrets, secretsJson } from './keystore.js'

const STORAGE_KEY = 'medvault.passkey-vaults.v1'
const HKDF_INFO = new TextEncoder().encode('medvault/passkey-vault/v1')
const hex = z.string().regex(/^0x[0-9a-f]*$/i)

export const passkeyVaultSchema = z.object({
  version: z.literal(1),
  name: z.string().min(1).max(64),
  address: hex,
  encryptionPublicKey: hex,
  createdAt: z.string(),
  credentialId: hex,
  /** The PRF input: random per vault, so one passkey's secret differs between vaults and sites. */
  prfSalt: hex,
  iv: hex,
  /** AES-256-GCM of the keystore's secrets JSON, the 16-byte tag appended. */
  sealed: hex,
})
export type PasskeyVault = z.infer<typeof passkeyVaultSchema>

type PrfResults = { enabled?: boolean; results?: { first?: BufferSource } }

/** Whether this browser can make passkeys at all; whether the passkey supports PRF is known only once it is made. */
export function passkeysAvailable(): boolean {
  return typeof window !== 'undefined' && typeof window.PublicKeyCredential === 'function' && window.isSecureContext
}

function prfOutput(credential: PublicKeyCredential): Uint8Array | undefined {
  const prf = (credential.getClientExtensionResults() as { prf?: PrfResults }).prf
  const first = prf?.results?.first
  if (!first) return undefined
  return first instanceof ArrayBuffer ? new Uint8Array(first) : new Uint8Array(first.buffer, first.byteOffset, first.byteLength)
}

async function sealingKey(secret: Uint8Array, usage: 'encrypt' | 'decrypt'): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', secret as BufferSource, 'HKDF', false, ['deriveKey'])
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(32), info: HKDF_INFO },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    [usage],
  )
}

/** Asks the passkey for its PRF secret on `salt`. */
async function evaluate(credentialId: Uint8Array, salt: Uint8Array): Promise<Uint8Array> {
  const credential = (await navigator.credentials.get({
    publicKey: {
      challenge: crypto.getRandomValues(new Uint8Array(32)),
      allowCredentials: [{ type: 'public-key', id: credentialId as BufferSource }],
      userVerification: 'required',
      timeout: 120_000,
      extensions: { prf: { eval: { first: salt as BufferSource } } } as AuthenticationExtensionsClientInputs,
    },
  })) as PublicKeyCredential | null
  const secret = credential && prfOutput(credential)
  if (!secret) throw new KeystoreError('This passkey cannot lock a vault. Choose a passphrase instead.')
  return secret
}

/**
 * Makes a new vault locked by a new passkey. Throws KeystoreError when the passkey turns out not
 * to support PRF (the page then offers the passphrase).
 */
export async function createPasskeyVault(typedName: string): Promise<{ vault: PasskeyVault; account: BrowserAccount }> {
  const name = accountName(typedName)
  const prfSalt = crypto.getRandomValues(new Uint8Array(32))
  const created = (await navigator.credentials.create({
    publicKey: {
      rp: { name: 'medvault' },
      user: { id: crypto.getRandomValues(new Uint8Array(16)), name, displayName: typedName.trim() || name },
      challenge: crypto.getRandomValues(new Uint8Array(32)),
      pubKeyCredParams: [
        { type: 'public-key', alg: -7 },
        { type: 'public-key', alg: -257 },
      ],
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
      timeout: 120_000,
      extensions: { prf: { eval: { first: prfSalt } } } as AuthenticationExtensionsClientInputs,
    },
  })) as PublicKeyCredential | null
  if (!created) throw new KeystoreError('No passkey was made. Try again, or choose a passphrase instead.')
  const prf = (created.getClientExtensionResults() as { prf?: PrfResults }).prf
  if (!prf?.enabled && !prf?.results) throw new KeystoreError('This browser or passkey cannot lock a vault. Choose a passphrase instead.')
  const credentialId = new Uint8Array(created.rawId)
  // Some authenticators give the secret only when signing in, not when the passkey is made.
  const secret = prfOutput(created) ?? (await evaluate(credentialId, prfSalt))

  const privateKey = generatePrivateKey()
  const seed = generateEncryptionSeed()
  const encryptionPublicKey = bytesToHex((await encryptionKeyPairFromSeed(seed)).publicKey)
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const plaintext = secretsJson({ privateKey, encryptionSeed: seed })
  const key = await sealingKey(secret, 'encrypt')
  secret.fill(0)
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plaintext as BufferSource))
  plaintext.fill(0)
  const account = accountFromSecrets(name, privateKey, seed, encryptionPublicKey, true)
  const vault: PasskeyVault = {
    version: 1,
    name,
    address: account.address,
    encryptionPublicKey,
    createdAt: new Date().toISOString(),
    credentialId: bytesToHex(credentialId),
    prfSalt: bytesToHex(prfSalt),
    iv: bytesToHex(iv),
    sealed: bytesToHex(sealed),
  }
  return { vault, account }
}

/** Opens a vault with its passkey (the browser asks for the fingerprint, face or screen lock). */
export async function unlockPasskeyVault(vault: PasskeyVault): Promise<BrowserAccount> {
  const secret = await evaluate(hexToBytes(vault.credentialId as Hex), hexToBytes(vault.prfSalt as Hex))
  const key = await sealingKey(secret, 'decrypt')
  secret.fill(0)
  let plaintext: Uint8Array
  try {
    plaintext = new Uint8Array(
      await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: hexToBytes(vault.iv as Hex) as BufferSource },
        key,
        hexToBytes(vault.sealed as Hex) as BufferSource,
      ),
    )
  } catch {
    throw new KeystoreError(`This passkey does not open the vault "${vault.name}".`)
  }
  const secrets = parseSecrets(plaintext)
  plaintext.fill(0)
  const account = accountFromSecrets(vault.name, secrets.privateKey, secrets.encryptionSeed, vault.encryptionPublicKey as Hex, true)
  if (account.address !== getAddress(vault.address)) throw new KeystoreError(`The vault "${vault.name}" is damaged.`)
  return account
}

export function rememberedPasskeyVaults(): PasskeyVault[] {
  try {
    const list = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '[]') as unknown[]
    return list.flatMap((item) => {
      const parsed = passkeyVaultSchema.safeParse(item)
      return parsed.success ? [parsed.data] : []
    })
  } catch {
    return []
  }
}

export function rememberPasskeyVault(vault: PasskeyVault) {
  const others = rememberedPasskeyVaults().filter((v) => v.address.toLowerCase() !== vault.address.toLowerCase())
  localStorage.setItem(STORAGE_KEY, JSON.stringify([...others, vault]))
}

export function forgetPasskeyVault(address: string) {
  localStorage.setItem(
    STORAGE_KEY,
    JSON.stringify(rememberedPasskeyVaults().filter((v) => v.address.toLowerCase() !== address.toLowerCase())),
  )
}
