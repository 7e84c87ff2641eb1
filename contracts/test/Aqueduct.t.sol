// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
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
    /// @dev Rate of one period's payment, in sub-units per second (8,285,044,938).
    uint256 internal constant RATE = PRICE * S / PERIOD;
    /// @dev A full epoch of one period's stream, in sub-units (166,666.67 units).
    uint256 internal constant EPOCH_POOL = RATE * EPOCH;
    /// @dev What the division of one period's payment by its seconds leaves (704,000 sub-units).
    uint256 internal constant DUST = PRICE * S - RATE * PERIOD;

    /*//////////////////////////////////////////////////////////////
                                CONSTRUCTOR
    //////////////////////////////////////////////////////////////*/

    function test_constructor_storesParameters() public view {
        assertEq(address(aq.token()), address(usd));
        assertEq(aq.price(), PRICE);
        assertEq(aq.periodLength(), PERIOD);
        assertEq(aq.epochLength(), EPOCH);
        assertEq(aq.slotLength(), SLOT);
        assertEq(aq.maxPeriods(), MAX_PERIODS);
        assertEq(aq.owner(), owner);
        assertEq(aq.genesis(), START);
        assertEq(aq.currentEpoch(), 0);
        assertEq(aq.currentSlot(), 0);
        assertFalse(aq.paused());
        assertEq(aq.nodeCount(), 0);
        assertEq(aq.SUBUNITS(), S);
    }

    function test_constructor_revertsOnZeroAddresses() public {
        vm.expectRevert(Aqueduct.ZeroAddress.selector);
        new Aqueduct(address(0), PRICE, PERIOD, EPOCH, SLOT, MAX_PERIODS, owner);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new Aqueduct(address(usd), PRICE, PERIOD, EPOCH, SLOT, MAX_PERIODS, address(0));
    }

    function test_constructor_revertsOnBadPrice() public {
        vm.expectRevert(Aqueduct.InvalidPrice.selector);
        new Aqueduct(address(usd), 0, PERIOD, EPOCH, SLOT, MAX_PERIODS, owner);
        uint256 largest = aq.MAX_PAYMENT() / MAX_PERIODS;
        vm.expectRevert(Aqueduct.InvalidPrice.selector);
        new Aqueduct(address(usd), largest + 1, PERIOD, EPOCH, SLOT, MAX_PERIODS, owner);
        new Aqueduct(address(usd), largest, PERIOD, EPOCH, SLOT, MAX_PERIODS, owner);
    }

    /// Prepayment is capped by a deploy parameter, between 1 and MAX_PERIODS_LIMIT.
    function test_constructor_maxPeriodsIsADeployParameter() public {
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.InvalidMaxPeriods.selector, 0));
        new Aqueduct(address(usd), PRICE, PERIOD, EPOCH, SLOT, 0, owner);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.InvalidMaxPeriods.selector, 1001));
        new Aqueduct(address(usd), PRICE, PERIOD, EPOCH, SLOT, 1001, owner);
        Aqueduct two = new Aqueduct(address(usd), PRICE, PERIOD, EPOCH, SLOT, 24, owner);
        assertEq(two.maxPeriods(), 24);
        _payTo(two, usd, payer, member, 24);
        assertEq(two.memberUntil(member), START + 24 * PERIOD);
    }

    /// Epochs of a second (or anything under an hour) and slots under a minute are refused.
    function test_constructor_revertsOnBadTiming() public {
        bytes4 bad = Aqueduct.InvalidTiming.selector;
        vm.expectRevert(bad);
        new Aqueduct(address(usd), PRICE, PERIOD, 1, 1, MAX_PERIODS, owner);
        vm.expectRevert(bad);
        new Aqueduct(address(usd), PRICE, PERIOD, 1 hours - 60, 60, MAX_PERIODS, owner);
        vm.expectRevert(bad);
        new Aqueduct(address(usd), PRICE, PERIOD, 1 hours, 59 seconds, MAX_PERIODS, owner);
        vm.expectRevert(bad);
        new Aqueduct(address(usd), PRICE, PERIOD, EPOCH, 0, MAX_PERIODS, owner);
        // An epoch must be a whole number of slots, and at most 2^16 of them.
        vm.expectRevert(bad);
        new Aqueduct(address(usd), PRICE, PERIOD, EPOCH, 7 hours, MAX_PERIODS, owner);
        vm.expectRevert(bad);
        new Aqueduct(address(usd), PRICE, 100 days, 50 days, 1 minutes, MAX_PERIODS, owner);
        // A period shorter than an epoch.
        vm.expectRevert(bad);
        new Aqueduct(address(usd), PRICE, 1 hours, EPOCH, SLOT, MAX_PERIODS, owner);
        // maxPeriods periods reaching 2^32 seconds.
        vm.expectRevert(bad);
        new Aqueduct(address(usd), PRICE, uint64(2 ** 32 / MAX_PERIODS + 1), EPOCH, SLOT, MAX_PERIODS, owner);
        // The shortest accepted.
        new Aqueduct(address(usd), PRICE, 1 hours, 1 hours, 1 minutes, MAX_PERIODS, owner);
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
        // Every sub-unit of it is in the stream: nothing goes anywhere else.
        assertEq(aq.undistributed(), 3 * PRICE);
        _assertBooks(aq, usd);
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

    function test_subscribe_revertsOnZeroMember() public {
        vm.expectRevert(Aqueduct.ZeroAddress.selector);
        aq.subscribe(address(0), 1);
    }

    /// One payment buys at most maxPeriods periods (12 here, not 1000).
    function test_subscribe_revertsOnZeroOrTooManyPeriods() public {
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.InvalidPeriods.selector, 0));
        aq.subscribe(member, 0);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.InvalidPeriods.selector, MAX_PERIODS + 1));
        aq.subscribe(member, MAX_PERIODS + 1);
        _pay(payer, member, MAX_PERIODS);
        assertEq(aq.memberUntil(member), START + MAX_PERIODS * PERIOD);
    }

    /// Several payments cannot prepay further ahead than one could: the horizon is capped.
    function test_subscribe_capsPrepaymentAcrossPayments() public {
        _pay(payer, member, 10);
        usd.mint(payer, 3 * PRICE);
        vm.startPrank(payer);
        usd.approve(address(aq), 3 * PRICE);
        uint64 limit = uint64(START + MAX_PERIODS * PERIOD);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.PrepaymentCapExceeded.selector, limit + PERIOD, limit));
        aq.subscribe(member, 3);
        aq.subscribe(member, 2); // exactly up to the cap
        vm.stopPrank();
        // A period later there is room for one more.
        vm.warp(START + PERIOD);
        _pay(payer, member, 1);
        assertEq(aq.memberUntil(member), START + 13 * PERIOD);
    }

    /// A payment of less than one token unit per epoch it touches is refused.
    function test_subscribe_refusesLessThanOneUnitPerEpoch() public {
        Aqueduct cheap = new Aqueduct(address(usd), 29, PERIOD, EPOCH, SLOT, MAX_PERIODS, owner);
        usd.mint(payer, 29);
        vm.startPrank(payer);
        usd.approve(address(cheap), 29);
        // 30 days from genesis touch 30 epochs.
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.PaymentTooSmall.selector, 29, 30));
        cheap.subscribe(member, 1);
        vm.stopPrank();
        // Two periods are 58 units over 60 epochs: still refused; 30 units over 30 epochs is fine.
        Aqueduct enough = new Aqueduct(address(usd), 30, PERIOD, EPOCH, SLOT, MAX_PERIODS, owner);
        _payTo(enough, usd, payer, member, 1);
        assertEq(enough.undistributed(), 30);
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
        Aqueduct feeAq = new Aqueduct(address(fee), PRICE, PERIOD, EPOCH, SLOT, MAX_PERIODS, owner);
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
        emit Aqueduct.PayeeSet(_node(0), _payee(_node(0)));
        vm.expectEmit(address(aq));
        emit Aqueduct.NodeAdded(_node(0), "a.example:1080", 1);
        vm.prank(owner);
        aq.addNode(_node(0), "a.example:1080", _payee(_node(0)));
        vm.prank(owner);
        aq.addNode(_node(1), "[2001:db8::1]:8080", _payee(_node(1)));

        assertEq(aq.nodeCount(), 2);
        (address node, string memory endpoint, bool active) = aq.nodeAt(1);
        assertEq(node, _node(1));
        assertEq(endpoint, "[2001:db8::1]:8080");
        assertTrue(active);
        assertTrue(aq.isActiveNode(_node(0)));
        assertFalse(aq.isActiveNode(_node(2)));
        assertEq(aq.payeeOf(_node(1)), _payee(_node(1)));
        assertEq(aq.payeeOf(_node(2)), address(0));
    }

    function test_addNode_readdingARemovedNodeReusesItsEntryAndPayee() public {
        _addNodes(2);
        vm.prank(owner);
        aq.removeNode(_node(0));
        // The owner cannot point a removed node's earnings somewhere else by adding it again.
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.PayeeFixed.selector, _node(0), _payee(_node(0))));
        aq.addNode(_node(0), "moved.example:1080", owner);
        vm.prank(owner);
        aq.addNode(_node(0), "moved.example:1080", _payee(_node(0)));
        assertEq(aq.nodeCount(), 2);
        (address node, string memory endpoint, bool active) = aq.nodeAt(0);
        assertEq(node, _node(0));
        assertEq(endpoint, "moved.example:1080");
        assertTrue(active);
        assertEq(aq.payeeOf(_node(0)), _payee(_node(0)));
    }

    function test_addNode_revertsForNonOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        aq.addNode(_node(0), "a.example:1080", _payee(_node(0)));
    }

    function test_addNode_revertsOnZeroAddressOrActiveNode() public {
        vm.startPrank(owner);
        vm.expectRevert(Aqueduct.ZeroAddress.selector);
        aq.addNode(address(0), "a.example:1080", _payee(_node(0)));
        vm.expectRevert(Aqueduct.ZeroAddress.selector);
        aq.addNode(_node(0), "a.example:1080", address(0));
        aq.addNode(_node(0), "a.example:1080", _payee(_node(0)));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NodeAlreadyActive.selector, _node(0)));
        aq.addNode(_node(0), "b.example:1080", _payee(_node(0)));
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
        aq.addNode(_node(0), "", _payee(_node(0)));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.InvalidEndpoint.selector, tooLong.length));
        aq.addNode(_node(0), string(tooLong), _payee(_node(0)));
        aq.addNode(_node(0), string(longest), _payee(_node(0)));
        vm.stopPrank();
    }

    /// A node added in epoch e earns from epoch e + 1: its heartbeats before are refused.
    function test_addNode_nodeEarnsFromTheNextEpoch() public {
        vm.warp(START + 3 * EPOCH + 5 hours);
        address[] memory nodes = _addNodes(1);
        assertEq(aq.earnsFrom(nodes[0]), 4);
        vm.prank(nodes[0]);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NotEarningYet.selector, 4));
        aq.imOnline(0, 0, 0);
        _warpToSlot(4 * SLOTS_PER_EPOCH - 1);
        vm.prank(nodes[0]);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NotEarningYet.selector, 4));
        aq.imOnline(0, 0, 0);
        _warpToEpoch(4);
        vm.prank(nodes[0]);
        aq.imOnline(0, 0, 0);
        assertEq(aq.heartbeatsInEpoch(nodes[0], 4), 1);
        // Removed and added again: the wait starts over.
        vm.startPrank(owner);
        aq.removeNode(nodes[0]);
        aq.addNode(nodes[0], "node.example:1080", _payee(nodes[0]));
        vm.stopPrank();
        assertEq(aq.earnsFrom(nodes[0]), 5);
        vm.warp(block.timestamp + SLOT);
        vm.prank(nodes[0]);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NotEarningYet.selector, 5));
        aq.imOnline(0, 0, 0);
    }

    /// The owner swapping an honest node for its own mid-epoch takes nothing of that epoch:
    /// the honest node keeps its slots, the owner's node cannot be counted until the next one.
    function test_addNode_swappedInNodeCannotTakeTheCurrentEpoch() public {
        address[] memory honest = _addNodes(1);
        _warpToEpoch(1);
        _pay(payer, member, 1);
        _beat(honest, 1, 10);
        address rogue = _node(7);
        vm.startPrank(owner);
        aq.removeNode(honest[0]);
        aq.addNode(rogue, "rogue.example:1080", owner);
        vm.stopPrank();
        vm.warp(block.timestamp + SLOT);
        vm.prank(rogue);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NotEarningYet.selector, 2));
        aq.imOnline(0, 0, 0);
        _warpPastSettlement(1);
        assertEq(aq.claimable(rogue), 0);
        assertEq(aq.claimable(honest[0]), EPOCH_POOL / S);
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

    /// Only the payee names a new payee: not the owner, not the node's (hot) key.
    function test_setPayee_onlyByThePayee() public {
        address node = _addNodes(1)[0];
        address cold = _payee(node);
        address next = makeAddr("next cold wallet");
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NotPayee.selector, cold));
        aq.setPayee(node, next);
        vm.prank(node);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NotPayee.selector, cold));
        aq.setPayee(node, next);
        vm.prank(cold);
        vm.expectRevert(Aqueduct.ZeroAddress.selector);
        aq.setPayee(node, address(0));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NotPayee.selector, address(0)));
        aq.setPayee(_node(9), next);

        vm.expectEmit(address(aq));
        emit Aqueduct.PayeeSet(node, next);
        vm.prank(cold);
        aq.setPayee(node, next);
        assertEq(aq.payeeOf(node), next);
        vm.prank(cold);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NotPayee.selector, next));
        aq.setPayee(node, cold);
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
        emit Aqueduct.Heartbeat(_node(0), 1, SLOTS_PER_EPOCH + 3, 17, 123_456_789, 5);
        vm.prank(_node(0));
        aq.imOnline(17, 123_456_789, 5);
        assertEq(aq.lastHeartbeatSlot(_node(0)), SLOTS_PER_EPOCH + 4);
        assertEq(aq.heartbeatsInEpoch(_node(0), 1), 1);
        assertEq(aq.heartbeatsInEpoch(_node(0), 0), 0);
        assertEq(aq.lastHeartbeatSlot(_node(1)), 0);
    }

    function test_imOnline_onceEachSlot() public {
        _addNodes(1);
        _warpToSlot(SLOTS_PER_EPOCH + 4);
        vm.prank(_node(0));
        aq.imOnline(0, 0, 0);
        vm.warp(block.timestamp + SLOT - 1); // still the same slot
        vm.prank(_node(0));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.AlreadyOnlineThisSlot.selector, SLOTS_PER_EPOCH + 4));
        aq.imOnline(0, 0, 0);
        vm.warp(block.timestamp + 1); // the next slot
        vm.prank(_node(0));
        aq.imOnline(0, 0, 0);
        assertEq(aq.heartbeatsInEpoch(_node(0), 1), 2);
    }

    function test_imOnline_revertsForUnknownNode() public {
        vm.prank(_node(3));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NodeNotActive.selector, _node(3)));
        aq.imOnline(0, 0, 0);
    }

    function test_imOnline_revertsForRemovedNode() public {
        _addNodes(1);
        vm.prank(owner);
        aq.removeNode(_node(0));
        _warpToEpoch(1);
        vm.prank(_node(0));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NodeNotActive.selector, _node(0)));
        aq.imOnline(0, 0, 0);
    }

    /*//////////////////////////////////////////////////////////////
                                ECONOMICS
    //////////////////////////////////////////////////////////////*/

    /// The product's promise, to the unit: a member pays 5 USDT for 30 days, 5 nodes stay
    /// online all the time, and each is paid exactly 1 USDT. Nothing goes to anyone else and
    /// nothing stays behind.
    function test_example_fiveNodesGetExactlyOneUsdtEach() public {
        address[] memory nodes = _addNodes(5);
        _warpToEpoch(1);
        _pay(payer, member, 1); // epochs 1 to 30, exactly
        _beatEpochs(nodes, 1, 31);
        _warpPastSettlement(30);
        assertFalse(aq.isMember(member));

        for (uint256 i; i < 5; ++i) {
            assertEq(aq.claimable(nodes[i]), 1_000_000);
            assertEq(aq.claim(nodes[i], 100), 1_000_000);
            assertEq(usd.balanceOf(_payee(nodes[i])), 1_000_000);
        }
        assertEq(usd.balanceOf(address(aq)), 0);
        assertEq(aq.undistributed(), 0);
        _assertBooks(aq, usd);
    }

    function test_split_halfEpochOnlineGetsHalfTheShare() public {
        address[] memory nodes = _addNodes(2);
        _warpToEpoch(1);
        _pay(payer, member, 1);
        _beat(nodes, 1, SLOTS_PER_EPOCH / 2);
        for (uint256 s = SLOTS_PER_EPOCH / 2; s < SLOTS_PER_EPOCH; ++s) {
            _warpToSlot(SLOTS_PER_EPOCH + s);
            vm.prank(nodes[0]);
            aq.imOnline(0, 0, 0);
        }
        _warpPastSettlement(1);
        assertEq(aq.heartbeatsInEpoch(nodes[0], 1), 24);
        assertEq(aq.heartbeatsInEpoch(nodes[1], 1), 12);
        // 36 slots share 166,666.67 units: 4,629.63 per slot.
        assertEq(aq.claim(nodes[0], 1), 24 * EPOCH_POOL / 36 / S); // 111,111
        assertEq(aq.claim(nodes[1], 1), 12 * EPOCH_POOL / 36 / S); // 55,555
        (uint64 totalSlots, uint256 perSlot) = aq.epochPayout(1);
        assertEq(totalSlots, 36);
        assertEq(perSlot, EPOCH_POOL / 36);
        _assertBooks(aq, usd);
    }

    /// A payment made one second before an epoch ends gives that epoch one second's worth,
    /// not a full epoch's share; the last epoch it touches gets the seconds it covers.
    function test_proRate_firstAndLastEpochBySeconds() public {
        address[] memory nodes = _addNodes(1);
        _beat(nodes, 1, SLOTS_PER_EPOCH);
        vm.warp(START + 2 * EPOCH - 1);
        _pay(payer, member, 1); // [end of epoch 1 - 1 s, + 30 days): epochs 1 to 31
        _beatEpochs(nodes, 2, 32);
        _warpPastSettlement(31);
        // Epoch 1 holds one second of the stream: 1.93 units, not 161,290.
        (uint64 slots, uint256 perSlot) = aq.epochPayout(1);
        assertEq(slots, SLOTS_PER_EPOCH);
        assertEq(perSlot, (RATE + SLOTS_PER_EPOCH - 1) / SLOTS_PER_EPOCH);
        assertEq(aq.claim(nodes[0], 1), 1);
        // The last epoch: the 86,399 seconds left of the period, plus the stream's dust (the
        // rounding carried from the epoch before moves it by less than a sub-unit per slot).
        (slots, perSlot) = aq.epochPayout(31);
        uint256 last = RATE * (EPOCH - 1) + DUST;
        assertGt(slots * perSlot + slots, last);
        assertLt(slots * perSlot, last + slots);
        // And the single node online all along gets the whole payment, to the unit.
        aq.claim(nodes[0], 100);
        assertEq(usd.balanceOf(_payee(nodes[0])), PRICE);
        _assertBooks(aq, usd);
    }

    /// Fourteen days with no node at all, then a node added on day 15: it earns from day 16 on,
    /// and the first fifteen days go back to the payer.
    function test_refund_daysWithoutAnyNodeGoBackToThePayer() public {
        _pay(payer, member, 1); // epochs 0 to 29
        _warpToEpoch(14);
        address[] memory nodes = _addNodes(1);
        vm.prank(nodes[0]);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NotEarningYet.selector, 15));
        aq.imOnline(0, 0, 0);
        _beat(nodes, 15, 1); // one heartbeat on day 16
        _warpPastSettlement(15);

        // The node gets day 16's pool, not fifteen days of the fee.
        assertEq(aq.claimable(nodes[0]), EPOCH_POOL / S);
        uint256 due = 15 * EPOCH_POOL / S; // 2,499,999 units
        assertEq(aq.refundable(member, aq.memberUntil(member)), due);
        uint64 until = aq.memberUntil(member);
        vm.expectEmit(address(aq));
        emit Aqueduct.Refunded(payer, member, until, due);
        vm.prank(makeAddr("anyone"));
        assertEq(aq.refund(member, until), due);
        assertEq(usd.balanceOf(payer), due);
        assertEq(aq.refundable(member, until), 0);
        vm.expectRevert(Aqueduct.NothingToRefund.selector);
        aq.refund(member, until);
        assertEq(aq.claim(nodes[0], 10), EPOCH_POOL / S);
        _assertBooks(aq, usd);
    }

    /// A silent last epoch is not paid to the first heartbeat after the member's access ended:
    /// it goes back to the payer, dust included.
    function test_refund_silentLastEpochGoesBackToThePayer() public {
        address[] memory nodes = _addNodes(1);
        _warpToEpoch(1);
        _pay(payer, member, 1); // epochs 1 to 30
        _beatEpochs(nodes, 1, 30); // silent in epoch 30, the last
        _beat(nodes, 31, 1); // back after the access ended
        _warpPastSettlement(31);
        uint64 until = aq.memberUntil(member);
        assertEq(aq.refundable(member, until), (EPOCH_POOL + DUST) / S);
        aq.claim(nodes[0], 100);
        aq.refund(member, until);
        // The node got epochs 1 to 29 and nothing of 30; the payer got epoch 30.
        assertEq(usd.balanceOf(payer), (EPOCH_POOL + DUST) / S);
        assertEq(usd.balanceOf(_payee(nodes[0])), 29 * EPOCH_POOL / S);
        assertLe(usd.balanceOf(address(aq)), 1);
        _assertBooks(aq, usd);
    }

    /// Refunds are paid as epochs settle; a renewed member's earlier payment is refunded too.
    function test_refund_partialThenFinalAndEarlierPayments() public {
        _pay(payer, member, 1); // epochs 0 to 29
        uint64 first = aq.memberUntil(member);
        _pay(member, member, 1); // epochs 30 to 59, paid by the member
        uint64 second = aq.memberUntil(member);
        _warpPastSettlement(2);
        assertEq(aq.refund(member, first), 3 * EPOCH_POOL / S);
        vm.expectRevert(Aqueduct.NothingToRefund.selector);
        aq.refund(member, first);
        vm.expectRevert(Aqueduct.NothingToRefund.selector);
        aq.refund(member, second); // none of its epochs is settled yet
        _warpPastSettlement(59);
        aq.settle(100);
        aq.refund(member, first);
        aq.refund(member, second);
        // Nobody was ever online: each payer gets its payment back, less a fraction of a unit
        // for each refund made before the end (the fractions stay in the books).
        assertEq(usd.balanceOf(payer), PRICE - 1);
        assertEq(usd.balanceOf(member), PRICE);
        vm.expectRevert(Aqueduct.NothingToRefund.selector);
        aq.refund(member, first);
        vm.expectRevert(Aqueduct.NothingToRefund.selector);
        aq.refund(member, 12345);
        _assertBooks(aq, usd);
    }

    /// A refund costs the same with one member or fifty: it never walks other payments.
    function test_refund_gasDoesNotGrowWithMembers() public {
        usd.mint(payer, 1); // so that no refund is the first credit to the payer's balance
        _pay(payer, member, 1);
        uint64 until = aq.memberUntil(member);
        Aqueduct crowded = new Aqueduct(address(usd), PRICE, PERIOD, EPOCH, SLOT, MAX_PERIODS, owner);
        _payTo(crowded, usd, payer, member, 1);
        for (uint256 i; i < 50; ++i) {
            _payTo(crowded, usd, address(uint160(0xC0FFEE00 + i)), address(uint160(0xBEEF00 + i)), 1);
        }
        _warpToEpoch(2);
        aq.settle(10);
        crowded.settle(10);
        assertEq(_refundGas(aq, until), _refundGas(crowded, until));
    }

    function _refundGas(Aqueduct a, uint64 until) internal returns (uint256 gas) {
        vm.cool(address(a));
        vm.cool(address(usd));
        gas = gasleft();
        a.refund(member, until);
        gas -= gasleft();
    }

    function test_split_removedNodeKeepsWhatItEarned() public {
        address[] memory nodes = _addNodes(2);
        _warpToEpoch(1);
        _pay(payer, member, 1);
        _beat(nodes, 1, 12);
        vm.prank(owner);
        aq.removeNode(nodes[1]);
        for (uint256 s = 12; s < SLOTS_PER_EPOCH; ++s) {
            _warpToSlot(SLOTS_PER_EPOCH + s);
            vm.prank(nodes[0]);
            aq.imOnline(0, 0, 0);
        }
        _warpPastSettlement(1);
        // 24 + 12 slots share the pool.
        assertEq(aq.claim(nodes[1], 1), 12 * EPOCH_POOL / 36 / S);
        assertEq(aq.claim(nodes[0], 1), 24 * EPOCH_POOL / 36 / S);
    }

    /*//////////////////////////////////////////////////////////////
                                  CLAIMS
    //////////////////////////////////////////////////////////////*/

    /// Anyone may trigger a claim; the money goes to the payee only, never to the caller or to
    /// the node's own (hot) key.
    function test_claim_anyoneTriggersItTheMoneyGoesToThePayee() public {
        address[] memory nodes = _addNodes(1);
        _warpToEpoch(1);
        _pay(payer, member, 1);
        _beat(nodes, 1, 1);
        _warpPastSettlement(1);
        address stranger = makeAddr("stranger");
        vm.expectEmit(address(aq));
        emit Aqueduct.Claimed(nodes[0], _payee(nodes[0]), EPOCH_POOL / S, 1);
        vm.prank(stranger);
        aq.claim(nodes[0], 1);
        assertEq(usd.balanceOf(_payee(nodes[0])), EPOCH_POOL / S);
        assertEq(usd.balanceOf(stranger), 0);
        assertEq(usd.balanceOf(nodes[0]), 0);
    }

    /// The payee moves: later claims follow it, including epochs earned before the move.
    function test_claim_followsANewPayee() public {
        address[] memory nodes = _addNodes(1);
        _warpToEpoch(1);
        _pay(payer, member, 1);
        _beat(nodes, 1, 1);
        _beat(nodes, 2, 1);
        _warpPastSettlement(2);
        aq.claim(nodes[0], 1);
        address next = makeAddr("new cold wallet");
        vm.prank(_payee(nodes[0]));
        aq.setPayee(nodes[0], next);
        aq.claim(nodes[0], 1);
        assertEq(usd.balanceOf(_payee(nodes[0])), EPOCH_POOL / S);
        assertEq(usd.balanceOf(next), 2 * EPOCH_POOL / S - EPOCH_POOL / S);
    }

    function test_claim_revertsForUnfinishedEpoch() public {
        address[] memory nodes = _addNodes(1);
        _warpToEpoch(1);
        _pay(payer, member, 1);
        _beat(nodes, 1, 3);
        assertEq(aq.claimable(nodes[0]), 0);
        vm.expectRevert(Aqueduct.NothingToClaim.selector);
        aq.claim(nodes[0], 1);
    }

    function test_claim_twiceRevertsTheSecondTime() public {
        address[] memory nodes = _addNodes(1);
        _warpToEpoch(1);
        _pay(payer, member, 1);
        _beat(nodes, 1, 1);
        _warpPastSettlement(1);
        aq.claim(nodes[0], 1);
        vm.expectRevert(Aqueduct.NothingToClaim.selector);
        aq.claim(nodes[0], 1);
        assertEq(usd.balanceOf(_payee(nodes[0])), EPOCH_POOL / S);
        assertEq(aq.claimable(nodes[0]), 0);
    }

    function test_claim_revertsForUnknownNodeAndZeroEpochs() public {
        vm.expectRevert(Aqueduct.NothingToClaim.selector);
        aq.claim(_node(4), 1);
        vm.expectRevert(Aqueduct.ZeroMaxEpochs.selector);
        aq.claim(_node(4), 0);
    }

    /// Claims go oldest first, at most maxEpochs at a time, and the node's fraction of a unit
    /// is kept for the next claim.
    function test_claim_oldestFirstAtMostMaxEpochs() public {
        address[] memory nodes = _addNodes(2);
        _warpToEpoch(1);
        _pay(payer, member, 1);
        _beat(nodes, 1, 24); // 2 nodes: half each
        _beat(_one(nodes[0]), 2, 1); // alone: all of it
        // epoch 3: nobody online: its pool goes back to the payer
        _beat(nodes, 4, 24);
        _warpPastSettlement(4);
        assertEq(aq.claim(nodes[0], 1), EPOCH_POOL / 2 / S); // 83,333.33
        assertEq(aq.claim(nodes[0], 1), (EPOCH_POOL / 2 + EPOCH_POOL) / S - EPOCH_POOL / 2 / S);
        assertEq(aq.claim(nodes[0], 1), (EPOCH_POOL / 2 + EPOCH_POOL + EPOCH_POOL / 2) / S - (EPOCH_POOL + EPOCH_POOL / 2) / S);
        vm.expectRevert(Aqueduct.NothingToClaim.selector);
        aq.claim(nodes[0], 1);
        assertEq(aq.refundable(member, aq.memberUntil(member)), EPOCH_POOL / S);
    }

    function test_claim_settlesEpochsNobodySettledYet() public {
        address[] memory nodes = _addNodes(1);
        _warpToEpoch(1);
        _pay(payer, member, 1);
        _beat(nodes, 1, 1);
        _warpToEpoch(5);
        assertEq(aq.settledEpoch(), 0); // nothing is settled while its window is open
        assertEq(aq.claim(nodes[0], 1), EPOCH_POOL / S);
        assertEq(aq.settledEpoch(), 5 - SETTLE_DELAY);
    }

    function test_claim_cannotReenter() public {
        ReentrantToken hook = new ReentrantToken();
        Aqueduct hookAq = new Aqueduct(address(hook), PRICE, PERIOD, EPOCH, SLOT, MAX_PERIODS, owner);
        vm.prank(owner);
        hookAq.addNode(_node(0), "a.example:1", _payee(_node(0)));
        vm.warp(block.timestamp + EPOCH);
        hook.mint(payer, PRICE);
        vm.startPrank(payer);
        hook.approve(address(hookAq), PRICE);
        hookAq.subscribe(member, 1);
        vm.stopPrank();
        vm.prank(_node(0));
        hookAq.imOnline(0, 0, 0);
        vm.warp(block.timestamp + (1 + SETTLE_DELAY) * EPOCH);
        // The token calls claim() again from inside the payout transfer.
        hook.arm(address(hookAq), abi.encodeCall(Aqueduct.claim, (_node(0), 1)));
        hookAq.claim(_node(0), 1);
        assertFalse(hook.reentered());
        assertEq(
            keccak256(hook.reentryError()),
            keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector))
        );
        assertEq(hook.balanceOf(_payee(_node(0))), EPOCH_POOL / S);
    }

    function test_settle_catchesUpAfterALongQuietSpell() public {
        address[] memory nodes = _addNodes(1);
        _warpToEpoch(1);
        _pay(payer, member, 10); // 300 days of stream
        _beat(nodes, 1, 1);
        _warpToEpoch(200);
        vm.prank(nodes[0]);
        aq.imOnline(0, 0, 0); // settles MAX_SETTLE_PER_CALL epochs only: 0 to 63
        assertEq(aq.settledEpoch(), aq.MAX_SETTLE_PER_CALL());
        assertEq(aq.settle(1000), 200 - SETTLE_DELAY - aq.MAX_SETTLE_PER_CALL());
        assertEq(aq.settledEpoch(), 200 - SETTLE_DELAY);
        vm.expectRevert(Aqueduct.ZeroMaxEpochs.selector);
        aq.settle(0);
        // Epochs 2 to 199 had nobody online: their stream is owed back to the payer, and the
        // one heartbeat of epoch 200 takes only epoch 200's pool.
        _warpPastSettlement(200);
        assertEq(aq.claim(nodes[0], 2), 2 * EPOCH_POOL / S);
        assertEq(aq.refundable(member, aq.memberUntil(member)), 198 * EPOCH_POOL / S);
    }

    function test_claim_afterLongSilencePaysInStepsWhatClaimableAnnounced() public {
        address[] memory nodes = _addNodes(1);
        _warpToEpoch(1);
        _pay(payer, member, 10);
        _beat(nodes, 1, 1);
        _warpToEpoch(200);
        vm.prank(nodes[0]);
        aq.imOnline(0, 0, 0); // settles epochs 0..63 only
        _warpPastSettlement(200);
        uint256 expected = aq.claimable(nodes[0]);
        assertEq(expected, 2 * EPOCH_POOL / S);

        assertEq(aq.claim(nodes[0], 10), EPOCH_POOL / S); // settles 64..127, pays epoch 1
        assertEq(aq.claim(nodes[0], 10), 0); // settles 128..191: epoch 200 not reached yet
        assertEq(aq.settledEpoch(), 192);
        assertEq(aq.claim(nodes[0], 10), expected - EPOCH_POOL / S); // settles 192..200, pays 200
        vm.expectRevert(Aqueduct.NothingToClaim.selector);
        aq.claim(nodes[0], 10);
        assertEq(usd.balanceOf(_payee(nodes[0])), expected);
    }

    /*//////////////////////////////////////////////////////////////
                            MONITOR AND WINDOW
    //////////////////////////////////////////////////////////////*/

    /// An epoch is settled one full epoch after it ends: not at the next epoch's first
    /// heartbeat, but at the first call once the epoch after it is over too.
    function test_settlement_waitsOneFullEpochAfterTheEpochEnds() public {
        address[] memory nodes = _addNodes(1);
        _warpToEpoch(1);
        _pay(payer, member, 1);
        _beat(nodes, 1, 1);
        _beat(nodes, 2, 1); // the first heartbeat after epoch 1: its window opens
        assertEq(aq.settledEpoch(), 1); // epoch 0 only
        assertEq(aq.claimable(nodes[0]), 0);
        vm.expectRevert(Aqueduct.NothingToClaim.selector);
        aq.claim(nodes[0], 1);
        vm.warp(START + 3 * EPOCH - 1);
        assertEq(aq.claimable(nodes[0]), 0);
        _warpToEpoch(3);
        assertEq(aq.claimable(nodes[0]), EPOCH_POOL / S);
        _beat(nodes, 3, 1);
        assertEq(aq.settledEpoch(), 2);
    }

    function test_setMonitor_onlyOwner() public {
        address watcher = makeAddr("monitor");
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        aq.setMonitor(watcher);
        vm.expectEmit(address(aq));
        emit Aqueduct.MonitorSet(watcher);
        vm.prank(owner);
        aq.setMonitor(watcher);
        assertEq(aq.monitor(), watcher);
    }

    /// Pay for service: the monitor withholds a node that heartbeated without serving, and
    /// the epoch's whole pool goes to the node that served, to the unit.
    function test_withhold_givesTheShareToTheNodesThatServed() public {
        address watcher = makeAddr("monitor");
        vm.prank(owner);
        aq.setMonitor(watcher);
        address[] memory nodes = _addNodes(2);
        _warpToEpoch(1);
        _pay(payer, member, 1);
        _beat(nodes, 1, SLOTS_PER_EPOCH);
        _warpToEpoch(2); // epoch 1's challenge window
        bytes32 evidence = keccak256("probe rows of epoch 1");
        vm.expectEmit(address(aq));
        emit Aqueduct.Withheld(nodes[1], 1, SLOTS_PER_EPOCH, 3, evidence);
        vm.prank(watcher);
        aq.withhold(nodes[1], 1, 3, evidence);
        assertEq(aq.heartbeatsInEpoch(nodes[1], 1), 0);
        _warpPastSettlement(1);
        assertEq(aq.claimable(nodes[1]), 0);
        assertEq(aq.claim(nodes[0], 1), EPOCH_POOL / S);
        (uint64 totalSlots,) = aq.epochPayout(1);
        assertEq(totalSlots, SLOTS_PER_EPOCH);
        assertEq(aq.claimable(nodes[1]), 0);
        _assertBooks(aq, usd);
    }

    /// With every node of an epoch withheld, nobody served it: it goes back to the payer.
    function test_withhold_ofEveryNodeRefundsThePayer() public {
        address watcher = makeAddr("monitor");
        vm.prank(owner);
        aq.setMonitor(watcher);
        address[] memory nodes = _addNodes(1);
        _warpToEpoch(1);
        _pay(payer, member, 1);
        _beat(nodes, 1, 3);
        _warpToEpoch(2);
        vm.prank(watcher);
        aq.withhold(nodes[0], 1, 1, bytes32(0));
        _warpPastSettlement(1);
        assertEq(aq.claimable(nodes[0]), 0);
        assertEq(aq.refundable(member, aq.memberUntil(member)), EPOCH_POOL / S);
    }

    function test_withhold_onlyByTheMonitorInTheWindow() public {
        address watcher = makeAddr("monitor");
        address[] memory nodes = _addNodes(1);
        _warpToEpoch(1);
        _pay(payer, member, 1);
        _beat(nodes, 1, 2);
        _warpToEpoch(2);
        // No monitor named yet: nobody can withhold, not even the owner.
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NotMonitor.selector, owner));
        aq.withhold(nodes[0], 1, 1, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NotMonitor.selector, address(0)));
        vm.prank(address(0));
        aq.withhold(nodes[0], 1, 1, bytes32(0));
        vm.prank(owner);
        aq.setMonitor(watcher);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NotMonitor.selector, owner));
        aq.withhold(nodes[0], 1, 1, bytes32(0));
        vm.startPrank(watcher);
        // The current epoch is not over; epoch 0 is past its window.
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.OutsideChallengeWindow.selector, 2, 2));
        aq.withhold(nodes[0], 2, 1, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NothingToWithhold.selector, _node(5), 1));
        aq.withhold(_node(5), 1, 1, bytes32(0));
        aq.withhold(nodes[0], 1, 1, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.NothingToWithhold.selector, nodes[0], 1));
        aq.withhold(nodes[0], 1, 1, bytes32(0));
        _warpToEpoch(3);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.OutsideChallengeWindow.selector, 1, 3));
        aq.withhold(nodes[0], 1, 1, bytes32(0));
        vm.stopPrank();
    }

    /*//////////////////////////////////////////////////////////////
                                  VIEWS
    //////////////////////////////////////////////////////////////*/

    /// The views preview at most MAX_PREVIEW_EPOCHS unsettled epochs, within a bounded gas
    /// budget, and beyond that ask for `settle` instead of running out of gas.
    function test_views_areBoundedAndAskForSettleBeyond() public {
        address[] memory nodes = _addNodes(1);
        _warpToEpoch(1);
        _pay(payer, member, 1);
        uint64 until = aq.memberUntil(member);
        _beat(nodes, 1, 1);
        uint256 limit = aq.MAX_PREVIEW_EPOCHS();
        vm.warp(START + (1 + limit) * EPOCH);
        uint256 g = gasleft();
        aq.undistributed();
        assertLt(g - gasleft(), 12_000_000);
        aq.claimable(nodes[0]);
        aq.refundable(member, until);

        vm.warp(block.timestamp + EPOCH);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.SettlementBehind.selector, limit + 1));
        aq.undistributed();
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.SettlementBehind.selector, limit + 1));
        aq.claimable(nodes[0]);
        vm.expectRevert(abi.encodeWithSelector(Aqueduct.SettlementBehind.selector, limit + 1));
        aq.refundable(member, until);
        aq.settle(10);
        assertEq(aq.undistributed(), 0);
        assertEq(aq.claimable(nodes[0]), EPOCH_POOL / S);
    }

    /*//////////////////////////////////////////////////////////////
                                  OWNER
    //////////////////////////////////////////////////////////////*/

    function test_pause_stopsOnlySubscriptions() public {
        address[] memory nodes = _addNodes(1);
        _warpToEpoch(1);
        _pay(payer, member, 1);
        vm.expectEmit(address(aq));
        emit Pausable.Paused(owner);
        vm.prank(owner);
        aq.pause();
        assertTrue(aq.paused());
        // Access already bought, heartbeats and claims keep working.
        assertTrue(aq.isMember(member));
        _beat(nodes, 1, 2);
        _warpPastSettlement(1);
        assertEq(aq.claim(nodes[0], 1), EPOCH_POOL / S);

        vm.prank(owner);
        aq.unpause();
        _pay(payer, member, 1);
        assertEq(aq.memberUntil(member), START + EPOCH + 2 * PERIOD);
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

    /// The trust model's recommended setup: a timelock (behind a multisig) owns the contract,
    /// so a node change is announced `delay` seconds before it can happen.
    function test_ownership_aTimelockAsOwnerDelaysNodeChanges() public {
        address multisig = makeAddr("multisig");
        address[] memory proposers = new address[](1);
        proposers[0] = multisig;
        TimelockController timelock = new TimelockController(2 days, proposers, proposers, address(0));
        Aqueduct governed =
            new Aqueduct(address(usd), PRICE, PERIOD, EPOCH, SLOT, MAX_PERIODS, address(timelock));
        bytes memory call = abi.encodeCall(Aqueduct.addNode, (_node(0), "a.example:1080", _payee(_node(0))));

        vm.prank(multisig);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, multisig));
        governed.addNode(_node(0), "a.example:1080", _payee(_node(0)));

        vm.prank(multisig);
        timelock.schedule(address(governed), 0, call, bytes32(0), bytes32(0), 2 days);
        vm.warp(block.timestamp + 2 days - 1);
        vm.prank(multisig);
        vm.expectRevert();
        timelock.execute(address(governed), 0, call, bytes32(0), bytes32(0));
        vm.warp(block.timestamp + 1);
        vm.prank(multisig);
        timelock.execute(address(governed), 0, call, bytes32(0), bytes32(0));
        assertTrue(governed.isActiveNode(_node(0)));
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
