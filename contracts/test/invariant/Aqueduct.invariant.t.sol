// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {Aqueduct} from "../../src/Aqueduct.sol";
import {TestStablecoin} from "../../src/TestStablecoin.sol";
import {AqueductHandler} from "./Handler.sol";

/// @title AqueductInvariantTest
/// @notice The money rules that must hold after any sequence of user actions.
contract AqueductInvariantTest is Test {
    uint256 internal constant S = 2 ** 32;

    Aqueduct internal aq;
    TestStablecoin internal usd;
    AqueductHandler internal handler;
    address internal owner = makeAddr("owner");

    function setUp() public {
        vm.warp(1_700_000_000);
        usd = new TestStablecoin();
        // A price with awkward remainders: 7 tUSD and a bit, 30-day periods, 1-day epochs.
        aq = new Aqueduct(address(usd), 7_000_003, 30 days, 1 days, 1 hours, 12, owner);
        handler = new AqueductHandler(aq, usd, owner);
        for (uint256 i; i < 3; ++i) {
            address n = handler.node(i);
            address payee = handler.firstPayee(i);
            vm.prank(owner);
            aq.addNode(n, "node.example:1080", payee);
        }
        vm.prank(owner);
        aq.setMonitor(address(handler));
        targetContract(address(handler));
        // The run's ending, not one of its steps (see afterInvariant).
        bytes4[] memory ending = new bytes4[](1);
        ending[0] = AqueductHandler.finish.selector;
        excludeSelector(FuzzSelector(address(handler), ending));
    }

    /// The contract's token balance, in sub-units, is always exactly its books: the stream still
    /// to come, the carry, what the nodes are owed and what the payers are owed. Not one
    /// sub-unit is missing or unaccounted.
    function invariant_balanceEqualsBooks() public view {
        (uint256 outstanding, int256 carry, uint256 owedToNodes, uint256 owedToPayers) = aq.books();
        assertEq(int256(usd.balanceOf(address(aq)) * S), int256(outstanding + owedToNodes + owedToPayers) + carry);
    }

    /// The balance is what came in less what went out, as seen from outside the contract.
    function invariant_balanceEqualsFlows() public view {
        assertEq(
            usd.balanceOf(address(aq)), handler.ghost_paidIn() - handler.ghost_claimed() - handler.ghost_refunded()
        );
    }

    /// What the books owe the nodes is exactly what the settled epochs gave them, slot by slot,
    /// less what their payees received: claims pay what was earned, no more and no less.
    function invariant_owedToNodesIsEarnedLessClaimed() public view {
        (,, uint256 owedToNodes,) = aq.books();
        uint256 assigned;
        for (uint256 i; i < handler.NODES(); ++i) {
            assigned += handler.assignedTo(handler.node(i));
        }
        assertEq(owedToNodes, assigned - handler.ghost_claimed() * S);
    }

    /// The views a user sees never promise more than the contract holds, and what they do not
    /// show is only fractions of a unit (one per node, one per payment, and the carry's).
    function invariant_viewsAddUpToTheBalance() public view {
        uint256 shown = handler.sumClaimable() + handler.sumRefundable() + aq.undistributed();
        uint256 balance = usd.balanceOf(address(aq));
        assertLe(shown, balance);
        assertLe(balance - shown, handler.NODES() + handler.paymentCount() + 1);
    }

    /// The slots an epoch pays for are exactly the heartbeats it received less those the
    /// monitor withheld.
    function invariant_epochSlotsAreHeartbeatsLessWithheld() public view {
        uint64 current = aq.currentEpoch();
        for (uint64 e; e <= current; ++e) {
            (uint64 totalSlots,) = aq.epochPayout(e);
            assertEq(totalSlots, handler.ghost_slots(e) - handler.ghost_withheld(e));
        }
    }

    /// Seen from the token: every unit a payee holds came from a claim of one of its nodes, and
    /// every claim reached the payee named at that moment; every unit a payer holds came from a
    /// refund (payers are minted exactly what they pay). No transfer goes elsewhere.
    function invariant_payeesAndPayersHoldExactlyWhatWasSentThem() public view {
        uint256 toPayees;
        for (uint256 i; i < handler.payeeCount(); ++i) {
            address p = handler.payeeAt(i);
            assertEq(usd.balanceOf(p), handler.ghost_paidTo(p));
            toPayees += handler.ghost_paidTo(p);
        }
        assertEq(toPayees, handler.ghost_claimed());
        for (uint256 i; i < handler.PAYERS(); ++i) {
            address p = handler.payer(i);
            assertEq(usd.balanceOf(p), handler.ghost_refundedTo(p));
        }
    }

    /// No node is ever paid more than the pools of the epochs it was online in.
    function invariant_noNodePaidMoreThanItsPools() public view {
        for (uint256 i; i < handler.NODES(); ++i) {
            address n = handler.node(i);
            assertLe(handler.ghost_claimedBy(n) * S, handler.poolsTakenPartIn(n));
        }
    }

    /// After every run, whatever state it left: a payment served by every active node through
    /// an epoch must be paid out by claims, the nodes are then owed no more than dust, and the
    /// invariants still hold. So every run exercises claims, not only subscriptions and heartbeats.
    function afterInvariant() external {
        uint256 paid = handler.finish();
        assertGt(paid, 0, "a served, settled epoch paid nothing out");
        assertGt(handler.calls("claimPaid"), 0, "no claim paid anything");
        (,, uint256 owedToNodes,) = aq.books();
        // What is left is below one unit per node: claims pay whole units.
        assertLt(owedToNodes, handler.NODES() * S, "claims left whole units unpaid");
        invariant_payeesAndPayersHoldExactlyWhatWasSentThem();
        invariant_balanceEqualsFlows();
        invariant_owedToNodesIsEarnedLessClaimed();
        invariant_epochSlotsAreHeartbeatsLessWithheld();
    }
}
