import type { Address, Hex, TypedDataDomain } from 'viem'

/** EIP-712 domain shared by MedicalRecord's consent check and issuer attestations. */
export function recordsDomain(chainId: number, records: Address): TypedDataDomain {
  return { name: 'medvault', version: '1', chainId, verifyingContract: records }
}

/** The patient's consent to one mint, checked on chain by MedicalRecord. */
export const mintConsentTypes = {
  MintConsent: [
    { name: 'patient', type: 'address' },
    { name: 'provider', type: 'address' },
    { name: 'commitment', type: 'bytes32' },
    { name: 'tag', type: 'bytes8' },
    { name: 'supersedes', type: 'uint256' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
  ],
} as const

/**
 * The issuer's signed statement about a record, carried inside the encrypted envelope so that
 * whoever can open the record can check who issued it without asking the issuer. It covers both
 * the category and sensitivity in clear and the blinded tag the chain holds, so a reader who opened
 * the record learns its category from the issuer's word and checks the tag against the token,
 * without the patient's tag table.
 */
export const recordAttestationTypes = {
  RecordAttestation: [
    { name: 'patient', type: 'address' },
    { name: 'commitment', type: 'bytes32' },
    { name: 'category', type: 'uint8' },
    { name: 'sensitivity', type: 'uint8' },
    { name: 'tag', type: 'bytes8' },
    { name: 'supersedes', type: 'uint256' },
  ],
} as const

export type RecordAttestation = {
  patient: Address
  commitment: Hex
  category: number
  sensitivity: number
  tag: Hex
  supersedes: bigint
}
