// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Aqueduct} from "../src/Aqueduct.sol";
import {AqueductBase} from "./Base.t.sol";

/// @title AqueductGasTest
/// @notice Measures what the frequent calls cost as real transactions and pins the targets:
///         imOnline < 60k after the node's first heartbeat in an epoch, subscribe < 150k,
///         claim < 15k per epoch claimed. Storage is cooled before each measured call, as it is
///         at the start of a transaction, and the 21,000 base plus calldata cost is added.
///         The figures go to snapshots/aqueduct.json, which `forge test` checks (gas_snapshot_check).
///         `vm.cool` cools storage but not the token's account, so a call that touches the token
///         costs 2,500 more on chain than here; the README quotes scripts/gas-on-anvil.sh, which
///         reads real receipts.
contract AqueductGasTest is AqueductBase {
    address[] internal nodes;

    function setUp() public override {
        super.setUp();
        nodes = _addNodes(5);
        _warpToEpoch(1); // the nodes earn from here on
        vm.warp(block.timestamp + 10 minutes); // payments rarely begin on an epoch's first second
        _pay(payer, member, 1);
    }

    /// @dev Gas of the last call as a transaction: execution + 21,000 + 4/16 per calldata byte.
    function _txGas(bytes memory data) internal view returns (uint256 gas) {
        gas = vm.lastCallGas().gasTotalUsed + 21_000;
        for (uint256 i; i < data.length; ++i) {
            gas += data[i] == 0 ? 4 : 16;
        }
    }

    function _cool() internal {
        vm.cool(address(aq));
        vm.cool(address(usd));
    }

    /// @dev A heartbeat reporting a busy hour: 1,200 sessions, 3.5 GB, 150 members.
    function _heartbeat(address node) internal returns (uint256) {
        _cool();
        vm.prank(node);
        aq.imOnline(1200, 3.5e9, 150);
        return _txGas(abi.encodeCall(Aqueduct.imOnline, (1200, 3.5e9, 150)));
    }

    function test_gas_imOnline_afterFirstInEpoch() public {
        _beat(nodes, 1, 1);
        _warpToSlot(SLOTS_PER_EPOCH + 1);
        for (uint256 i = 1; i < nodes.length; ++i) {
            vm.prank(nodes[i]);
            aq.imOnline(0, 0, 0);
        }
        uint256 gas = _heartbeat(nodes[0]);
        vm.snapshotValue("aqueduct", "imOnline_laterInEpoch", gas);
        assertLt(gas, 60_000);
    }

    function test_gas_imOnline_firstOfNodeInEpoch() public {
        _beat(nodes, 1, SLOTS_PER_EPOCH);
        _warpToEpoch(2 + SETTLE_DELAY);
        vm.prank(nodes[1]);
        aq.imOnline(0, 0, 0); // settles epoch 1
        uint256 gas = _heartbeat(nodes[0]);
        vm.snapshotValue("aqueduct", "imOnline_firstOfNodeInEpoch", gas);
        assertLt(gas, 100_000);
    }

    function test_gas_imOnline_firstOfEpochSettles() public {
        _beat(nodes, 1, SLOTS_PER_EPOCH);
        _warpToEpoch(2 + SETTLE_DELAY);
        aq.settle(1); // epoch 0, so that the heartbeat settles one epoch: 1
        uint256 gas = _heartbeat(nodes[0]);
        vm.snapshotValue("aqueduct", "imOnline_firstOfEpochSettles", gas);
        assertLt(gas, 150_000);
    }

    /// @dev Tx gas of `payer` buying one period for `forMember`, allowance already in place.
    function _subscribeGas(address forMember) internal returns (uint256) {
        usd.mint(payer, PRICE);
        vm.prank(payer);
        usd.approve(address(aq), PRICE);
        _cool();
        vm.prank(payer);
        aq.subscribe(forMember, 1);
        return _txGas(abi.encodeCall(Aqueduct.subscribe, (forMember, 1)));
    }

    function test_gas_subscribe_newMember() public {
        vm.warp(block.timestamp + 3 days + 5 hours); // epochs nobody has paid into yet
        uint256 gas = _subscribeGas(makeAddr("new member"));
        vm.snapshotValue("aqueduct", "subscribe_newMember", gas);
        assertLt(gas, 150_000);
    }

    /// A renewal a few days into the access: it ends in an epoch nobody's stream ended in
    /// yet, starts in the one the payment before ended in, and keeps that payment for its
    /// refund.
    function test_gas_subscribe_renewal() public {
        vm.warp(block.timestamp + 3 days + 5 hours);
        uint256 gas = _subscribeGas(member);
        vm.snapshotValue("aqueduct", "subscribe_renewal", gas);
        assertLt(gas, 150_000);
    }

    /// The payer of a payment takes back the share of an epoch nobody served.
    function test_gas_refund() public {
        _warpToEpoch(3);
        aq.settle(10);
        uint64 until = aq.memberUntil(member);
        usd.mint(payer, 1); // the payer holds tokens already, as a payer does
        _cool();
        aq.refund(member, until);
        uint256 gas = _txGas(abi.encodeCall(Aqueduct.refund, (member, until)));
        vm.snapshotValue("aqueduct", "refund", gas);
        assertLt(gas, 100_000);
    }

    /// A payee that already holds tokens gets 1 epoch, then 30: the per-epoch cost stays far
    /// under 15k, whether averaged over the 30 or counted as the cost of each extra epoch.
    function test_gas_claim_perEpoch() public {
        for (uint256 epoch = 1; epoch < 33; ++epoch) {
            _beat(_one(nodes[0]), epoch, 1);
        }
        _warpToEpoch(33 + SETTLE_DELAY);
        aq.claim(nodes[0], 1); // the first payout also creates the payee's token balance

        _cool();
        aq.claim(nodes[0], 1);
        uint256 one = _txGas(abi.encodeCall(Aqueduct.claim, (nodes[0], 1)));
        _cool();
        aq.claim(nodes[0], 30);
        uint256 thirty = _txGas(abi.encodeCall(Aqueduct.claim, (nodes[0], 30)));
        uint256 marginal = (thirty - one) / 29;

        vm.snapshotValue("aqueduct", "claim_1epoch", one);
        vm.snapshotValue("aqueduct", "claim_30epochs", thirty);
        vm.snapshotValue("aqueduct", "claim_eachFurtherEpoch", marginal);
        assertLt(thirty, 30 * 15_000);
        assertLt(marginal, 15_000);
        // One epoch: 21k base and a token transfer dominate.
        assertLt(one, 60_000);
    }
}
