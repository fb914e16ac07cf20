/**
 * The Merkle tree of one anchored batch: an OpenZeppelin StandardMerkleTree over `[seq, hash]`
 * leaves (`['uint256', 'bytes32']`, leaf = keccak256(keccak256(abi.encode(seq, hash))), sorted
 * pairs), so a proof also checks with OpenZeppelin's MerkleProof in Solidity. Trees are rebuilt
 * from the log whenever needed; nothing but the root is stored.
 */
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import type { Hex } from 'viem'

export const AUDIT_LEAF_ENCODING = ['uint256', 'bytes32']

export type AuditLeaf = { seq: number; hash: Hex }

/** The tree over `leaves`, in seq order; `getProof(i)` proves the i-th leaf. */
export function auditBatchTree(leaves: readonly AuditLeaf[]): StandardMerkleTree<[bigint, Hex]> {
  return StandardMerkleTree.of(
    leaves.map((l): [bigint, Hex] => [BigInt(l.seq), l.hash]),
    AUDIT_LEAF_ENCODING,
  )
}

export function auditBatchRoot(leaves: readonly AuditLeaf[]): Hex {
  return auditBatchTree(leaves).root as Hex
}

/** Whether `proof` proves leaf `[seq, hash]` under `root`. False, not an exception, for malformed input. */
export function verifyAuditLeaf(root: Hex, leaf: AuditLeaf, proof: readonly Hex[]): boolean {
  try {
    return StandardMerkleTree.verify(root, AUDIT_LEAF_ENCODING, [BigInt(leaf.seq), leaf.hash], [...proof])
  } catch {
    return false
  }
}
