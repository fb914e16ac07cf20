import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { HomeError } from '../errors.js'

/**
 * The IPFS node's libp2p identity: an Ed25519 key whose public half is the peer id other nodes
 * put in their `peers`. Kept in the repository (as Kubo keeps `Identity.PrivKey`), readable only
 * by its owner, and the same across restarts so the peers' configs stay valid. It authenticates
 * the transport only; medvault trusts content by its hash, never by who sent it.
 */
export async function loadPeerKey(file: string): Promise<PrivateKey> {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
    const tmp = `${file}.${process.pid}.tmp`
    writeFileSync(tmp, `${JSON.stringify({ type: 'Ed25519', seed: randomBytes(32).toString('base64') })}\n`, { mode: 0o600, flag: 'wx' })
    // Two processes creating it at once: the first rename wins, the second keeps the same file.
    if (existsSync(file)) rmSync(tmp)
    else renameSync(tmp, file)
  }
  let seed: Buffer
  try {
    seed = Buffer.from((JSON.parse(readFileSync(file, 'utf8')) as { seed: string }).seed, 'base64')
    if (seed.length !== 32) throw new Error(`the seed has ${seed.length} bytes, not 32`)
  } catch (cause) {
    throw new HomeError(`${file} is not a readable IPFS peer key.`, {
      cause,
      hint: 'Restore it from a backup, or delete it to make a new peer id (then update the `peers` of the nodes that dial this one).',
    })
  }
  return generateKeyPairFromSeed('Ed25519', seed)
}
