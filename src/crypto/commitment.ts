import { type Hex, bytesToHex, encodePacked, keccak256 } from 'viem'

/**
 * The on-chain content commitment: keccak256("medvault.commitment.v1" || salt || sha256(content)).
 * The 32-byte random salt travels inside the ciphertext, so chain data alone cannot confirm a
 * guess about the content ("is this a positive HIV test?").
 */
export function computeCommitment(salt: Uint8Array, contentSha256: Uint8Array): Hex {
  if (salt.length !== 32 || contentSha256.length !== 32) throw new RangeError('salt and digest must be 32 bytes')
  return keccak256(encodePacked(['string', 'bytes32', 'bytes32'], ['medvault.commitment.v1', bytesToHex(salt), bytesToHex(contentSha256)]))
}

export const randomSalt = (): Uint8Array => crypto.getRandomValues(new Uint8Array(32))
