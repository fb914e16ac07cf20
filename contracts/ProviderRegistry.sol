// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";

/// @title ProviderRegistry
/// @notice The accredited issuers of medical records (hospitals, labs, clinics, pharmacies).
/// @dev A registrar (REGISTRAR_ROLE) adds, suspends, reinstates and removes providers. Every status
/// change is kept in a per-provider history so a verifier can ask whether a provider was active at
/// the moment it issued a record, not only whether it is active now.
contract ProviderRegistry is AccessControl, IProviderRegistry {
    /// @inheritdoc IProviderRegistry
    bytes32 public constant override REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    struct StatusChange {
        uint64 at;
        Status status;
    }

    /// @notice A provider's P-256 public key for signing SMART Health Cards (JWK x and y).
    struct HealthCardKey {
        bytes32 x;
        bytes32 y;
        uint64 addedAt;
    }

    mapping(address provider => Provider) private _providers;
    mapping(address provider => HealthCardKey[]) private _healthCardKeys;
    mapping(address provider => StatusChange[]) private _history;
    address[] private _addresses;

    /// @notice The provider is already in the registry (removed providers cannot come back under the same address).
    error ProviderRegistryAlreadyRegistered(address provider);
    /// @notice The address is not a registered provider.
    error ProviderRegistryUnknownProvider(address provider);
    /// @notice The requested change is not allowed from the provider's current status.
    error ProviderRegistryInvalidStatus(address provider, Status current);
    /// @notice A display name must be 1-64 bytes of printable text without quotes or backslashes.
    error ProviderRegistryInvalidName();
    /// @notice The zero address or an empty encryption key was given.
    error ProviderRegistryInvalidInput();

    event ProviderRegistered(address indexed provider, string name, bytes32 encryptionKey);
    event ProviderProfileUpdated(address indexed provider, string name, bytes32 encryptionKey);
    event ProviderSuspended(address indexed provider);
    event HealthCardKeyAdded(address indexed provider, bytes32 x, bytes32 y);
    event ProviderReinstated(address indexed provider);
    event ProviderRemoved(address indexed provider);

    /// @param admin Account that holds DEFAULT_ADMIN_ROLE and REGISTRAR_ROLE at deployment.
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
    }

    /// @notice Adds an accredited provider, active from now on.
    /// @dev Requires REGISTRAR_ROLE, a new address, a valid name and a non-zero X25519 key. Emits {ProviderRegistered}.
    /// @param provider The provider's chain address (it signs and mints records).
    /// @param name Display name shown to patients, e.g. "Lab A". Organisation names only, never a person's.
    /// @param encryptionKey The provider's X25519 public key for HPKE.
    function register(address provider, string calldata name, bytes32 encryptionKey)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        if (provider == address(0) || encryptionKey == bytes32(0)) revert ProviderRegistryInvalidInput();
        if (_providers[provider].status != Status.None) revert ProviderRegistryAlreadyRegistered(provider);
        _checkName(name);
        _addresses.push(provider);
        _providers[provider] = Provider(Status.Active, uint64(block.timestamp), uint32(_addresses.length), encryptionKey, name);
        _history[provider].push(StatusChange(uint64(block.timestamp), Status.Active));
        emit ProviderRegistered(provider, name, encryptionKey);
    }

    /// @notice Lets an active provider change its display name or rotate its encryption key.
    /// @dev Requires the caller to be an active provider. Emits {ProviderProfileUpdated}.
    /// @param name New display name.
    /// @param encryptionKey New X25519 public key.
    function updateProfile(string calldata name, bytes32 encryptionKey) external {
        Provider storage p = _providers[msg.sender];
        if (p.status != Status.Active) revert ProviderRegistryInvalidStatus(msg.sender, p.status);
        if (encryptionKey == bytes32(0)) revert ProviderRegistryInvalidInput();
        _checkName(name);
        p.name = name;
        p.encryptionKey = encryptionKey;
        emit ProviderProfileUpdated(msg.sender, name, encryptionKey);
    }

    /// @notice Adds a P-256 key the calling provider signs SMART Health Cards with, so a card's
    /// signature is trusted exactly as far as the registry trusts its issuer.
    /// @dev Requires the caller to be an active provider and a non-zero key. Old keys stay listed so
    /// cards signed before a rotation still verify. Emits {HealthCardKeyAdded}.
    /// @param x The key's x coordinate.
    /// @param y The key's y coordinate.
    function addHealthCardKey(bytes32 x, bytes32 y) external {
        Provider storage p = _providers[msg.sender];
        if (p.status != Status.Active) revert ProviderRegistryInvalidStatus(msg.sender, p.status);
        if (x == bytes32(0) || y == bytes32(0)) revert ProviderRegistryInvalidInput();
        _healthCardKeys[msg.sender].push(HealthCardKey(x, y, uint64(block.timestamp)));
        emit HealthCardKeyAdded(msg.sender, x, y);
    }

    /// @notice Every SMART Health Card key a provider published, oldest first.
    /// @param provider The provider.
    function healthCardKeysOf(address provider) external view returns (HealthCardKey[] memory) {
        return _healthCardKeys[provider];
    }

    /// @notice Suspends an active provider: it cannot issue records until reinstated.
    /// @dev Requires REGISTRAR_ROLE and an active provider. Emits {ProviderSuspended}.
    /// @param provider The provider to suspend.
    function suspend(address provider) external onlyRole(REGISTRAR_ROLE) {
        _setStatus(provider, Status.Active, Status.Suspended);
        emit ProviderSuspended(provider);
    }

    /// @notice Reinstates a suspended provider.
    /// @dev Requires REGISTRAR_ROLE and a suspended provider. Emits {ProviderReinstated}.
    /// @param provider The provider to reinstate.
    function reinstate(address provider) external onlyRole(REGISTRAR_ROLE) {
        _setStatus(provider, Status.Suspended, Status.Active);
        emit ProviderReinstated(provider);
    }

    /// @notice Removes a provider for good; records it issued while active stay verifiable.
    /// @dev Requires REGISTRAR_ROLE and an active or suspended provider. Emits {ProviderRemoved}.
    /// @param provider The provider to remove.
    function remove(address provider) external onlyRole(REGISTRAR_ROLE) {
        Status current = _providers[provider].status;
        if (current == Status.None) revert ProviderRegistryUnknownProvider(provider);
        if (current == Status.Removed) revert ProviderRegistryInvalidStatus(provider, current);
        _setStatus(provider, current, Status.Removed);
        emit ProviderRemoved(provider);
    }

    /// @notice The provider's entry (status None for unknown addresses).
    /// @param provider The address to look up.
    function providerOf(address provider) external view returns (Provider memory) {
        return _providers[provider];
    }

    /// @notice Whether the provider may issue records now.
    /// @param provider The address to look up.
    function isActive(address provider) external view returns (bool) {
        return _providers[provider].status == Status.Active;
    }

    /// @inheritdoc IProviderRegistry
    function activeIdOf(address provider) external view returns (uint32) {
        Provider storage p = _providers[provider];
        return p.status == Status.Active ? p.id : 0;
    }

    /// @notice Whether the provider was active at some moment in the second `timestamp` (seconds since epoch).
    /// @dev Block timestamps have one-second resolution, so a record minted in the same second as a later
    /// suspension (even in the same block) carries the suspension's timestamp. Answering for the whole
    /// second keeps such a record valid; it admits nothing the issuing contracts refused, because they
    /// check `isActive` at the moment of issue. Walks the history backwards; histories are short.
    /// @param provider The address to look up.
    /// @param timestamp The second to ask about, e.g. a record's issue time.
    function wasActiveAt(address provider, uint64 timestamp) external view returns (bool) {
        StatusChange[] storage changes = _history[provider];
        for (uint256 i = changes.length; i > 0; --i) {
            StatusChange storage change = changes[i - 1];
            if (change.at > timestamp) continue;
            if (change.status == Status.Active) return true;
            // A change before this second sets the status the second started with; stop there.
            if (change.at < timestamp) return false;
        }
        return false;
    }

    /// @notice Every status change of a provider, oldest first.
    /// @param provider The address to look up.
    function historyOf(address provider) external view returns (StatusChange[] memory) {
        return _history[provider];
    }

    /// @notice Number of providers ever registered.
    function providerCount() external view returns (uint256) {
        return _addresses.length;
    }

    /// @inheritdoc IProviderRegistry
    function providerAt(uint256 index) external view returns (address) {
        return _addresses[index];
    }

    function _setStatus(address provider, Status from, Status to) private {
        Provider storage p = _providers[provider];
        if (p.status == Status.None) revert ProviderRegistryUnknownProvider(provider);
        if (p.status != from) revert ProviderRegistryInvalidStatus(provider, p.status);
        p.status = to;
        _history[provider].push(StatusChange(uint64(block.timestamp), to));
    }

    /// @dev Names end up inside tokenURI's JSON, so characters that would need escaping are refused.
    function _checkName(string calldata name) private pure {
        bytes calldata b = bytes(name);
        if (b.length == 0 || b.length > 64) revert ProviderRegistryInvalidName();
        for (uint256 i; i < b.length; ++i) {
            bytes1 c = b[i];
            if (c < 0x20 || c == 0x22 || c == 0x5c || c == 0x7f) revert ProviderRegistryInvalidName();
        }
    }
}
