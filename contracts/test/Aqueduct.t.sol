// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Aqueduct} from "../src/Aqueduct.sol";
import {TestStablecoin} from "../src/TestStablecoin.sol";
import {AqueductBase} from "./Base.t.sol";
import {FeeOnTransferToken} from "./mocks/FeeOnTransferToken.sol";
import {ReentrantToken} from "./mocks/ReentrantToken.sol";

/// @title AqueductUnitTest
/// @notice One test per rule and per revert of the Aqueduct contract.
contract AqueductUnitTest is AqueductBase {
    /*//////////////////////////////////////////////////////////////
                                CONSTRUCTOR
    //////////////////////////////////////////////////////////////*/

    function test_constructor_storesParameters() public view {
        assertEq(address(aq.token()), address(usd));
        assertEq(aq.price(), PRICE);
        assertEq(aq.periodLength(), PERIOD);
        assertEq(aq.epochLength(), EPOCH);
        assertEq(aq.slotLength(), SLOT);
        assertEq(aq.treasury(), treasury);
        assertEq(aq.owner(), owner);
        assertEq(aq.genesis(), START);
        assertEq(aq.currentEpoch(), 0);
        assertEq(aq.currentSlot(), 0);
        assertFalse(aq.paused());
        assertEq(aq.nodeCount(), 0);
        assertEq(aq.treasuryBalance(), 0);
    }

    function test_constructor_revertsOnZeroAddresses() public {
        vm.expectRevert(Aqueduct.ZeroAddress.selector);
        new Aqueduct(address(0), PRICE, PERIOD, EPOCH, SLOT, treasury, owner);
        vm.expectRevert(Aqueduct.ZeroAddress.selector);
        new Aqueduct(address(usd), PRICE, PERIOD, EPOCH, SLOT, address(0), owner);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new Aqueduct(address(usd), PRICE, PERIOD, EPOCH, SLOT, treasury, address(0));
    }

    function test_constructor_revertsOnBadPrice() public {
        vm.expectRevert(Aqueduct.InvalidPrice.selector);
        new Aqueduct(address(usd), 0, PERIOD, EPOCH, SLOT, treasury, owner);
        vm.expectRevert(Aqueduct.InvalidPrice.selector);
        new Aqueduct(address(usd), type(uint128).max / 1000 + 1, PERIOD, EPOCH, SLOT, treasury, owner);
        // The largest price accepted.
        new Aqueduct(address(usd), type(uint128).max / 1000, PERIOD, EPOCH, SLOT, treasury, owner);
    }

    function test_constructor_revertsOnBadTiming() public {
        vm.expectRevert(Aqueduct.InvalidTiming.selector);
        new Aqueduct(address(usd), PRICE, 0, EPOCH, SLOT, treasury, owner);
        vm.expectRevert(Aqueduct.InvalidTiming.selector);
        new Aqueduct(address(usd), PRICE, PERIOD, 0, SLOT, treasury, owner);
        vm.expectRevert(Aqueduct.InvalidTiming.selector);
        new Aqueduct(address(usd), PRICE, PERIOD, EPOCH, 0, treasury, owner);
        // An epoch must be a whole number of slots.
        vm.expectRevert(Aqueduct.InvalidTiming.selector);
        new Aqueduct(address(usd), PRICE, PERIOD, EPOCH, 7 hours, treasury, owner);
        // A period so long that MAX_PERIODS of them leave 40 bits.
        vm.expectRevert(Aqueduct.InvalidTiming.selector);
        new Aqueduct(address(usd), PRICE, uint64(type(uint40).max / 1000 + 1), EPOCH, SLOT, treasury, owner);
    }

    /*//////////////////////////////////////////////////////////////
                                MEMBERSHIP
    //////////////////////////////////////////////////////////////*/

    function test_subscribe_chargesPayerAndGrantsAccessAtOnce() public {
        usd.mint(payer, 3 * PRICE);
        vm.startPrank(payer);
        usd.approve(address(aq), 3 * PRICE);
        vm.expectEmit(address(aq));
        emit Aqueduct.Subscribed(member, payer, 3, 3 * PRICE, uint64(START + 3 * PERIOD));
        aq.subscribe(member, 3);
        vm.stopPrank();

        assertEq(usd.balanceOf(payer), 0);
        assertEq(usd.balanceOf(address(aq)), 3 * PRICE);
        assertTrue(aq.isMember(member));
        assertFalse(aq.isMember(payer));
        assertEq(aq.memberUntil(member), START + 3 * PERIOD);
    }

    function test_subscribe_accessEndsExactlyAtUntil() public {
        _pay(payer, member, 1);
        vm.warp(START + PERIOD - 1);
        assertTrue(aq.isMember(member));
        vm.warp(START + PERIOD);
        assertFalse(aq.isMember(member));
    }

    function test_subscribe_renewalBeforeExpiryExtendsFromCurrentEnd() public {
        _pay(payer, member, 1);
        vm.warp(START + 10 days);
        _pay(member, member, 2);
        assertEq(aq.memberUntil(member), START + 3 * PERIOD);
    }

    function test_subscribe_renewalAfterExpiryStartsNow() public {
        _pay(payer, member, 1);
        vm.warp(START + PERIOD + 5 days);
        assertFalse(aq.isMember(member));
        _pay(payer, member, 1);
        assertEq(aq.memberUntil(member), START + 2 * PERIOD + 5 days);
        assertTrue(aq.isMember(member));
    }

    function test_subscribe_remainderOfEvenSpreadGoesToTreasury() public {
        // Started mid-epoch, 30 days touch 31 epochs: 5_000_000 / 31 = 161_290 each, 10 left.
        vm.warp(START + 6 hours);
        usd.mint(payer, PRICE);
        vm.startPrank(payer);
        usd.approve(address(aq), PRICE);
        vm.expectEmit(address(aq));
        emit Aqueduct.TreasuryCredited(10);
        aq.subscribe(member, 1);
        vm.stopPrank();
        assertEq(aq.treasuryBalance(), 10);
        assertEq(aq.undistributed(), 5_000_000 - 10);
    }

    function test_subscribe_revertsOnZeroMember() public {
        vm.expectRevert(Aqueduct.ZeroAddress.selector);
        aq.subscribe(address(0), 1);
    }

    function test_subscribe_revertsOnZeroOrTooManyPeriods() public {
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.InvalidPeriods.selector, 0));
        aq.subscribe(member, 0);
        uint256 tooMany = aq.MAX_PERIODS() + 1;
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.InvalidPeriods.selector, tooMany));
        aq.subscribe(member, tooMany);
    }

    function test_subscribe_revertsWithoutAllowance() public {
        usd.mint(payer, PRICE);
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(aq), 0, PRICE));
        aq.subscribe(member, 1);
        assertEq(aq.memberUntil(member), 0);
    }

    function test_subscribe_rejectsFeeOnTransferToken() public {
        FeeOnTransferToken fee = new FeeOnTransferToken();
        Aqueduct feeAq = new Aqueduct(address(fee), PRICE, PERIOD, EPOCH, SLOT, treasury, owner);
        fee.mint(payer, PRICE);
        vm.startPrank(payer);
        fee.approve(address(feeAq), PRICE);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.TransferAmountMismatch.selector, PRICE, PRICE - PRICE / 100));
        feeAq.subscribe(member, 1);
        vm.stopPrank();
        assertEq(fee.balanceOf(payer), PRICE);
        assertFalse(feeAq.isMember(member));
    }

    function test_subscribe_revertsWhilePaused() public {
        vm.prank(owner);
        aq.pause();
        usd.mint(payer, PRICE);
        vm.startPrank(payer);
        usd.approve(address(aq), PRICE);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        aq.subscribe(member, 1);
        vm.stopPrank();
    }

    /*//////////////////////////////////////////////////////////////
                               NODE REGISTRY
    //////////////////////////////////////////////////////////////*/

    function test_addNode_enumeratesNodes() public {
        vm.expectEmit(address(aq));
        emit Aqueduct.NodeAdded(_node(0), "a.example:1080");
        vm.prank(owner);
        aq.addNode(_node(0), "a.example:1080");
        vm.prank(owner);
        aq.addNode(_node(1), "[2001:db8::1]:8080");

        assertEq(aq.nodeCount(), 2);
        (address node, string memory endpoint, bool active) = aq.nodeAt(1);
        assertEq(node, _node(1));
        assertEq(endpoint, "[2001:db8::1]:8080");
        assertTrue(active);
        assertTrue(aq.isActiveNode(_node(0)));
        assertFalse(aq.isActiveNode(_node(2)));
    }

    function test_addNode_readdingARemovedNodeReusesItsEntry() public {
        _addNodes(2);
        vm.prank(owner);
        aq.removeNode(_node(0));
        vm.prank(owner);
        aq.addNode(_node(0), "moved.example:1080");
        assertEq(aq.nodeCount(), 2);
        (address node, string memory endpoint, bool active) = aq.nodeAt(0);
        assertEq(node, _node(0));
        assertEq(endpoint, "moved.example:1080");
        assertTrue(active);
    }

    function test_addNode_revertsForNonOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        aq.addNode(_node(0), "a.example:1080");
    }

    function test_addNode_revertsOnZeroAddressOrActiveNode() public {
        vm.startPrank(owner);
        vm.expectRevert(Aqueduct.ZeroAddress.selector);
        aq.addNode(address(0), "a.example:1080");
        aq.addNode(_node(0), "a.example:1080");
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NodeAlreadyActive.selector, _node(0)));
        aq.addNode(_node(0), "b.example:1080");
        vm.stopPrank();
    }

    function test_addNode_validatesEndpointLength() public {
        bytes memory longest = new bytes(aq.MAX_ENDPOINT_LENGTH());
        for (uint256 i; i < longest.length; ++i) {
            longest[i] = "a";
        }
        bytes memory tooLong = bytes.concat(longest, "a");
        vm.startPrank(owner);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.InvalidEndpoint.selector, 0));
        aq.addNode(_node(0), "");
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.InvalidEndpoint.selector, tooLong.length));
        aq.addNode(_node(0), string(tooLong));
        aq.addNode(_node(0), string(longest));
        vm.stopPrank();
    }

    function test_removeNode_deactivates() public {
        _addNodes(1);
        vm.expectEmit(address(aq));
        emit Aqueduct.NodeRemoved(_node(0));
        vm.prank(owner);
        aq.removeNode(_node(0));
        assertFalse(aq.isActiveNode(_node(0)));
        (,, bool active) = aq.nodeAt(0);
        assertFalse(active);
    }

    function test_removeNode_revertsForUnknownRemovedOrNonOwner() public {
        _addNodes(1);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        aq.removeNode(_node(0));
        vm.startPrank(owner);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NodeNotActive.selector, _node(9)));
        aq.removeNode(_node(9));
        aq.removeNode(_node(0));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NodeNotActive.selector, _node(0)));
        aq.removeNode(_node(0));
        vm.stopPrank();
    }

    function test_setEndpoint_byTheNodeItself() public {
        _addNodes(1);
        vm.expectEmit(address(aq));
        emit Aqueduct.EndpointSet(_node(0), "203.0.113.7:1080");
        vm.prank(_node(0));
        aq.setEndpoint("203.0.113.7:1080");
        (, string memory endpoint,) = aq.nodeAt(0);
        assertEq(endpoint, "203.0.113.7:1080");
    }

    function test_setEndpoint_revertsForUnknownOrRemovedNodeAndBadLength() public {
        _addNodes(1);
        vm.prank(_node(0));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.InvalidEndpoint.selector, 0));
        aq.setEndpoint("");
        vm.prank(_node(5));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NodeNotActive.selector, _node(5)));
        aq.setEndpoint("x.example:1");
        vm.prank(owner);
        aq.removeNode(_node(0));
        vm.prank(_node(0));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NodeNotActive.selector, _node(0)));
        aq.setEndpoint("x.example:1");
    }

    function test_nodeAt_revertsPastTheEnd() public {
        _addNodes(2);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.IndexOutOfRange.selector, 2, 2));
        aq.nodeAt(2);
    }

    /*//////////////////////////////////////////////////////////////
                                HEARTBEATS
    //////////////////////////////////////////////////////////////*/

    function test_clock_countsEpochsAndGlobalSlots() public {
        vm.warp(START + 2 * EPOCH + 5 * SLOT + 59);
        assertEq(aq.currentEpoch(), 2);
        assertEq(aq.currentSlot(), 2 * SLOTS_PER_EPOCH + 5);
    }

    function test_imOnline_recordsSlotAndEpoch() public {
        _addNodes(1);
        _warpToSlot(SLOTS_PER_EPOCH + 3);
        vm.expectEmit(address(aq));
        emit Aqueduct.Heartbeat(_node(0), 1, SLOTS_PER_EPOCH + 3);
        vm.prank(_node(0));
        aq.imOnline();
        assertEq(aq.lastHeartbeatSlot(_node(0)), SLOTS_PER_EPOCH + 4);
        assertEq(aq.heartbeatsInEpoch(_node(0), 1), 1);
        assertEq(aq.heartbeatsInEpoch(_node(0), 0), 0);
        assertEq(aq.lastHeartbeatSlot(_node(1)), 0);
    }

    function test_imOnline_onceEachSlot() public {
        _addNodes(1);
        _warpToSlot(4);
        vm.prank(_node(0));
        aq.imOnline();
        vm.warp(block.timestamp + SLOT - 1); // still slot 4
        vm.prank(_node(0));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.AlreadyOnlineThisSlot.selector, 4));
        aq.imOnline();
        vm.warp(block.timestamp + 1); // slot 5
        vm.prank(_node(0));
        aq.imOnline();
        assertEq(aq.heartbeatsInEpoch(_node(0), 0), 2);
    }

    function test_imOnline_revertsForUnknownNode() public {
        vm.prank(_node(3));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NodeNotActive.selector, _node(3)));
        aq.imOnline();
    }

    function test_imOnline_revertsForRemovedNode() public {
        _addNodes(1);
        vm.prank(owner);
        aq.removeNode(_node(0));
        vm.prank(_node(0));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NodeNotActive.selector, _node(0)));
        aq.imOnline();
    }

    /*//////////////////////////////////////////////////////////////
                                ECONOMICS
    //////////////////////////////////////////////////////////////*/

    /// The product's promise: a member pays 5 USDT for 30 days, 5 nodes stay online all the
    /// time, each gets (almost exactly) 1 USDT. To the wei: 5_000_000 over 30 epochs is 166_666
    /// per epoch and 20 to the treasury; 120 slots share each pool, the odd wei carries forward.
    function test_example_fiveNodesSplitFiveUsdtOverThirtyDays() public {
        address[] memory nodes = _addNodes(5);
        _pay(payer, member, 1);
        assertEq(aq.treasuryBalance(), 20);

        for (uint256 epoch; epoch < 30; ++epoch) {
            _beat(nodes, epoch, SLOTS_PER_EPOCH);
        }
        _warpToEpoch(30);
        assertFalse(aq.isMember(member));

        for (uint256 i; i < 5; ++i) {
            assertEq(aq.claimable(nodes[i]), 999_984);
            vm.prank(nodes[i]);
            assertEq(aq.claim(100), 999_984);
            assertEq(usd.balanceOf(nodes[i]), 999_984);
        }
        // Dust accounted: 5 * 999_984 + 20 (treasury) + 60 (carried into epoch 30) = 5 USDT.
        assertEq(aq.undistributed(), 60);
        assertEq(usd.balanceOf(address(aq)), 80);
        vm.prank(treasury);
        aq.withdrawTreasury(treasury, 20);
        assertEq(usd.balanceOf(treasury), 20);
    }

    function test_split_halfEpochOnlineGetsHalfTheShare() public {
        address[] memory nodes = _addNodes(2);
        _pay(payer, member, 1); // 166_666 per epoch
        _beat(nodes, 0, SLOTS_PER_EPOCH / 2);
        _warpToSlot(SLOTS_PER_EPOCH / 2);
        for (uint256 s = SLOTS_PER_EPOCH / 2; s < SLOTS_PER_EPOCH; ++s) {
            _warpToSlot(s);
            vm.prank(nodes[0]);
            aq.imOnline();
        }
        _warpToEpoch(1);
        assertEq(aq.heartbeatsInEpoch(nodes[0], 0), 24);
        assertEq(aq.heartbeatsInEpoch(nodes[1], 0), 12);
        // 36 slots: 166_666 / 36 = 4_629 per slot, 22 carried.
        vm.prank(nodes[0]);
        assertEq(aq.claim(1), 24 * 4_629);
        vm.prank(nodes[1]);
        assertEq(aq.claim(1), 12 * 4_629);
        assertEq(2 * usd.balanceOf(nodes[1]), usd.balanceOf(nodes[0]));
        (uint64 totalSlots, uint256 perSlot) = aq.epochPayout(0);
        assertEq(totalSlots, 36);
        assertEq(perSlot, 4_629);
    }

    function test_split_epochWithNoHeartbeatsRollsOver() public {
        address[] memory nodes = _addNodes(1);
        _pay(payer, member, 1); // 166_666 per epoch for epochs 0..29
        // Nobody online in epochs 0 and 1; one heartbeat in epoch 2 takes all three pools.
        _warpToEpoch(2);
        vm.expectEmit(address(aq));
        emit Aqueduct.EpochSettled(0, 166_666, 0, 0, 166_666);
        vm.expectEmit(address(aq));
        emit Aqueduct.EpochSettled(1, 2 * 166_666, 0, 0, 2 * 166_666);
        vm.prank(nodes[0]);
        aq.imOnline();
        assertEq(aq.settledEpoch(), 2);
        _warpToEpoch(3);
        assertEq(aq.claimable(nodes[0]), 3 * 166_666);
        vm.prank(nodes[0]);
        assertEq(aq.claim(5), 3 * 166_666);
    }

    function test_split_removedNodeKeepsWhatItEarned() public {
        address[] memory nodes = _addNodes(2);
        _pay(payer, member, 1);
        _beat(nodes, 0, 12);
        vm.prank(owner);
        aq.removeNode(nodes[1]);
        for (uint256 s = 12; s < SLOTS_PER_EPOCH; ++s) {
            _warpToSlot(s);
            vm.prank(nodes[0]);
            aq.imOnline();
        }
        _warpToEpoch(1);
        // 24 + 12 slots share 166_666: 4_629 per slot.
        vm.prank(nodes[1]);
        assertEq(aq.claim(1), 12 * 4_629);
        vm.prank(nodes[0]);
        assertEq(aq.claim(1), 24 * 4_629);
    }

    /*//////////////////////////////////////////////////////////////
                                  CLAIMS
    //////////////////////////////////////////////////////////////*/

    function test_claim_revertsForUnfinishedEpoch() public {
        address[] memory nodes = _addNodes(1);
        _pay(payer, member, 1);
        _beat(nodes, 0, 3);
        assertEq(aq.claimable(nodes[0]), 0);
        vm.prank(nodes[0]);
        vm.expectRevert(Aqueduct.NothingToClaim.selector);
        aq.claim(1);
    }

    function test_claim_twiceRevertsTheSecondTime() public {
        address[] memory nodes = _addNodes(1);
        _pay(payer, member, 1);
        _beat(nodes, 0, 1);
        _warpToEpoch(1);
        vm.startPrank(nodes[0]);
        vm.expectEmit(address(aq));
        emit Aqueduct.Claimed(nodes[0], 166_666, 1);
        aq.claim(1);
        vm.expectRevert(Aqueduct.NothingToClaim.selector);
        aq.claim(1);
        vm.stopPrank();
        assertEq(usd.balanceOf(nodes[0]), 166_666);
        assertEq(aq.claimable(nodes[0]), 0);
    }

    function test_claim_revertsForUnknownAddressAndZeroEpochs() public {
        vm.expectRevert(Aqueduct.NothingToClaim.selector);
        aq.claim(1);
        vm.expectRevert(Aqueduct.ZeroMaxEpochs.selector);
        aq.claim(0);
    }

    function test_claim_oldestFirstAtMostMaxEpochs() public {
        address[] memory nodes = _addNodes(2);
        _pay(payer, member, 1);
        _beat(nodes, 0, 24); // 2 nodes: 83_333 each
        _beat(_one(nodes[0]), 1, 1); // alone: 166_666
        // epoch 2: offline, nothing recorded and nothing to claim for it
        _beat(nodes, 3, 24);
        _warpToEpoch(4);
        vm.startPrank(nodes[0]);
        assertEq(aq.claim(1), 83_328); // epoch 0: 48 slots, 3_472 per slot
        assertEq(aq.claim(1), 166_666 + 10); // epoch 1 takes epoch 0's 10 carried wei
        // epoch 2 had no heartbeats: its pool rolls into epoch 3 (2 * 166_666 over 48 slots).
        assertEq(aq.claim(1), 24 * 6_944);
        vm.expectRevert(Aqueduct.NothingToClaim.selector);
        aq.claim(1);
        vm.stopPrank();
    }

    function test_claim_settlesEpochsNobodySettledYet() public {
        address[] memory nodes = _addNodes(1);
        _pay(payer, member, 1);
        _beat(nodes, 0, 1);
        _warpToEpoch(5);
        assertEq(aq.settledEpoch(), 0);
        vm.prank(nodes[0]);
        assertEq(aq.claim(1), 166_666);
        assertEq(aq.settledEpoch(), 5);
    }

    function test_claim_cannotReenter() public {
        ReentrantToken hook = new ReentrantToken();
        Aqueduct hookAq = new Aqueduct(address(hook), PRICE, PERIOD, EPOCH, SLOT, treasury, owner);
        vm.prank(owner);
        hookAq.addNode(_node(0), "a.example:1");
        hook.mint(payer, PRICE);
        vm.startPrank(payer);
        hook.approve(address(hookAq), PRICE);
        hookAq.subscribe(member, 1);
        vm.stopPrank();
        vm.prank(_node(0));
        hookAq.imOnline();
        vm.warp(block.timestamp + EPOCH);
        // The token calls claim() again from inside the payout transfer.
        hook.arm(address(hookAq), abi.encodeCall(Aqueduct.claim, (1)));
        vm.prank(_node(0));
        hookAq.claim(1);
        assertFalse(hook.reentered());
        assertEq(
            keccak256(hook.reentryError()),
            keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector))
        );
        assertEq(hook.balanceOf(_node(0)), 166_666);
    }

    function test_settle_catchesUpAfterALongQuietSpell() public {
        address[] memory nodes = _addNodes(1);
        _pay(payer, member, 10); // 300 days of stream
        _beat(nodes, 0, 1);
        _warpToEpoch(200);
        vm.prank(nodes[0]);
        aq.imOnline(); // settles MAX_SETTLE_PER_CALL epochs only
        assertEq(aq.settledEpoch(), aq.MAX_SETTLE_PER_CALL());
        assertEq(aq.settle(1000), 200 - aq.MAX_SETTLE_PER_CALL());
        assertEq(aq.settledEpoch(), 200);
        vm.expectRevert(Aqueduct.ZeroMaxEpochs.selector);
        aq.settle(0);
        // Epochs 1..199 had nobody online: their stream waits in epoch 200's pool, which the
        // one heartbeat there takes whole, after epoch 0's own pool.
        _warpToEpoch(201);
        vm.prank(nodes[0]);
        assertEq(aq.claim(2), 166_666 + 200 * 166_666);
    }

    function test_claim_afterLongSilencePaysInStepsWhatClaimableAnnounced() public {
        address[] memory nodes = _addNodes(1);
        _pay(payer, member, 10); // 166_666 per epoch for 300 epochs
        _beat(nodes, 0, 1);
        _warpToEpoch(200);
        vm.prank(nodes[0]);
        aq.imOnline(); // settles epochs 0..63 only
        _warpToEpoch(201);
        uint256 expected = aq.claimable(nodes[0]);
        assertEq(expected, 166_666 + 200 * 166_666);

        vm.startPrank(nodes[0]);
        assertEq(aq.claim(10), 166_666); // settles 64..127, pays epoch 0
        assertEq(aq.claim(10), 0); // settles 128..191: epoch 200 not reached yet, nothing reverted
        assertEq(aq.settledEpoch(), 192);
        assertEq(aq.claim(10), 200 * 166_666); // settles 192..200, pays epoch 200
        vm.expectRevert(Aqueduct.NothingToClaim.selector);
        aq.claim(10);
        vm.stopPrank();
        assertEq(usd.balanceOf(nodes[0]), expected);
    }

    /*//////////////////////////////////////////////////////////////
                                  OWNER
    //////////////////////////////////////////////////////////////*/

    function test_withdrawTreasury_byOwnerOrTreasury() public {
        vm.warp(START + 6 hours);
        _pay(payer, member, 1); // 10 to the treasury
        vm.expectEmit(address(aq));
        emit Aqueduct.TreasuryWithdrawn(payer, 4);
        vm.prank(owner);
        aq.withdrawTreasury(payer, 4);
        vm.prank(treasury);
        aq.withdrawTreasury(treasury, 6);
        assertEq(usd.balanceOf(payer), 4);
        assertEq(usd.balanceOf(treasury), 6);
        assertEq(aq.treasuryBalance(), 0);
    }

    function test_withdrawTreasury_reverts() public {
        vm.warp(START + 6 hours);
        _pay(payer, member, 1);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, member));
        vm.prank(member);
        aq.withdrawTreasury(member, 1);
        vm.startPrank(owner);
        vm.expectRevert(Aqueduct.ZeroAddress.selector);
        aq.withdrawTreasury(address(0), 1);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.InsufficientTreasury.selector, 11, 10));
        aq.withdrawTreasury(owner, 11);
        vm.stopPrank();
    }

    function test_pause_stopsOnlySubscriptions() public {
        address[] memory nodes = _addNodes(1);
        _pay(payer, member, 1);
        vm.expectEmit(address(aq));
        emit Pausable.Paused(owner);
        vm.prank(owner);
        aq.pause();
        assertTrue(aq.paused());
        // Access already bought, heartbeats and claims keep working.
        assertTrue(aq.isMember(member));
        _beat(nodes, 0, 2);
        _warpToEpoch(1);
        vm.prank(nodes[0]);
        assertEq(aq.claim(1), 166_666);

        vm.prank(owner);
        aq.unpause();
        _pay(payer, member, 1);
        assertEq(aq.memberUntil(member), START + 2 * PERIOD);
    }

    function test_pause_onlyOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        aq.pause();
        vm.prank(owner);
        aq.pause();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        aq.unpause();
        vm.prank(owner);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        aq.pause();
    }

    function test_ownership_movesInTwoStepsAndCannotBeRenounced() public {
        address next = makeAddr("next");
        vm.prank(owner);
        aq.transferOwnership(next);
        assertEq(aq.owner(), owner);
        assertEq(aq.pendingOwner(), next);
        vm.prank(next);
        aq.acceptOwnership();
        assertEq(aq.owner(), next);

        vm.prank(next);
        vm.expectRevert(Aqueduct.RenounceDisabled.selector);
        aq.renounceOwnership();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        aq.renounceOwnership();
    }

    /*//////////////////////////////////////////////////////////////
                              TEST STABLECOIN
    //////////////////////////////////////////////////////////////*/

    function test_testStablecoin_metadataAndOpenMint() public {
        TestStablecoin t = new TestStablecoin();
        assertEq(t.name(), "Test USD");
        assertEq(t.symbol(), "tUSD");
        assertEq(t.decimals(), 6);
        vm.prank(member);
        t.mint(payer, 42);
        assertEq(t.balanceOf(payer), 42);
        assertEq(t.totalSupply(), 42);
    }
}
