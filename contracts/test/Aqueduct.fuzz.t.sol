// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Aqueduct} from "../src/Aqueduct.sol";
import {TestStablecoin} from "../src/TestStablecoin.sol";
import {AqueductBase} from "./Base.t.sol";

/// @title AqueductFuzzTest
/// @notice Property tests over amounts, periods, parameters and timings.
contract AqueductFuzzTest is AqueductBase {
    /// Whatever the parameters and the moment, a payment is streamed whole: every sub-unit of
    /// it is in the books and nothing goes anywhere else.
    function testFuzz_subscribe_streamsEverySubunit(
        uint256 price,
        uint64 period,
        uint64 slotsPerEpoch,
        uint64 slot,
        uint256 periods,
        uint256 offset
    ) public {
        slot = uint64(bound(slot, 1 minutes, 1 days));
        slotsPerEpoch = uint64(bound(slotsPerEpoch, 1, 48));
        uint64 epoch = slot * slotsPerEpoch;
        vm.assume(epoch >= 1 hours);
        period = uint64(bound(period, epoch, 400 days));
        periods = bound(periods, 1, 10);
        uint256 epochsTouched = periods * period / epoch + 2;
        price = bound(price, epochsTouched, 1e23);
        offset = bound(offset, 0, 300 * uint256(epoch));

        TestStablecoin t = new TestStablecoin();
        Aqueduct a = new Aqueduct(address(t), price, period, epoch, slot, 10, owner);
        vm.warp(block.timestamp + offset);
        uint256 amount = price * periods;
        _payTo(a, t, payer, member, periods);

        assertEq(a.memberUntil(member), block.timestamp + periods * period);
        (uint256 outstanding, int256 carry, uint256 owedToNodes, uint256 owedToPayers) = a.books();
        assertEq(outstanding, amount * S);
        assertEq(carry, 0);
        assertEq(owedToNodes + owedToPayers, 0);
        assertEq(a.undistributed(), amount);
        assertEq(t.balanceOf(address(a)), amount);
    }

    /// A node online through all of a payment, started at any second, is paid all of it: the
    /// first and last epochs are pro-rated by seconds and nothing stays behind.
    function testFuzz_proRate_oneNodeOnlineThroughoutGetsEverything(uint256 offset, uint256 periods) public {
        offset = bound(offset, 0, EPOCH - 1);
        periods = bound(periods, 1, 3);
        address[] memory nodes = _addNodes(1);
        vm.warp(START + EPOCH + offset);
        _pay(payer, member, periods);
        uint256 last = (aq.memberUntil(member) - 1 - START) / EPOCH;
        for (uint256 e = 1; e <= last; ++e) {
            // The first slot of the epoch, or right after the payment in its first epoch.
            vm.warp(e == 1 ? block.timestamp : START + e * EPOCH);
            vm.prank(nodes[0]);
            aq.imOnline(0, 0, 0);
        }
        _warpPastSettlement(last);
        assertEq(aq.claim(nodes[0], 1000), PRICE * periods);
        assertEq(aq.refundable(member, aq.memberUntil(member)), 0);
        _assertBooks(aq, usd);
    }

    /// Epochs nobody served go back to the payer, the others to the node: together everything,
    /// less a fraction of a unit for each party.
    function testFuzz_refund_emptyEpochsGoBackExactly(uint256 seed, uint256 offset) public {
        offset = bound(offset, 0, EPOCH - 1);
        address[] memory nodes = _addNodes(1);
        vm.warp(START + EPOCH + offset);
        _pay(payer, member, 1);
        uint64 until = aq.memberUntil(member);
        uint256 last = (until - 1 - START) / EPOCH;
        uint256 online;
        for (uint256 e = 1; e <= last; ++e) {
            if (uint256(keccak256(abi.encode(seed, e))) % 3 == 0) continue;
            vm.warp(e == 1 ? START + EPOCH + offset : START + e * EPOCH);
            vm.prank(nodes[0]);
            aq.imOnline(0, 0, 0);
            ++online;
        }
        _warpPastSettlement(last);
        uint256 refunded = aq.refundable(member, until);
        if (refunded > 0) assertEq(aq.refund(member, until), refunded);
        uint256 earned = aq.claimable(nodes[0]);
        if (online > 0) assertEq(aq.claim(nodes[0], 1000), earned);
        assertLe(refunded + earned, PRICE);
        assertGe(refunded + earned + 2, PRICE);
        if (online == 0) assertEq(earned, 0);
        _assertBooks(aq, usd);
    }

    /// Renewing extends from the current end while access lasts, and from now once it lapsed.
    function testFuzz_subscribe_renewalExtendsFromLaterOfNowAndEnd(uint256 first, uint256 gap, uint256 second) public {
        first = bound(first, 1, MAX_PERIODS);
        gap = bound(gap, 0, 3 * 365 days);
        second = bound(second, 1, MAX_PERIODS);
        _pay(payer, member, first);
        uint256 firstEnd = START + first * PERIOD;
        vm.warp(START + gap);
        uint256 base = firstEnd > block.timestamp ? firstEnd : block.timestamp;
        // Never more than maxPeriods periods ahead of now.
        vm.assume(base + second * PERIOD <= block.timestamp + MAX_PERIODS * PERIOD);
        _pay(payer, member, second);
        assertEq(aq.memberUntil(member), base + second * PERIOD);
        assertTrue(aq.isMember(member));
    }

    /// Two nodes online for `a` and `b` slots of one epoch are paid in the ratio a : b (to the
    /// unit), and together the whole pool less under a unit each.
    function testFuzz_split_proportionalToSlotsOnline(uint256 a, uint256 b, uint256 periods) public {
        a = bound(a, 1, SLOTS_PER_EPOCH);
        b = bound(b, 1, SLOTS_PER_EPOCH);
        periods = bound(periods, 1, MAX_PERIODS);
        address[] memory nodes = _addNodes(2);
        _warpToEpoch(1);
        _pay(payer, member, periods);
        uint256 pool = PRICE * periods * S / (periods * PERIOD) * EPOCH;
        _beat(_one(nodes[0]), 1, a);
        _beat(_one(nodes[1]), 1, b);
        _warpPastSettlement(1);

        uint256 paidA = aq.claim(nodes[0], 1);
        uint256 paidB = aq.claim(nodes[1], 1);
        (, uint256 perSlot) = aq.epochPayout(1);
        assertEq(paidA, a * perSlot / S);
        assertEq(paidB, b * perSlot / S);
        // Per-slot payouts are rounded up by under a sub-unit; each claim rounds down to a unit.
        assertLe((paidA + paidB) * S, pool + a + b);
        assertLe(pool, (paidA + paidB) * S + 2 * S);
    }

    /// Claiming in chunks of any size pays, in total, exactly what `claimable` announced.
    function testFuzz_claim_chunksAddUpToClaimable(uint256 epochs, uint256 chunk, uint256 seed) public {
        epochs = bound(epochs, 1, 40);
        chunk = bound(chunk, 1, 10);
        address[] memory nodes = _addNodes(2);
        _warpToEpoch(1);
        _pay(payer, member, 2);
        for (uint256 e = 1; e <= epochs; ++e) {
            // Node 0 is online in a pseudo-random subset of the epochs, node 1 in all of them.
            uint256 slots = uint256(keccak256(abi.encode(seed, e))) % 3;
            if (slots > 0) _beat(_one(nodes[0]), e, slots);
            _warpToSlot(e * SLOTS_PER_EPOCH + 5);
            vm.prank(nodes[1]);
            aq.imOnline(0, 0, 0);
        }
        _warpPastSettlement(epochs);
        uint256 expected = aq.claimable(nodes[0]);
        uint256 paid;
        for (uint256 i; i < epochs; ++i) {
            try aq.claim(nodes[0], chunk) returns (uint256 p) {
                paid += p;
            } catch (bytes memory err) {
                assertEq(bytes4(err), Aqueduct.NothingToClaim.selector);
                break;
            }
        }
        assertEq(paid, expected);
        assertEq(usd.balanceOf(_payee(nodes[0])), expected);
        assertEq(aq.claimable(nodes[0]), 0);
    }

    /// A heartbeat anywhere inside a slot blocks a second one anywhere inside the same slot.
    function testFuzz_imOnline_oncePerSlot(uint256 slot, uint256 first, uint256 second) public {
        slot = bound(slot, SLOTS_PER_EPOCH, 10_000);
        first = bound(first, 0, SLOT - 1);
        second = bound(second, first, SLOT - 1);
        _addNodes(1);
        vm.warp(START + slot * SLOT + first);
        vm.prank(_node(0));
        aq.imOnline(0, 0, 0);
        vm.warp(START + slot * SLOT + second);
        vm.prank(_node(0));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.AlreadyOnlineThisSlot.selector, uint64(slot)));
        aq.imOnline(0, 0, 0);
        vm.warp(START + (slot + 1) * SLOT);
        vm.prank(_node(0));
        aq.imOnline(0, 0, 0);
        assertEq(aq.lastHeartbeatSlot(_node(0)), slot + 2);
    }
}
