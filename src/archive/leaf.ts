/**
 * An archived record's leaf: what a MedicalRecord token would hold, hashed as OpenZeppelin's
 * StandardMerkleTree does it (`keccak256(keccak256(abi.encode(fields)))`, sorted pairs), so
 * `ArchiveAnchor.verifyRecord` checks the same proof with OpenZeppelin's MerkleProof on chain.
 */
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { type Address, type Hex, encodeAbiParameters, getAddress, keccak256 } from 'viem'

/** The leaf encoding, in `ArchiveAnchor.ArchivedRecord` field order. */
export const ARCHIVE_LEAF_ENCODING = ['address', 'bytes32', 'bytes32', 'uint8', 'address', 'uint40', 'uint8', 'uint8']

/** One record of an archive, as its leaf commits to it (the fields of `ArchiveAnchor.ArchivedRecord`). */
export type ArchivedRecord = {
  patient: Address
  /** The salted content commitment, as a token's. */
  commitment: Hex
  /** sha2-256 digest of the ciphertext's CIDv1. */
  cidDigest: Hex
  /** Multicodec of that CIDv1. */
  cidCodec: number
  issuer: Address
  /** Unix seconds at which the issuer sealed the record. */
  issuedAt: number
  category: number
  sensitivity: number
}

export type ArchiveLeafValue = [Address, Hex, Hex, number, Address, number, number, number]

export function leafValue(r: ArchivedRecord): ArchiveLeafValue {
  return [getAddress(r.patient), r.commitment, r.cidDigest, r.cidCodec, getAddress(r.issuer), r.issuedAt, r.category, r.sensitivity]
}

/** The tree over `records`, in order: `tree.getProof(i)` proves `records[i]`. */
export function archiveTree(records: readonly ArchivedRecord[]): StandardMerkleTree<ArchiveLeafValue> {
  return StandardMerkleTree.of(records.map(leafValue), ARCHIVE_LEAF_ENCODING)
}

/** Whether `proof` leads from `record`'s leaf to `root`. False, not an exception, for malformed input. */
export function verifyArchivedLeaf(root: Hex, record: ArchivedRecord, proof: readonly Hex[]): boolean {
  try {
    return StandardMerkleTree.verify(root, ARCHIVE_LEAF_ENCODING, leafValue(record), [...proof])
  } catch {
    return false
  }
}

/** `ArchiveAnchor.archiveIdOf`: an archive's id, known before it is anchored. */
export function archiveIdOf(issuer: Address, root: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: 'address' }, { type: 'bytes32' }], [getAddress(issuer), root]))
}
