// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @title MedicalRecordRecovery
/// @notice Guardian recovery and key rotation for the record tokens: the only way a patient's
/// records move to another account.
/// @dev A patient names up to MAX_GUARDIANS guardians, a threshold k and a delay of at least
/// MIN_RECOVERY_DELAY ({setGuardians}). When k guardians approve the same new account
/// ({approveRecovery}, or {approveRecoveryBySig} for a guardian without funds or on paper), a
/// recovery is pending; the old key can cancel it until the delay ends ({cancelRecovery}), against
/// colluding guardians or a thief who convinced them. After the delay anyone moves the tokens in
/// pages ({executeRecovery}), so no patient holds too many records to recover. Rotation is the same
/// move started by the current key, without guardians or delay ({rotate}). Once every token has
/// moved, the old account is retired for good: `successorOf(old)` names the new one.
///
/// A module of its own so the record contract's file keeps to records and consent; the token
/// contract supplies the move itself (`_recoveryTransfer`) and the count of a patient's tokens.
/// Errors keep the `MedicalRecord` prefix: to callers they are the record contract's errors.
abstract contract MedicalRecordRecovery is EIP712 {
    /// @notice Most guardians a patient may name.
    uint256 public constant MAX_GUARDIANS = 10;
    /// @notice Shortest and longest wait between k guardian approvals and the move of the tokens.
    uint32 public constant MIN_RECOVERY_DELAY = 1 days;
    uint32 public constant MAX_RECOVERY_DELAY = 30 days;
    /// @notice Most tokens one {executeRecovery} or {rotate} call may move (about 12k gas each: 6M for a full batch).
    uint256 public constant MAX_MOVE_BATCH = 500;

    bytes32 private constant RECOVERY_APPROVAL_TYPEHASH =
        keccak256("RecoveryApproval(address patient,address newAccount,uint32 round,uint256 deadline)");

    /// @notice A patient's recovery settings. `round` increases whenever approvals are voided (a
    /// cancel or new settings), so old approvals and signatures cannot be replayed.
    struct RecoveryConfig {
        uint8 threshold;
        uint32 delay;
        uint32 round;
    }

    /// @notice A pending move of all of a patient's tokens (one slot). `moving` once the first token
    /// has moved: from then on it can only be completed.
    struct Recovery {
        address newAccount;
        uint40 readyAt;
        bool rotation;
        bool moving;
    }

    mapping(address patient => address[] guardians) private _guardians;
    mapping(address patient => RecoveryConfig) private _recoveryConfigs;
    mapping(address patient => Recovery) private _recoveries;
    mapping(address patient => mapping(uint32 round => mapping(address guardian => address newAccount))) private _votes;
    mapping(address patient => mapping(uint32 round => mapping(address newAccount => uint8 approvals))) private _voteCounts;

    /// @notice The consent signature's deadline has passed.
    error MedicalRecordConsentExpired(uint256 deadline);
    /// @notice {mintBatch} was called with more than `maxSize` requests.
    error MedicalRecordBatchTooLarge(uint256 size, uint256 maxSize);
    /// @notice Guardians zero, the patient, repeated or more than MAX_GUARDIANS; or a threshold of 0 or above their number (0 only with no guardians).
    error MedicalRecordInvalidGuardians();
    /// @notice The recovery delay is outside MIN_RECOVERY_DELAY..MAX_RECOVERY_DELAY.
    error MedicalRecordInvalidDelay(uint32 delay);
    /// @notice `account` is not one of `patient`'s guardians.
    error MedicalRecordNotGuardian(address patient, address account);
    /// @notice The guardian already approved moving `patient`'s records to `newAccount` in this round.
    error MedicalRecordAlreadyApproved(address patient, address guardian, address newAccount);
    /// @notice The guardian's approval signature is malformed or from someone else.
    error MedicalRecordInvalidApproval(address patient, address guardian);
    /// @notice A new account must be non-zero, not the patient, and not itself retired.
    error MedicalRecordInvalidSuccessor(address account);
    /// @notice A recovery to `newAccount` is already pending, ready at `readyAt`.
    error MedicalRecordRecoveryPending(address patient, address newAccount, uint40 readyAt);
    /// @notice No recovery or rotation of `patient` is pending.
    error MedicalRecordNoRecovery(address patient);
    /// @notice The recovery delay has not passed; it can be executed from `readyAt` on.
    error MedicalRecordRecoveryNotReady(address patient, uint40 readyAt);
    /// @notice Tokens are already moving to `newAccount`; the move can only be completed.
    error MedicalRecordRecoveryInProgress(address patient, address newAccount);
    /// @notice The account was recovered or rotated to `successor` and can do nothing any more.
    error MedicalRecordAccountRetired(address account, address successor);

    event GuardiansSet(address indexed patient, address[] guardians, uint8 threshold, uint32 delay);
    event RecoveryApproved(address indexed patient, address indexed guardian, address indexed newAccount, uint8 approvals);
    event RecoveryStarted(address indexed patient, address indexed newAccount, uint40 readyAt);
    event RecoveryCancelled(address indexed patient, address indexed newAccount);
    event RotationStarted(address indexed patient, address indexed newAccount);
    event AccountMoved(address indexed from, address indexed to, bool byGuardians);

    /// @notice Names the caller's guardians, how many must approve a recovery, and how long the caller then has to cancel it.
    /// @dev Replaces any earlier set. Requires: the caller not retired; at most MAX_GUARDIANS distinct
    /// guardians, none zero or the caller; 1 <= `threshold` <= guardians (or no guardians and 0, which
    /// turns recovery off); `delay` within MIN_RECOVERY_DELAY..MAX_RECOVERY_DELAY; no move in progress.
    /// Voids every approval so far and cancels a pending recovery (emitting {RecoveryCancelled}).
    /// Emits {GuardiansSet}.
    /// @param guardians The guardians' accounts.
    /// @param threshold How many of them must approve the same new account.
    /// @param delay Seconds between the last approval and the earliest execution.
    function setGuardians(address[] calldata guardians, uint8 threshold, uint32 delay) external {
        address patient = msg.sender;
        _requireNotRetired(patient);
        uint256 count = guardians.length;
        if (count > MAX_GUARDIANS || threshold > count || (threshold == 0) != (count == 0)) revert MedicalRecordInvalidGuardians();
        if (delay < MIN_RECOVERY_DELAY || delay > MAX_RECOVERY_DELAY) revert MedicalRecordInvalidDelay(delay);
        for (uint256 i; i < count; ++i) {
            address g = guardians[i];
            if (g == address(0) || g == patient) revert MedicalRecordInvalidGuardians();
            for (uint256 j; j < i; ++j) {
                if (guardians[j] == g) revert MedicalRecordInvalidGuardians();
            }
        }
        _voidRecovery(patient);
        _guardians[patient] = guardians;
        RecoveryConfig storage config = _recoveryConfigs[patient];
        config.threshold = threshold;
        config.delay = delay;
        emit GuardiansSet(patient, guardians, threshold, delay);
    }

    /// @notice The caller, a guardian of `patient`, approves moving all of `patient`'s records to `newAccount`.
    /// @dev Requires: the caller is a guardian; `patient` not retired; `newAccount` non-zero, not
    /// `patient`, not retired; no recovery pending; the caller has not approved `newAccount` in this
    /// round (approving another account moves the caller's approval). Emits {RecoveryApproved}, and
    /// {RecoveryStarted} when this is the threshold-th approval of `newAccount`.
    /// @param patient The patient who lost their key.
    /// @param newAccount The account that receives the records.
    function approveRecovery(address patient, address newAccount) external {
        _approveRecovery(patient, msg.sender, newAccount);
    }

    /// @notice Submits a guardian's signed approval (EIP-712 `RecoveryApproval`), for a guardian without funds or kept on paper.
    /// @dev The signature covers the patient, the new account, the current round (so it dies with a
    /// cancel) and a deadline, under this contract's domain and chain id. Same requirements and
    /// events as {approveRecovery}, plus a valid, unexpired signature by `guardian`.
    /// @param patient The patient who lost their key.
    /// @param guardian The guardian who signed.
    /// @param newAccount The account that receives the records.
    /// @param deadline Last second at which the signature is valid.
    /// @param signature The guardian's EIP-712 signature.
    function approveRecoveryBySig(
        address patient,
        address guardian,
        address newAccount,
        uint256 deadline,
        bytes calldata signature
    ) external {
        if (block.timestamp > deadline) revert MedicalRecordConsentExpired(deadline);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(RECOVERY_APPROVAL_TYPEHASH, patient, newAccount, _recoveryConfigs[patient].round, deadline))
        );
        if (!SignatureChecker.isValidSignatureNow(guardian, digest, signature)) revert MedicalRecordInvalidApproval(patient, guardian);
        _approveRecovery(patient, guardian, newAccount);
    }

    /// @notice The caller cancels the pending recovery of their account (their key was not lost after all).
    /// @dev Requires a pending recovery whose tokens have not started moving. Voids every approval
    /// of this round. Emits {RecoveryCancelled}.
    function cancelRecovery() external {
        if (_recoveries[msg.sender].newAccount == address(0)) revert MedicalRecordNoRecovery(msg.sender);
        _voidRecovery(msg.sender);
    }

    /// @notice Moves up to MAX_MOVE_BATCH of `patient`'s tokens to the pending recovery's new account; anyone may call it once the delay has passed.
    /// @dev Requires a pending recovery whose delay has passed; each token must be owned by `patient`
    /// (ERC721IncorrectOwner otherwise) and the batch at most MAX_MOVE_BATCH. Call again with the
    /// remaining tokens until it returns 0. When `patient` holds no token any more, `patient` is
    /// retired with the new account as successor. Emits {Transfer} per token, and {AccountMoved}
    /// when the move completes.
    /// @param patient The patient being recovered.
    /// @param tokenIds Tokens of `patient` to move now (may be empty to complete a patient with none).
    /// @return remaining How many tokens `patient` still holds.
    function executeRecovery(address patient, uint256[] calldata tokenIds) external returns (uint256 remaining) {
        Recovery storage r = _recoveries[patient];
        address newAccount = r.newAccount;
        if (newAccount == address(0)) revert MedicalRecordNoRecovery(patient);
        if (block.timestamp < r.readyAt) revert MedicalRecordRecoveryNotReady(patient, r.readyAt);
        return _move(patient, newAccount, r, tokenIds);
    }

    /// @notice Key rotation: the caller moves its tokens to `newAccount` now, without guardians or delay, in pages.
    /// @dev Requires: the caller not retired; `newAccount` non-zero, not the caller, not retired; no
    /// move to another account in progress (a pending guardian recovery that has not started moving is
    /// cancelled, emitting {RecoveryCancelled}); each token owned by the caller (ERC721IncorrectOwner
    /// otherwise); at most MAX_MOVE_BATCH tokens. Call again with the remaining tokens until it
    /// returns 0; the caller is then retired. Emits {RotationStarted} on the first call, {Transfer}
    /// per token and {AccountMoved} when the move completes.
    /// @param newAccount The account that receives the records.
    /// @param tokenIds Tokens of the caller to move now.
    /// @return remaining How many tokens the caller still holds.
    function rotate(address newAccount, uint256[] calldata tokenIds) external returns (uint256 remaining) {
        address patient = msg.sender;
        _requireNotRetired(patient);
        _requireSuccessor(patient, newAccount);
        Recovery storage r = _recoveries[patient];
        if (!(r.rotation && r.newAccount == newAccount)) {
            if (r.newAccount != address(0)) _voidRecovery(patient);
            _recoveries[patient] = Recovery({newAccount: newAccount, readyAt: uint40(block.timestamp), rotation: true, moving: false});
            emit RotationStarted(patient, newAccount);
        }
        return _move(patient, newAccount, r, tokenIds);
    }

    /// @notice `patient`'s guardians, threshold, delay and current approval round.
    /// @param patient The patient.
    function guardiansOf(address patient)
        external
        view
        returns (address[] memory guardians, uint8 threshold, uint32 delay, uint32 round)
    {
        RecoveryConfig storage config = _recoveryConfigs[patient];
        return (_guardians[patient], config.threshold, config.delay, config.round);
    }

    /// @notice The pending recovery or rotation of `patient` (a zero new account if none).
    /// @param patient The patient.
    function recoveryOf(address patient) external view returns (Recovery memory) {
        return _recoveries[patient];
    }

    /// @notice How many guardians approved moving `patient`'s records to `newAccount` in the current round.
    /// @param patient The patient.
    /// @param newAccount The proposed new account.
    function approvalsFor(address patient, address newAccount) external view returns (uint8) {
        return _voteCounts[patient][_recoveryConfigs[patient].round][newAccount];
    }

    /// @notice The account `guardian` approved for `patient` in the current round (zero if none).
    /// @param patient The patient.
    /// @param guardian The guardian.
    function approvalOf(address patient, address guardian) external view returns (address) {
        return _votes[patient][_recoveryConfigs[patient].round][guardian];
    }

    /// @notice The account `account`'s records moved to by a completed recovery or rotation (zero if none).
    /// @param account The old account.
    function successorOf(address account) public view virtual returns (address) {
        return _successorOf(account);
    }

    // ---------------------------------------------------------------- hooks

    /// @dev Moves one locked token; the token contract allows it for recovery alone.
    function _recoveryTransfer(address from, address to, uint256 tokenId) internal virtual;

    /// @dev How many tokens `patient` holds.
    function _recordCount(address patient) internal view virtual returns (uint256);

    /// @dev Where a retired account's records went (zero while it is not retired). The token
    /// contract keeps it beside the account's balance, so a mint's retirement check costs no slot of its own.
    function _successorOf(address account) internal view virtual returns (address);

    /// @dev Retires `account` for good in favour of `successor`.
    function _setSuccessor(address account, address successor) internal virtual;

    // ---------------------------------------------------------------- internals

    function _approveRecovery(address patient, address guardian, address newAccount) private {
        _requireNotRetired(patient);
        _requireSuccessor(patient, newAccount);
        if (!_isGuardian(patient, guardian)) revert MedicalRecordNotGuardian(patient, guardian);
        Recovery storage r = _recoveries[patient];
        if (r.newAccount != address(0)) revert MedicalRecordRecoveryPending(patient, r.newAccount, r.readyAt);
        RecoveryConfig storage config = _recoveryConfigs[patient];
        uint32 round = config.round;
        address previous = _votes[patient][round][guardian];
        if (previous == newAccount) revert MedicalRecordAlreadyApproved(patient, guardian, newAccount);
        if (previous != address(0)) --_voteCounts[patient][round][previous];
        _votes[patient][round][guardian] = newAccount;
        uint8 approvals = ++_voteCounts[patient][round][newAccount];
        emit RecoveryApproved(patient, guardian, newAccount, approvals);
        if (approvals >= config.threshold) {
            uint40 readyAt = uint40(block.timestamp) + config.delay;
            _recoveries[patient] = Recovery({newAccount: newAccount, readyAt: readyAt, rotation: false, moving: false});
            emit RecoveryStarted(patient, newAccount, readyAt);
        }
    }

    /// @dev Moves a page of tokens; completes the move (retiring `patient`) once it holds none.
    function _move(address patient, address newAccount, Recovery storage r, uint256[] calldata tokenIds)
        private
        returns (uint256 remaining)
    {
        uint256 count = tokenIds.length;
        if (count > MAX_MOVE_BATCH) revert MedicalRecordBatchTooLarge(count, MAX_MOVE_BATCH);
        if (!r.moving) r.moving = true;
        for (uint256 i; i < count; ++i) {
            _recoveryTransfer(patient, newAccount, tokenIds[i]);
        }
        remaining = _recordCount(patient);
        if (remaining == 0) {
            bool byGuardians = !r.rotation;
            delete _recoveries[patient];
            _setSuccessor(patient, newAccount);
            emit AccountMoved(patient, newAccount, byGuardians);
        }
    }

    /// @dev Cancels a pending recovery that has not started moving and voids this round's approvals.
    function _voidRecovery(address patient) private {
        Recovery storage r = _recoveries[patient];
        address newAccount = r.newAccount;
        if (r.moving) revert MedicalRecordRecoveryInProgress(patient, newAccount);
        ++_recoveryConfigs[patient].round;
        if (newAccount != address(0)) {
            delete _recoveries[patient];
            emit RecoveryCancelled(patient, newAccount);
        }
    }

    function _isGuardian(address patient, address account) private view returns (bool) {
        address[] storage guardians = _guardians[patient];
        for (uint256 i; i < guardians.length; ++i) {
            if (guardians[i] == account) return true;
        }
        return false;
    }

    function _requireNotRetired(address account) internal view {
        address successor = _successorOf(account);
        if (successor != address(0)) revert MedicalRecordAccountRetired(account, successor);
    }

    function _requireSuccessor(address patient, address newAccount) private view {
        if (newAccount == address(0) || newAccount == patient || _successorOf(newAccount) != address(0)) {
            revert MedicalRecordInvalidSuccessor(newAccount);
        }
    }
}
