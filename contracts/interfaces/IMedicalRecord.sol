// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IMedicalRecord
/// @notice What the consent registry and the research market ask of the record tokens: who owns a
/// record and how it may be shared, and where a recovered or rotated account's records went.
interface IMedicalRecord {
    /// @notice What an access check needs in one call: owner (zero if the token does not exist),
    /// blinded category tag, and whether the record was erased. Never reverts.
    /// @param tokenId The record.
    function accessInfo(uint256 tokenId) external view returns (address owner, bytes8 tag, bool erased);

    /// @notice The account `account`'s records moved to by a completed recovery or rotation (zero if none).
    /// @param account The old account.
    function successorOf(address account) external view returns (address);
}
