// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Aqueduct} from "../../src/Aqueduct.sol";
import {TestStablecoin} from "../../src/TestStablecoin.sol";

/// @title AqueductHandler
/// @notice Drives the contract through bounded random sequences of what its users do
///         (pay, stay online, let time pass, claim, add and remove nodes, withdraw the treasury)
///         and keeps ghost sums of every token that came in or went out.
contract AqueductHandler is CommonBase, StdUtils {
    uint256 public constant NODES = 4;
    uint256 public constant MEMBERS = 3;

    Aqueduct public immutable aq;
    TestStablecoin public immutable usd;
    address public immutable owner;

    uint256 public ghost_paidIn;
    uint256 public ghost_claimed;
    uint256 public ghost_withdrawn;
    mapping(address node => uint256) public ghost_claimedBy;
    mapping(bytes32 action => uint256) public calls;

    constructor(Aqueduct aq_, TestStablecoin usd_, address owner_) {
        aq = aq_;
        usd = usd_;
        owner = owner_;
    }

    function node(uint256 i) public pure returns (address) {
        return address(uint160(0xB0DE0000 + i));
    }

    function subscribe(uint256 payerSeed, uint256 memberSeed, uint256 periods) external {
        periods = bound(periods, 1, 13);
        address payer = address(uint160(0xFA0000 + bound(payerSeed, 0, 2)));
        address member = address(uint160(0xEE0000 + bound(memberSeed, 0, MEMBERS - 1)));
        uint256 amount = aq.price() * periods;
        usd.mint(payer, amount);
        vm.startPrank(payer);
        usd.approve(address(aq), amount);
        aq.subscribe(member, periods);
        vm.stopPrank();
        ghost_paidIn += amount;
        calls["subscribe"]++;
    }

    function heartbeat(uint256 nodeSeed) external {
        address n = node(bound(nodeSeed, 0, NODES - 1));
        if (!aq.isActiveNode(n) || aq.lastHeartbeatSlot(n) == aq.currentSlot() + 1) return;
        vm.prank(n);
        aq.imOnline();
        calls["heartbeat"]++;
    }

    /// Every active node online in this slot: long, steady stretches like a real network.
    function heartbeatAll() external {
        for (uint256 i; i < NODES; ++i) {
            address n = node(i);
            if (!aq.isActiveNode(n) || aq.lastHeartbeatSlot(n) == aq.currentSlot() + 1) continue;
            vm.prank(n);
            aq.imOnline();
        }
        calls["heartbeatAll"]++;
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 2 * aq.epochLength()));
        calls["warp"]++;
    }

    function claim(uint256 nodeSeed, uint256 maxEpochs) external {
        address n = node(bound(nodeSeed, 0, NODES - 1));
        vm.prank(n);
        try aq.claim(bound(maxEpochs, 1, 5)) returns (uint256 paid) {
            ghost_claimed += paid;
            ghost_claimedBy[n] += paid;
            calls["claim"]++;
        } catch (bytes memory err) {
            // The only acceptable failure: no finished epoch is waiting for this node.
            if (bytes4(err) != Aqueduct.NothingToClaim.selector) {
                assembly {
                    revert(add(err, 32), mload(err))
                }
            }
        }
    }

    function addNode(uint256 nodeSeed) external {
        address n = node(bound(nodeSeed, 0, NODES - 1));
        if (aq.isActiveNode(n)) return;
        vm.prank(owner);
        aq.addNode(n, "node.example:1080");
        calls["addNode"]++;
    }

    function removeNode(uint256 nodeSeed) external {
        address n = node(bound(nodeSeed, 0, NODES - 1));
        if (!aq.isActiveNode(n)) return;
        vm.prank(owner);
        aq.removeNode(n);
        calls["removeNode"]++;
    }

    function withdrawTreasury(uint256 amount) external {
        amount = bound(amount, 0, aq.treasuryBalance());
        vm.prank(owner);
        aq.withdrawTreasury(owner, amount);
        ghost_withdrawn += amount;
        calls["withdrawTreasury"]++;
    }

    /// Sum of what every node could claim right now.
    function sumClaimable() external view returns (uint256 sum) {
        for (uint256 i; i < NODES; ++i) {
            sum += aq.claimable(node(i));
        }
    }

    /// Everything paid out so far in the epochs `n` was online in: an upper bound on its pay.
    function poolsTakenPartIn(address n) external view returns (uint256 sum) {
        uint64 settled = aq.settledEpoch();
        for (uint64 e; e < settled; ++e) {
            if (aq.heartbeatsInEpoch(n, e) == 0) continue;
            (uint64 totalSlots, uint256 perSlot) = aq.epochPayout(e);
            sum += uint256(totalSlots) * perSlot;
        }
    }
}
