/**
 * The break-glass reason on chain is a salted commitment, never a bare hash: reasons come from a
 * short list of codes plus a few words, so `keccak256(reason)` falls to a guess list ("opioid
 * overdose") and ties the guess to the patient's address. With 32 random bytes mixed in, chain
 * data alone confirms no guess; whoever holds the salt (the provider, and the patient through
 * their access report) can check a stated reason against the chain.
 *
 * Encoding (version 1): `keccak256(abi.encode(string "medvault.emergency-reason.v1", bytes32 salt, string reason))`.
 */
import { type Hex, bytesToHex, encodeAbiParameters, keccak256, parseAbiParameters } from 'viem'

const ENCODING = parseAbiParameters('string tag, bytes32 salt, string reason')
const TAG = 'medvault.emergency-reason.v1'

/** 32 bytes from the platform's CSPRNG (Web Crypto: the same in Node and the browser). */
export const newReasonSalt = (): Hex => bytesToHex(crypto.getRandomValues(new Uint8Array(32)))

/** The on-chain commitment to an emergency reason under `salt`. */
export function commitEmergencyReason(reason: string, salt: Hex): Hex {
  if (!/^0x[0-9a-fA-F]{64}$/.test(salt)) throw new RangeError('The reason salt must be 32 bytes of hex.')
  return keccak256(encodeAbiParameters(ENCODING, [TAG, salt, reason]))
}
