// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {IMedicalRecord} from "./interfaces/IMedicalRecord.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";
import {MedicalRecordRecovery} from "./MedicalRecordRecovery.sol";

/// @dev ERC-5192: minimal soulbound NFTs.
interface IERC5192 {
    event Locked(uint256 tokenId);
    event Unlocked(uint256 tokenId);

    function locked(uint256 tokenId) external view returns (bool);
}

/// @title MedicalRecord
/// @notice One non-transferable ERC-721 token per medical document, owned by the patient.
/// @dev The token holds no personal data and nothing about care: a salted commitment to the
/// content, the SHA-256 digest and codec of the ciphertext's CIDv1, the issuer, the issue time, the
/// token it amends, and a blinded category tag. The tag is 8 bytes of an HMAC under a secret only the
/// patient holds, over the record's category and sensitivity flags (src/core/categoryTags.ts), so it
/// differs between patients and tells a stranger nothing; the patient shares the mapping with the
/// providers and grantees they choose, off chain. The contract never learns a category: it keeps
/// sensitive records out of "all" grants and break-glass by the patient's own list of open tags
/// (ConsentRegistry.setOpenTags).
///
/// Patient consent to a mint comes in two forms, and both are kept on purpose:
/// - an EIP-712 `MintConsent` signature per record (nonce, deadline, chain id, contract), for the
///   usual case where the patient is present when a provider issues a document;
/// - a standing authorisation `authorizeProvider(provider, until)`, for a treating provider that
///   issues results while the patient is away (a lab posting results overnight), and the only
///   form `mintBatch` accepts (a bulk import of a patient's history).
/// `_checkIssuer` and `_checkStanding` (through `_checkConsent` for single mints) guard every mint,
/// and every token is created by `_issue`; nothing else mints. The signature covers the category tag
/// as well as the content commitment, so a provider cannot relabel a psychiatric note as a lab
/// result under the patient's consent.
///
/// Erasure (GDPR art. 17, by crypto-shredding): the patient marks a record erased with {erase} or
/// {eraseBatch}, both through `_erase`. Off chain, medvault then destroys every wrapped copy of the
/// record key and the ciphertext; on chain the token stays (its salted commitment now points to
/// nothing anyone can open), can no longer be amended, and ConsentRegistry neither grants it nor
/// lets anyone read it.
///
/// Key recovery and rotation: the only moves a locked token allows, both through
/// `_recoveryTransfer`. A patient names up to MAX_GUARDIANS guardians, a threshold k and a delay of
/// at least MIN_RECOVERY_DELAY ({setGuardians}). When k guardians approve the same new account
/// ({approveRecovery}, or {approveRecoveryBySig} for a guardian without funds or on paper), a
/// recovery is pending; the old key can cancel it until the delay ends ({cancelRecovery}), against
/// colluding guardians or a thief who convinced them. After the delay anyone moves the tokens in
/// pages ({executeRecovery}), so no patient holds too many records to recover. Rotation is the same
/// move started by the current key, without guardians or delay ({rotate}). Once every token has
/// moved, the old account is retired for good: `successorOf(old)` names the new one, no record can
/// be minted to the old account, and ConsentRegistry lets the successor take over its grants and
/// refuses the old key any grant.
contract MedicalRecord is ERC721, EIP712, Nonces, IERC5192, IMedicalRecord, MedicalRecordRecovery {
    using Strings for uint256;

    /// @notice Most records one {mintBatch} call may mint (about 12M gas at ~117k per record).
    uint256 public constant MAX_BATCH_SIZE = 100;

    bytes32 private constant MINT_CONSENT_TYPEHASH = keccak256(
        "MintConsent(address patient,address provider,bytes32 commitment,bytes8 tag,uint256 supersedes,uint256 nonce,uint256 deadline)"
    );

    /// @dev Packed into four slots; the fourth is only written by an amendment, an erasure, or a
    /// CID codec other than raw. `issuedAt` is a uint32 (enough until 2106) so that the tag fits
    /// beside the issuer.
    struct Record {
        bytes32 commitment;
        bytes32 cidDigest;
        address issuer;
        uint32 issuedAt;
        bytes8 tag;
        uint64 supersedes;
        uint64 supersededBy;
        // In the slot of the amendment links, so the checks that read those get it warm.
        uint40 erasedAt;
        // Stored as `codec ^ RAW_CODEC`, so the usual raw codec leaves the fourth slot unwritten.
        uint8 cidCodecDelta;
    }

    /// @notice What a provider asks to mint. `cidCodec` and `cidDigest` describe a CIDv1 with a sha2-256 multihash.
    struct MintRequest {
        address patient;
        bytes32 commitment;
        bytes32 cidDigest;
        uint8 cidCodec;
        bytes8 tag;
    }

    /// @dev The multicodec of medvault's ciphertext CIDs (raw bytes); see `Record.cidCodecDelta`.
    uint8 private constant RAW_CODEC = 0x55;

    IProviderRegistry public immutable registry;

    mapping(uint256 tokenId => Record) private _records;
    mapping(address patient => mapping(address provider => uint64 until)) private _authorizations;
    mapping(address account => bytes32 key) private _encryptionKeys;
    uint64 private _lastTokenId;
    // Set only for the duration of one `_recoveryTransfer`; transient, so it costs no storage write.
    bool private transient _recovering;

    /// @notice The caller is not an active provider in the registry.
    error MedicalRecordInactiveIssuer(address issuer);
    /// @notice The patient's consent signature is missing, malformed, from someone else, or was already used.
    error MedicalRecordInvalidConsent(address patient, address provider);
    /// @notice Zero commitment, CID or tag, or an unsupported codec.
    error MedicalRecordInvalidRequest();
    /// @notice Record tokens cannot be transferred, approved or burnt.
    error MedicalRecordSoulbound(uint256 tokenId);
    /// @notice The record was already amended; amend its newest version instead.
    error MedicalRecordAlreadyAmended(uint256 tokenId, uint256 supersededBy);
    /// @notice An amendment must be for the same patient as the record it amends.
    error MedicalRecordPatientMismatch(uint256 tokenId, address patient);
    /// @notice {mintBatch} was called with no requests.
    error MedicalRecordEmptyBatch();
    /// @notice Only the record's patient may erase it; `caller` is not its owner.
    error MedicalRecordNotOwner(uint256 tokenId, address caller);
    /// @notice The record was erased at `erasedAt`; it cannot be erased again or amended.
    error MedicalRecordErased(uint256 tokenId, uint40 erasedAt);
    /// @notice Only the provider that issued a record may correct it; `caller` did not issue `tokenId`.
    error MedicalRecordNotIssuer(uint256 tokenId, address caller);
    event RecordIssued(
        uint256 indexed tokenId,
        address indexed patient,
        address indexed issuer,
        bytes32 commitment,
        bytes32 cidDigest,
        uint8 cidCodec,
        bytes8 tag,
        uint256 supersedes
    );
    event RecordAmended(uint256 indexed tokenId, uint256 indexed supersededBy);
    event RecordErased(uint256 indexed tokenId, address indexed patient);
    event ProviderAuthorized(address indexed patient, address indexed provider, uint64 until);
    event ProviderAuthorizationRevoked(address indexed patient, address indexed provider);
    event EncryptionKeySet(address indexed account, bytes32 key);
    /// @param registry_ The provider registry consulted on every mint.
    constructor(IProviderRegistry registry_) ERC721("medvault record", "MVR") EIP712("medvault", "1") {
        registry = registry_;
    }

    // ---------------------------------------------------------------- minting

    /// @notice Mints a record token to `request.patient`, issued by the caller.
    /// @dev Requires the caller to be an active provider and the patient's consent: a valid EIP-712
    /// `MintConsent` signature (`consent` non-empty) or a standing authorisation (`consent` empty).
    /// Emits {RecordIssued} and {Locked}.
    /// @param request The record's on-chain fields.
    /// @param deadline Last second at which `consent` is valid (ignored for standing authorisations).
    /// @param consent The patient's EIP-712 signature, or empty to rely on `authorizeProvider`.
    /// @return tokenId The new token.
    function mint(MintRequest calldata request, uint256 deadline, bytes calldata consent)
        external
        returns (uint256 tokenId)
    {
        _checkConsent(request, 0, deadline, consent);
        tokenId = _issue(request, 0);
    }

    /// @notice Mints one record token per request, all issued by the caller under standing authorisations.
    /// @dev For bulk imports of a patient's history, where one signature per record is not practical.
    /// Requires: the caller is an active provider; 1 to `MAX_BATCH_SIZE` requests; every request's
    /// patient has authorised the caller ({authorizeProvider}) until now or later; every request
    /// passes the same checks as in {mint}. All or nothing: one refused request reverts the batch.
    /// Token ids are consecutive from `firstTokenId`, in request order. Emits {Transfer},
    /// {RecordIssued} and {Locked} for each record, in request order.
    /// @param requests The records' on-chain fields.
    /// @return firstTokenId The token of `requests[0]`; request `i` gets `firstTokenId + i`.
    function mintBatch(MintRequest[] calldata requests) external returns (uint256 firstTokenId) {
        uint256 count = requests.length;
        if (count == 0) revert MedicalRecordEmptyBatch();
        if (count > MAX_BATCH_SIZE) revert MedicalRecordBatchTooLarge(count, MAX_BATCH_SIZE);
        _checkIssuer();
        firstTokenId = _lastTokenId + 1;
        for (uint256 i; i < count; ++i) {
            MintRequest calldata request = requests[i];
            // Consecutive requests for the same patient share one authorisation check.
            if (i == 0 || request.patient != requests[i - 1].patient) _checkStanding(request.patient);
            _issue(request, 0);
        }
    }

    /// @notice Mints a correction of `tokenId`; the old token is marked amended and stays readable.
    /// @dev Same requirements as {mint}, plus: `tokenId` exists, is not yet amended, is not erased,
    /// belongs to `request.patient` and was issued by the caller (another provider adds a record of its
    /// own; a standing authorisation to issue is no licence to supersede someone else's). Emits {RecordIssued}, {Locked} and {RecordAmended}.
    /// @param tokenId The record being corrected.
    /// @param request The correction's on-chain fields.
    /// @param deadline Last second at which `consent` is valid.
    /// @param consent The patient's EIP-712 signature (with `supersedes = tokenId`), or empty.
    /// @return newTokenId The correction's token.
    function amend(uint256 tokenId, MintRequest calldata request, uint256 deadline, bytes calldata consent)
        external
        returns (uint256 newTokenId)
    {
        address owner = _requireOwned(tokenId);
        if (owner != request.patient) revert MedicalRecordPatientMismatch(tokenId, request.patient);
        Record storage old = _records[tokenId];
        if (old.supersededBy != 0) revert MedicalRecordAlreadyAmended(tokenId, old.supersededBy);
        if (old.erasedAt != 0) revert MedicalRecordErased(tokenId, old.erasedAt);
        _checkConsent(request, tokenId, deadline, consent);
        if (old.issuer != msg.sender) revert MedicalRecordNotIssuer(tokenId, msg.sender);
        newTokenId = _issue(request, uint64(tokenId));
        old.supersededBy = uint64(newTokenId);
        emit RecordAmended(tokenId, newTokenId);
    }

    // ---------------------------------------------------------------- erasure

    /// @notice Marks the caller's record `tokenId` erased (GDPR art. 17): from now on nobody may read it
    /// ({ConsentRegistry-canAccess} is false for everyone), grant it or amend it.
    /// @dev Requires `tokenId` to exist, be owned by the caller and not be erased yet. The token stays
    /// with the patient; only its erasure time is written. Emits {RecordErased}.
    /// @param tokenId The record to erase.
    function erase(uint256 tokenId) external {
        _erase(tokenId);
    }

    /// @notice Marks several of the caller's records erased, all or nothing.
    /// @dev Requires 1 to `MAX_BATCH_SIZE` tokens, each meeting the requirements of {erase} (so no
    /// token may appear twice). Emits {RecordErased} for each, in order.
    /// @param tokenIds The records to erase.
    function eraseBatch(uint256[] calldata tokenIds) external {
        uint256 count = tokenIds.length;
        if (count == 0) revert MedicalRecordEmptyBatch();
        if (count > MAX_BATCH_SIZE) revert MedicalRecordBatchTooLarge(count, MAX_BATCH_SIZE);
        for (uint256 i; i < count; ++i) {
            _erase(tokenIds[i]);
        }
    }

    // ---------------------------------------------------------------- patient settings

    /// @notice Lets `provider` mint records to the caller without a per-record signature until `until`.
    /// @dev Emits {ProviderAuthorized}. Pass a past `until` (or call {revokeProvider}) to end it.
    /// @param provider The provider to authorise.
    /// @param until Unix time at which the authorisation ends.
    function authorizeProvider(address provider, uint64 until) external {
        _authorizations[msg.sender][provider] = until;
        emit ProviderAuthorized(msg.sender, provider, until);
    }

    /// @notice Ends a standing authorisation at once.
    /// @dev Emits {ProviderAuthorizationRevoked}.
    /// @param provider The provider whose authorisation ends.
    function revokeProvider(address provider) external {
        delete _authorizations[msg.sender][provider];
        emit ProviderAuthorizationRevoked(msg.sender, provider);
    }

    /// @notice Publishes the caller's X25519 public key, to which record keys are wrapped.
    /// @dev Emits {EncryptionKeySet}.
    /// @param key The X25519 public key (32 bytes).
    function setEncryptionKey(bytes32 key) external {
        if (key == bytes32(0)) revert MedicalRecordInvalidRequest();
        _encryptionKeys[msg.sender] = key;
        emit EncryptionKeySet(msg.sender, key);
    }

    // ---------------------------------------------------------------- views

    /// @notice The on-chain fields of a record. Reverts for tokens that do not exist.
    /// @param tokenId The record.
    function recordOf(uint256 tokenId) external view returns (Record memory) {
        _requireOwned(tokenId);
        return _records[tokenId];
    }

    /// @notice When the record was erased (Unix time), or 0 if it was not. Reverts for tokens that do not exist.
    /// @param tokenId The record.
    function erasedAt(uint256 tokenId) external view returns (uint40) {
        _requireOwned(tokenId);
        return _records[tokenId].erasedAt;
    }

    /// @notice What an access check needs in one call: owner (zero if the token does not exist),
    /// blinded category tag, and whether the record was erased. Never reverts.
    /// @param tokenId The record.
    function accessInfo(uint256 tokenId) external view returns (address owner, bytes8 tag, bool erased) {
        owner = _ownerOf(tokenId);
        Record storage r = _records[tokenId];
        return (owner, r.tag, r.erasedAt != 0);
    }

    /// @notice The ciphertext's CIDv1 in binary form (version, codec, sha2-256 multihash).
    /// @param tokenId The record.
    function cidOf(uint256 tokenId) external view returns (bytes memory) {
        _requireOwned(tokenId);
        Record storage r = _records[tokenId];
        return abi.encodePacked(uint8(1), r.cidCodecDelta ^ RAW_CODEC, uint8(0x12), uint8(0x20), r.cidDigest);
    }

    /// @notice Until when `provider` may mint to `patient` without a signature (0 if never).
    /// @param patient The patient.
    /// @param provider The provider.
    function authorizationOf(address patient, address provider) external view returns (uint64) {
        return _authorizations[patient][provider];
    }

    /// @notice The X25519 public key `account` published (zero if none).
    /// @param account The account.
    function encryptionKeyOf(address account) external view returns (bytes32) {
        return _encryptionKeys[account];
    }

    /// @notice The id the most recent record got (tokens are numbered from 1).
    function lastTokenId() external view returns (uint256) {
        return _lastTokenId;
    }

    /// @notice The EIP-712 domain separator for consent and attestation signatures.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IMedicalRecord
    function successorOf(address account) public view override(IMedicalRecord, MedicalRecordRecovery) returns (address) {
        return super.successorOf(account);
    }

    /// @dev Recovery counts a patient's tokens to know when a move is complete.
    function _recordCount(address patient) internal view override returns (uint256) {
        return balanceOf(patient);
    }

    /// @notice ERC-5192: every record token is locked to its patient.
    /// @param tokenId The record; reverts if it does not exist.
    function locked(uint256 tokenId) external view returns (bool) {
        _requireOwned(tokenId);
        return true;
    }

    /// @notice A data: URI with the record number, issuer address, issue date and status (current, amended or erased).
    /// @dev Says nothing about care: no category, no sensitivity, not even the issuer's registered name
    /// (a clinic's name can say what it treats). Explorers and wallets index this text.
    /// @param tokenId The record.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        Record storage r = _records[tokenId];
        // JSON's own double quotes read best inside single-quoted literals.
        /* solhint-disable quotes */
        string memory json = string.concat(
            '{"name":"medvault record #',
            tokenId.toString(),
            '","description":"An encrypted medical record held by its patient. Content is off-chain and encrypted.",',
            '"attributes":[{"trait_type":"issuer","value":"',
            Strings.toHexString(r.issuer),
            '"},{"display_type":"date","trait_type":"issued","value":',
            uint256(r.issuedAt).toString(),
            '},{"trait_type":"status","value":"',
            r.erasedAt != 0 ? "erased" : r.supersededBy == 0 ? "current" : "amended",
            '"}]}'
        );
        /* solhint-enable quotes */
        return string.concat("data:application/json;base64,", Base64.encode(bytes(json)));
    }

    /// @inheritdoc ERC721
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IERC5192).interfaceId || super.supportsInterface(interfaceId);
    }

    // ---------------------------------------------------------------- non-transferability

    /// @notice Always reverts: record tokens are soulbound.
    function approve(address, uint256 tokenId) public pure override {
        revert MedicalRecordSoulbound(tokenId);
    }

    /// @notice Always reverts: record tokens are soulbound.
    function setApprovalForAll(address, bool) public pure override {
        revert MedicalRecordSoulbound(0);
    }

    /// @dev The one path for every ownership change. Mints pass; transfers and burns are refused
    /// unless `_recoveryTransfer` is moving the token.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = _ownerOf(tokenId);
        if (from != address(0) && !_recovering) revert MedicalRecordSoulbound(tokenId);
        return super._update(to, tokenId, auth);
    }

    /// @dev The only move a locked token allows, used by recovery and rotation alone.
    function _recoveryTransfer(address from, address to, uint256 tokenId) internal override {
        _recovering = true;
        _transfer(from, to, tokenId);
        _recovering = false;
    }

    // ---------------------------------------------------------------- internals

    function _checkConsent(MintRequest calldata request, uint256 supersedes, uint256 deadline, bytes calldata consent)
        private
    {
        _checkIssuer();
        if (consent.length == 0) {
            _checkStanding(request.patient);
            return;
        }
        _requireNotRetired(request.patient);
        if (block.timestamp > deadline) revert MedicalRecordConsentExpired(deadline);
        bytes32 digest = _hashTypedDataV4(
            keccak256(
                abi.encode(
                    MINT_CONSENT_TYPEHASH,
                    request.patient,
                    msg.sender,
                    request.commitment,
                    request.tag,
                    supersedes,
                    _useNonce(request.patient),
                    deadline
                )
            )
        );
        if (!SignatureChecker.isValidSignatureNow(request.patient, digest, consent)) {
            revert MedicalRecordInvalidConsent(request.patient, msg.sender);
        }
    }

    function _checkIssuer() private view {
        if (!registry.isActive(msg.sender)) revert MedicalRecordInactiveIssuer(msg.sender);
    }

    /// @dev A retired account's standing authorisations die with it: its records live under its successor now.
    function _checkStanding(address patient) private view {
        if (_authorizations[patient][msg.sender] < block.timestamp) revert MedicalRecordInvalidConsent(patient, msg.sender);
        _requireNotRetired(patient);
    }

    function _issue(MintRequest calldata request, uint64 supersedes) private returns (uint256 tokenId) {
        _checkRequest(request);
        tokenId = ++_lastTokenId;
        Record storage r = _records[tokenId];
        r.commitment = request.commitment;
        r.cidDigest = request.cidDigest;
        r.issuer = msg.sender;
        r.issuedAt = uint32(block.timestamp);
        r.tag = request.tag;
        uint8 codecDelta = request.cidCodec ^ RAW_CODEC;
        if (codecDelta != 0) r.cidCodecDelta = codecDelta;
        if (supersedes != 0) r.supersedes = supersedes;
        _mint(request.patient, tokenId);
        emit RecordIssued(
            tokenId,
            request.patient,
            msg.sender,
            request.commitment,
            request.cidDigest,
            request.cidCodec,
            request.tag,
            supersedes
        );
        emit Locked(tokenId);
    }

    /// @dev The one path for erasure: checks ownership and state, records the time, emits {RecordErased}.
    function _erase(uint256 tokenId) private {
        address owner = _requireOwned(tokenId);
        if (owner != msg.sender) revert MedicalRecordNotOwner(tokenId, msg.sender);
        Record storage r = _records[tokenId];
        uint40 erased = r.erasedAt;
        if (erased != 0) revert MedicalRecordErased(tokenId, erased);
        r.erasedAt = uint40(block.timestamp);
        emit RecordErased(tokenId, owner);
    }

    /// @dev Whether a tag names a valid category for its flags cannot be checked here (the contract
    /// cannot read tags); the patient's consent signature, or their standing authorisation of this
    /// issuer, covers it.
    function _checkRequest(MintRequest calldata request) private pure {
        if (
            request.commitment == bytes32(0) || request.cidDigest == bytes32(0) || request.tag == bytes8(0)
                || request.cidCodec >= 0x80
        ) revert MedicalRecordInvalidRequest();
    }
}
