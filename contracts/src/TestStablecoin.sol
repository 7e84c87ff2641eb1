// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TestStablecoin
/// @notice A 6-decimal dollar stand-in ("Test USD", tUSD) for local and test chains.
/// @dev Anyone may mint any amount: never deploy this where the token is meant to have value.
contract TestStablecoin is ERC20 {
    constructor() ERC20("Test USD", "tUSD") {}

    /// @notice Same decimals as USDT and USDC, so amounts read the same as on a real chain.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Creates `amount` new tokens for `to`. Open to every caller on purpose.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
