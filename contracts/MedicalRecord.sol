// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC721} from "solady/src/tokens/ERC721.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
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
/// @dev The token holds no personal data and nothing about care. Storage keeps, per record, one
/// slot: the owner, a blinded category tag and the issuer's registration number (Solady's ERC-721
/// packs 96 bits of extra data beside the owner), plus a status slot written only when the record is
/// amended or erased. What never changes after the mint (the salted commitment to the content, the
/// SHA-256 digest and codec of the ciphertext's CIDv1, the issue time, the token it amends) is in
/// the {RecordIssued} event only: logs are chain data every node keeps and serves, and a storage
/// slot per field would double the cost of a record (docs/privacy.md, docs/benchmarks.md). A
/// verifier reads the event and checks the content against its commitment off chain, as it always did.
/// The patient's signature nonce and, once retired, their successor share the slot of their balance.
/// The tag is 8 bytes of an HMAC under a secret only the
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
contract MedicalRecord is ERC721, EIP712, IERC5192, IMedicalRecord, MedicalRecordRecovery {
    using Strings for uint256;

    /// @notice Most records one {mintBatch} call may mint (about 3.5M gas at ~35k per record).
    uint256 public constant MAX_BATCH_SIZE = 100;

    bytes32 private constant MINT_CONSENT_TYPEHASH = keccak256(
        "MintConsent(address patient,address provider,bytes32 commitment,bytes8 tag,uint256 supersedes,uint256 nonce,uint256 deadline)"
    );

    /// @notice What a provider asks to mint. `cidCodec` and `cidDigest` describe a CIDv1 with a sha2-256 multihash.
    struct MintRequest {
        address patient;
        bytes32 commitment;
        bytes32 cidDigest;
        uint8 cidCodec;
        bytes8 tag;
    }

    /// @notice What storage holds of a record: who owns it, who issued it, its blinded tag, and what
    /// happened to it since. The rest is in its {RecordIssued} event.
    struct RecordState {
        address owner;
        address issuer;
        bytes8 tag;
        uint64 supersededBy;
        uint40 erasedAt;
    }

    /// @dev A record's one slot that may change after the mint, written only by an amendment or an erasure.
    struct Status {
        uint64 supersededBy;
        uint40 erasedAt;
    }

    IProviderRegistry public immutable registry;

    mapping(uint256 tokenId => Status) private _statuses;
    mapping(address patient => mapping(address provider => uint64 until)) private _authorizations;
    mapping(address account => bytes32 key) private _encryptionKeys;
    uint64 private _lastTokenId;

    /// @notice The token does not exist.
    error ERC721NonexistentToken(uint256 tokenId);
    /// @notice `sender` does not own `tokenId`; `owner` does.
    error ERC721IncorrectOwner(address sender, uint256 tokenId, address owner);
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
    /// @notice The record's content fields, fixed at the mint. `issuedAt` is the block's time (a
    /// uint32 until 2106); `supersedes` is the token this one corrects, or 0.
    event RecordIssued(
        uint256 indexed tokenId,
        address indexed patient,
        address indexed issuer,
        bytes32 commitment,
        bytes32 cidDigest,
        uint8 cidCodec,
        bytes8 tag,
        uint256 supersedes,
        uint32 issuedAt
    );
    event RecordAmended(uint256 indexed tokenId, uint256 indexed supersededBy);
    event RecordErased(uint256 indexed tokenId, address indexed patient);
    event ProviderAuthorized(address indexed patient, address indexed provider, uint64 until);
    event ProviderAuthorizationRevoked(address indexed patient, address indexed provider);
    event EncryptionKeySet(address indexed account, bytes32 key);
    /// @param registry_ The provider registry consulted on every mint.
    constructor(IProviderRegistry registry_) EIP712("medvault", "1") {
        registry = registry_;
    }

    // ---------------------------------------------------------------- minting

    /// @notice Mints a record token to `request.patient`, issued by the caller.
    /// @dev Requires the caller to be an active provider and the patient's consent: a valid EIP-712
    /// `MintConsent` signature (`consent` non-empty) or a standing authorisation (`consent` empty).
    /// Emits {Transfer}, {RecordIssued} and {Locked}.
    /// @param request The record's on-chain fields.
    /// @param deadline Last second at which `consent` is valid (ignored for standing authorisations).
    /// @param consent The patient's EIP-712 signature, or empty to rely on `authorizeProvider`.
    /// @return tokenId The new token.
    function mint(MintRequest calldata request, uint256 deadline, bytes calldata consent)
        external
        returns (uint256 tokenId)
    {
        uint32 issuerId = _checkIssuer();
        _checkConsent(request, 0, deadline, consent);
        tokenId = _issue(request, 0, issuerId, ++_lastTokenId);
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
        uint32 issuerId = _checkIssuer();
        firstTokenId = _lastTokenId + 1;
        for (uint256 i; i < count; ++i) {
            MintRequest calldata request = requests[i];
            // Consecutive requests for the same patient share one authorisation check.
            if (i == 0 || request.patient != requests[i - 1].patient) _checkStanding(request.patient);
            _issue(request, 0, issuerId, firstTokenId + i);
        }
        // The counter is written once per batch, not once per record.
        _lastTokenId = uint64(firstTokenId + count - 1);
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
        Status storage old = _statuses[tokenId];
        if (old.supersededBy != 0) revert MedicalRecordAlreadyAmended(tokenId, old.supersededBy);
        if (old.erasedAt != 0) revert MedicalRecordErased(tokenId, old.erasedAt);
        uint32 issuerId = _checkIssuer();
        _checkConsent(request, tokenId, deadline, consent);
        if (uint32(_getExtraData(tokenId)) != issuerId) revert MedicalRecordNotIssuer(tokenId, msg.sender);
        newTokenId = _issue(request, uint64(tokenId), issuerId, ++_lastTokenId);
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

    /// @notice What storage holds of a record (owner, issuer, tag, amendment, erasure), in one call.
    /// Reverts for tokens that do not exist. The content fields are in its {RecordIssued} event.
    /// @param tokenId The record.
    function recordOf(uint256 tokenId) external view returns (RecordState memory) {
        address owner = _requireOwned(tokenId);
        uint96 extra = _getExtraData(tokenId);
        Status storage status = _statuses[tokenId];
        return RecordState({
            owner: owner,
            issuer: _issuerAddress(uint32(extra)),
            tag: bytes8(uint64(extra >> 32)),
            supersededBy: status.supersededBy,
            erasedAt: status.erasedAt
        });
    }

    /// @notice When the record was erased (Unix time), or 0 if it was not. Reverts for tokens that do not exist.
    /// @param tokenId The record.
    function erasedAt(uint256 tokenId) external view returns (uint40) {
        _requireOwned(tokenId);
        return _statuses[tokenId].erasedAt;
    }

    /// @notice What an access check needs in one call: owner (zero if the token does not exist),
    /// blinded category tag, and whether the record was erased. Never reverts.
    /// @param tokenId The record.
    function accessInfo(uint256 tokenId) external view returns (address owner, bytes8 tag, bool erased) {
        owner = _ownerOf(tokenId);
        tag = bytes8(uint64(_getExtraData(tokenId) >> 32));
        erased = _statuses[tokenId].erasedAt != 0;
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

    /// @notice The next nonce `patient` signs a `MintConsent` with.
    /// @param patient The patient.
    function nonces(address patient) external view returns (uint256) {
        return uint64(_getAux(patient));
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

    /// @notice The collection's name.
    function name() public pure override returns (string memory) {
        return "medvault record";
    }

    /// @notice The collection's symbol.
    function symbol() public pure override returns (string memory) {
        return "MVR";
    }

    /// @notice The owner of `tokenId`; reverts with {ERC721NonexistentToken} if it does not exist.
    /// @param tokenId The record.
    function ownerOf(uint256 tokenId) public view override returns (address) {
        return _requireOwned(tokenId);
    }

    /// @notice ERC-5192: every record token is locked to its patient.
    /// @param tokenId The record; reverts if it does not exist.
    function locked(uint256 tokenId) external view returns (bool) {
        _requireOwned(tokenId);
        return true;
    }

    /// @notice A data: URI with the record number, issuer address and status (current, amended or erased).
    /// @dev Says nothing about care: no category, no sensitivity, not even the issuer's registered name
    /// (a clinic's name can say what it treats). Explorers and wallets index this text. The issue date
    /// is the mint's block time (and in {RecordIssued}); storage does not keep it.
    /// @param tokenId The record.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        Status storage status = _statuses[tokenId];
        // JSON's own double quotes read best inside single-quoted literals.
        /* solhint-disable quotes */
        string memory json = string.concat(
            '{"name":"medvault record #',
            tokenId.toString(),
            '","description":"An encrypted medical record held by its patient. Content is off-chain and encrypted.",',
            '"attributes":[{"trait_type":"issuer","value":"',
            Strings.toHexString(_issuerAddress(uint32(_getExtraData(tokenId)))),
            '"},{"trait_type":"status","value":"',
            status.erasedAt != 0 ? "erased" : status.supersededBy == 0 ? "current" : "amended",
            '"}]}'
        );
        /* solhint-enable quotes */
        return string.concat("data:application/json;base64,", Base64.encode(bytes(json)));
    }

    /// @notice ERC-165: ERC-721, its metadata extension, and ERC-5192.
    /// @param interfaceId The interface to ask about.
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IERC5192).interfaceId || super.supportsInterface(interfaceId);
    }

    // ---------------------------------------------------------------- non-transferability

    /// @notice Always reverts: record tokens are soulbound.
    function approve(address, uint256 tokenId) public payable override {
        revert MedicalRecordSoulbound(tokenId);
    }

    /// @notice Always reverts: record tokens are soulbound.
    function setApprovalForAll(address, bool) public pure override {
        revert MedicalRecordSoulbound(0);
    }

    /// @notice Always reverts: record tokens are soulbound ({safeTransferFrom} comes here too).
    function transferFrom(address, address, uint256 tokenId) public payable override {
        revert MedicalRecordSoulbound(tokenId);
    }

    /// @dev The only move a locked token allows, used by recovery and rotation alone. Keeps the
    /// token's extra data (tag and issuer): Solady's transfer only swaps the owner bits.
    function _recoveryTransfer(address from, address to, uint256 tokenId) internal override {
        address owner = _requireOwned(tokenId);
        if (owner != from) revert ERC721IncorrectOwner(from, tokenId, owner);
        _transfer(address(0), from, to, tokenId);
    }

    /// @dev Recovery counts a patient's tokens to know when a move is complete.
    function _recordCount(address patient) internal view override returns (uint256) {
        return balanceOf(patient);
    }

    /// @dev The successor sits above the 64-bit signature nonce in the aux bits of the balance slot.
    function _successorOf(address account) internal view override returns (address) {
        return address(uint160(_getAux(account) >> 64));
    }

    function _setSuccessor(address account, address successor) internal override {
        _setAux(account, (uint224(uint160(successor)) << 64) | uint64(_getAux(account)));
    }

    // ---------------------------------------------------------------- internals

    function _checkConsent(MintRequest calldata request, uint256 supersedes, uint256 deadline, bytes calldata consent)
        private
    {
        if (consent.length == 0) {
            _checkStanding(request.patient);
            return;
        }
        // One read of the patient's balance slot gives both the retirement check and the nonce.
        uint224 aux = _getAux(request.patient);
        if (aux >> 64 != 0) revert MedicalRecordAccountRetired(request.patient, address(uint160(aux >> 64)));
        if (block.timestamp > deadline) revert MedicalRecordConsentExpired(deadline);
        _setAux(request.patient, aux + 1);
        bytes32 digest = _hashTypedDataV4(
            keccak256(
                abi.encode(
                    MINT_CONSENT_TYPEHASH,
                    request.patient,
                    msg.sender,
                    request.commitment,
                    request.tag,
                    supersedes,
                    uint64(aux),
                    deadline
                )
            )
        );
        // ecrecover first: SignatureChecker asks for the signer's code before anything else, and that
        // cold account read costs 2,600 gas on every mint for the common patient, a plain key.
        // Contract accounts (ERC-1271) are still asked when the signature is not the patient's key's.
        (address signer, ECDSA.RecoverError failure,) = ECDSA.tryRecoverCalldata(digest, consent);
        if (
            (failure != ECDSA.RecoverError.NoError || signer != request.patient)
                && !SignatureChecker.isValidERC1271SignatureNowCalldata(request.patient, digest, consent)
        ) revert MedicalRecordInvalidConsent(request.patient, msg.sender);
    }

    /// @dev The caller's registration number, if it may issue now.
    function _checkIssuer() private view returns (uint32 issuerId) {
        issuerId = registry.activeIdOf(msg.sender);
        if (issuerId == 0) revert MedicalRecordInactiveIssuer(msg.sender);
    }

    /// @dev A retired account's standing authorisations die with it: its records live under its successor now.
    function _checkStanding(address patient) private view {
        if (_authorizations[patient][msg.sender] < block.timestamp) revert MedicalRecordInvalidConsent(patient, msg.sender);
        _requireNotRetired(patient);
    }

    /// @dev Token ids come from the counter, so the unchecked mint cannot meet an existing token.
    function _issue(MintRequest calldata request, uint64 supersedes, uint32 issuerId, uint256 tokenId)
        private
        returns (uint256)
    {
        _checkRequest(request);
        _mintAndSetExtraDataUnchecked(request.patient, tokenId, (uint96(uint64(request.tag)) << 32) | issuerId);
        emit RecordIssued(
            tokenId,
            request.patient,
            msg.sender,
            request.commitment,
            request.cidDigest,
            request.cidCodec,
            request.tag,
            supersedes,
            uint32(block.timestamp)
        );
        emit Locked(tokenId);
        return tokenId;
    }

    /// @dev The one path for erasure: checks ownership and state, records the time, emits {RecordErased}.
    function _erase(uint256 tokenId) private {
        address owner = _requireOwned(tokenId);
        if (owner != msg.sender) revert MedicalRecordNotOwner(tokenId, msg.sender);
        Status storage status = _statuses[tokenId];
        uint40 erased = status.erasedAt;
        if (erased != 0) revert MedicalRecordErased(tokenId, erased);
        status.erasedAt = uint40(block.timestamp);
        emit RecordErased(tokenId, owner);
    }

    function _requireOwned(uint256 tokenId) private view returns (address owner) {
        owner = _ownerOf(tokenId);
        if (owner == address(0)) revert ERC721NonexistentToken(tokenId);
    }

    function _issuerAddress(uint32 issuerId) private view returns (address) {
        return registry.providerAt(issuerId - 1);
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
