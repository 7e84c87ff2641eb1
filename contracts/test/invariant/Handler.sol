// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Aqueduct} from "../../src/Aqueduct.sol";
import {TestStablecoin} from "../../src/TestStablecoin.sol";

/// @title AqueductHandler
/// @notice Drives the contract through bounded random sequences of what its users do
///         (pay, stay online, let time pass, settle, claim, refund, add and remove nodes, move
///         a payee, withhold as the monitor) and keeps ghost sums of every token that came in or
///         went out and of every slot counted or withheld.
contract AqueductHandler is CommonBase, StdUtils {
    uint256 public constant NODES = 4;
    uint256 public constant MEMBERS = 3;
    uint256 public constant PAYERS = 3;
    uint256 internal constant S = 2 ** 32;

    Aqueduct public immutable aq;
    TestStablecoin public immutable usd;
    address public immutable owner;

    struct Paid {
        address member;
        uint64 until;
    }

    /// Every payment made, as the refund call names it.
    Paid[] public payments;

    uint256 public ghost_paidIn;
    uint256 public ghost_claimed;
    uint256 public ghost_refunded;
    mapping(address node => uint256) public ghost_claimedBy;
    /// What claims sent each payee, as the handler saw the payee named at the claim.
    mapping(address payee => uint256) public ghost_paidTo;
    mapping(address payer => uint256) public ghost_refundedTo;
    mapping(bytes32 action => uint256) public calls;
    mapping(uint64 epoch => uint256) public ghost_slots;
    mapping(uint64 epoch => uint256) public ghost_withheld;

    constructor(Aqueduct aq_, TestStablecoin usd_, address owner_) {
        aq = aq_;
        usd = usd_;
        owner = owner_;
    }

    function node(uint256 i) public pure returns (address) {
        return address(uint160(0xB0DE0000 + i));
    }

    /// The payee a node starts with; `setPayee` moves it among a few others.
    function firstPayee(uint256 i) public pure returns (address) {
        return address(uint160(0xCA5E0000 + i));
    }

    function payer(uint256 i) public pure returns (address) {
        return address(uint160(0xFA0000 + i));
    }

    function paymentCount() external view returns (uint256) {
        return payments.length;
    }

    function subscribe(uint256 payerSeed, uint256 memberSeed, uint256 periods) external {
        periods = bound(periods, 1, aq.maxPeriods());
        address p = payer(bound(payerSeed, 0, PAYERS - 1));
        address m = address(uint160(0xEE0000 + bound(memberSeed, 0, MEMBERS - 1)));
        // Stay inside the prepayment cap: it has its own unit tests.
        uint256 current = aq.memberUntil(m);
        uint256 start = current > block.timestamp ? current : block.timestamp;
        uint256 limit = block.timestamp + aq.maxPeriods() * aq.periodLength();
        if (start + aq.periodLength() > limit) return;
        if (start + periods * aq.periodLength() > limit) periods = (limit - start) / aq.periodLength();
        uint256 amount = aq.price() * periods;
        usd.mint(p, amount);
        vm.startPrank(p);
        usd.approve(address(aq), amount);
        aq.subscribe(m, periods);
        vm.stopPrank();
        payments.push(Paid(m, aq.memberUntil(m)));
        ghost_paidIn += amount;
        calls["subscribe"]++;
    }

    function heartbeat(uint256 nodeSeed, uint64 sessions, uint64 bytesRelayed, uint64 members) external {
        address n = node(bound(nodeSeed, 0, NODES - 1));
        if (!_canBeat(n)) return;
        vm.prank(n);
        aq.imOnline(sessions, bytesRelayed, members);
        ghost_slots[aq.currentEpoch()]++;
        calls["heartbeat"]++;
    }

    /// Every active node online in this slot: long, steady stretches like a real network.
    function heartbeatAll() external {
        for (uint256 i; i < NODES; ++i) {
            address n = node(i);
            if (!_canBeat(n)) continue;
            vm.prank(n);
            aq.imOnline(0, 0, 0);
            ghost_slots[aq.currentEpoch()]++;
        }
        calls["heartbeatAll"]++;
    }

    function _canBeat(address n) internal view returns (bool) {
        return
            aq.isActiveNode(n) && aq.lastHeartbeatSlot(n) != aq.currentSlot() + 1
                && aq.currentEpoch() >= aq.earnsFrom(n);
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 2 * aq.epochLength()));
        calls["warp"]++;
    }

    function settle(uint256 maxEpochs) external {
        aq.settle(bound(maxEpochs, 1, 100));
        calls["settle"]++;
    }

    function claim(uint256 nodeSeed, uint256 maxEpochs) external {
        address n = node(bound(nodeSeed, 0, NODES - 1));
        address payee = aq.payeeOf(n);
        uint256 before = usd.balanceOf(payee);
        try aq.claim(n, bound(maxEpochs, 1, 5)) returns (uint256 paid) {
            require(payee == address(0) || usd.balanceOf(payee) == before + paid, "paid elsewhere");
            ghost_claimed += paid;
            ghost_claimedBy[n] += paid;
            ghost_paidTo[payee] += paid;
            calls["claim"]++;
            if (paid > 0) calls["claimPaid"]++;
        } catch (bytes memory err) {
            // The only acceptable failure: no finished epoch is waiting for this node.
            _expect(err, Aqueduct.NothingToClaim.selector);
        }
    }

    function refund(uint256 paymentSeed) external {
        if (payments.length == 0) return;
        Paid memory p = payments[bound(paymentSeed, 0, payments.length - 1)];
        uint256[PAYERS] memory before;
        for (uint256 i; i < PAYERS; ++i) {
            before[i] = usd.balanceOf(payer(i));
        }
        try aq.refund(p.member, p.until) returns (uint256 paid) {
            // Exactly one payer got exactly `paid`.
            uint256 credited;
            for (uint256 i; i < PAYERS; ++i) {
                uint256 gained = usd.balanceOf(payer(i)) - before[i];
                ghost_refundedTo[payer(i)] += gained;
                credited += gained;
            }
            require(credited == paid, "refund paid elsewhere");
            ghost_refunded += paid;
            calls["refund"]++;
        } catch (bytes memory err) {
            // The only acceptable failure: nothing of this payment is owed back now.
            _expect(err, Aqueduct.NothingToRefund.selector);
        }
    }

    function addNode(uint256 nodeSeed) external {
        uint256 i = bound(nodeSeed, 0, NODES - 1);
        address n = node(i);
        if (aq.isActiveNode(n)) return;
        address payee = aq.payeeOf(n);
        vm.prank(owner);
        aq.addNode(n, "node.example:1080", payee == address(0) ? firstPayee(i) : payee);
        calls["addNode"]++;
    }

    function removeNode(uint256 nodeSeed) external {
        address n = node(bound(nodeSeed, 0, NODES - 1));
        if (!aq.isActiveNode(n)) return;
        vm.prank(owner);
        aq.removeNode(n);
        calls["removeNode"]++;
    }

    function setPayee(uint256 nodeSeed, uint256 payeeSeed) external {
        address n = node(bound(nodeSeed, 0, NODES - 1));
        address current = aq.payeeOf(n);
        if (current == address(0)) return;
        vm.prank(current);
        aq.setPayee(n, address(uint160(0xCA5E0100 + bound(payeeSeed, 0, 7))));
        calls["setPayee"]++;
    }

    /// The monitor (this handler) withholds a node's slots of the epoch just ended.
    function withhold(uint256 nodeSeed, uint8 reason) external {
        uint64 current = aq.currentEpoch();
        if (current == 0) return;
        address n = node(bound(nodeSeed, 0, NODES - 1));
        uint64 slots = aq.heartbeatsInEpoch(n, current - 1);
        if (slots == 0) return;
        aq.withhold(n, current - 1, reason, keccak256(abi.encode(n, current - 1)));
        ghost_withheld[current - 1] += slots;
        calls["withhold"]++;
    }

    /// The end of every run, whatever state it left: a fresh member pays one period, every
    /// active node (one is added if none is) stays online through an epoch of it, time passes
    /// until that epoch is settled, and each node's payee claims all it is owed, through
    /// `claim` above so the ghost sums see it. Returns what the ending's claims paid.
    function finish() external returns (uint256 paidNow) {
        uint256 before = ghost_claimed;
        if (!_anyActive()) this.addNode(0);
        // Into an epoch every active node earns in.
        vm.warp((block.timestamp / aq.epochLength() + 2) * aq.epochLength());
        address p = payer(0);
        address m = address(uint160(0xEE00FF));
        uint256 amount = aq.price();
        usd.mint(p, amount);
        vm.startPrank(p);
        usd.approve(address(aq), amount);
        aq.subscribe(m, 1);
        vm.stopPrank();
        payments.push(Paid(m, aq.memberUntil(m)));
        ghost_paidIn += amount;
        this.heartbeatAll();
        vm.warp(block.timestamp + 3 * aq.epochLength());
        this.settle(100);
        for (uint256 i; i < NODES; ++i) {
            // Five epochs a claim: 64 claims cover any campaign of this depth.
            for (uint256 k; k < 64 && aq.claimable(node(i)) > 0; ++k) {
                this.claim(i, 5);
            }
        }
        paidNow = ghost_claimed - before;
    }

    function _anyActive() internal view returns (bool) {
        for (uint256 i; i < NODES; ++i) {
            if (aq.isActiveNode(node(i))) return true;
        }
        return false;
    }

    /// Every address a node's earnings were ever paid to: the first payees and those
    /// `setPayee` moves to.
    function payeeCount() public pure returns (uint256) {
        return NODES + 8;
    }

    function payeeAt(uint256 i) public pure returns (address) {
        return i < NODES ? firstPayee(i) : address(uint160(0xCA5E0100 + i - NODES));
    }

    function _expect(bytes memory err, bytes4 selector) internal pure {
        if (bytes4(err) != selector) {
            assembly {
                revert(add(err, 32), mload(err))
            }
        }
    }

    /// Sum of what every node could claim right now (settlement previewed).
    function sumClaimable() external view returns (uint256 sum) {
        for (uint256 i; i < NODES; ++i) {
            sum += aq.claimable(node(i));
        }
    }

    /// Sum of what every payment could have refunded right now (settlement previewed).
    function sumRefundable() external view returns (uint256 sum) {
        for (uint256 i; i < payments.length; ++i) {
            sum += aq.refundable(payments[i].member, payments[i].until);
        }
    }

    /// Sub-units the settled epochs gave `n`: its slots times each epoch's payout per slot.
    function assignedTo(address n) public view returns (uint256 sum) {
        uint64 settled = aq.settledEpoch();
        for (uint64 e; e < settled; ++e) {
            uint256 count = aq.heartbeatsInEpoch(n, e);
            if (count == 0) continue;
            (, uint256 perSlot) = aq.epochPayout(e);
            sum += count * perSlot;
        }
    }

    /// Sub-units paid out over the settled epochs `n` was online in: an upper bound on its pay.
    function poolsTakenPartIn(address n) external view returns (uint256 sum) {
        uint64 settled = aq.settledEpoch();
        for (uint64 e; e < settled; ++e) {
            if (aq.heartbeatsInEpoch(n, e) == 0) continue;
            (uint64 totalSlots, uint256 perSlot) = aq.epochPayout(e);
            sum += uint256(totalSlots) * perSlot;
        }
    }
}
