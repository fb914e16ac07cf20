import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { type Hex, bytesToHex, hexToBytes } from 'viem'
import { type PrivateKeyAccount, generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { encryptionKeyPairFromSeed, generateEncryptionSeed } from '../crypto/index.js'

/**
 * The medvault node's own keys, like a server's TLS key: a chain key that signs and anchors the
 * audit log, and an X25519 key for the emergency key escrow. Kept in the home, readable only by
 * its owner. Patients' keys never live here.
 */
export type NodeKey = {
  account: PrivateKeyAccount
  releaseSeed: Uint8Array
  releasePublicKey: Hex
}

export async function loadNodeKey(file: string): Promise<NodeKey> {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
    const tmp = `${file}.${process.pid}.tmp`
    writeFileSync(tmp, `${JSON.stringify({ privateKey: generatePrivateKey(), releaseSeed: bytesToHex(generateEncryptionSeed()) })}\n`, {
      mode: 0o600,
      flag: 'wx',
    })
    // Two processes creating it at once: the first rename wins, the second keeps the same file.
    if (existsSync(file)) rmSync(tmp)
    else renameSync(tmp, file)
  }
  const { privateKey, releaseSeed } = JSON.parse(readFileSync(file, 'utf8')) as { privateKey: Hex; releaseSeed: Hex }
  const seed = hexToBytes(releaseSeed)
  const { publicKey } = await encryptionKeyPairFromSeed(seed)
  return { account: privateKeyToAccount(privateKey), releaseSeed: seed, releasePublicKey: bytesToHex(publicKey) }
}
