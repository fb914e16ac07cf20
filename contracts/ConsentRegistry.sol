// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IMedicalRecord} from "./interfaces/IMedicalRecord.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";

/// @title ConsentRegistry
/// @notice Who may read which of a patient's records, until when and why; delegates; break-glass.
/// @dev A contract of its own rather than part of MedicalRecord: consent rules change more often
/// than the record format, the record contract stays small (EIP-170), and the coverage checks are
/// views that the server, other contracts and the key release all call.
///
/// A grant is one storage slot: the keccak256 hash of its terms ({Grant}: patient, grantee, expiry,
/// scope, purpose, and the records or tags it lists). {GrantCreated} carries the terms in full, and
/// every call about a grant ({grantCovers}, {canAccessWith}, {isActive}, {revoke}, {moveGrants}) passes
/// them back; the contract checks them against the hash. So a grant costs one new slot whatever it
/// lists, storage holds nothing a stranger can read about it, and revoking deletes the slot (a
/// refund). The price is that the contract cannot list grants: readers take them from the events
/// (src/consent/grants.ts, the indexer), and the contract stays the judge of each one.
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
/// Erased records (MedicalRecord.erase): no grant may name one, and no grant or window covers one.
///
/// Recovery and rotation (MedicalRecord.executeRecovery, MedicalRecord.rotate): a grant covers a
/// record only while its patient owns the record, so once a patient's records have moved, their
/// grants cover nothing until the successor takes over the ones it chooses with {moveGrants}. A
/// grant keeps its id, terms, listed records and expiry, so its grantee's key slips and access
/// carry on unchanged. For the same reason a retired account's grant covers nothing, and the
/// contract spends no call on refusing one; the client refuses it with a clear message. A retired
/// key can still revoke its grants that were not moved: they cover nothing by then, and its holder
/// could have revoked them before the move anyway. An expired grant keeps its slot (only an active
/// one can be revoked); it matches no call, since every check compares the expiry.
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

    /// @notice A grant's terms. Records scope lists `tokenIds` and no tags; Categories lists `tags`
    /// and no records; All lists no records and, optionally, sensitive tags it covers besides the
    /// patient's open ones.
    struct Grant {
        address patient;
        address grantee;
        uint40 expiresAt;
        Scope scope;
        Purpose purpose;
        uint256[] tokenIds;
        bytes8[] tags;
    }

    /// @notice Longest grant allowed: an expiry is required and bounded.
    uint40 public constant MAX_GRANT_DURATION = 3650 days;
    /// @notice Length of a break-glass window; it cannot be extended, only reopened after it ends.
    uint40 public constant EMERGENCY_WINDOW = 24 hours;
    /// @notice Most tags, or records, one grant may list; most tags one {setOpenTags} list may hold.
    uint256 public constant MAX_TAGS = 256;

    IMedicalRecord public immutable records;
    IProviderRegistry public immutable registry;

    /// @dev keccak256 of the grant's terms (see `_hash`); zero once revoked, and for ids never given.
    mapping(uint256 grantId => bytes32 termsHash) private _grants;
    mapping(address patient => mapping(bytes8 tag => bool)) private _openTags;
    mapping(address patient => mapping(address delegate => bool)) private _delegates;
    mapping(address provider => bool) private _emergencyProviders;
    mapping(address patient => mapping(address provider => uint40 until)) private _emergencyUntil;
    uint256 private _lastGrantId;

    /// @notice The caller is neither the patient nor a delegate the patient named.
    error ConsentUnauthorized(address caller, address patient);
    /// @notice Expiry missing, in the past, or beyond MAX_GRANT_DURATION.
    error ConsentInvalidExpiry(uint40 expiresAt);
    /// @notice Grantee is zero or the patient; no records or tags named, a list the scope does not take, a zero tag, or too many.
    error ConsentInvalidGrant();
    /// @notice A listed record does not belong to the patient.
    error ConsentNotOwner(uint256 tokenId, address patient);
    /// @notice A listed record was erased by its patient; it can never be shared again.
    error ConsentRecordErased(uint256 tokenId);
    /// @notice Only the patient may share sensitive records; a delegate's grant may not cover any.
    error ConsentDelegateCannotShareSensitive(address delegate, address patient);
    /// @notice The grant was revoked, has expired, never existed, or these are not its terms.
    error ConsentGrantInactive(uint256 grantId);
    /// @notice The caller is not a registrar.
    error ConsentNotRegistrar(address caller);
    /// @notice The caller is not an active provider flagged for emergency care.
    error ConsentNotEmergencyProvider(address provider);
    /// @notice A break-glass window for this patient and provider is still open; it cannot be renewed.
    error ConsentEmergencyAlreadyOpen(address patient, address provider, uint40 until);
    /// @notice The patient's records moved to `successor` (recovery or rotation); the old account can no longer change its open tags.
    error ConsentAccountRetired(address patient, address successor);
    /// @notice The grant is not one of `patient`'s, so it cannot be moved from them.
    error ConsentNotGrantOf(uint256 grantId, address patient);

    /// @notice A new grant and all its terms: the only place they are kept in full.
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

    /// @notice Grants `g.grantee` read access to some of `g.patient`'s records until `g.expiresAt`.
    /// @dev Requires the caller to be the patient or their delegate; `expiresAt` in the future and
    /// at most MAX_GRANT_DURATION away; a grantee neither zero nor the patient. Records scope: 1 to
    /// MAX_TAGS records, all owned by the patient and none erased, and no tags. Categories scope: 1
    /// to MAX_TAGS tags and no records. All scope: no records, and up to MAX_TAGS further tags. No
    /// tag zero. A delegate may name only open tags and records with an open tag. Stores the hash
    /// of the terms; emits {GrantCreated} with the terms in full.
    /// @param g The grant's terms.
    /// @return grantId The new grant.
    function grant(Grant calldata g) external returns (uint256 grantId) {
        address patient = g.patient;
        _checkGrantor(patient);
        if (g.expiresAt <= block.timestamp || g.expiresAt > block.timestamp + MAX_GRANT_DURATION) {
            revert ConsentInvalidExpiry(g.expiresAt);
        }
        if (g.grantee == address(0) || g.grantee == patient) revert ConsentInvalidGrant();
        // 42 CFR Part 2 and the psychotherapy-notes rule want the patient's own consent for sensitive
        // records: a guardian or carer may share everything else, never those.
        if (g.scope == Scope.Records) _checkRecords(patient, g);
        else _checkTags(patient, g);
        grantId = ++_lastGrantId;
        _grants[grantId] = _hash(g);
        emit GrantCreated(grantId, patient, g.grantee, msg.sender, g.scope, g.tokenIds, g.tags, g.expiresAt, g.purpose);
    }

    /// @notice Ends a grant now: nothing is covered by it from the next block on.
    /// @dev Requires `g` to be the grant's terms, the grant active, and the caller its patient or
    /// their delegate. Deletes the grant's slot. Emits {GrantRevoked}.
    /// @param grantId The grant to end.
    /// @param g Its terms, as {GrantCreated} gave them (with the patient a {moveGrants} gave it).
    function revoke(uint256 grantId, Grant calldata g) external {
        if (!_isActive(grantId, g)) revert ConsentGrantInactive(grantId);
        _checkGrantor(g.patient);
        delete _grants[grantId];
        emit GrantRevoked(grantId, g.patient, g.grantee, msg.sender);
    }

    /// @notice The successor of a recovered or rotated account takes over some of its active grants, same ids and terms.
    /// @dev Requires the caller to be `MedicalRecord.successorOf(from)`, as many terms as ids, and
    /// each grant to be `from`'s (its terms, with `from` as patient), active, and not for the
    /// caller. The successor picks the grants: after a rotation for a stolen key, it leaves out any
    /// grant the thief made. Emits {GrantMoved} for each, in order.
    /// @param from The retired account.
    /// @param grantIds The grants to take over.
    /// @param grants Their terms, in the same order.
    function moveGrants(address from, uint256[] calldata grantIds, Grant[] calldata grants) external {
        if (records.successorOf(from) != msg.sender || msg.sender == address(0)) revert ConsentUnauthorized(msg.sender, from);
        if (grantIds.length != grants.length) revert ConsentInvalidGrant();
        for (uint256 i; i < grantIds.length; ++i) {
            uint256 grantId = grantIds[i];
            Grant calldata g = grants[i];
            if (g.patient != from) revert ConsentNotGrantOf(grantId, from);
            if (!_isActive(grantId, g)) revert ConsentGrantInactive(grantId);
            if (g.grantee == msg.sender) revert ConsentInvalidGrant();
            _grants[grantId] = _hashFor(msg.sender, g);
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

    /// @notice Whether `reader` may read record `tokenId` now without a grant: its owner, or an open
    /// break-glass window on a record with an open tag.
    /// @param reader The account asking.
    /// @param tokenId The record; false if it does not exist or was erased (for everyone, its owner too).
    function canAccess(address reader, uint256 tokenId) external view returns (bool) {
        (address owner, bytes8 tag, bool erased) = records.accessInfo(tokenId);
        if (owner == address(0) || erased) return false;
        return reader == owner || _emergencyCovers(owner, reader, tag);
    }

    /// @notice Whether `reader` may read record `tokenId` now under grant `grantId` with terms `g`
    /// (or without it, as {canAccess}): the grant is active, is `reader`'s, and covers the record.
    /// @param reader The account asking.
    /// @param tokenId The record; false if it does not exist or was erased.
    /// @param grantId The grant the reader holds.
    /// @param g Its terms.
    function canAccessWith(address reader, uint256 tokenId, uint256 grantId, Grant calldata g) external view returns (bool) {
        (address owner, bytes8 tag, bool erased) = records.accessInfo(tokenId);
        if (owner == address(0) || erased) return false;
        if (reader == owner || _emergencyCovers(owner, reader, tag)) return true;
        return g.grantee == reader && g.patient == owner && _isActive(grantId, g) && _covers(g, tokenId, tag, owner);
    }

    /// @notice Whether grant `grantId` with terms `g` is active and covers record `tokenId` (never an erased record).
    /// @dev Reverts with ERC721NonexistentToken for a token that does not exist.
    /// @param grantId The grant.
    /// @param g Its terms.
    /// @param tokenId The record.
    function grantCovers(uint256 grantId, Grant calldata g, uint256 tokenId) external view returns (bool) {
        (address owner, bytes8 tag, bool erased) = records.accessInfo(tokenId);
        if (owner == address(0)) revert IERC721Errors.ERC721NonexistentToken(tokenId);
        return !erased && g.patient == owner && _isActive(grantId, g) && _covers(g, tokenId, tag, owner);
    }

    /// @notice Whether grant `grantId` has terms `g` and is active (not revoked, not expired).
    /// @param grantId The grant.
    /// @param g The terms to check.
    function isActive(uint256 grantId, Grant calldata g) external view returns (bool) {
        return _isActive(grantId, g);
    }

    /// @notice The hash a grant's slot holds while a grant with these terms is live (see {termsHashOf}).
    /// @param g The terms.
    function hashOf(Grant calldata g) external pure returns (bytes32) {
        return _hash(g);
    }

    /// @notice What grant `grantId`'s slot holds: the hash of its terms, or zero if it was revoked or never given.
    /// @param grantId The grant.
    function termsHashOf(uint256 grantId) external view returns (bytes32) {
        return _grants[grantId];
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

    /// @dev The Records scope of {grant}: 1 to MAX_TAGS records, each the patient's, not erased, open if a delegate grants; no tags.
    function _checkRecords(address patient, Grant calldata g) private view {
        uint256 count = g.tokenIds.length;
        if (count == 0 || count > MAX_TAGS || g.tags.length != 0) revert ConsentInvalidGrant();
        bool byDelegate = msg.sender != patient;
        for (uint256 i; i < count; ++i) {
            uint256 tokenId = g.tokenIds[i];
            (address owner, bytes8 tag, bool erased) = records.accessInfo(tokenId);
            if (owner == address(0)) revert IERC721Errors.ERC721NonexistentToken(tokenId);
            if (owner != patient) revert ConsentNotOwner(tokenId, patient);
            if (erased) revert ConsentRecordErased(tokenId);
            if (byDelegate && !_openTags[patient][tag]) revert ConsentDelegateCannotShareSensitive(msg.sender, patient);
        }
    }

    /// @dev The Categories and All scopes of {grant}: non-zero tags, open ones only if a delegate grants; no records.
    function _checkTags(address patient, Grant calldata g) private view {
        uint256 count = g.tags.length;
        if ((g.scope == Scope.Categories && count == 0) || count > MAX_TAGS || g.tokenIds.length != 0) revert ConsentInvalidGrant();
        bool byDelegate = msg.sender != patient;
        mapping(bytes8 tag => bool) storage open = _openTags[patient];
        for (uint256 i; i < count; ++i) {
            bytes8 tag = g.tags[i];
            if (tag == bytes8(0)) revert ConsentInvalidGrant();
            if (byDelegate && !open[tag]) revert ConsentDelegateCannotShareSensitive(msg.sender, patient);
        }
    }

    /// @dev A retired account's grant covers nothing (it owns no record), so no successor check is spent here.
    function _checkGrantor(address patient) private view {
        if (msg.sender != patient && !_delegates[patient][msg.sender]) revert ConsentUnauthorized(msg.sender, patient);
    }

    function _isActive(uint256 grantId, Grant calldata g) private view returns (bool) {
        bytes32 stored = _grants[grantId];
        return stored != bytes32(0) && stored == _hash(g) && g.expiresAt > block.timestamp;
    }

    /// @dev Whether an active grant's terms cover a record of theirs with this tag (the caller checked owner and erasure).
    function _covers(Grant calldata g, uint256 tokenId, bytes8 tag, address owner) private view returns (bool) {
        if (g.scope == Scope.Records) {
            for (uint256 i; i < g.tokenIds.length; ++i) {
                if (g.tokenIds[i] == tokenId) return true;
            }
            return false;
        }
        if (g.scope == Scope.All && _openTags[owner][tag]) return true;
        for (uint256 i; i < g.tags.length; ++i) {
            if (g.tags[i] == tag) return true;
        }
        return false;
    }

    function _emergencyCovers(address owner, address reader, bytes8 tag) private view returns (bool) {
        return _emergencyUntil[owner][reader] > block.timestamp && _openTags[owner][tag] && _emergencyProviders[reader]
            && registry.isActive(reader);
    }

    function _hash(Grant calldata g) private pure returns (bytes32) {
        return _hashFor(g.patient, g);
    }

    /// @dev The hash of `g`'s terms with `patient` as the patient (a moved grant's new terms): the
    /// static fields, then the hashes of the two lists, each element a 32-byte word as the ABI
    /// encodes it (what `abi.encodePacked` gives for arrays). The lists are hashed straight from
    /// calldata, without Solidity's copy to memory: a grant costs less than 60,000 gas with it
    /// (docs/benchmarks.md). A tag with dirty padding cannot be granted ({grant} reads each tag
    /// through the ABI decoder, which refuses it), and terms passed with one match no hash.
    function _hashFor(address patient, Grant calldata g) private pure returns (bytes32 hash) {
        uint256[] calldata tokenIds = g.tokenIds;
        bytes8[] calldata tags = g.tags;
        address grantee = g.grantee;
        uint40 expiresAt = g.expiresAt;
        Scope scope = g.scope;
        Purpose purpose = g.purpose;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let free := mload(0x40)
            let size := shl(5, tokenIds.length)
            calldatacopy(free, tokenIds.offset, size)
            let tokenIdsHash := keccak256(free, size)
            size := shl(5, tags.length)
            calldatacopy(free, tags.offset, size)
            let tagsHash := keccak256(free, size)
            // abi.encode(patient, grantee, expiresAt, scope, purpose, tokenIdsHash, tagsHash)
            mstore(free, patient)
            mstore(add(free, 0x20), grantee)
            mstore(add(free, 0x40), expiresAt)
            mstore(add(free, 0x60), scope)
            mstore(add(free, 0x80), purpose)
            mstore(add(free, 0xa0), tokenIdsHash)
            mstore(add(free, 0xc0), tagsHash)
            hash := keccak256(free, 0xe0)
        }
    }
}
