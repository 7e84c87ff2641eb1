// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {Aqueduct} from "../src/Aqueduct.sol";
import {TestStablecoin} from "../src/TestStablecoin.sol";

/// @title AqueductBase
/// @notice Shared setup for the Aqueduct tests: the product's example parameters (5 tUSD per
///         30-day period, 1-day epochs, 1-hour slots, at most 12 periods ahead) and helpers to
///         pay, to stay online and to check the books.
abstract contract AqueductBase is Test {
    uint256 internal constant PRICE = 5e6; // 5 tUSD, 6 decimals
    uint64 internal constant PERIOD = 30 days;
    uint64 internal constant EPOCH = 1 days;
    uint64 internal constant SLOT = 1 hours;
    uint256 internal constant MAX_PERIODS = 12;
    uint64 internal constant SLOTS_PER_EPOCH = EPOCH / SLOT;
    uint256 internal constant START = 1_700_000_000;
    uint256 internal constant S = 2 ** 32; // Aqueduct.SUBUNITS
    /// @dev Epochs that must end after an epoch before it can be settled.
    uint256 internal constant SETTLE_DELAY = 1;

    TestStablecoin internal usd;
    Aqueduct internal aq;
    address internal owner = makeAddr("owner");
    address internal member = makeAddr("member");
    address internal payer = makeAddr("payer");

    function setUp() public virtual {
        vm.warp(START);
        usd = new TestStablecoin();
        aq = new Aqueduct(address(usd), PRICE, PERIOD, EPOCH, SLOT, MAX_PERIODS, owner);
    }

    /// @dev The i-th test node's address, and the cold wallet it is paid to.
    function _node(uint256 i) internal pure returns (address) {
        return address(uint160(0xA0DE0000 + i));
    }

    function _payee(address node) internal pure returns (address) {
        return address(uint160(node) + 0x10000000);
    }

    /// @dev Adds `count` nodes now; they earn from the next epoch.
    function _addNodes(uint256 count) internal returns (address[] memory nodes) {
        nodes = new address[](count);
        for (uint256 i; i < count; ++i) {
            nodes[i] = _node(i);
            vm.prank(owner);
            aq.addNode(nodes[i], "node.example:1080", _payee(nodes[i]));
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

    /// @dev Moves time to the first moment at which `epoch` can be settled.
    function _warpPastSettlement(uint256 epoch) internal {
        _warpToEpoch(epoch + 1 + SETTLE_DELAY);
    }

    /// @dev Every node in `nodes` sends a heartbeat in the first `slots` slots of `epoch`.
    function _beat(address[] memory nodes, uint256 epoch, uint256 slots) internal {
        for (uint256 s; s < slots; ++s) {
            _warpToSlot(epoch * SLOTS_PER_EPOCH + s);
            for (uint256 i; i < nodes.length; ++i) {
                vm.prank(nodes[i]);
                aq.imOnline(0, 0, 0);
            }
        }
    }

    /// @dev The same for every epoch in [from, to).
    function _beatEpochs(address[] memory nodes, uint256 from, uint256 to) internal {
        for (uint256 e = from; e < to; ++e) {
            _beat(nodes, e, SLOTS_PER_EPOCH);
        }
    }

    function _one(address node) internal pure returns (address[] memory nodes) {
        nodes = new address[](1);
        nodes[0] = node;
    }

    /// @dev The token balance, in sub-units, is exactly what the books say is held.
    function _assertBooks(Aqueduct a, TestStablecoin t) internal view {
        (uint256 outstanding, int256 carry, uint256 owedToNodes, uint256 owedToPayers) = a.books();
        assertEq(
            int256(t.balanceOf(address(a)) * S), int256(outstanding + owedToNodes + owedToPayers) + carry, "books"
        );
    }

    /// @dev Stream rate, in sub-units per second, of a payment of `amount` over `duration` seconds.
    function _rate(uint256 amount, uint256 duration) internal pure returns (uint256) {
        return amount * S / duration;
    }
}
