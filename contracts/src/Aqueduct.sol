// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title Aqueduct
/// @notice The books of the Aqueduct proxy network: members pay a fee per period, trusted nodes
///         prove they are online with one heartbeat per slot, and every finished epoch's share of
///         the fees is split among the nodes in proportion to the slots they were online.
/// @dev Time is cut three ways from `genesis` (the deploy time): membership periods, epochs (the
///      unit of payout) and slots (the unit of uptime; an epoch is a whole number of slots).
///
///      Money flow. A payment of `price * periods` buys access from max(now, current end). It is
///      spread evenly over the epochs that access touches: each of those `n` epochs gets
///      `amount / n`, and the `amount % n` remainder goes to the treasury. Streams are kept as a
///      difference array (`_deltas`), so a subscription costs the same whatever its length.
///
///      Settlement. Epochs are settled in order, once finished, by whichever call comes first
///      (a heartbeat, a claim, or `settle`). An epoch's pool is its stream plus whatever the
///      previous epoch carried over; it is paid out as a whole number of tokens per heartbeat
///      slot (`perSlot = pool / totalSlots`) and the rest, or the whole pool when nobody was
///      online, is carried into the next epoch. So every token is always in exactly one place:
///      the stream still to come, the carry, a node's unclaimed earnings, or the treasury.
///
///      Payout. Each node keeps a linked list of the epochs it was online in; `claim` walks it
///      from the oldest unclaimed entry, so a node pays only for epochs that earned it something.
contract Aqueduct is Ownable2Step, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /*//////////////////////////////////////////////////////////////
                                 CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Most periods one `subscribe` call can buy.
    uint256 public constant MAX_PERIODS = 1000;

    /// @notice Longest endpoint accepted: a 253-byte DNS name, ':' and a 5-digit port, rounded.
    uint256 public constant MAX_ENDPOINT_LENGTH = 260;

    /// @notice Most epochs a heartbeat or claim settles on the way; `settle` catches up the rest.
    uint256 public constant MAX_SETTLE_PER_CALL = 64;

    /*//////////////////////////////////////////////////////////////
                                  ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice An address argument was zero where a real account is needed.
    error ZeroAddress();
    /// @notice The price is zero or so large that MAX_PERIODS of it overflow 128 bits.
    error InvalidPrice();
    /// @notice A length is zero, the epoch is not a whole number of slots, or a period is too long.
    error InvalidTiming();
    /// @notice `subscribe` was asked for zero periods or more than MAX_PERIODS.
    error InvalidPeriods(uint256 periods);
    /// @notice The token moved a different amount than asked (fee-on-transfer or rebasing token).
    error TransferAmountMismatch(uint256 expected, uint256 received);
    /// @notice The endpoint is empty or longer than MAX_ENDPOINT_LENGTH bytes.
    error InvalidEndpoint(uint256 length);
    /// @notice `addNode` for a node that is already active.
    error NodeAlreadyActive(address node);
    /// @notice The node is not active: never added, or removed.
    error NodeNotActive(address node);
    /// @notice A second heartbeat in the same slot.
    error AlreadyOnlineThisSlot(uint64 slot);
    /// @notice No finished, settled epoch is waiting to be claimed.
    error NothingToClaim();
    /// @notice `claim(0)` or `settle(0)`.
    error ZeroMaxEpochs();
    /// @notice `nodeAt` past the end of the node list.
    error IndexOutOfRange(uint256 index, uint256 count);
    /// @notice The treasury holds less than the amount asked for.
    error InsufficientTreasury(uint256 requested, uint256 available);
    /// @notice Ownership can move (two steps) but not be dropped: nodes would be frozen forever.
    error RenounceDisabled();

    /*//////////////////////////////////////////////////////////////
                                  EVENTS
    //////////////////////////////////////////////////////////////*/

    event Subscribed(address indexed member, address indexed payer, uint256 periods, uint256 amount, uint64 until);
    event Heartbeat(address indexed node, uint64 indexed epoch, uint64 slot);
    event NodeAdded(address indexed node, string endpoint);
    event NodeRemoved(address indexed node);
    event EndpointSet(address indexed node, string endpoint);
    event Claimed(address indexed node, uint256 amount, uint64 epochsClaimed);
    /// @notice An epoch was closed: `perSlot` per heartbeat is now claimable, `carried` moves on.
    event EpochSettled(uint64 indexed epoch, uint256 pool, uint64 totalSlots, uint256 perSlot, uint256 carried);
    /// @notice Rounding remainder of a payment credited to the treasury.
    event TreasuryCredited(uint256 amount);
    event TreasuryWithdrawn(address indexed to, uint256 amount);

    /*//////////////////////////////////////////////////////////////
                                  STORAGE
    //////////////////////////////////////////////////////////////*/

    /// @dev One storage slot per node. Epoch and slot numbers are stored plus one so 0 means none.
    struct Node {
        bool active;
        uint32 indexPlus1; // position in `_nodeList` + 1; 0 = never added
        uint64 lastSlotPlus1; // global slot of the latest heartbeat + 1
        uint64 lastEpochPlus1; // latest epoch with a heartbeat + 1 (tail of the epoch list)
        uint64 cursorPlus1; // oldest unclaimed epoch with a heartbeat + 1 (head); 0 = none
    }

    /// @dev A node's heartbeats in one epoch, and the next epoch it was online in (+1; 0 = none yet).
    struct Beats {
        uint64 count;
        uint64 nextPlus1;
    }

    /// @dev Heartbeat slots recorded by all nodes in an epoch; the per-slot payout once settled.
    struct Epoch {
        uint64 totalSlots;
        uint192 perSlot;
    }

    /// @dev Stream rate changes taking effect at an epoch: `starts` begin there, `ends` stop there.
    struct Delta {
        uint128 starts;
        uint128 ends;
    }

    /// @dev Settlement progress: every epoch below `settledEpoch` is settled; `rate` is the stream
    ///      rate of the last settled epoch.
    struct Stream {
        uint64 settledEpoch;
        uint192 rate;
    }

    /// @dev Working copy of the settlement state while epochs are settled or previewed.
    struct Settlement {
        uint64 epoch; // next epoch to settle
        uint256 rate;
        uint256 carry;
        uint256 outstanding;
    }

    IERC20 public immutable token;
    uint256 public immutable price;
    uint64 public immutable periodLength;
    uint64 public immutable epochLength;
    uint64 public immutable slotLength;
    address public immutable treasury;
    uint64 public immutable genesis;
    uint64 private immutable _slotsPerEpoch;

    mapping(address member => uint64) private _until;
    mapping(address node => Node) private _nodes;
    address[] private _nodeList;
    mapping(address node => string) private _endpoints;
    mapping(address node => mapping(uint64 epoch => Beats)) private _beats;
    mapping(uint64 epoch => Epoch) private _epochs;
    mapping(uint64 epoch => Delta) private _deltas;

    Stream private _stream;
    /// @dev Pool left over by the last settled epoch (rounding, or nobody online).
    uint256 private _carry;
    /// @dev Streamed payments not yet settled into any epoch's pool.
    uint128 private _outstanding;
    uint128 private _treasuryBalance;

    /*//////////////////////////////////////////////////////////////
                                CONSTRUCTOR
    //////////////////////////////////////////////////////////////*/

    /// @param token_ ERC-20 the fees are paid in (any decimals; no fee-on-transfer or rebasing).
    /// @param price_ Token units per membership period.
    /// @param periodLength_ Seconds of access one period buys.
    /// @param epochLength_ Seconds per payout epoch; a whole multiple of `slotLength_`.
    /// @param slotLength_ Seconds per heartbeat slot: a node can be counted online once per slot.
    /// @param treasury_ Receives rounding remainders; may withdraw them, as may the owner.
    /// @param owner_ Manages nodes, pauses subscriptions, withdraws the treasury.
    constructor(
        address token_,
        uint256 price_,
        uint64 periodLength_,
        uint64 epochLength_,
        uint64 slotLength_,
        address treasury_,
        address owner_
    ) Ownable(owner_) {
        if (token_ == address(0) || treasury_ == address(0)) revert ZeroAddress();
        if (price_ == 0 || price_ > type(uint128).max / MAX_PERIODS) revert InvalidPrice();
        // Periods are capped so that MAX_PERIODS of them stay far inside a uint64 timestamp.
        if (
            periodLength_ == 0 || epochLength_ == 0 || slotLength_ == 0 || epochLength_ % slotLength_ != 0
                || uint256(periodLength_) * MAX_PERIODS > type(uint40).max
        ) revert InvalidTiming();
        token = IERC20(token_);
        price = price_;
        periodLength = periodLength_;
        epochLength = epochLength_;
        slotLength = slotLength_;
        treasury = treasury_;
        genesis = uint64(block.timestamp);
        _slotsPerEpoch = epochLength_ / slotLength_;
    }

    /*//////////////////////////////////////////////////////////////
                                MEMBERSHIP
    //////////////////////////////////////////////////////////////*/

    /// @notice Pays `price * periods` from the caller and extends `member`'s access by that many
    ///         periods from the later of now and its current end. Access starts at once.
    function subscribe(address member, uint256 periods) external whenNotPaused nonReentrant {
        if (member == address(0)) revert ZeroAddress();
        if (periods == 0 || periods > MAX_PERIODS) revert InvalidPeriods(periods);
        // Cannot overflow: the constructor bounds price * MAX_PERIODS below 2^128.
        uint256 amount = price * periods;

        uint64 current = _until[member];
        // forge-lint: disable-next-line(block-timestamp) -- seconds of skew do not matter at period scale
        uint64 start = current > block.timestamp ? current : uint64(block.timestamp);
        uint64 until = (uint256(start) + periods * periodLength).toUint64();
        _until[member] = until;

        // Spread evenly over every epoch the access [start, until) touches.
        uint64 first = _epochAt(start);
        uint64 last = _epochAt(until - 1);
        uint256 epochs = uint256(last - first) + 1;
        uint256 perEpoch = amount / epochs;
        uint256 remainder = amount - perEpoch * epochs;
        if (perEpoch > 0) {
            // first >= currentEpoch >= settledEpoch, so both changes land in unsettled epochs.
            // The casts keep every bit: perEpoch * epochs + remainder == amount < 2^128.
            // forge-lint: disable-next-line(unsafe-typecast)
            _deltas[first].starts += uint128(perEpoch);
            // forge-lint: disable-next-line(unsafe-typecast)
            _deltas[last + 1].ends += uint128(perEpoch);
            // forge-lint: disable-next-line(unsafe-typecast)
            _outstanding += uint128(perEpoch * epochs);
        }
        if (remainder > 0) {
            // forge-lint: disable-next-line(unsafe-typecast) -- remainder < amount < 2^128
            _treasuryBalance += uint128(remainder);
            emit TreasuryCredited(remainder);
        }
        emit Subscribed(member, msg.sender, periods, amount, until);

        // Interaction last; the balance check turns away tokens that skim a fee in transit.
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert TransferAmountMismatch(amount, received);
    }

    /// @notice Whether `member` has access right now.
    function isMember(address member) external view returns (bool) {
        // forge-lint: disable-next-line(block-timestamp) -- seconds of skew do not matter at period scale
        return _until[member] > block.timestamp;
    }

    /// @notice End of `member`'s access (unix seconds; 0 if never subscribed).
    function memberUntil(address member) external view returns (uint64) {
        return _until[member];
    }

    /*//////////////////////////////////////////////////////////////
                               NODE REGISTRY
    //////////////////////////////////////////////////////////////*/

    /// @notice Trusts `node` (again) with the proxy `endpoint` ("host:port").
    function addNode(address node, string calldata endpoint) external onlyOwner {
        if (node == address(0)) revert ZeroAddress();
        _checkEndpoint(endpoint);
        Node memory n = _nodes[node];
        if (n.active) revert NodeAlreadyActive(node);
        if (n.indexPlus1 == 0) {
            _nodeList.push(node);
            n.indexPlus1 = _nodeList.length.toUint32();
        }
        n.active = true;
        _nodes[node] = n;
        _endpoints[node] = endpoint;
        emit NodeAdded(node, endpoint);
    }

    /// @notice Stops trusting `node`. What it already earned stays claimable.
    function removeNode(address node) external onlyOwner {
        if (!_nodes[node].active) revert NodeNotActive(node);
        _nodes[node].active = false;
        emit NodeRemoved(node);
    }

    /// @notice Lets an active node move its proxy to a new "host:port".
    function setEndpoint(string calldata endpoint) external {
        if (!_nodes[msg.sender].active) revert NodeNotActive(msg.sender);
        _checkEndpoint(endpoint);
        _endpoints[msg.sender] = endpoint;
        emit EndpointSet(msg.sender, endpoint);
    }

    /// @notice Number of nodes ever added (removed ones included, marked inactive).
    function nodeCount() external view returns (uint256) {
        return _nodeList.length;
    }

    /// @notice The node at `index` in the order they were first added.
    function nodeAt(uint256 index) external view returns (address node, string memory endpoint, bool active) {
        uint256 count = _nodeList.length;
        if (index >= count) revert IndexOutOfRange(index, count);
        node = _nodeList[index];
        endpoint = _endpoints[node];
        active = _nodes[node].active;
    }

    function isActiveNode(address node) external view returns (bool) {
        return _nodes[node].active;
    }

    /*//////////////////////////////////////////////////////////////
                                HEARTBEATS
    //////////////////////////////////////////////////////////////*/

    /// @notice Records that the calling node is online in the current slot.
    /// @dev The first heartbeat of an epoch (by any node) also settles the finished epochs.
    function imOnline() external {
        Node memory n = _nodes[msg.sender];
        if (!n.active) revert NodeNotActive(msg.sender);
        uint64 slot = currentSlot();
        if (n.lastSlotPlus1 == slot + 1) revert AlreadyOnlineThisSlot(slot);
        uint64 epoch = slot / _slotsPerEpoch;
        if (_stream.settledEpoch < epoch) _settle(epoch, MAX_SETTLE_PER_CALL);

        n.lastSlotPlus1 = slot + 1;
        if (n.lastEpochPlus1 == epoch + 1) {
            // Cannot overflow: at most one heartbeat per slot, far fewer than 2^64 slots.
            unchecked {
                ++_beats[msg.sender][epoch].count;
            }
        } else {
            // First heartbeat of this node in this epoch: append the epoch to its list.
            if (n.lastEpochPlus1 != 0) _beats[msg.sender][n.lastEpochPlus1 - 1].nextPlus1 = epoch + 1;
            if (n.cursorPlus1 == 0) n.cursorPlus1 = epoch + 1;
            n.lastEpochPlus1 = epoch + 1;
            _beats[msg.sender][epoch].count = 1;
        }
        _nodes[msg.sender] = n;
        // Cannot overflow: one per node per slot, and node indexes fit in 32 bits.
        unchecked {
            ++_epochs[epoch].totalSlots;
        }
        emit Heartbeat(msg.sender, epoch, slot);
    }

    /// @notice Seconds since deploy divided into epochs; epoch 0 starts at `genesis`.
    function currentEpoch() public view returns (uint64) {
        return _epochAt(uint64(block.timestamp));
    }

    /// @notice Global heartbeat slot number (not reset per epoch).
    function currentSlot() public view returns (uint64) {
        return (uint64(block.timestamp) - genesis) / slotLength;
    }

    /// @notice Global slot of `node`'s latest heartbeat plus one; 0 if it never sent one.
    function lastHeartbeatSlot(address node) external view returns (uint64) {
        return _nodes[node].lastSlotPlus1;
    }

    /// @notice Heartbeats (slots online) `node` recorded in `epoch`.
    function heartbeatsInEpoch(address node, uint64 epoch) external view returns (uint64) {
        return _beats[node][epoch].count;
    }

    /*//////////////////////////////////////////////////////////////
                           SETTLEMENT AND PAYOUT
    //////////////////////////////////////////////////////////////*/

    /// @notice Settles up to `maxEpochs` finished epochs. Only needed after a long quiet spell
    ///         (more than MAX_SETTLE_PER_CALL epochs without a heartbeat); anyone may call it.
    /// @return settled The number of epochs settled by this call.
    function settle(uint256 maxEpochs) external returns (uint256 settled) {
        if (maxEpochs == 0) revert ZeroMaxEpochs();
        uint64 before = _stream.settledEpoch;
        _settle(currentEpoch(), maxEpochs);
        settled = _stream.settledEpoch - before;
    }

    /// @notice Pays the caller what it earned in up to `maxEpochs` finished epochs, oldest first.
    ///         Removed nodes can claim too: earned is earned. Settles up to MAX_SETTLE_PER_CALL
    ///         finished epochs first; if that was not yet enough to reach any of the caller's
    ///         epochs it returns 0 (keeping the settlement done) and a later call pays.
    /// @return paid Token units sent to the caller.
    function claim(uint256 maxEpochs) external nonReentrant returns (uint256 paid) {
        if (maxEpochs == 0) revert ZeroMaxEpochs();
        uint64 current = currentEpoch();
        uint64 before = _stream.settledEpoch;
        if (before < current) _settle(current, MAX_SETTLE_PER_CALL);
        uint64 settled = _stream.settledEpoch;

        uint64 cursor = _nodes[msg.sender].cursorPlus1;
        uint64 claimed;
        // cursor is epoch + 1, so `cursor <= settled` means the epoch is settled.
        while (cursor != 0 && cursor <= settled && claimed < maxEpochs) {
            uint64 epoch = cursor - 1;
            Beats memory b = _beats[msg.sender][epoch];
            paid += uint256(b.count) * _epochs[epoch].perSlot;
            cursor = b.nextPlus1;
            // Cannot overflow: bounded by maxEpochs and by the number of epochs.
            unchecked {
                ++claimed;
            }
        }
        if (claimed == 0) {
            // After a long silence the node's epochs may lie beyond this call's settlement
            // budget: keep the progress made and let the next call go on from there.
            if (settled != before) return 0;
            revert NothingToClaim();
        }
        _nodes[msg.sender].cursorPlus1 = cursor;
        emit Claimed(msg.sender, paid, claimed);
        if (paid > 0) token.safeTransfer(msg.sender, paid);
    }

    /// @notice What `claim` with no epoch limit would pay `node` now.
    function claimable(address node) external view returns (uint256 amount) {
        uint64 current = currentEpoch();
        uint64 settled = _stream.settledEpoch;
        Settlement memory s = _loadSettlement();
        uint64 cursor = _nodes[node].cursorPlus1;
        while (cursor != 0 && cursor <= current) {
            uint64 epoch = cursor - 1;
            uint256 perSlot;
            if (epoch < settled) {
                perSlot = _epochs[epoch].perSlot;
            } else {
                // Preview the settlement of every epoch up to and including this one.
                while (s.epoch <= epoch) {
                    (, perSlot,) = _settleNext(s);
                }
            }
            Beats memory b = _beats[node][epoch];
            amount += uint256(b.count) * perSlot;
            cursor = b.nextPlus1;
        }
    }

    /// @notice Tokens paid in but not yet earned by any node: the stream of current and future
    ///         epochs plus the pool carried over from finished ones.
    function undistributed() external view returns (uint256) {
        uint64 current = currentEpoch();
        Settlement memory s = _loadSettlement();
        while (s.epoch < current) {
            _settleNext(s);
        }
        return s.carry + s.outstanding;
    }

    /// @notice The first epoch not yet settled; all epochs below it have their payouts fixed.
    function settledEpoch() external view returns (uint64) {
        return _stream.settledEpoch;
    }

    /// @notice A settled epoch's payout per heartbeat slot and its total slots online.
    function epochPayout(uint64 epoch) external view returns (uint64 totalSlots, uint256 perSlot) {
        Epoch memory e = _epochs[epoch];
        return (e.totalSlots, e.perSlot);
    }

    /*//////////////////////////////////////////////////////////////
                                  OWNER
    //////////////////////////////////////////////////////////////*/

    /// @notice Sends `amount` of the treasury's rounding remainders to `to`. Owner or treasury.
    function withdrawTreasury(address to, uint256 amount) external nonReentrant {
        if (msg.sender != owner() && msg.sender != treasury) revert OwnableUnauthorizedAccount(msg.sender);
        if (to == address(0)) revert ZeroAddress();
        uint256 available = _treasuryBalance;
        if (amount > available) revert InsufficientTreasury(amount, available);
        // Cannot underflow: checked against the balance just above.
        unchecked {
            // forge-lint: disable-next-line(unsafe-typecast) -- below the uint128 balance it came from
            _treasuryBalance = uint128(available - amount);
        }
        emit TreasuryWithdrawn(to, amount);
        token.safeTransfer(to, amount);
    }

    /// @notice Token units the treasury may withdraw.
    function treasuryBalance() external view returns (uint256) {
        return _treasuryBalance;
    }

    /// @notice Stops new subscriptions. Access already bought, heartbeats and claims go on.
    function pause() external onlyOwner {
        _pause();
    }

    function unpause() external onlyOwner {
        _unpause();
    }

    /// @notice Disabled: without an owner no node could ever be added or removed again.
    function renounceOwnership() public view override onlyOwner {
        revert RenounceDisabled();
    }

    /*//////////////////////////////////////////////////////////////
                                 INTERNALS
    //////////////////////////////////////////////////////////////*/

    function _epochAt(uint64 timestamp) private view returns (uint64) {
        return (timestamp - genesis) / epochLength;
    }

    function _checkEndpoint(string calldata endpoint) private pure {
        uint256 length = bytes(endpoint).length;
        if (length == 0 || length > MAX_ENDPOINT_LENGTH) revert InvalidEndpoint(length);
    }

    function _loadSettlement() private view returns (Settlement memory s) {
        Stream memory st = _stream;
        s = Settlement({epoch: st.settledEpoch, rate: st.rate, carry: _carry, outstanding: _outstanding});
    }

    /// @dev Works out the settlement of epoch `s.epoch` from storage and advances `s` past it.
    ///      Shared by the real settlement and by the views that preview it.
    function _settleNext(Settlement memory s) private view returns (uint256 pool, uint256 perSlot, uint64 totalSlots) {
        Delta memory d = _deltas[s.epoch];
        s.rate = s.rate + d.starts - d.ends;
        s.outstanding -= s.rate;
        pool = s.rate + s.carry;
        totalSlots = _epochs[s.epoch].totalSlots;
        if (totalSlots == 0) {
            s.carry = pool; // nobody was online: the whole pool rolls over
        } else {
            perSlot = pool / totalSlots;
            // Cannot underflow: perSlot * totalSlots <= pool by floor division.
            unchecked {
                s.carry = pool - perSlot * totalSlots;
            }
        }
        // Cannot overflow: epochs are counted from a uint64 timestamp divided by epochLength >= 1.
        unchecked {
            ++s.epoch;
        }
    }

    /// @dev Settles finished epochs below `until`, at most `maxEpochs` of them, and stores the result.
    function _settle(uint64 until, uint256 maxEpochs) private {
        Settlement memory s = _loadSettlement();
        uint256 done;
        while (s.epoch < until && done < maxEpochs) {
            uint64 epoch = s.epoch;
            (uint256 pool, uint256 perSlot, uint64 totalSlots) = _settleNext(s);
            // perSlot <= pool, and every pool is made of payments that each fit in 128 bits.
            // forge-lint: disable-next-line(unsafe-typecast)
            if (perSlot != 0) _epochs[epoch].perSlot = uint192(perSlot);
            emit EpochSettled(epoch, pool, totalSlots, perSlot, s.carry);
            // Cannot overflow: bounded by maxEpochs.
            unchecked {
                ++done;
            }
        }
        if (done == 0) return;
        // Both fit: the rate is part of, and `outstanding` only shrinks from, the uint128 total.
        // forge-lint: disable-next-line(unsafe-typecast)
        _stream = Stream({settledEpoch: s.epoch, rate: uint192(s.rate)});
        _carry = s.carry;
        // forge-lint: disable-next-line(unsafe-typecast)
        _outstanding = uint128(s.outstanding);
    }
}
