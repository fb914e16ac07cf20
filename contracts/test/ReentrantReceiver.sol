// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// An attacker for tests: the low-level calls, the assembly that bubbles their revert reasons and the
// busy receive() are the point of it.
/* solhint-disable avoid-low-level-calls, no-inline-assembly, no-complex-fallback, gas-custom-errors */

/// @title ReentrantReceiver
/// @notice Tests only: a contract account (a patient or a researcher) whose `receive` calls back
/// into the contract paying it, once, when armed; or refuses payment altogether. Used to show that
/// a reentrant `withdraw` of native currency cannot pay out twice.
contract ReentrantReceiver {
    address private _target;
    bytes private _payload;
    /// @notice Whether `receive` refuses every payment.
    bool public refusing;
    /// @notice Whether the last reentrant call happened, and whether it succeeded.
    bool public reentered;
    bool public reentrySucceeded;
    /// @notice The revert data of the last reentrant call (empty if it succeeded).
    bytes public reentryError;

    /// @notice The next payment received calls `target` with `payload`, once.
    /// @param target The contract to re-enter.
    /// @param payload The calldata of the reentrant call.
    function arm(address target, bytes calldata payload) external {
        _target = target;
        _payload = payload;
        reentered = false;
    }

    /// @notice Makes `receive` revert (or accept again).
    /// @param on Whether to refuse.
    function setRefusing(bool on) external {
        refusing = on;
    }

    /// @notice Calls `target` with `data` as this contract.
    /// @param target The contract to call.
    /// @param data The calldata.
    function execute(address target, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory result) = target.call{value: msg.value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 0x20), mload(result))
            }
        }
        return result;
    }

    receive() external payable {
        if (refusing) revert("refusing payment");
        if (_target != address(0)) {
            address target = _target;
            _target = address(0);
            reentered = true;
            (bool ok, bytes memory result) = target.call(_payload);
            reentrySucceeded = ok;
            reentryError = result;
        }
    }
}
