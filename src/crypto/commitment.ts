import { keccak_256 } from '@noble/hashes/sha3.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import type { Hex } from 'viem'

// @noble/hashes, not viem: storing a record loads this module, and viem alone is ~40 MiB of RSS
// that a 1 GiB store does not need (bench §3). abi.encodePacked of (string, bytes32, bytes32) is
// the three byte strings end to end, which is what is hashed here.
const DOMAIN = utf8ToBytes('medvault.commitment.v1')

/**
 * The on-chain content commitment: keccak256("medvault.commitment.v1" || salt || sha256(content)).
 * The 32-byte random salt travels inside the ciphertext, so chain data alone cannot confirm a
 * guess about the content ("is this a positive HIV test?").
 */
export function computeCommitment(salt: Uint8Array, contentSha256: Uint8Array): Hex {
  if (salt.length !== 32 || contentSha256.length !== 32) throw new RangeError('salt and digest must be 32 bytes')
  const packed = new Uint8Array(DOMAIN.length + 64)
  packed.set(DOMAIN)
  packed.set(salt, DOMAIN.length)
  packed.set(contentSha256, DOMAIN.length + 32)
  return `0x${bytesToHex(keccak_256(packed))}`
}

export const randomSalt = (): Uint8Array => crypto.getRandomValues(new Uint8Array(32))
