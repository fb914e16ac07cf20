// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TestStablecoin
/// @notice Tests and local demos only: a dollar-like ERC-20 with 6 decimals that anyone may mint.
/// Never deployed by `deployContracts`.
contract TestStablecoin is ERC20 {
    constructor() ERC20("medvault test dollar", "tUSD") {}

    /// @notice Mints `amount` (in units of 10^-6) to `to`; open to anyone, as befits a test token.
    /// @param to Recipient.
    /// @param amount Amount in the token's smallest unit.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 6;
    }
}
