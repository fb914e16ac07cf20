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
/// Blinded categories: a record carries an opaque per-patient tag (MedicalRecord), never a category
/// or a sensitivity in clear, and so do grants. A category grant lists the tags it covers. Each
/// patient publishes the tags of their non-sensitive classes as "open" ({setOpenTags}); the tags
/// themselves say nothing, but note that the open list tells which of a patient's records are
/// sensitive as a class (docs/privacy.md, "What remains visible").
///
/// Sensitivity rule (42 CFR Part 2, HIPAA psychotherapy notes): an "all" grant and a break-glass
/// window cover only records with an open tag, plus (for an "all" grant) tags the patient listed
/// in it. A grant for listed records names them one by one, so it covers them whatever their tag.
/// So "all my records" never silently includes a psychiatric note or an HIV test. Only the patient
/// may share sensitive records at all: a delegate's grants may name open tags and records with an
/// open tag, nothing else.
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

    /// @dev Two slots; the tags a grant lists are kept apart, in `_grantTags`.
    struct Grant {
        address patient;
        uint40 createdAt;
        uint40 expiresAt;
        Scope scope;
        Purpose purpose;
        address grantee;
        uint40 revokedAt;
    }

    /// @notice Longest grant allowed: an expiry is required and bounded.
    uint40 public constant MAX_GRANT_DURATION = 3650 days;
    /// @notice Length of a break-glass window; it cannot be extended, only reopened after it ends.
    uint40 public constant EMERGENCY_WINDOW = 24 hours;
    /// @notice Most tags one grant, or one {setOpenTags} call, may list.
    uint256 public constant MAX_TAGS = 256;

    IMedicalRecord public immutable records;
    IProviderRegistry public immutable registry;

    mapping(uint256 grantId => Grant) private _grants;
    mapping(uint256 grantId => mapping(uint256 tokenId => bool)) private _grantRecords;
    mapping(uint256 grantId => mapping(bytes8 tag => bool)) private _grantTags;
    mapping(address patient => mapping(bytes8 tag => bool)) private _openTags;
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
    /// @notice Grantee is zero or the patient; no records or tags named, a zero tag, or too many tags.
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
        bytes8[] tags,
        uint40 expiresAt,
        Purpose purpose
    );
    event GrantRevoked(uint256 indexed grantId, address indexed patient, address indexed grantee, address revokedBy);
    event GrantMoved(uint256 indexed grantId, address indexed from, address indexed to);
    event DelegateAdded(address indexed patient, address indexed delegate);
    event DelegateRemoved(address indexed patient, address indexed delegate);
    event EmergencyProviderSet(address indexed provider, bool allowed);
    event EmergencyAccessOpened(address indexed patient, address indexed provider, uint40 until, bytes32 reasonHash);
    event OpenTagsChanged(address indexed patient, bytes8[] opened, bytes8[] closed);

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
    /// patient and none erased. Categories scope: `tags` non-empty. All scope: every record with an
    /// open tag, plus `tags`. At most MAX_TAGS tags, none zero. A delegate may name only open tags
    /// and records with an open tag. Emits {GrantCreated}.
    /// @param patient Whose records.
    /// @param grantee Who may read them.
    /// @param scope Listed records, categories (as the patient's tags), or all records.
    /// @param tokenIds The records (Records scope; ignored otherwise).
    /// @param tags The patient's category tags covered (Categories scope; extra tags for All; ignored for Records).
    /// @param expiresAt Unix time at which access ends.
    /// @param purpose Why access is given.
    /// @return grantId The new grant.
    function grant(
        address patient,
        address grantee,
        Scope scope,
        uint256[] calldata tokenIds,
        bytes8[] calldata tags,
        uint40 expiresAt,
        Purpose purpose
    ) external returns (uint256 grantId) {
        _checkGrantor(patient);
        if (expiresAt <= block.timestamp || expiresAt > block.timestamp + MAX_GRANT_DURATION) {
            revert ConsentInvalidExpiry(expiresAt);
        }
        if (grantee == address(0) || grantee == patient) revert ConsentInvalidGrant();
        grantId = ++_lastGrantId;
        // 42 CFR Part 2 and the psychotherapy-notes rule want the patient's own consent for sensitive
        // records: a guardian or carer may share everything else, never those.
        if (scope == Scope.Records) _listRecords(grantId, patient, tokenIds);
        else _listTags(grantId, patient, scope, tags);
        _grants[grantId] = Grant({
            patient: patient,
            createdAt: uint40(block.timestamp),
            expiresAt: expiresAt,
            scope: scope,
            purpose: purpose,
            grantee: grantee,
            revokedAt: 0
        });
        _grantsByGrantee[patient][grantee].push(grantId);
        _grantsByPatient[patient].push(grantId);
        _emitGrantCreated(grantId, patient, grantee, scope, tokenIds, tags, expiresAt, purpose);
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

    // ---------------------------------------------------------------- open tags

    /// @notice Marks some of the caller's category tags open (non-sensitive) and others not.
    /// @dev Only the patient, never a delegate: a delegate that opened a sensitive tag would hand it to
    /// every "all" grant and break-glass window. A retired account may not. Closing applies after
    /// opening, so a tag in both lists ends closed. At most MAX_TAGS tags per list. Emits {OpenTagsChanged}.
    /// @param opened Tags to mark open.
    /// @param closed Tags to mark not open.
    function setOpenTags(bytes8[] calldata opened, bytes8[] calldata closed) external {
        if (opened.length > MAX_TAGS || closed.length > MAX_TAGS) revert ConsentInvalidGrant();
        address successor = records.successorOf(msg.sender);
        if (successor != address(0)) revert ConsentAccountRetired(msg.sender, successor);
        mapping(bytes8 tag => bool) storage open = _openTags[msg.sender];
        for (uint256 i; i < opened.length; ++i) {
            if (opened[i] == bytes8(0)) revert ConsentInvalidGrant();
            open[opened[i]] = true;
        }
        for (uint256 i; i < closed.length; ++i) {
            delete open[closed[i]];
        }
        emit OpenTagsChanged(msg.sender, opened, closed);
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

    /// @notice Opens a 24-hour window on `patient`'s records with an open tag for the calling provider, without the patient.
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

    /// @notice Whether `reader` may read record `tokenId` now: its owner, an active grant covering it, or an open break-glass window on a record with an open tag.
    /// @param reader The account asking.
    /// @param tokenId The record; false if it does not exist or was erased (for everyone, its owner too).
    function canAccess(address reader, uint256 tokenId) external view returns (bool) {
        (address owner, bytes8 tag, bool erased) = records.accessInfo(tokenId);
        if (owner == address(0) || erased) return false;
        if (reader == owner) return true;
        bool open = _openTags[owner][tag];
        if (
            open && _emergencyUntil[owner][reader] > block.timestamp && _emergencyProviders[reader]
                && registry.isActive(reader)
        ) return true;
        uint256[] storage ids = _grantsByGrantee[owner][reader];
        for (uint256 i; i < ids.length; ++i) {
            if (_covers(ids[i], tokenId, tag, open)) return true;
        }
        return false;
    }

    /// @notice Whether grant `grantId` is active and covers record `tokenId` (never an erased record).
    /// @dev Reverts with ERC721NonexistentToken for a token that does not exist.
    /// @param grantId The grant.
    /// @param tokenId The record.
    function grantCovers(uint256 grantId, uint256 tokenId) external view returns (bool) {
        (address owner, bytes8 tag, bool erased) = _recordInfo(tokenId);
        return !erased && _grants[grantId].patient == owner && _covers(grantId, tokenId, tag, _openTags[owner][tag]);
    }

    /// @notice Grantees whose active category or "all" grants would cover a new record of `patient` with this tag.
    /// @dev Used by an issuer to wrap a new record's key to them at issue time, so the patient need not be online.
    /// @param patient The patient.
    /// @param tag The new record's category tag.
    function granteesFor(address patient, bytes8 tag) external view returns (address[] memory grantees) {
        uint256[] storage ids = _grantsByPatient[patient];
        grantees = new address[](ids.length);
        bool open = _openTags[patient][tag];
        uint256 n;
        for (uint256 i; i < ids.length; ++i) {
            uint256 grantId = ids[i];
            Grant storage g = _grants[grantId];
            // A moved grant stays listed under its old patient; only the current patient's count.
            if (g.scope != Scope.Records && g.patient == patient && _isActive(g) && _coversTag(grantId, g, tag, open)) {
                grantees[n++] = g.grantee;
            }
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

    /// @notice Whether `tag` is one of `patient`'s open (non-sensitive) tags.
    /// @param patient The patient.
    /// @param tag The tag.
    function isOpenTag(address patient, bytes8 tag) external view returns (bool) {
        return _openTags[patient][tag];
    }

    /// @notice Whether grant `grantId` lists `tag` (Categories and All scopes).
    /// @param grantId The grant.
    /// @param tag The tag.
    function grantListsTag(uint256 grantId, bytes8 tag) external view returns (bool) {
        return _grantTags[grantId][tag];
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

    /// @dev A record's owner, tag and erasure in one call; reverts like `ownerOf` for a token that does not exist.
    function _recordInfo(uint256 tokenId) private view returns (address owner, bytes8 tag, bool erased) {
        (owner, tag, erased) = records.accessInfo(tokenId);
        if (owner == address(0)) revert IERC721Errors.ERC721NonexistentToken(tokenId);
    }

    /// @dev The Records scope of {grant}: each record the patient's, not erased, open if a delegate grants.
    function _listRecords(uint256 grantId, address patient, uint256[] calldata tokenIds) private {
        if (tokenIds.length == 0) revert ConsentInvalidGrant();
        bool byDelegate = msg.sender != patient;
        for (uint256 i; i < tokenIds.length; ++i) {
            uint256 tokenId = tokenIds[i];
            (address owner, bytes8 tag, bool erased) = _recordInfo(tokenId);
            if (owner != patient) revert ConsentNotOwner(tokenId, patient);
            if (erased) revert ConsentRecordErased(tokenId);
            if (byDelegate && !_openTags[patient][tag]) revert ConsentDelegateCannotShareSensitive(msg.sender, patient);
            _grantRecords[grantId][tokenId] = true;
        }
    }

    /// @dev The Categories and All scopes of {grant}: non-zero tags, open ones only if a delegate grants.
    function _listTags(uint256 grantId, address patient, Scope scope, bytes8[] calldata tags) private {
        uint256 count = tags.length;
        if ((scope == Scope.Categories && count == 0) || count > MAX_TAGS) revert ConsentInvalidGrant();
        bool byDelegate = msg.sender != patient;
        mapping(bytes8 tag => bool) storage open = _openTags[patient];
        for (uint256 i; i < count; ++i) {
            bytes8 tag = tags[i];
            if (tag == bytes8(0)) revert ConsentInvalidGrant();
            if (byDelegate && !open[tag]) revert ConsentDelegateCannotShareSensitive(msg.sender, patient);
            _grantTags[grantId][tag] = true;
        }
    }

    /// @dev Apart from {grant} to keep its stack shallow.
    function _emitGrantCreated(
        uint256 grantId,
        address patient,
        address grantee,
        Scope scope,
        uint256[] calldata tokenIds,
        bytes8[] calldata tags,
        uint40 expiresAt,
        Purpose purpose
    ) private {
        bool listsRecords = scope == Scope.Records;
        emit GrantCreated(
            grantId,
            patient,
            grantee,
            msg.sender,
            scope,
            listsRecords ? tokenIds : new uint256[](0),
            listsRecords ? new bytes8[](0) : tags,
            expiresAt,
            purpose
        );
    }

    function _checkGrantor(address patient) private view {
        if (msg.sender != patient && !_delegates[patient][msg.sender]) revert ConsentUnauthorized(msg.sender, patient);
        address successor = records.successorOf(patient);
        if (successor != address(0)) revert ConsentAccountRetired(patient, successor);
    }

    function _isActive(Grant storage g) private view returns (bool) {
        return g.patient != address(0) && g.revokedAt == 0 && g.expiresAt > block.timestamp;
    }

    /// @dev `open`: whether `tag` is open for the record's owner, read once by the caller.
    function _covers(uint256 grantId, uint256 tokenId, bytes8 tag, bool open) private view returns (bool) {
        Grant storage g = _grants[grantId];
        if (!_isActive(g)) return false;
        if (g.scope == Scope.Records) return _grantRecords[grantId][tokenId];
        return _coversTag(grantId, g, tag, open);
    }

    function _coversTag(uint256 grantId, Grant storage g, bytes8 tag, bool open) private view returns (bool) {
        return (g.scope == Scope.All && open) || _grantTags[grantId][tag];
    }
}
