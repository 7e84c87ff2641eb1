// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {Aqueduct} from "../src/Aqueduct.sol";
import {TestStablecoin} from "../src/TestStablecoin.sol";

/// @title AqueductBase
/// @notice Shared setup for the Aqueduct tests: the product's example parameters (5 tUSD per
///         30-day period, 1-day epochs, 1-hour slots) and helpers to pay and to stay online.
abstract contract AqueductBase is Test {
    uint256 internal constant PRICE = 5e6; // 5 tUSD, 6 decimals
    uint64 internal constant PERIOD = 30 days;
    uint64 internal constant EPOCH = 1 days;
    uint64 internal constant SLOT = 1 hours;
    uint64 internal constant SLOTS_PER_EPOCH = EPOCH / SLOT;
    uint256 internal constant START = 1_700_000_000;

    TestStablecoin internal usd;
    Aqueduct internal aq;
    address internal owner = makeAddr("owner");
    address internal treasury = makeAddr("treasury");
    address internal member = makeAddr("member");
    address internal payer = makeAddr("payer");

    function setUp() public virtual {
        vm.warp(START);
        usd = new TestStablecoin();
        aq = new Aqueduct(address(usd), PRICE, PERIOD, EPOCH, SLOT, treasury, owner);
    }

    /// @dev The i-th test node's address.
    function _node(uint256 i) internal pure returns (address) {
        return address(uint160(0xA0DE0000 + i));
    }

    function _addNodes(uint256 count) internal returns (address[] memory nodes) {
        nodes = new address[](count);
        for (uint256 i; i < count; ++i) {
            nodes[i] = _node(i);
            vm.prank(owner);
            aq.addNode(nodes[i], "node.example:1080");
        }
    }

    /// @dev `who` mints, approves and pays for `periods` periods of `forMember`.
    function _pay(address who, address forMember, uint256 periods) internal {
        _payTo(aq, usd, who, forMember, periods);
    }

    /// @dev The same against any deployment and its token.
    function _payTo(Aqueduct a, TestStablecoin t, address who, address forMember, uint256 periods) internal {
        uint256 amount = a.price() * periods;
        t.mint(who, amount);
        vm.startPrank(who);
        t.approve(address(a), amount);
        a.subscribe(forMember, periods);
        vm.stopPrank();
    }

    /// @dev Moves time to the start of global slot `slot`.
    function _warpToSlot(uint256 slot) internal {
        vm.warp(aq.genesis() + slot * SLOT);
    }

    function _warpToEpoch(uint256 epoch) internal {
        vm.warp(aq.genesis() + epoch * EPOCH);
    }

    /// @dev Every node in `nodes` sends a heartbeat in the first `slots` slots of `epoch`.
    function _beat(address[] memory nodes, uint256 epoch, uint256 slots) internal {
        for (uint256 s; s < slots; ++s) {
            _warpToSlot(epoch * SLOTS_PER_EPOCH + s);
            for (uint256 i; i < nodes.length; ++i) {
                vm.prank(nodes[i]);
                aq.imOnline();
            }
        }
    }

    function _one(address node) internal pure returns (address[] memory nodes) {
        nodes = new address[](1);
        nodes[0] = node;
    }
}
