/**
 * The encrypted keystore: one file per named account under `<home>/accounts/`. Each holds the
 * chain key (secp256k1) and the encryption seed (X25519, for HPKE), sealed with AES-256-GCM under
 * a key derived from the passphrase with scrypt (node:crypto). Public parts (address, encryption
 * public key) stay readable so other accounts can address records to this one without unlocking it.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt } from 'node:crypto'
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { type Address, type Hex, bytesToHex, getAddress, hexToBytes, isAddress } from 'viem'
import { type PrivateKeyAccount, generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import type { z } from 'zod'
import { KEYSTORE_SCRYPT, type KeystoreFile, keystoreFileSchema, keystoreSecretsSchema } from './keystoreFormat.js'
import { encryptionKeyPairFromSeed, generateEncryptionSeed } from '../crypto/index.js'
import { deriveTagSecret } from '../core/index.js'
import { HomeError, InvalidInputError, NotFoundError, WrongKeyError } from '../errors.js'
import { signingAccount } from './signingAccount.js'

const SCRYPT = KEYSTORE_SCRYPT
/**
 * A cheap KDF for throwaway homes (tests, demos), as geth's `--lightkdf`: ~10 ms instead of ~0.6 s
 * per create and unlock. Chosen at creation with MEDVAULT_LIGHT_KDF=1 and kept in the file, so it
 * never weakens an account created without it.
 */
const LIGHT_SCRYPT = { N: 1 << 12, r: 8, p: 1, dkLen: 32 } as const

function creationKdf() {
  return process.env.MEDVAULT_LIGHT_KDF === '1' ? LIGHT_SCRYPT : SCRYPT
}

const keystoreFile = keystoreFileSchema
const secrets = keystoreSecretsSchema
type KeystoreSecrets = z.infer<typeof keystoreSecretsSchema>
export type { KeystoreFile }

/** What anyone may know about an account. */
export type PublicAccount = {
  name: string
  address: Address
  encryptionPublicKey: Hex
}

/** An account opened with its passphrase: can sign transactions and unwrap record keys. */
export type UnlockedAccount = PublicAccount & {
  chainAccount: PrivateKeyAccount
  encryptionSeed: Uint8Array
  /** Seed of the account's SMART Health Card signing key (P-256), derived from its chain key with HKDF. */
  healthCardSeed: Uint8Array
  /** The secret the account's blinded category tags come from (core/categoryTags.ts). */
  tagSecret: Uint8Array
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,39}$/

export function checkAccountName(name: string): string {
  if (!NAME.test(name)) {
    throw new InvalidInputError(`"${name}" is not a valid account name.`, {
      hint: 'Use 1-40 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit.',
    })
  }
  return name
}

