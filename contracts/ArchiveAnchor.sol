// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";

/// @title ArchiveAnchor
/// @notice Onboards a provider's existing archive in one transaction: the Merkle root of N record
/// leaves is anchored, and every record is provable against it from then on, without N mints.
/// @dev A leaf commits to what a MedicalRecord token would hold (patient, salted content commitment,
/// ciphertext CIDv1 digest and codec, issuer, issue time, category, sensitivity) and is hashed as
/// OpenZeppelin's StandardMerkleTree does it: `keccak256(bytes.concat(keccak256(abi.encode(fields))))`,
/// so a leaf can never be passed off as an inner node. Storage is O(1) per archive (three slots,
/// a fourth on revocation) whatever N is; nothing is posted per record.
///
/// An archive's id is `keccak256(abi.encode(issuer, root))`: a provider can name its archive (and
/// write the proofs) before anchoring it, and nobody else can take that id first.
///
/// Trust: a record verifies while its archive is not revoked and its leaf names the archive's
/// issuer, which the registry listed as active when it anchored. Like a token, an archived record
/// stays valid if the issuer is later suspended; the issuer or the registrar revokes an archive
/// that must no longer be trusted. Turning an archived record into a MedicalRecord token (lazy
/// tokenization) is not done here.
contract ArchiveAnchor {
    /// @notice One record of an archive, as its leaf commits to it.
    struct ArchivedRecord {
        address patient;
        bytes32 commitment;
        bytes32 cidDigest;
        uint8 cidCodec;
        address issuer;
        uint40 issuedAt;
        uint8 category;
        uint8 sensitivity;
    }

    /// @dev Three slots when anchored; `revokedAt` (the fourth) is only written by a revocation.
    struct Archive {
        bytes32 root;
        bytes32 manifestDigest;
        address issuer;
        uint32 count;
        uint40 anchoredAt;
        uint8 manifestCodec;
        uint40 revokedAt;
    }

    /// @notice The registry whose active providers may anchor, and whose registrars may revoke.
    IProviderRegistry public immutable registry;

    /// @dev Cached from the registry: AccessControl's role id of its registrars.
    bytes32 private immutable _registrarRole;

    mapping(bytes32 archiveId => Archive) private _archives;

    /// @notice The caller is not an active provider in the registry.
    error ArchiveAnchorInactiveIssuer(address issuer);
    /// @notice The root or the manifest digest is zero, or the archive holds no records.
    error ArchiveAnchorInvalidArchive();
    /// @notice The caller already anchored this root.
    error ArchiveAnchorAlreadyAnchored(bytes32 archiveId);
    /// @notice No archive has this id.
    error ArchiveAnchorUnknownArchive(bytes32 archiveId);
    /// @notice Only the archive's issuer or a registrar may revoke it.
    error ArchiveAnchorNotAllowed(bytes32 archiveId, address caller);
    /// @notice The archive was revoked at `revokedAt` already.
    error ArchiveAnchorAlreadyRevoked(bytes32 archiveId, uint40 revokedAt);

    /// @notice `issuer` anchored the root of `count` record leaves as archive `archiveId`.
    /// @param archiveId `keccak256(abi.encode(issuer, root))`.
    /// @param issuer The anchoring provider, named in every leaf.
    /// @param root The tree's root.
    /// @param count Number of leaves.
    /// @param manifestDigest sha2-256 digest of the manifest's CIDv1.
    /// @param manifestCodec Multicodec of that CIDv1.
    event ArchiveAnchored(
        bytes32 indexed archiveId,
        address indexed issuer,
        bytes32 root,
        uint32 count,
        bytes32 manifestDigest,
        uint8 manifestCodec
    );
    /// @notice Archive `archiveId` was revoked by `revokedBy` (its issuer or a registrar).
    /// @param archiveId The archive.
    /// @param revokedBy Who revoked it.
    event ArchiveRevoked(bytes32 indexed archiveId, address indexed revokedBy);

    /// @param registry_ The provider registry consulted on every anchoring and revocation.
    constructor(IProviderRegistry registry_) {
        registry = registry_;
        _registrarRole = registry_.REGISTRAR_ROLE();
    }

    /// @notice Anchors the Merkle root of `count` record leaves issued by the caller.
    /// @dev Requires the caller to be an active provider, a non-zero root and manifest digest,
    /// `count` > 0, and that the caller has not anchored this root before. `count` and the manifest
    /// are the issuer's statement, for readers; only the root is checked by {verifyRecord}.
    /// Emits {ArchiveAnchored}.
    /// @param root StandardMerkleTree root of the archive's leaves.
    /// @param count Number of leaves.
    /// @param manifestDigest sha2-256 digest of the CIDv1 of the archive's manifest (the tree's leaves).
    /// @param manifestCodec Multicodec of that CIDv1 (0x55 raw, 0x70 dag-pb).
    /// @return archiveId `keccak256(abi.encode(msg.sender, root))`.
    function anchor(bytes32 root, uint32 count, bytes32 manifestDigest, uint8 manifestCodec)
        external
        returns (bytes32 archiveId)
    {
        if (!registry.isActive(msg.sender)) revert ArchiveAnchorInactiveIssuer(msg.sender);
        if (root == bytes32(0) || manifestDigest == bytes32(0) || count == 0) revert ArchiveAnchorInvalidArchive();
        archiveId = archiveIdOf(msg.sender, root);
        Archive storage a = _archives[archiveId];
        if (a.root != bytes32(0)) revert ArchiveAnchorAlreadyAnchored(archiveId);
        a.root = root;
        a.manifestDigest = manifestDigest;
        a.issuer = msg.sender;
        a.count = count;
        a.anchoredAt = uint40(block.timestamp);
        a.manifestCodec = manifestCodec;
        emit ArchiveAnchored(archiveId, msg.sender, root, count, manifestDigest, manifestCodec);
    }

    /// @notice Revokes an archive: none of its records verifies from the next block on.
    /// @dev Requires the archive to exist and not be revoked yet, and the caller to be its issuer
    /// (whatever its registry status now) or hold the registry's REGISTRAR_ROLE. Emits {ArchiveRevoked}.
    /// @param archiveId The archive.
    function revoke(bytes32 archiveId) external {
        Archive storage a = _archives[archiveId];
        if (a.root == bytes32(0)) revert ArchiveAnchorUnknownArchive(archiveId);
        if (msg.sender != a.issuer && !registry.hasRole(_registrarRole, msg.sender)) {
            revert ArchiveAnchorNotAllowed(archiveId, msg.sender);
        }
        if (a.revokedAt != 0) revert ArchiveAnchorAlreadyRevoked(archiveId, a.revokedAt);
        a.revokedAt = uint40(block.timestamp);
        emit ArchiveRevoked(archiveId, msg.sender);
    }

    /// @notice Whether `record` belongs to the archive: the proof leads from its leaf to the anchored
    /// root, the leaf names the archive's issuer and a time no later than the anchoring, and the
    /// archive is not revoked. False (never a revert) for unknown archives.
    /// @param archiveId The archive.
    /// @param record The record's leaf fields.
    /// @param proof The StandardMerkleTree proof of the leaf.
    function verifyRecord(bytes32 archiveId, ArchivedRecord calldata record, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        Archive storage a = _archives[archiveId];
        if (!_usable(a, record)) return false;
        return MerkleProof.verifyCalldata(proof, a.root, leafOf(record));
    }

    /// @notice Whether all of `records` belong to the archive, checked with one multiproof (cheaper
    /// than one proof each when a patient shows several records of one archive).
    /// @dev `records`, `proof` and `proofFlags` in the order StandardMerkleTree.getMultiProof gives them.
    /// @param archiveId The archive.
    /// @param records The records' leaf fields.
    /// @param proof The multiproof's sibling hashes.
    /// @param proofFlags The multiproof's flags.
    function verifyRecords(
        bytes32 archiveId,
        ArchivedRecord[] calldata records,
        bytes32[] calldata proof,
        bool[] calldata proofFlags
    ) external view returns (bool) {
        Archive storage a = _archives[archiveId];
        uint256 count = records.length;
        if (count == 0) return false;
        bytes32[] memory leaves = new bytes32[](count);
        for (uint256 i; i < count; ++i) {
            if (!_usable(a, records[i])) return false;
            leaves[i] = leafOf(records[i]);
        }
        return MerkleProof.multiProofVerifyCalldata(proof, proofFlags, a.root, leaves);
    }

    /// @notice An anchored archive (all zero for unknown ids).
    /// @param archiveId The archive.
    function archiveOf(bytes32 archiveId) external view returns (Archive memory) {
        return _archives[archiveId];
    }

    /// @notice The id an archive of `root` anchored by `issuer` gets.
    /// @param issuer The anchoring provider.
    /// @param root The archive's root.
    function archiveIdOf(address issuer, bytes32 root) public pure returns (bytes32) {
        return keccak256(abi.encode(issuer, root));
    }

    /// @notice A record's leaf hash, as StandardMerkleTree computes it for the leaf encoding
    /// `address, bytes32, bytes32, uint8, address, uint40, uint8, uint8`.
    /// @param record The record's leaf fields.
    function leafOf(ArchivedRecord calldata record) public pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                keccak256(
                    abi.encode(
                        record.patient,
                        record.commitment,
                        record.cidDigest,
                        record.cidCodec,
                        record.issuer,
                        record.issuedAt,
                        record.category,
                        record.sensitivity
                    )
                )
            )
        );
    }

    /// @dev The archive exists and is not revoked, and the leaf is the archive issuer's, issued no
    /// later than the anchoring.
    function _usable(Archive storage a, ArchivedRecord calldata record) private view returns (bool) {
        return a.root != bytes32(0) && a.revokedAt == 0 && record.issuer == a.issuer && record.issuedAt <= a.anchoredAt;
    }
}
