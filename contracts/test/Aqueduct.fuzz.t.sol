// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Aqueduct} from "../src/Aqueduct.sol";
import {TestStablecoin} from "../src/TestStablecoin.sol";
import {AqueductBase} from "./Base.t.sol";

/// @title AqueductFuzzTest
/// @notice Property tests over amounts, periods, parameters and timings.
contract AqueductFuzzTest is AqueductBase {
    /// Whatever the parameters and the moment, a payment is split without losing a wei: what
    /// the epochs will stream plus the treasury's remainder is exactly the amount paid, and
    /// the remainder is smaller than the number of epochs the access touches.
    function testFuzz_subscribe_accountsForEveryWei(
        uint256 price,
        uint64 period,
        uint64 slotsPerEpoch,
        uint64 slot,
        uint256 periods,
        uint256 offset
    ) public {
        price = bound(price, 1, 1e30);
        slot = uint64(bound(slot, 1, 1 days));
        slotsPerEpoch = uint64(bound(slotsPerEpoch, 1, 48));
        uint64 epoch = slot * slotsPerEpoch;
        period = uint64(bound(period, 1, 400 days));
        periods = bound(periods, 1, 1000);
        // Views walk unsettled epochs one by one: keep the quiet spell to a few hundred epochs.
        offset = bound(offset, 0, 300 * uint256(epoch));

        TestStablecoin t = new TestStablecoin();
        Aqueduct a = new Aqueduct(address(t), price, period, epoch, slot, treasury, owner);
        vm.warp(block.timestamp + offset);
        uint256 amount = price * periods;
        _payTo(a, t, payer, member, periods);

        uint256 end = block.timestamp + periods * period;
        uint256 touched = (end - 1 - a.genesis()) / epoch - (block.timestamp - a.genesis()) / epoch + 1;
        assertEq(a.memberUntil(member), end);
        assertEq(a.undistributed() + a.treasuryBalance(), amount);
        assertLt(a.treasuryBalance(), touched);
        assertEq(a.undistributed() % touched, 0);
        assertEq(t.balanceOf(address(a)), amount);
    }

    /// Renewing extends from the current end while access lasts, and from now once it lapsed.
    function testFuzz_subscribe_renewalExtendsFromLaterOfNowAndEnd(uint256 first, uint256 gap, uint256 second) public {
        first = bound(first, 1, 24);
        gap = bound(gap, 0, 3 * 365 days);
        second = bound(second, 1, 24);
        _pay(payer, member, first);
        uint256 firstEnd = START + first * PERIOD;
        vm.warp(START + gap);
        _pay(payer, member, second);
        uint256 base = firstEnd > block.timestamp ? firstEnd : block.timestamp;
        assertEq(aq.memberUntil(member), base + second * PERIOD);
        assertTrue(aq.isMember(member));
    }

    /// Two nodes online for `a` and `b` slots of one epoch are paid in the ratio a : b, and
    /// together receive the pool less a remainder smaller than the slots counted.
    function testFuzz_split_proportionalToSlotsOnline(uint256 a, uint256 b, uint256 periods) public {
        a = bound(a, 1, SLOTS_PER_EPOCH);
        b = bound(b, 1, SLOTS_PER_EPOCH);
        periods = bound(periods, 1, 36);
        address[] memory nodes = _addNodes(2);
        _pay(payer, member, periods);
        uint256 pool = PRICE * periods / (periods * PERIOD / EPOCH);
        _beat(_one(nodes[0]), 0, a);
        _beat(_one(nodes[1]), 0, b);
        _warpToEpoch(1);

        vm.prank(nodes[0]);
        uint256 paidA = aq.claim(1);
        vm.prank(nodes[1]);
        uint256 paidB = aq.claim(1);
        assertEq(paidA * b, paidB * a);
        assertLe(paidA + paidB, pool);
        assertLt(pool - (paidA + paidB), a + b);
    }

    /// Claiming in chunks of any size pays, in total, exactly what `claimable` announced.
    function testFuzz_claim_chunksAddUpToClaimable(uint256 epochs, uint256 chunk, uint256 seed) public {
        epochs = bound(epochs, 1, 40);
        chunk = bound(chunk, 1, 10);
        address[] memory nodes = _addNodes(2);
        _pay(payer, member, 2);
        for (uint256 e; e < epochs; ++e) {
            // Node 0 is online in a pseudo-random subset of the epochs, node 1 in all of them.
            uint256 slots = uint256(keccak256(abi.encode(seed, e))) % 3;
            if (slots > 0) _beat(_one(nodes[0]), e, slots);
            _warpToSlot(e * SLOTS_PER_EPOCH + 5);
            vm.prank(nodes[1]);
            aq.imOnline();
        }
        _warpToEpoch(epochs);
        uint256 expected = aq.claimable(nodes[0]);
        uint256 paid;
        for (uint256 i; i < epochs; ++i) {
            if (aq.claimable(nodes[0]) == 0 && paid == expected) break;
            vm.prank(nodes[0]);
            try aq.claim(chunk) returns (uint256 p) {
                paid += p;
            } catch (bytes memory err) {
                assertEq(bytes4(err), Aqueduct.NothingToClaim.selector);
                break;
            }
        }
        assertEq(paid, expected);
        assertEq(usd.balanceOf(nodes[0]), expected);
        assertEq(aq.claimable(nodes[0]), 0);
    }

    /// A heartbeat anywhere inside a slot blocks a second one anywhere inside the same slot.
    function testFuzz_imOnline_oncePerSlot(uint256 slot, uint256 first, uint256 second) public {
        slot = bound(slot, 0, 10_000);
        first = bound(first, 0, SLOT - 1);
        second = bound(second, first, SLOT - 1);
        _addNodes(1);
        vm.warp(START + slot * SLOT + first);
        vm.prank(_node(0));
        aq.imOnline();
        vm.warp(START + slot * SLOT + second);
        vm.prank(_node(0));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.AlreadyOnlineThisSlot.selector, uint64(slot)));
        aq.imOnline();
        vm.warp(START + (slot + 1) * SLOT);
        vm.prank(_node(0));
        aq.imOnline();
        assertEq(aq.lastHeartbeatSlot(_node(0)), slot + 2);
    }
}
