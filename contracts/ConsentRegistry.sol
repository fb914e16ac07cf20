// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IMedicalRecord} from "./interfaces/IMedicalRecord.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";

/// @title ConsentRegistry
/// @notice Who may read which of a patient's records, until when and why; delegates; break-glass.
/// @dev A contract of its own rather than part of MedicalRecord: consent rules change more often
/// than the record format, the record contract stays small (EIP-170), and `canAccess` is one view
/// that the server, other contracts and the key release all call.
///
/// Sensitivity rule (42 CFR Part 2, HIPAA psychotherapy notes): a grant covers a record only if
/// every sensitivity flag of the record was named in the grant. A grant for listed records names
/// them one by one, so it covers them whatever their flags. A category grant names the sensitive
/// categories it lists (granting "mental-health" names mental health) plus any flags passed
/// explicitly. An "all" grant names only the flags passed explicitly. So "all my records" and
/// "my lab results" never silently include a psychiatric note or an HIV test. Only the patient
/// may name sensitive records at all: a delegate's grants never cover them.
///
/// Erased records (MedicalRecord.erase): no grant may name one, and `canAccess` is false for
/// everyone, the patient included, since nothing readable is left.
///
/// Recovery and rotation (MedicalRecord.executeRecovery, MedicalRecord.rotate): grants are keyed by
/// patient, so once a patient's records have moved the successor takes over the grants it chooses
/// with {moveGrants}. A grant keeps its id, terms, listed records and expiry, so its grantee's key
/// slips and access carry on unchanged. A retired account may neither grant nor revoke.
contract ConsentRegistry {
    enum Scope {
        Records,
        Categories,
        All
    }

    enum Purpose {
        Treatment,
        Payment,
        Research,
        Emergency,
        Other
    }

    struct Grant {
        address patient;
        uint40 createdAt;
        uint40 expiresAt;
        Scope scope;
        Purpose purpose;
        address grantee;
        uint40 revokedAt;
        uint32 categories;
        uint8 sensitive;
    }

    /// @notice Longest grant allowed: an expiry is required and bounded.
    uint40 public constant MAX_GRANT_DURATION = 3650 days;
    /// @notice Length of a break-glass window; it cannot be extended, only reopened after it ends.
    uint40 public constant EMERGENCY_WINDOW = 24 hours;
    /// @dev One bit per category code (MedicalRecord.CATEGORY_COUNT = 17): a uint32 mask, still within the grant's second slot.
    uint32 private constant ALL_CATEGORIES = (uint32(1) << 17) - 1;
    uint8 private constant ALL_FLAGS = 31;

    IMedicalRecord public immutable records;
    IProviderRegistry public immutable registry;

    mapping(uint256 grantId => Grant) private _grants;
    mapping(uint256 grantId => mapping(uint256 tokenId => bool)) private _grantRecords;
    mapping(address patient => mapping(address grantee => uint256[] grantIds)) private _grantsByGrantee;
    mapping(address patient => uint256[] grantIds) private _grantsByPatient;
    mapping(address patient => mapping(address delegate => bool)) private _delegates;
    mapping(address provider => bool) private _emergencyProviders;
    mapping(address patient => mapping(address provider => uint40 until)) private _emergencyUntil;
    uint256 private _lastGrantId;

    /// @notice The caller is neither the patient nor a delegate the patient named.
    error ConsentUnauthorized(address caller, address patient);
    /// @notice Expiry missing, in the past, or beyond MAX_GRANT_DURATION.
    error ConsentInvalidExpiry(uint40 expiresAt);
    /// @notice Grantee is zero or the patient; no records or categories named; unknown category bits.
    error ConsentInvalidGrant();
    /// @notice A listed record does not belong to the patient.
    error ConsentNotOwner(uint256 tokenId, address patient);
    /// @notice A listed record was erased by its patient; it can never be shared again.
    error ConsentRecordErased(uint256 tokenId);
    /// @notice Only the patient may share sensitive records; a delegate's grant may not cover any.
    error ConsentDelegateCannotShareSensitive(address delegate, address patient);
    /// @notice The grant does not exist.
    error ConsentUnknownGrant(uint256 grantId);
    /// @notice The grant was already revoked or has expired.
    error ConsentGrantInactive(uint256 grantId);
    /// @notice The caller is not a registrar.
    error ConsentNotRegistrar(address caller);
    /// @notice The caller is not an active provider flagged for emergency care.
    error ConsentNotEmergencyProvider(address provider);
    /// @notice A break-glass window for this patient and provider is still open; it cannot be renewed.
    error ConsentEmergencyAlreadyOpen(address patient, address provider, uint40 until);
    /// @notice The patient's records moved to `successor` (recovery or rotation); the old account can no longer grant or revoke.
    error ConsentAccountRetired(address patient, address successor);
    /// @notice The grant is not one of `patient`'s, so it cannot be moved from them.
    error ConsentNotGrantOf(uint256 grantId, address patient);

    event GrantCreated(
        uint256 indexed grantId,
        address indexed patient,
        address indexed grantee,
        address grantor,
        Scope scope,
        uint256[] tokenIds,
        uint40 expiresAt,
        Purpose purpose
    );
    event GrantRevoked(uint256 indexed grantId, address indexed patient, address indexed grantee, address revokedBy);
    event GrantMoved(uint256 indexed grantId, address indexed from, address indexed to);
    event DelegateAdded(address indexed patient, address indexed delegate);
    event DelegateRemoved(address indexed patient, address indexed delegate);
    event EmergencyProviderSet(address indexed provider, bool allowed);
    event EmergencyAccessOpened(address indexed patient, address indexed provider, uint40 until, bytes32 reasonHash);

    /// @param records_ The record contract whose tokens grants refer to.
    /// @param registry_ The provider registry (registrar role, provider status).
    constructor(IMedicalRecord records_, IProviderRegistry registry_) {
        records = records_;
        registry = registry_;
    }

    // ---------------------------------------------------------------- grants

    /// @notice Grants `grantee` read access to some of `patient`'s records until `expiresAt`.
    /// @dev Requires the caller to be the patient or their delegate; `expiresAt` in the future and
    /// at most MAX_GRANT_DURATION away. Records scope: `tokenIds` non-empty, all owned by the
    /// patient and none erased. Categories scope: `categories` a non-empty bitmask of category codes. Emits {GrantCreated}.
    /// @param patient Whose records.
    /// @param grantee Who may read them.
    /// @param scope Listed records, categories, or all records.
    /// @param tokenIds The records (Records scope; ignored otherwise).
    /// @param categories Bitmask of category codes, bit n = code n (Categories scope; ignored otherwise).
    /// @param sensitive Sensitivity flags named explicitly (see the contract's sensitivity rule).
    /// @param expiresAt Unix time at which access ends.
    /// @param purpose Why access is given.
    /// @return grantId The new grant.
    function grant(
        address patient,
        address grantee,
        Scope scope,
        uint256[] calldata tokenIds,
        uint32 categories,
        uint8 sensitive,
        uint40 expiresAt,
        Purpose purpose
    ) external returns (uint256 grantId) {
        _checkGrantor(patient);
        if (expiresAt <= block.timestamp || expiresAt > block.timestamp + MAX_GRANT_DURATION) {
            revert ConsentInvalidExpiry(expiresAt);
        }
        if (grantee == address(0) || grantee == patient || sensitive & ~ALL_FLAGS != 0) revert ConsentInvalidGrant();
        grantId = ++_lastGrantId;
        bool byDelegate = msg.sender != patient;
        if (scope == Scope.Records) {
            if (tokenIds.length == 0) revert ConsentInvalidGrant();
            for (uint256 i; i < tokenIds.length; ++i) {
                (address owner,, uint8 flags, bool erased) = _recordInfo(tokenIds[i]);
                if (owner != patient) revert ConsentNotOwner(tokenIds[i], patient);
                if (erased) revert ConsentRecordErased(tokenIds[i]);
                if (byDelegate && flags != 0) revert ConsentDelegateCannotShareSensitive(msg.sender, patient);
                _grantRecords[grantId][tokenIds[i]] = true;
            }
            categories = 0;
            sensitive = byDelegate ? 0 : ALL_FLAGS;
        } else if (scope == Scope.Categories) {
            if (categories == 0 || categories & ~ALL_CATEGORIES != 0) revert ConsentInvalidGrant();
            sensitive |= _namedFlags(categories);
        } else {
            categories = ALL_CATEGORIES;
        }
        // 42 CFR Part 2 and the psychotherapy-notes rule want the patient's own consent for sensitive
        // records: a guardian or carer may share everything else, never those.
        if (byDelegate && sensitive != 0) revert ConsentDelegateCannotShareSensitive(msg.sender, patient);
        _grants[grantId] = Grant({
            patient: patient,
            createdAt: uint40(block.timestamp),
            expiresAt: expiresAt,
            scope: scope,
            purpose: purpose,
            grantee: grantee,
            revokedAt: 0,
            categories: categories,
            sensitive: sensitive
        });
        _grantsByGrantee[patient][grantee].push(grantId);
        _grantsByPatient[patient].push(grantId);
        emit GrantCreated(
            grantId,
            patient,
            grantee,
            msg.sender,
            scope,
            scope == Scope.Records ? tokenIds : new uint256[](0),
            expiresAt,
            purpose
        );
    }

    /// @notice Ends a grant now: `canAccess` is false for it from the next block on.
    /// @dev Requires the caller to be the patient or their delegate, and the grant active. Emits {GrantRevoked}.
    /// @param grantId The grant to end.
    function revoke(uint256 grantId) external {
        Grant storage g = _grants[grantId];
        if (g.patient == address(0)) revert ConsentUnknownGrant(grantId);
        _checkGrantor(g.patient);
        if (!_isActive(g)) revert ConsentGrantInactive(grantId);
        g.revokedAt = uint40(block.timestamp);
        emit GrantRevoked(grantId, g.patient, g.grantee, msg.sender);
    }

    /// @notice The successor of a recovered or rotated account takes over some of its active grants, same ids and terms.
    /// @dev Requires the caller to be `MedicalRecord.successorOf(from)`, and each grant to be `from`'s,
    /// active, and not for the caller. The successor picks the grants: after a rotation for a stolen
    /// key, it leaves out any grant the thief made. Emits {GrantMoved} for each, in order.
    /// @param from The retired account.
    /// @param grantIds The grants to take over.
    function moveGrants(address from, uint256[] calldata grantIds) external {
        if (records.successorOf(from) != msg.sender || msg.sender == address(0)) revert ConsentUnauthorized(msg.sender, from);
        for (uint256 i; i < grantIds.length; ++i) {
            uint256 grantId = grantIds[i];
            Grant storage g = _grants[grantId];
            if (g.patient != from) revert ConsentNotGrantOf(grantId, from);
            if (!_isActive(g)) revert ConsentGrantInactive(grantId);
            address grantee = g.grantee;
            if (grantee == msg.sender) revert ConsentInvalidGrant();
            g.patient = msg.sender;
            _grantsByGrantee[msg.sender][grantee].push(grantId);
            _grantsByPatient[msg.sender].push(grantId);
            emit GrantMoved(grantId, from, msg.sender);
        }
    }

    // ---------------------------------------------------------------- delegates

    /// @notice Names a delegate (a guardian or carer) who may grant and revoke for the caller.
    /// @dev A delegate can do nothing else: not transfer, amend, or name delegates. Emits {DelegateAdded}.
    /// @param delegate The account to name.
    function addDelegate(address delegate) external {
        if (delegate == address(0) || delegate == msg.sender) revert ConsentInvalidGrant();
        _delegates[msg.sender][delegate] = true;
        emit DelegateAdded(msg.sender, delegate);
    }

    /// @notice Removes a delegate at once.
    /// @dev Emits {DelegateRemoved}.
    /// @param delegate The account to remove.
    function removeDelegate(address delegate) external {
        delete _delegates[msg.sender][delegate];
        emit DelegateRemoved(msg.sender, delegate);
    }

    // ---------------------------------------------------------------- break-glass

    /// @notice Lets the registrar flag or unflag a provider for emergency (break-glass) access.
    /// @dev Requires the caller to hold the registry's REGISTRAR_ROLE. Emits {EmergencyProviderSet}.
    /// @param provider The provider.
    /// @param allowed Whether it may open emergency windows.
    function setEmergencyProvider(address provider, bool allowed) external {
        if (!registry.hasRole(registry.REGISTRAR_ROLE(), msg.sender)) revert ConsentNotRegistrar(msg.sender);
        _emergencyProviders[provider] = allowed;
        emit EmergencyProviderSet(provider, allowed);
    }

    /// @notice Opens a 24-hour window on `patient`'s non-sensitive records for the calling provider, without the patient.
    /// @dev Requires an active provider flagged for emergencies and no window still open for this
    /// pair (never silently renewable). The reason text stays off chain; its hash is logged. Emits {EmergencyAccessOpened}.
    /// @param patient The patient in need of care.
    /// @param reasonHash keccak256 of the stated reason, kept in the off-chain audit log.
    /// @return until When the window closes.
    function openEmergency(address patient, bytes32 reasonHash) external returns (uint40 until) {
        if (!_emergencyProviders[msg.sender] || !registry.isActive(msg.sender)) {
            revert ConsentNotEmergencyProvider(msg.sender);
        }
        uint40 current = _emergencyUntil[patient][msg.sender];
        if (current > block.timestamp) revert ConsentEmergencyAlreadyOpen(patient, msg.sender, current);
        until = uint40(block.timestamp) + EMERGENCY_WINDOW;
        _emergencyUntil[patient][msg.sender] = until;
        emit EmergencyAccessOpened(patient, msg.sender, until, reasonHash);
    }

    // ---------------------------------------------------------------- views

    /// @notice Whether `reader` may read record `tokenId` now: its owner, an active grant covering it, or an open break-glass window on a non-sensitive record.
    /// @param reader The account asking.
    /// @param tokenId The record; false if it does not exist or was erased (for everyone, its owner too).
    function canAccess(address reader, uint256 tokenId) external view returns (bool) {
        (address owner, uint8 category, uint8 sensitivity, bool erased) = records.accessInfo(tokenId);
        if (owner == address(0) || erased) return false;
        if (reader == owner) return true;
        if (
            sensitivity == 0 && _emergencyUntil[owner][reader] > block.timestamp && _emergencyProviders[reader]
                && registry.isActive(reader)
        ) return true;
        uint256[] storage ids = _grantsByGrantee[owner][reader];
        for (uint256 i; i < ids.length; ++i) {
            if (_covers(ids[i], tokenId, category, sensitivity)) return true;
        }
        return false;
    }

    /// @notice Whether grant `grantId` is active and covers record `tokenId` (never an erased record).
    /// @dev Reverts with ERC721NonexistentToken for a token that does not exist.
    /// @param grantId The grant.
    /// @param tokenId The record.
    function grantCovers(uint256 grantId, uint256 tokenId) external view returns (bool) {
        (address owner, uint8 category, uint8 sensitivity, bool erased) = _recordInfo(tokenId);
        return !erased && _grants[grantId].patient == owner && _covers(grantId, tokenId, category, sensitivity);
    }

    /// @notice Grantees whose active category or "all" grants would cover a new record of `patient` with this category and sensitivity.
    /// @dev Used by an issuer to wrap a new record's key to them at issue time, so the patient need not be online.
    /// @param patient The patient.
    /// @param category The new record's category code.
    /// @param sensitivity The new record's sensitivity flags.
    function granteesFor(address patient, uint8 category, uint8 sensitivity) external view returns (address[] memory grantees) {
        uint256[] storage ids = _grantsByPatient[patient];
        grantees = new address[](ids.length);
        uint256 n;
        for (uint256 i; i < ids.length; ++i) {
            Grant storage g = _grants[ids[i]];
            if (g.scope != Scope.Records && _isActive(g) && _coversClass(g, category, sensitivity)) grantees[n++] = g.grantee;
        }
        // Shortens the array to the grantees found, instead of copying them into a second one.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            mstore(grantees, n)
        }
    }

    /// @notice A grant's terms and state.
    /// @param grantId The grant.
    function grantOf(uint256 grantId) external view returns (Grant memory) {
        return _grants[grantId];
    }

    /// @notice Whether `grantId` is active (not revoked, not expired).
    /// @param grantId The grant.
    function isActive(uint256 grantId) external view returns (bool) {
        return _isActive(_grants[grantId]);
    }

    /// @notice Every grant a patient ever gave or took over, oldest first (a moved grant stays listed under its old patient too; `grantOf` names its patient now).
    /// @param patient The patient.
    function grantsOf(address patient) external view returns (uint256[] memory) {
        return _grantsByPatient[patient];
    }

    /// @notice Whether `delegate` may grant and revoke for `patient`.
    /// @param patient The patient.
    /// @param delegate The account.
    function isDelegate(address patient, address delegate) external view returns (bool) {
        return _delegates[patient][delegate];
    }

    /// @notice Whether `provider` may open break-glass windows.
    /// @param provider The provider.
    function isEmergencyProvider(address provider) external view returns (bool) {
        return _emergencyProviders[provider];
    }

    /// @notice When the break-glass window of `provider` on `patient` closes (0 if never opened).
    /// @param patient The patient.
    /// @param provider The provider.
    function emergencyUntil(address patient, address provider) external view returns (uint40) {
        return _emergencyUntil[patient][provider];
    }

    /// @notice The id the most recent grant got (grants are numbered from 1).
    function lastGrantId() external view returns (uint256) {
        return _lastGrantId;
    }

    // ---------------------------------------------------------------- internals

    /// @dev A record's owner, category, flags and erasure in one call; reverts like `ownerOf` for a token that does not exist.
    function _recordInfo(uint256 tokenId) private view returns (address owner, uint8 category, uint8 sensitivity, bool erased) {
        (owner, category, sensitivity, erased) = records.accessInfo(tokenId);
        if (owner == address(0)) revert IERC721Errors.ERC721NonexistentToken(tokenId);
    }

    function _checkGrantor(address patient) private view {
        if (msg.sender != patient && !_delegates[patient][msg.sender]) revert ConsentUnauthorized(msg.sender, patient);
        address successor = records.successorOf(patient);
        if (successor != address(0)) revert ConsentAccountRetired(patient, successor);
    }

    function _isActive(Grant storage g) private view returns (bool) {
        return g.patient != address(0) && g.revokedAt == 0 && g.expiresAt > block.timestamp;
    }

    function _covers(uint256 grantId, uint256 tokenId, uint8 category, uint8 sensitivity) private view returns (bool) {
        Grant storage g = _grants[grantId];
        if (!_isActive(g)) return false;
        if (g.scope == Scope.Records) return _grantRecords[grantId][tokenId];
        return _coversClass(g, category, sensitivity);
    }

    function _coversClass(Grant storage g, uint8 category, uint8 sensitivity) private view returns (bool) {
        return g.categories & (uint32(1) << category) != 0 && sensitivity & ~g.sensitive == 0;
    }

    /// @dev The sensitivity flags of the sensitive categories named in a category bitmask
    /// (codes 5-8: mental-health, substance-use, sexual-health, genetic map to flags 1, 2, 4, 8).
    function _namedFlags(uint32 categories) private pure returns (uint8) {
        return uint8((categories >> 5) & 0x0f);
    }
}
