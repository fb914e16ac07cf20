/**
 * The EIP-712 digests of the issuer's statements about a record (`RecordAttestation`,
 * `RecordFields`), with the domain separator hashed once per deployment.
 *
 * viem's `hashTypedData` hashes the domain, both type strings and every address checksum again for
 * each message: eight keccak-256 runs in JavaScript where the statement itself needs two, 0.12 ms
 * of the 0.3 ms an import spends signing each of a record's two statements, and the same again for
 * each record a first read checks. The digest is EIP-712's construction,
 * `keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(message))`, with viem's `domainSeparator` and,
 * since both statements hold one-word fields only, `hashStruct` as a type hash computed once and
 * viem's ABI encoder; the tests hold it to `hashTypedData` for random statements. Values are still
 * checked as they are ABI-encoded (a `bytes8` of another size or a `uint8` out of range throws),
 * as `hashTypedData` checks them.
 */
import { type Address, type Hex, concat, domainSeparator, encodeAbiParameters, keccak256, stringToHex } from 'viem'
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

type Field = { readonly name: string; readonly type: string }

/** EIP-712 atomic types that ABI-encode to one 32-byte word (no strings, bytes, arrays or structs). */
const ONE_WORD =
  /^(address|bool|bytes([1-9]|[12]\d|3[0-2])|u?int(8|16|24|32|40|48|56|64|72|80|88|96|104|112|120|128|136|144|152|160|168|176|184|192|200|208|216|224|232|240|248|256)?)$/

/**
 * EIP-712's `hashStruct` for a struct of one-word fields, with its type hash computed once:
 * `keccak256(typeHash ‖ abi.encode(fields…))`, which is what encodeData gives for such fields.
 * viem's `hashStruct` rebuilds the type string and hashes it again for every message. Values are
 * checked by the ABI encoder as viem checks them (a `bytes8` of another size, a `uint8` out of
 * range or a malformed address throws).
 */
function oneWordStructHasher(primaryType: string, fields: readonly Field[]): (message: Record<string, unknown>) => Hex {
  for (const { type } of fields) if (!ONE_WORD.test(type)) throw new Error(`${primaryType}: ${type} is not a one-word EIP-712 type`)
  const typeHash = keccak256(stringToHex(`${primaryType}(${fields.map((f) => `${f.type} ${f.name}`).join(',')})`))
  const parameters = [{ type: 'bytes32' }, ...fields.map((f) => ({ type: f.type }))]
  return (message) => keccak256(encodeAbiParameters(parameters, [typeHash, ...fields.map((f) => message[f.name])]))
}

const attestationHash = oneWordStructHasher('RecordAttestation', recordAttestationTypes.RecordAttestation)
const fieldsHash = oneWordStructHasher('RecordFields', recordFieldsTypes.RecordFields)

/** The digest an issuer signs for `RecordAttestation`: equal to viem's `hashTypedData` of it. */
export function recordAttestationDigest(deployment: Deployment, message: RecordAttestation): Hex {
  return inDomain(deployment, attestationHash(message))
}

/** The digest an issuer signs for `RecordFields` (the field commitments): equal to viem's `hashTypedData` of it. */
export function recordFieldsDigest(deployment: Deployment, message: { commitment: Hex; fieldsHash: Hex }): Hex {
  return inDomain(deployment, fieldsHash(message))
}

/** EIP-712's final step: `keccak256(0x1901 ‖ domainSeparator ‖ structHash)`. */
function inDomain(deployment: Deployment, structHash: Hex): Hex {
  return keccak256(concat(['0x1901', recordsDomainSeparator(deployment), structHash]))
}
