/**
 * Ethereum V3 keystores (Web3 Secret Storage: scrypt + aes-128-ctr + keccak-256 MAC), the file
 * geth, ethers, cast and MetaMask read and write. A V3 file carries one chain key only, so an
 * exported medvault account is its chain key (its address, its signing rights), not its encryption
 * key. The format is ethers' (encryptKeystoreJson / decryptKeystoreJson), not re-implemented here.
 */
import { scrypt as nodeScrypt } from 'node:crypto'
import { scrypt } from 'ethers/crypto'
import { decryptKeystoreJson, encryptKeystoreJson, isKeystoreJson } from 'ethers/wallet'
import { type Address, type Hex, getAddress } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { InvalidInputError, WrongKeyError } from '../errors.js'

// ethers' scrypt is plain JavaScript (~8 s for N = 2^17 on a busy 2-core machine); node's is
// native OpenSSL and gives the same bytes. ethers lets the application plug it in.
scrypt.register(
  (passwd, salt, N, r, p, dkLen) =>
    new Promise((resolve, reject) =>
      nodeScrypt(passwd, salt, dkLen, { N, r, p, maxmem: 256 * N * r }, (err, key) => (err ? reject(err) : resolve(new Uint8Array(key)))),
    ),
)

/** A keystore is ~500 bytes; a file far larger is something else. */
export const MAX_KEYSTORE_BYTES = 64 * 1024
/**
 * Costs above these would let a hostile file hold the process for minutes (scrypt with N = 2^30
 * wants 1 TiB). geth's default is N = 2^18, ethers' and cast's 2^17 and 2^13.
 */
const MAX_SCRYPT_N = 1 << 20
const MAX_PBKDF2_ROUNDS = 10_000_000

/** Seals a chain key as a V3 keystore under `passphrase` (scrypt with cost N). */
export async function toEthereumKeystore(privateKey: Hex, passphrase: string, scryptN: number): Promise<string> {
  const address = privateKeyToAccount(privateKey).address
  const json = await encryptKeystoreJson({ address, privateKey }, passphrase.normalize('NFKC'), { scrypt: { N: scryptN, r: 8, p: 1 } })
  // ethers names the section "Crypto" (geth's old spelling); the spec and geth today write "crypto".
  const { Crypto, ...rest } = JSON.parse(json)
  return JSON.stringify({ ...rest, crypto: Crypto })
}

function notAKeystore(source: string, why: string): InvalidInputError {
  return new InvalidInputError(`${source} is not an Ethereum V3 keystore (${why}).`, {
    hint: 'Give the JSON file geth, cast (`cast wallet new DIR`), ethers or MetaMask exported; nothing was imported.',
  })
}

/**
 * Opens a V3 keystore. Throws InvalidInputError when `text` is not one (or asks for an absurd
 * KDF cost) and WrongKeyError when the passphrase does not open it.
 */
export async function fromEthereumKeystore(
  text: string,
  passphrase: string,
  source = 'The file',
): Promise<{ address: Address; privateKey: Hex }> {
  if (text.length > MAX_KEYSTORE_BYTES) throw notAKeystore(source, 'too large')
  let json: any
  try {
    json = JSON.parse(text)
  } catch {
    throw notAKeystore(source, 'not JSON')
  }
  const crypto = json?.crypto ?? json?.Crypto
  if (!isKeystoreJson(text) || typeof crypto !== 'object' || crypto === null) throw notAKeystore(source, 'no version 3 "crypto" section')
  const kdf = String(crypto?.kdf ?? '').toLowerCase()
  const params = crypto?.kdfparams ?? {}
  if (kdf === 'scrypt' && !(Number(params.n) > 0 && Number(params.n) <= MAX_SCRYPT_N)) {
    throw notAKeystore(source, `scrypt cost n=${params.n} is outside 1..${MAX_SCRYPT_N}`)
  }
  if (kdf === 'pbkdf2' && !(Number(params.c) > 0 && Number(params.c) <= MAX_PBKDF2_ROUNDS)) {
    throw notAKeystore(source, `pbkdf2 rounds c=${params.c} are outside 1..${MAX_PBKDF2_ROUNDS}`)
  }
  let opened: { address: string; privateKey: string }
  try {
    opened = await decryptKeystoreJson(text, passphrase.normalize('NFKC'))
  } catch (error) {
    const message = (error as Error).message ?? ''
    if (/incorrect password/.test(message)) {
      throw new WrongKeyError(`The passphrase does not open ${source}.`, { hint: 'Check MEDVAULT_PASSPHRASE or type it again.' })
    }
    // Unsupported cipher or KDF, bad hex, an address that is not the key's: the file is not usable.
    throw notAKeystore(source, message.split(' (')[0] || 'unreadable')
  }
  return { address: getAddress(opened.address), privateKey: opened.privateKey as Hex }
}
