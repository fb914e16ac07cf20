/**
 * The EIP-712 digests of the issuer's statements about a record (`RecordAttestation`,
 * `RecordFields`), with the domain separator hashed once per deployment.
 *
 * viem's `hashTypedData` hashes the domain, both type strings and every address checksum again for
 * each message: eight keccak-256 runs in JavaScript where the statement itself needs two, 0.12 ms
 * of the 0.3 ms an import spends signing each of a record's two statements, and the same again for
 * each record a first read checks. The digest is viem's own construction from viem's parts
 * (`domainSeparator`, `hashStruct`): `keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(message))`,
 * as EIP-712 defines it; the tests hold it to `hashTypedData`
 * for random statements. Values are still checked as they are ABI-encoded (a `bytes8` of another
 * size or a `uint8` out of range throws), as `hashTypedData` checks them.
 */
import { type Address, type Hex, concat, domainSeparator, hashStruct, keccak256 } from 'viem'
import { type RecordAttestation, recordAttestationTypes, recordsDomain } from './attestation.js'
import { recordFieldsTypes } from './fields.js'

type Deployment = { chainId: number; records: Address }

const separators = new Map<string, Hex>()

/** The `medvault` v1 domain separator of a deployment's MedicalRecord. */
export function recordsDomainSeparator({ chainId, records }: Deployment): Hex {
  const key = `${chainId}:${records.toLowerCase()}`
  let separator = separators.get(key)
  if (!separator) {
    // A process meets one deployment, or a few in tests: the map stays small.
    separator = domainSeparator({ domain: recordsDomain(chainId, records) })
    separators.set(key, separator)
  }
  return separator
}

/** The digest an issuer signs for `RecordAttestation`: equal to viem's `hashTypedData` of it. */
export function recordAttestationDigest(deployment: Deployment, message: RecordAttestation): Hex {
  return inDomain(deployment, hashStruct({ data: message, primaryType: 'RecordAttestation', types: recordAttestationTypes }))
}

/** The digest an issuer signs for `RecordFields` (the field commitments): equal to viem's `hashTypedData` of it. */
export function recordFieldsDigest(deployment: Deployment, message: { commitment: Hex; fieldsHash: Hex }): Hex {
  return inDomain(deployment, hashStruct({ data: message, primaryType: 'RecordFields', types: recordFieldsTypes }))
}

/** EIP-712's final step: `keccak256(0x1901 ‖ domainSeparator ‖ structHash)`. */
function inDomain(deployment: Deployment, structHash: Hex): Hex {
  return keccak256(concat(['0x1901', recordsDomainSeparator(deployment), structHash]))
}
