// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @title IProviderRegistry
/// @notice What the other medvault contracts ask of the provider registry: who may issue now, who
/// could at a past second, a provider's public entry, and who holds the registrar role.
interface IProviderRegistry is IAccessControl {
    enum Status {
        None,
        Active,
        Suspended,
        Removed
    }

    struct Provider {
        Status status;
        uint64 registeredAt;
        // Position in registration order, from 1; in the status's slot so {activeIdOf} reads one slot.
        uint32 id;
        bytes32 encryptionKey;
        string name;
    }

    /// @notice The role that adds, suspends, reinstates and removes providers.
    function REGISTRAR_ROLE() external view returns (bytes32);

    /// @notice The provider's entry (status None for unknown addresses).
    /// @param provider The address to look up.
    function providerOf(address provider) external view returns (Provider memory);

    /// @notice Whether the provider may issue records now.
    /// @param provider The address to look up.
    function isActive(address provider) external view returns (bool);

    /// @notice The provider's registration number (from 1) if it may issue records now, else 0.
    /// @dev One call and one slot for what a mint needs: whether the issuer is active, and a 4-byte
    /// name for it that the record contract keeps beside the token's owner instead of a 20-byte address.
    /// @param provider The address to look up.
    function activeIdOf(address provider) external view returns (uint32);

    /// @notice The provider registered in position `index` (0-based); registration number `id` is at `id - 1`.
    /// @param index Position in registration order.
    function providerAt(uint256 index) external view returns (address);

    /// @notice Whether the provider was active at some moment in the second `timestamp`.
    /// @param provider The address to look up.
    /// @param timestamp The second to ask about, e.g. a record's issue time.
    function wasActiveAt(address provider, uint64 timestamp) external view returns (bool);
}
