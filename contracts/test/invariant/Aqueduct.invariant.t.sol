// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {Aqueduct} from "../../src/Aqueduct.sol";
import {TestStablecoin} from "../../src/TestStablecoin.sol";
import {AqueductHandler} from "./Handler.sol";

/// @title AqueductInvariantTest
/// @notice The money rules that must hold after any sequence of user actions.
contract AqueductInvariantTest is Test {
    Aqueduct internal aq;
    TestStablecoin internal usd;
    AqueductHandler internal handler;
    address internal owner = makeAddr("owner");

    function setUp() public {
        vm.warp(1_700_000_000);
        usd = new TestStablecoin();
        // A price with awkward remainders: 7 tUSD and a bit, 30-day periods, 1-day epochs.
        aq = new Aqueduct(address(usd), 7_000_003, 30 days, 1 days, 1 hours, makeAddr("treasury"), owner);
        handler = new AqueductHandler(aq, usd, owner);
        for (uint256 i; i < 3; ++i) {
            address n = handler.node(i);
            vm.prank(owner);
            aq.addNode(n, "node.example:1080");
        }
        targetContract(address(handler));
    }

    /// The contract's token balance is always exactly its books: what nodes can claim, what is
    /// still to be streamed or carried over, and the treasury. No wei is missing or unaccounted.
    function invariant_balanceEqualsBooks() public view {
        assertEq(usd.balanceOf(address(aq)), handler.sumClaimable() + aq.undistributed() + aq.treasuryBalance());
    }

    /// The balance is what came in less what went out, as seen from outside the contract.
    function invariant_balanceEqualsFlows() public view {
        assertEq(
            usd.balanceOf(address(aq)), handler.ghost_paidIn() - handler.ghost_claimed() - handler.ghost_withdrawn()
        );
    }

    /// Total paid out (to nodes and the treasury) never exceeds total paid in.
    function invariant_paidOutNeverExceedsPaidIn() public view {
        assertLe(handler.ghost_claimed() + handler.ghost_withdrawn(), handler.ghost_paidIn());
    }

    /// No node is ever paid more than the pools of the epochs it was online in.
    function invariant_noNodePaidMoreThanItsPools() public view {
        for (uint256 i; i < handler.NODES(); ++i) {
            address n = handler.node(i);
            assertLe(handler.ghost_claimedBy(n), handler.poolsTakenPartIn(n));
        }
    }

    function afterInvariant() external view {
        // The campaign must actually have exercised payouts, or the invariants above prove little.
        assertGt(handler.calls("subscribe") + handler.calls("heartbeatAll"), 0);
    }
}
