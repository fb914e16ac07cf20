// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title AuditAnchor
/// @notice Anchors batches of an off-chain, hash-chained access log on chain, so no entry can be
/// changed, reordered or dropped afterwards without the anchored root giving it away.
/// @dev Each log is identified by the account that signs its entries; only that account anchors
/// it, so anchoring needs no role and one contract serves every medvault node.
contract AuditAnchor {
    struct Batch {
        bytes32 root;
        bytes32 head;
        uint64 firstSeq;
        uint64 lastSeq;
        uint40 anchoredAt;
    }

    mapping(address log => Batch[]) private _batches;

    /// @notice Batches must continue the log without gaps or overlaps.
    error AuditAnchorNotContiguous(uint64 expectedFirstSeq, uint64 firstSeq);
    /// @notice `lastSeq` is below `firstSeq`, or the root is zero.
    error AuditAnchorInvalidBatch();

    event AuditBatchAnchored(
        address indexed log, uint256 indexed batchIndex, bytes32 root, bytes32 head, uint64 firstSeq, uint64 lastSeq
    );

    /// @notice Anchors entries `firstSeq`..`lastSeq` of the caller's log.
    /// @dev `root` is the Merkle root of the entry hashes, `head` the hash-chain head after `lastSeq`.
    /// Requires `firstSeq` to follow the previous batch. Emits {AuditBatchAnchored}.
    /// @param root Merkle root of the batch's entry hashes.
    /// @param head Hash-chain head after the batch's last entry.
    /// @param firstSeq Sequence number of the batch's first entry.
    /// @param lastSeq Sequence number of the batch's last entry.
    function anchor(bytes32 root, bytes32 head, uint64 firstSeq, uint64 lastSeq) external returns (uint256 batchIndex) {
        if (root == bytes32(0) || lastSeq < firstSeq) revert AuditAnchorInvalidBatch();
        Batch[] storage batches = _batches[msg.sender];
        uint64 expected = batches.length == 0 ? 0 : batches[batches.length - 1].lastSeq + 1;
        if (firstSeq != expected) revert AuditAnchorNotContiguous(expected, firstSeq);
        batchIndex = batches.length;
        batches.push(Batch(root, head, firstSeq, lastSeq, uint40(block.timestamp)));
        emit AuditBatchAnchored(msg.sender, batchIndex, root, head, firstSeq, lastSeq);
    }

    /// @notice Number of batches anchored for `log`.
    /// @param log The log's signing account.
    function batchCount(address log) external view returns (uint256) {
        return _batches[log].length;
    }

    /// @notice One anchored batch.
    /// @param log The log's signing account.
    /// @param index The batch, from 0.
    function batchAt(address log, uint256 index) external view returns (Batch memory) {
        return _batches[log][index];
    }
}
