// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// An attacker for tests: the low-level calls, the assembly that bubbles their revert reasons and the
// busy receive() are the point of it.
/* solhint-disable avoid-low-level-calls, no-inline-assembly, no-complex-fallback, gas-custom-errors */

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken
/// @notice Tests only: a malicious ERC-20 that acts as an account of its own (it can call any
/// contract through {execute}) and, once armed, calls back into the contract it is being
/// transferred out of, in the middle of that transfer. Used to show that a reentrant
/// `withdraw` or `closeStudy` cannot pay out twice.
contract ReentrantToken is ERC20 {
    address private _target;
    bytes private _payload;
    /// @notice Whether the last reentrant call happened, and whether it succeeded.
    bool public reentered;
    bool public reentrySucceeded;
    /// @notice The revert data of the last reentrant call (empty if it succeeded).
    bytes public reentryError;
    /// @notice Optional fee, in basis points, burnt from every transfer (to act as a fee-on-transfer token).
    uint16 public feeBps;

    constructor() ERC20("reentrant token", "EVIL") {}

    /// @notice Mints `amount` to `to`.
    /// @param to Recipient.
    /// @param amount Amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Sets the fee burnt from each transfer.
    /// @param bps Basis points (100 = 1%).
    function setFee(uint16 bps) external {
        feeBps = bps;
    }

    /// @notice The next transfer out of `target` calls `target` with `payload` from this contract, once.
    /// @param target The contract to re-enter.
    /// @param payload The calldata of the reentrant call.
    function arm(address target, bytes calldata payload) external {
        _target = target;
        _payload = payload;
        reentered = false;
    }

    /// @notice Calls `target` with `data` as this contract (so it can be a researcher or patient).
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

    function _update(address from, address to, uint256 value) internal override {
        uint256 fee = from != address(0) && to != address(0) ? (value * feeBps) / 10_000 : 0;
        if (fee != 0) super._update(from, address(0), fee);
        super._update(from, to, value - fee);
        if (_target != address(0) && from == _target) {
            address target = _target;
            _target = address(0);
            reentered = true;
            (bool ok, bytes memory result) = target.call(_payload);
            reentrySucceeded = ok;
            reentryError = result;
        }
    }
}