function deriveKey(passphrase: string, salt: Uint8Array, params: { N: number; r: number; p: number; dkLen: number }) {
  return new Promise<Buffer>((resolve, reject) =>
    scrypt(passphrase.normalize('NFKC'), salt, params.dkLen, { ...params, maxmem: 256 * params.N * params.r }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  )
}

export type Keystore = ReturnType<typeof openKeystore>

/** Opens the keystore folder of a home. */
export function openKeystore(dir: string) {
  const fileOf = (name: string) => join(dir, `${checkAccountName(name)}.json`)

  function read(name: string): KeystoreFile {
    const file = fileOf(name)
    if (!existsSync(file)) {
      throw new NotFoundError(`There is no account named "${name}" in this home.`, {
        hint: 'Run `medvault account list` to see the accounts, or `medvault account create NAME`.',
      })
    }
    const parsed = keystoreFile.safeParse(JSON.parse(readFileSync(file, 'utf8')))
    if (!parsed.success) throw new HomeError(`The keystore file of "${name}" is damaged.`, { hint: 'Restore it from a backup.' })
    return parsed.data
  }

  const toPublic = (f: KeystoreFile): PublicAccount => ({
    name: f.name,
    address: getAddress(f.address),
    encryptionPublicKey: f.encryptionPublicKey as Hex,
  })

  /** Seals an account's secrets under `passphrase` (fresh salt and IV) with the given scrypt cost. */
  async function seal(
    plain: KeystoreSecrets,
    passphrase: string,
    kdf: { N: number; r: number; p: number; dkLen: 32 },
  ): Promise<KeystoreFile['crypto']> {
    const salt = randomBytes(32)
    const iv = randomBytes(12)
    const key = await deriveKey(passphrase, salt, kdf)
    const cipher = createCipheriv('aes-256-gcm', key, iv)
    const plaintext = Buffer.from(JSON.stringify(plain))
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
    plaintext.fill(0)
    key.fill(0)
    return {
      kdf: 'scrypt',
      kdfparams: { ...kdf, salt: bytesToHex(salt) },
      cipher: 'aes-256-gcm',
      iv: bytesToHex(iv),
      ciphertext: bytesToHex(ciphertext),
      tag: bytesToHex(cipher.getAuthTag()),
    }
  }

  /** Decrypts an account's secrets. Throws WrongKeyError for a wrong passphrase. */
  async function open(name: string, passphrase: string) {
    const f = read(name)
    const { salt, ...params } = f.crypto.kdfparams
    const key = await deriveKey(passphrase, hexToBytes(salt as Hex), params)
    const decipher = createDecipheriv('aes-256-gcm', key, hexToBytes(f.crypto.iv as Hex))
    decipher.setAuthTag(hexToBytes(f.crypto.tag as Hex))
    let plaintext: Buffer
    try {
      plaintext = Buffer.concat([decipher.update(hexToBytes(f.crypto.ciphertext as Hex)), decipher.final()])
    } catch {
      throw new WrongKeyError(`The passphrase does not open account "${name}".`, {
        hint: 'Check MEDVAULT_PASSPHRASE or type it again.',
      })
    }
    const s = secrets.parse(JSON.parse(plaintext.toString('utf8')))
    plaintext.fill(0)
    const chainAccount = signingAccount(s.privateKey as Hex)
    if (chainAccount.address.toLowerCase() !== f.address.toLowerCase()) {
      throw new HomeError(`The keystore file of "${name}" is inconsistent.`, { hint: 'Restore it from a backup.' })
    }
    return { f, s, chainAccount }
  }

  return {
    dir,

    /**
     * Creates a new account sealed under `passphrase`, with fresh keys, or with the given chain key
     * (an imported one; its encryption seed is still fresh). Refuses to overwrite. `tagSecret`: the
     * tag secret of an account whose records this one takes over (rotation, recovery); by default the
     * one derived from the new encryption seed.
     */
    async create(name: string, passphrase: string, options: { privateKey?: Hex; tagSecret?: Uint8Array } = {}): Promise<PublicAccount> {
      checkAccountName(name)
      if (passphrase.length < 8) {
        throw new InvalidInputError('The passphrase is too short.', { hint: 'Use at least 8 characters.' })
      }
      const file = fileOf(name)
      if (existsSync(file)) {
        throw new InvalidInputError(`An account named "${name}" already exists.`, { hint: 'Pick another name.' })
      }
      const privateKey = options.privateKey ?? generatePrivateKey()
      const address = privateKeyToAccount(privateKey).address
      const held = options.privateKey ? this.list().find((a) => a.address === address) : undefined
      if (held) {
        throw new InvalidInputError(`This home already holds the key of ${address}, as account "${held.name}".`, {
          hint: `Use "${held.name}".`,
        })
      }
      const seed = generateEncryptionSeed()
      const { publicKey } = await encryptionKeyPairFromSeed(seed)
      const tagSecret = options.tagSecret ? { tagSecret: bytesToHex(options.tagSecret) } : {}
      const content: KeystoreFile = {
        version: 1,
        name,
        address,
        encryptionPublicKey: bytesToHex(publicKey),
        createdAt: new Date().toISOString(),
        crypto: await seal({ privateKey, encryptionSeed: bytesToHex(seed), ...tagSecret }, passphrase, creationKdf()),
      }
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      // Write then rename, with 'wx' on the temporary file: a crash leaves no half-written keystore,
      // and two processes creating the same name cannot both win.
      const tmp = `${file}.${process.pid}.tmp`
      writeFileSync(tmp, `${JSON.stringify(content, null, 2)}\n`, { flag: 'wx', mode: 0o600 })
      if (existsSync(file)) throw new InvalidInputError(`An account named "${name}" already exists.`)
      renameSync(tmp, file)
      return toPublic(content)
    },

    /** Opens an account's keys. Throws WrongKeyError for a wrong passphrase. */
    async unlock(name: string, passphrase: string): Promise<UnlockedAccount> {
      const { f, s, chainAccount } = await open(name, passphrase)
      const healthCardSeed = new Uint8Array(
        hkdfSync('sha256', hexToBytes(s.privateKey as Hex), new Uint8Array(0), 'medvault/shc-issuer/v1', 32),
      )
      const encryptionSeed = hexToBytes(s.encryptionSeed as Hex)
      const tagSecret = s.tagSecret ? hexToBytes(s.tagSecret as Hex) : deriveTagSecret(encryptionSeed)
      return { ...toPublic(f), chainAccount, encryptionSeed, healthCardSeed, tagSecret }
    },

    /**
     * Makes `tagSecret` the account's tag secret (core/categoryTags.ts), re-sealed under the same
     * passphrase: the new account of a rotation or recovery keeps the tags of the records it takes
     * over. A fresh salt and IV, the same KDF cost; written as a whole new file then renamed, so a
     * crash leaves the old file or the new one. Setting the secret the account already has writes nothing.
     */
    async setTagSecret(name: string, passphrase: string, tagSecret: Uint8Array): Promise<void> {
      if (tagSecret.length !== 32) throw new InvalidInputError('A tag secret is 32 bytes.')
      const { f, s } = await open(name, passphrase)
      const encryptionSeed = hexToBytes(s.encryptionSeed as Hex)
      const current = s.tagSecret ? hexToBytes(s.tagSecret as Hex) : deriveTagSecret(encryptionSeed)
      if (bytesToHex(current) === bytesToHex(tagSecret)) return
      // Stored only when it is not the derived one, as `create` does.
      const derived = bytesToHex(deriveTagSecret(encryptionSeed)) === bytesToHex(tagSecret)
      const { salt: _salt, ...kdf } = f.crypto.kdfparams
      const sealed = await seal(
        { privateKey: s.privateKey, encryptionSeed: s.encryptionSeed, ...(derived ? {} : { tagSecret: bytesToHex(tagSecret) }) },
        passphrase,
        kdf,
      )
      const file = fileOf(name)
      const tmp = `${file}.${process.pid}.tmp`
      writeFileSync(tmp, `${JSON.stringify({ ...f, crypto: sealed }, null, 2)}\n`, { mode: 0o600 })
      renameSync(tmp, file)
    },

    /**
     * The account's chain key itself, for `account export`, and the scrypt cost its file was
     * sealed with (an export keeps it: a light test account stays light, a real one stays strong).
     */
    async chainKey(name: string, passphrase: string): Promise<{ privateKey: Hex; scryptN: number }> {
      const { f, s } = await open(name, passphrase)
      return { privateKey: s.privateKey as Hex, scryptN: f.crypto.kdfparams.N }
    },

    get(name: string): PublicAccount {
      return toPublic(read(name))
    },

    list(): PublicAccount[] {
      if (!existsSync(dir)) return []
      return readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => toPublic(read(f.slice(0, -5))))
        .sort((a, b) => a.name.localeCompare(b.name))
    },

    /** Finds an account by name or address; undefined for an address this home does not hold. */
    find(nameOrAddress: string): PublicAccount | undefined {
      if (isAddress(nameOrAddress)) {
        return this.list().find((a) => a.address.toLowerCase() === nameOrAddress.toLowerCase())
      }
      return this.get(nameOrAddress)
    },

    /**
     * Deletes an account's keystore file: its chain key and encryption seed are gone from this home
     * for good (copies elsewhere, such as backups, are not). Returns false when there was none.
     */
    remove(name: string): boolean {
      const file = fileOf(name)
      if (!existsSync(file)) return false
      rmSync(file)
      return true
    },
  }
}
