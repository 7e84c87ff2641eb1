// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title Aqueduct
/// @notice The books of the Aqueduct proxy network: members pay a fee per period, trusted nodes
///         prove they are online with one heartbeat per slot, and every finished epoch's share of
///         the fees is split among the nodes in proportion to the slots they were online. A
///         monitor appointed by the owner may, during the epoch after, withhold the slots of a
///         node that did not serve; the share of an epoch in which no node served goes back to
///         whoever paid for it.
/// @dev Time is cut three ways from `genesis` (the deploy time): membership periods, epochs (the
///      unit of payout) and slots (the unit of uptime; an epoch is a whole number of slots).
///
///      Units. Internally every amount is kept in sub-units of 1 / SUBUNITS of a token unit, so
///      that streams and per-slot payouts divide without losing anything; tokens move in whole
///      units only, and every fraction left over stays in the books (see `books`).
///
///      Money flow. A payment of `price * periods` buys the access [start, until). It streams at
///      a constant rate per second over exactly those seconds, so the first and last epoch it
///      touches get only the seconds they cover; the division's remainder (the stream's dust)
///      lands in its last epoch, so the epochs of a payment add up to the amount exactly. Streams
///      are kept as a difference array (`_deltas`): each payment writes its first and its last
///      epoch, whatever its length.
///
///      Settlement. An epoch is settled one full epoch after it ends (the challenge window, in
///      which the monitor may withhold), in order, by whichever call comes first (a heartbeat, a
///      claim, a refund or `settle`). An epoch's pool is the exact amount its streams
///      delivered. If some node was online in it, the pool plus the carry is paid per heartbeat
///      slot, rounded up to a whole sub-unit; the rounding (at most one sub-unit per slot, so
///      below one token unit) is taken from the carry, which the next epochs repay. If nobody was
///      online, the pool is owed back to the payers of its streams, each in proportion to its
///      rate (`refund`), and the carry waits for the next epoch with a node online.
///
///      Payout. Each node keeps a linked list of the epochs it was online in; `claim` walks it
///      from the oldest unclaimed entry and pays the node's payee, keeping the node's fraction of
///      a unit for the next claim.
contract Aqueduct is Ownable2Step, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    /*//////////////////////////////////////////////////////////////
                                 CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Sub-units per token unit in the books.
    uint256 public constant SUBUNITS = 2 ** 32;

    /// @notice Highest `maxPeriods` a deployment may choose.
    uint256 public constant MAX_PERIODS_LIMIT = 1000;

    /// @notice Largest single payment (price * periods), in token units.
    uint256 public constant MAX_PAYMENT = 2 ** 80;

    /// @notice Shortest epoch and slot a deployment may choose: settlement and the views walk
    ///         epochs one at a time, and a heartbeat costs gas every slot.
    uint64 public constant MIN_EPOCH_LENGTH = 1 hours;
    uint64 public constant MIN_SLOT_LENGTH = 1 minutes;

    /// @notice Most slots per epoch and most nodes ever added. Together they keep an epoch's
    ///         slot total below SUBUNITS, which bounds the per-slot rounding below one unit.
    uint256 public constant MAX_SLOTS_PER_EPOCH = 2 ** 16;
    uint256 public constant MAX_NODES = 2 ** 16 - 1;

    /// @notice Longest endpoint accepted: a 253-byte DNS name, ':' and a 5-digit port, rounded.
    uint256 public constant MAX_ENDPOINT_LENGTH = 260;

    /// @notice Most epochs a heartbeat, claim or refund settles on the way; `settle` does the rest.
    uint256 public constant MAX_SETTLE_PER_CALL = 64;

    /// @notice Most unsettled epochs the views preview; beyond that they ask for `settle` first.
    uint256 public constant MAX_PREVIEW_EPOCHS = 1024;

    /*//////////////////////////////////////////////////////////////
                                  ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice An address argument was zero where a real account is needed.
    error ZeroAddress();
    /// @notice The price is zero, or `maxPeriods` of it exceed MAX_PAYMENT.
    error InvalidPrice();
    /// @notice `maxPeriods` is zero or above MAX_PERIODS_LIMIT.
    error InvalidMaxPeriods(uint256 maxPeriods);
    /// @notice An epoch below MIN_EPOCH_LENGTH, a slot below MIN_SLOT_LENGTH, an epoch that is not
    ///         a whole number of slots (or more than MAX_SLOTS_PER_EPOCH), a period shorter than
    ///         an epoch, or `maxPeriods` periods of 2^32 seconds or more.
    error InvalidTiming();
    /// @notice `subscribe` was asked for zero periods or more than `maxPeriods`.
    error InvalidPeriods(uint256 periods);
    /// @notice The access would end after `limit`: nobody may prepay more than `maxPeriods`
    ///         periods ahead of now, in one payment or several.
    error PrepaymentCapExceeded(uint64 until, uint64 limit);
    /// @notice The payment is smaller than one token unit per epoch it touches.
    error PaymentTooSmall(uint256 amount, uint256 epochs);
    /// @notice The token moved a different amount than asked (fee-on-transfer or rebasing token).
    error TransferAmountMismatch(uint256 expected, uint256 received);
    /// @notice The endpoint is empty or longer than MAX_ENDPOINT_LENGTH bytes.
    error InvalidEndpoint(uint256 length);
    /// @notice `addNode` for a node that is already active.
    error NodeAlreadyActive(address node);
    /// @notice The node is not active: never added, or removed.
    error NodeNotActive(address node);
    /// @notice MAX_NODES nodes have been added already.
    error TooManyNodes();
    /// @notice A node earns only from the epoch after the one it was (re)added in.
    error NotEarningYet(uint64 fromEpoch);
    /// @notice A node keeps its payee when it is added again; only the payee can change it.
    error PayeeFixed(address node, address payee);
    /// @notice Only the node's payee can name a new payee.
    error NotPayee(address payee);
    /// @notice A second heartbeat in the same slot.
    error AlreadyOnlineThisSlot(uint64 slot);
    /// @notice No finished, settled epoch is waiting to be claimed.
    error NothingToClaim();
    /// @notice No such payment, or nothing of it is owed back (yet).
    error NothingToRefund();
    /// @notice `claim(node, 0)` or `settle(0)`.
    error ZeroMaxEpochs();
    /// @notice `nodeAt` past the end of the node list.
    error IndexOutOfRange(uint256 index, uint256 count);
    /// @notice A view would have to preview more than MAX_PREVIEW_EPOCHS epochs: call `settle`.
    error SettlementBehind(uint256 unsettledEpochs);
    /// @notice Ownership can move (two steps) but not be dropped: nodes would be frozen forever.
    error RenounceDisabled();
    /// @notice Only the monitor may withhold (and there is none while it is the zero address).
    error NotMonitor(address caller);
    /// @notice An epoch can be withheld from only during the epoch after it: its challenge window.
    error OutsideChallengeWindow(uint64 epoch, uint64 currentEpoch);
    /// @notice The node has no (more) slots in that epoch to withhold.
    error NothingToWithhold(address node, uint64 epoch);

    /*//////////////////////////////////////////////////////////////
                                  EVENTS
    //////////////////////////////////////////////////////////////*/

    event Subscribed(address indexed member, address indexed payer, uint256 periods, uint256 amount, uint64 until);
    /// @notice A heartbeat, with what the node says it served since its previous one (sessions
    ///         opened, payload bytes relayed, distinct members seen): self-reported, not checked.
    event Heartbeat(
        address indexed node, uint64 indexed epoch, uint64 slot, uint64 sessions, uint64 bytesRelayed, uint64 members
    );
    event NodeAdded(address indexed node, string endpoint, uint64 earnsFrom);
    event NodeRemoved(address indexed node);
    event EndpointSet(address indexed node, string endpoint);
    event PayeeSet(address indexed node, address indexed payee);
    event MonitorSet(address indexed monitor);
    /// @notice The monitor took `slots` of `node` out of `epoch`: the epoch's pool goes to the
    ///         nodes that served (or back to the payers if none did). `reason` is the monitor's
    ///         code and `evidence` the hash of what it saw (its probe rows).
    event Withheld(address indexed node, uint64 indexed epoch, uint64 slots, uint8 reason, bytes32 evidence);
    event Claimed(address indexed node, address indexed payee, uint256 amount, uint64 epochsClaimed);
    /// @notice A payment's share of epochs nobody served was sent back to its payer.
    event Refunded(address indexed payer, address indexed member, uint64 until, uint256 amount);
    /// @notice An epoch was closed, in sub-units: with `totalSlots` > 0 each slot earned
    ///         `perSlot`; with none, `pool` is owed back to its payers. `carry` moves on.
    event EpochSettled(uint64 indexed epoch, uint256 pool, uint64 totalSlots, uint256 perSlot, int256 carry);

    /*//////////////////////////////////////////////////////////////
                                  STORAGE
    //////////////////////////////////////////////////////////////*/

    /// @dev One storage slot per node. Epoch and slot numbers fit: timestamps stay below 2^40
    ///      seconds, epochs are at least an hour and slots at least a minute long. Fields ending
    ///      in Plus1 hold the number plus one, so that 0 means none.
    struct Node {
        bool active;
        uint32 indexPlus1; // position in `_nodeList` + 1; 0 = never added
        uint40 lastSlotPlus1; // global slot of the latest heartbeat + 1
        uint32 lastEpochPlus1; // latest epoch with a heartbeat + 1 (tail of the epoch list)
        uint32 cursorPlus1; // oldest unclaimed epoch with a heartbeat + 1 (head); 0 = none
        uint32 earnsFrom; // first epoch whose heartbeats count
        uint32 remainder; // sub-units earned but not paid: less than one token unit
    }

    /// @dev A node's heartbeats in one epoch, and the next epoch it was online in (+1; 0 = none yet).
    struct Beats {
        uint64 count;
        uint64 nextPlus1;
    }

    /// @dev Heartbeat slots recorded by all nodes in an epoch; once settled, the per-slot payout
    ///      and how many epochs before it were refunded (empty epochs with a pool).
    struct Epoch {
        uint64 totalSlots;
        uint64 emptyBefore;
        uint128 perSlot;
    }

    /// @dev Stream changes in an epoch, in sub-units: `rate` is the change of the rate per
    ///      second over the epoch, `lump` corrects the epoch's pool for streams that start or end
    ///      inside it and adds the dust of those that end in it.
    struct Delta {
        int128 rate;
        int128 lump;
    }

    /// @dev One payment. A member's latest payment lives in `_latest`; a renewal moves the one
    ///      before into `_earlier`, keyed by member and end. `payer` 0 = nothing more to refund.
    struct Payment {
        uint40 until;
        uint16 periods;
        uint40 refundedSeconds; // seconds of nobody online already refunded
        address payer;
    }

    /// @dev Settlement progress: every epoch below `settledEpoch` is settled; `emptyEpochs` of
    ///      them were refunded; `rate` is the stream rate (sub-units per second) at their end.
    struct Progress {
        uint64 settledEpoch;
        uint64 emptyEpochs;
        uint128 rate;
    }

    /// @dev Sub-units held: streamed payments not yet in any epoch's pool, the carry (negative
    ///      by the rounding up of per-slot payouts), and what is owed to nodes and to payers.
    struct Books {
        uint128 outstanding;
        int128 carry;
        uint128 owedToNodes;
        uint128 owedToPayers;
    }

    /// @dev Working copy of the settlement state while epochs are settled or previewed.
    struct Settlement {
        uint64 epoch; // next epoch to settle
        uint64 emptyEpochs;
        uint256 rate;
        uint256 outstanding;
        int256 carry;
        uint256 owedToNodes;
        uint256 owedToPayers;
    }

    /// @dev What a refund needs to know about the first or last epoch of a payment.
    struct Mark {
        uint64 emptyBefore;
        bool empty;
    }

    IERC20 public immutable token;
    uint256 public immutable price;
    uint64 public immutable periodLength;
    uint64 public immutable epochLength;
    uint64 public immutable slotLength;
    /// @notice Most periods one payment may buy, and how far ahead of now access may be prepaid.
    uint256 public immutable maxPeriods;
    uint64 public immutable genesis;
    uint64 private immutable _slotsPerEpoch;

    mapping(address member => Payment) private _latest;
    mapping(bytes32 memberAndUntil => Payment) private _earlier;
    mapping(address node => Node) private _nodes;
    mapping(address node => address) private _payees;
    address[] private _nodeList;
    mapping(address node => string) private _endpoints;
    mapping(address node => mapping(uint64 epoch => Beats)) private _beats;
    mapping(uint64 epoch => Epoch) private _epochs;
    mapping(uint64 epoch => Delta) private _deltas;

    Progress private _progress;
    Books private _books;

    /// @notice May withhold a node's slots of the epoch just ended; set by the owner (0 = none).
    address public monitor;

    /*//////////////////////////////////////////////////////////////
                                CONSTRUCTOR
    //////////////////////////////////////////////////////////////*/

    /// @param token_ ERC-20 the fees are paid in (any decimals; no fee-on-transfer or rebasing).
    /// @param price_ Token units per membership period.
    /// @param periodLength_ Seconds of access one period buys; at least one epoch.
    /// @param epochLength_ Seconds per payout epoch: at least an hour, a whole number of slots.
    /// @param slotLength_ Seconds per heartbeat slot (at least a minute): a node is counted
    ///        online at most once per slot.
    /// @param maxPeriods_ Most periods a payment buys and a member may hold ahead (e.g. 12).
    /// @param owner_ Manages nodes and pauses subscriptions; cannot move anyone's money.
    constructor(
        address token_,
        uint256 price_,
        uint64 periodLength_,
        uint64 epochLength_,
        uint64 slotLength_,
        uint256 maxPeriods_,
        address owner_
    ) Ownable(owner_) {
        if (token_ == address(0)) revert ZeroAddress();
        if (maxPeriods_ == 0 || maxPeriods_ > MAX_PERIODS_LIMIT) revert InvalidMaxPeriods(maxPeriods_);
        if (price_ == 0 || price_ > MAX_PAYMENT / maxPeriods_) revert InvalidPrice();
        // A prepaid horizon below 2^32 s keeps every stream's rate at one sub-unit a second or more.
        if (
            epochLength_ < MIN_EPOCH_LENGTH || slotLength_ < MIN_SLOT_LENGTH || epochLength_ % slotLength_ != 0
                || epochLength_ / slotLength_ > MAX_SLOTS_PER_EPOCH || periodLength_ < epochLength_
                || uint256(periodLength_) * maxPeriods_ >= 2 ** 32
        ) revert InvalidTiming();
        token = IERC20(token_);
        price = price_;
        periodLength = periodLength_;
        epochLength = epochLength_;
        slotLength = slotLength_;
        maxPeriods = maxPeriods_;
        genesis = uint64(block.timestamp);
        _slotsPerEpoch = epochLength_ / slotLength_;
    }

    /*//////////////////////////////////////////////////////////////
                                MEMBERSHIP
    //////////////////////////////////////////////////////////////*/

    /// @notice Pays `price * periods` from the caller and extends `member`'s access by that many
    ///         periods from the later of now and its current end. Access starts at once. The
    ///         caller is the payer: what nobody served of this payment is refunded to it.
    function subscribe(address member, uint256 periods) external whenNotPaused nonReentrant {
        if (member == address(0)) revert ZeroAddress();
        if (periods == 0 || periods > maxPeriods) revert InvalidPeriods(periods);
        // Cannot overflow: the constructor bounds price * maxPeriods by MAX_PAYMENT.
        uint256 amount = price * periods;

        Payment memory previous = _latest[member];
        // forge-lint: disable-next-line(block-timestamp) -- seconds of skew do not matter at period scale
        uint64 now_ = uint64(block.timestamp);
        uint64 start = previous.until > now_ ? previous.until : now_;
        // The casts keep every bit and nothing overflows: periods <= maxPeriods <= 1000, and
        // maxPeriods * periodLength < 2^32 (constructor) while timestamps stay below 2^40.
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 duration = uint64(periods) * periodLength;
        uint64 until = start + duration;
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 limit = now_ + uint64(maxPeriods) * periodLength;
        if (until > limit) revert PrepaymentCapExceeded(until, limit);

        uint64 first = _epochAt(start);
        uint64 last = _epochAt(until - 1);
        uint256 epochs = uint256(last - first) + 1;
        if (amount < epochs) revert PaymentTooSmall(amount, epochs);

        _addStream(amount * SUBUNITS, start, until, first, last);

        if (previous.payer != address(0)) _earlier[_paymentKey(member, previous.until)] = previous;
        // The casts keep every bit: until < 2^40 and periods <= MAX_PERIODS_LIMIT < 2^16.
        // forge-lint: disable-next-line(unsafe-typecast)
        _latest[member] = Payment({until: uint40(until), periods: uint16(periods), refundedSeconds: 0, payer: msg.sender});
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
        return _latest[member].until > block.timestamp;
    }

    /// @notice End of `member`'s access (unix seconds; 0 if never subscribed).
    function memberUntil(address member) external view returns (uint64) {
        return _latest[member].until;
    }

    /*//////////////////////////////////////////////////////////////
                                  REFUNDS
    //////////////////////////////////////////////////////////////*/

    /// @notice Sends the payer of `member`'s payment that ends at `until` its share of the epochs
    ///         of that access in which no node was online, as far as they are settled (up to
    ///         MAX_SETTLE_PER_CALL more are settled first). Anyone may call it; the money goes
    ///         only to the payer. Can be called again as later epochs settle.
    /// @return paid Token units sent to the payer.
    function refund(address member, uint64 until) external nonReentrant returns (uint256 paid) {
        uint64 bound = _settleableUntil();
        if (_progress.settledEpoch < bound) _settle(bound, MAX_SETTLE_PER_CALL);

        bool isLatest = _latest[member].until == until;
        Payment memory p = isLatest ? _latest[member] : _earlier[_paymentKey(member, until)];
        if (p.payer == address(0) || p.until != until) revert NothingToRefund();

        Progress memory pr = _progress;
        (uint256 due, uint40 refundedSeconds, bool done) = _refundDue(p, pr.settledEpoch, pr.emptyEpochs, true, _noMarks());
        if (due == 0) revert NothingToRefund();

        address payer = p.payer;
        if (done) p.payer = address(0);
        p.refundedSeconds = refundedSeconds;
        if (isLatest) {
            _latest[member] = p;
        } else if (done) {
            delete _earlier[_paymentKey(member, until)];
        } else {
            _earlier[_paymentKey(member, until)] = p;
        }

        paid = due / SUBUNITS;
        Books memory b = _books;
        // Cannot underflow: `due` is part of what the settled epochs owe the payers.
        b.owedToPayers -= due.toUint128();
        // The fraction of a unit stays in the books, for the nodes of the next epochs.
        b.carry += (due - paid * SUBUNITS).toInt256().toInt128();
        _books = b;
        emit Refunded(payer, member, until, paid);
        if (paid > 0) token.safeTransfer(payer, paid);
    }

    /// @notice What `refund(member, until)` would pay now, settlement included.
    function refundable(address member, uint64 until) external view returns (uint256) {
        Payment memory p = _latest[member].until == until ? _latest[member] : _earlier[_paymentKey(member, until)];
        if (p.payer == address(0) || p.until != until) return 0;
        (uint64 first, uint64 last) = _paymentEpochs(p);
        Settlement memory s = _loadSettlement();
        uint64 bound = _previewBound(s.epoch);
        Mark[2] memory marks;
        uint64 stored = s.epoch;
        // Preview the settlement of the payment's epochs that are not settled yet, noting what
        // the refund needs to know about its first and last.
        while (s.epoch < bound && s.epoch <= last) {
            uint64 epoch = s.epoch;
            uint64 emptyBefore = s.emptyEpochs;
            (, , uint64 totalSlots) = _settleNext(s);
            if (epoch == first) marks[0] = Mark(emptyBefore, totalSlots == 0);
            if (epoch == last) marks[1] = Mark(emptyBefore, totalSlots == 0);
        }
        if (first < stored) marks[0] = _storedMark(first);
        if (last < stored) marks[1] = _storedMark(last);
        (uint256 due,,) = _refundDue(p, s.epoch, s.emptyEpochs, false, marks);
        return due / SUBUNITS;
    }

    /*//////////////////////////////////////////////////////////////
                               NODE REGISTRY
    //////////////////////////////////////////////////////////////*/

    /// @notice Trusts `node` (again) with the proxy `endpoint` ("host:port"). Its earnings go to
    ///         `payee`, which only the payee itself can change later; a node added again keeps
    ///         the payee it had. The node earns from the next epoch on.
    function addNode(address node, string calldata endpoint, address payee) external onlyOwner {
        if (node == address(0) || payee == address(0)) revert ZeroAddress();
        _checkEndpoint(endpoint);
        Node memory n = _nodes[node];
        if (n.active) revert NodeAlreadyActive(node);
        address current = _payees[node];
        if (current == address(0)) {
            _payees[node] = payee;
            emit PayeeSet(node, payee);
        } else if (current != payee) {
            revert PayeeFixed(node, current);
        }
        if (n.indexPlus1 == 0) {
            if (_nodeList.length >= MAX_NODES) revert TooManyNodes();
            _nodeList.push(node);
            n.indexPlus1 = _nodeList.length.toUint32();
        }
        uint64 from = currentEpoch() + 1;
        n.active = true;
        // Cannot overflow: epochs of an hour or more since genesis stay far below 2^32.
        // forge-lint: disable-next-line(unsafe-typecast)
        n.earnsFrom = uint32(from);
        _nodes[node] = n;
        _endpoints[node] = endpoint;
        emit NodeAdded(node, endpoint, from);
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

    /// @notice The payee of `node` names a new payee for it.
    function setPayee(address node, address payee) external {
        address current = _payees[node];
        if (msg.sender != current || current == address(0)) revert NotPayee(current);
        if (payee == address(0)) revert ZeroAddress();
        _payees[node] = payee;
        emit PayeeSet(node, payee);
    }

    /// @notice Where `node`'s earnings are paid (0 if it was never added).
    function payeeOf(address node) external view returns (address) {
        return _payees[node];
    }

    /// @notice First epoch whose heartbeats count for `node` (the one after it was last added).
    function earnsFrom(address node) external view returns (uint64) {
        return _nodes[node].earnsFrom;
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

    /// @notice Records that the calling node is online in the current slot, with what it served
    ///         since its previous heartbeat (self-reported; emitted, not stored).
    /// @dev The first heartbeat of an epoch (by any node) also settles the epochs whose challenge
    ///      window is over.
    function imOnline(uint64 sessions, uint64 bytesRelayed, uint64 members) external {
        Node memory n = _nodes[msg.sender];
        if (!n.active) revert NodeNotActive(msg.sender);
        uint64 slot = currentSlot();
        if (n.lastSlotPlus1 == slot + 1) revert AlreadyOnlineThisSlot(slot);
        uint64 epoch = slot / _slotsPerEpoch;
        if (epoch < n.earnsFrom) revert NotEarningYet(n.earnsFrom);
        uint64 bound = _settleableUntil();
        if (_progress.settledEpoch < bound) _settle(bound, MAX_SETTLE_PER_CALL);

        // The casts keep every bit: slots of a minute or more and epochs of an hour or more,
        // counted from a timestamp below 2^40, stay below 2^40 and 2^32 (see `Node`).
        // forge-lint: disable-next-line(unsafe-typecast)
        n.lastSlotPlus1 = uint40(slot + 1);
        if (n.lastEpochPlus1 == epoch + 1) {
            // Cannot overflow: at most one heartbeat per slot, far fewer than 2^64 slots.
            unchecked {
                ++_beats[msg.sender][epoch].count;
            }
        } else {
            // First heartbeat of this node in this epoch: append the epoch to its list.
            if (n.lastEpochPlus1 != 0) _beats[msg.sender][n.lastEpochPlus1 - 1].nextPlus1 = epoch + 1;
            // forge-lint: disable-next-line(unsafe-typecast)
            if (n.cursorPlus1 == 0) n.cursorPlus1 = uint32(epoch + 1);
            // forge-lint: disable-next-line(unsafe-typecast)
            n.lastEpochPlus1 = uint32(epoch + 1);
            _beats[msg.sender][epoch].count = 1;
        }
        _nodes[msg.sender] = n;
        // Cannot overflow: one per node per slot, below MAX_NODES * MAX_SLOTS_PER_EPOCH.
        unchecked {
            ++_epochs[epoch].totalSlots;
        }
        emit Heartbeat(msg.sender, epoch, slot, sessions, bytesRelayed, members);
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
                                 MONITOR
    //////////////////////////////////////////////////////////////*/

    /// @notice The monitor takes `node`'s slots out of `epoch`, the epoch just ended (its
    ///         challenge window is the current epoch): the node is paid nothing for it and its
    ///         share goes to the nodes that served. `reason` and `evidence` are logged.
    function withhold(address node, uint64 epoch, uint8 reason, bytes32 evidence) external {
        if (msg.sender != monitor || msg.sender == address(0)) revert NotMonitor(msg.sender);
        uint64 current = currentEpoch();
        if (epoch + 1 != current) revert OutsideChallengeWindow(epoch, current);
        Beats storage b = _beats[node][epoch];
        uint64 slots = b.count;
        if (slots == 0) revert NothingToWithhold(node, epoch);
        b.count = 0;
        // Cannot underflow: the node's slots are part of the epoch's total.
        unchecked {
            _epochs[epoch].totalSlots -= slots;
        }
        emit Withheld(node, epoch, slots, reason, evidence);
    }

    /// @notice Names the monitor (the zero address: none).
    function setMonitor(address monitor_) external onlyOwner {
        monitor = monitor_;
        emit MonitorSet(monitor_);
    }

    /*//////////////////////////////////////////////////////////////
                           SETTLEMENT AND PAYOUT
    //////////////////////////////////////////////////////////////*/

    /// @notice Settles up to `maxEpochs` epochs whose challenge window is over. Only needed after a long quiet spell
    ///         (more than MAX_SETTLE_PER_CALL epochs without a heartbeat); anyone may call it.
    /// @return settled The number of epochs settled by this call.
    function settle(uint256 maxEpochs) external returns (uint256 settled) {
        if (maxEpochs == 0) revert ZeroMaxEpochs();
        uint64 before = _progress.settledEpoch;
        _settle(_settleableUntil(), maxEpochs);
        settled = _progress.settledEpoch - before;
    }

    /// @notice Pays `node`'s payee what the node earned in up to `maxEpochs` settled epochs,
    ///         oldest first. An epoch is settled one full epoch after it ends. Anyone may call it: the money goes only to the payee. Removed nodes
    ///         are paid too: earned is earned. Settles up to MAX_SETTLE_PER_CALL finished epochs
    ///         first; if that was not yet enough to reach any of the node's epochs it returns 0
    ///         (keeping the settlement done) and a later call pays.
    /// @return paid Token units sent to the payee.
    function claim(address node, uint256 maxEpochs) external nonReentrant returns (uint256 paid) {
        if (maxEpochs == 0) revert ZeroMaxEpochs();
        uint64 bound = _settleableUntil();
        uint64 before = _progress.settledEpoch;
        if (before < bound) _settle(bound, MAX_SETTLE_PER_CALL);
        uint64 settled = _progress.settledEpoch;

        Node memory n = _nodes[node];
        uint64 cursor = n.cursorPlus1;
        uint64 claimed;
        uint256 earned = n.remainder;
        // cursor is epoch + 1, so `cursor <= settled` means the epoch is settled.
        while (cursor != 0 && cursor <= settled && claimed < maxEpochs) {
            uint64 epoch = cursor - 1;
            Beats memory b = _beats[node][epoch];
            earned += uint256(b.count) * _epochs[epoch].perSlot;
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
        paid = earned / SUBUNITS;
        // The casts keep every bit: cursor is a node epoch + 1 (see `Node`), the rest < SUBUNITS.
        // forge-lint: disable-next-line(unsafe-typecast)
        n.cursorPlus1 = uint32(cursor);
        // forge-lint: disable-next-line(unsafe-typecast)
        n.remainder = uint32(earned - paid * SUBUNITS);
        _nodes[node] = n;
        // Cannot underflow: what the epochs assigned to this node is part of what is owed.
        _books.owedToNodes -= (paid * SUBUNITS).toUint128();
        address payee = _payees[node];
        emit Claimed(node, payee, paid, claimed);
        if (paid > 0) token.safeTransfer(payee, paid);
    }

    /// @notice What `claim` with no epoch limit would pay `node`'s payee now, settlement included:
    ///         the epochs that ended more than one epoch ago (the last one may still be withheld).
    function claimable(address node) external view returns (uint256) {
        Settlement memory s = _loadSettlement();
        uint64 stored = s.epoch;
        uint64 bound = _previewBound(s.epoch);
        Node memory n = _nodes[node];
        uint64 cursor = n.cursorPlus1;
        uint256 earned = n.remainder;
        while (cursor != 0 && cursor <= bound) {
            uint64 epoch = cursor - 1;
            uint256 perSlot;
            if (epoch < stored) {
                perSlot = _epochs[epoch].perSlot;
            } else {
                // Preview the settlement of every epoch up to and including this one.
                while (s.epoch <= epoch) {
                    (, perSlot,) = _settleNext(s);
                }
            }
            Beats memory b = _beats[node][epoch];
            earned += uint256(b.count) * perSlot;
            cursor = b.nextPlus1;
        }
        return earned / SUBUNITS;
    }

    /// @notice Token units paid in that are neither earned by a node nor owed back to a payer
    ///         yet: the stream of current and future epochs plus the carry, settlement included.
    function undistributed() external view returns (uint256) {
        Settlement memory s = _loadSettlement();
        uint64 bound = _previewBound(s.epoch);
        while (s.epoch < bound) {
            _settleNext(s);
        }
        int256 held = s.outstanding.toInt256() + s.carry;
        // forge-lint: disable-next-line(unsafe-typecast) -- positive
        return held > 0 ? uint256(held) / SUBUNITS : 0;
    }

    /// @notice The books as stored, in sub-units (no settlement previewed). The token balance
    ///         times SUBUNITS always equals outstanding + carry + owedToNodes + owedToPayers.
    function books()
        external
        view
        returns (uint256 outstanding, int256 carry, uint256 owedToNodes, uint256 owedToPayers)
    {
        Books memory b = _books;
        return (b.outstanding, b.carry, b.owedToNodes, b.owedToPayers);
    }

    /// @notice The first epoch not yet settled; all epochs below it have their payouts fixed.
    function settledEpoch() external view returns (uint64) {
        return _progress.settledEpoch;
    }

    /// @notice A settled epoch's total slots online and its payout per slot, in sub-units.
    function epochPayout(uint64 epoch) external view returns (uint64 totalSlots, uint256 perSlot) {
        Epoch memory e = _epochs[epoch];
        return (e.totalSlots, e.perSlot);
    }

    /*//////////////////////////////////////////////////////////////
                                  OWNER
    //////////////////////////////////////////////////////////////*/

    /// @notice Stops new subscriptions. Access already bought, heartbeats, claims and refunds go on.
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

    function _epochStart(uint64 epoch) private view returns (uint64) {
        return genesis + epoch * epochLength;
    }

    /// @dev Epochs below this one may be settled now: those whose challenge window (the epoch
    ///      after them) is over.
    function _settleableUntil() private view returns (uint64) {
        uint64 current = currentEpoch();
        return current > 0 ? current - 1 : 0;
    }

    /// @dev The settleable bound, refusing to preview more than MAX_PREVIEW_EPOCHS epochs.
    function _previewBound(uint64 settled) private view returns (uint64 bound) {
        bound = _settleableUntil();
        if (bound > settled && bound - settled > MAX_PREVIEW_EPOCHS) revert SettlementBehind(bound - settled);
    }

    function _checkEndpoint(string calldata endpoint) private pure {
        uint256 length = bytes(endpoint).length;
        if (length == 0 || length > MAX_ENDPOINT_LENGTH) revert InvalidEndpoint(length);
    }

    function _paymentKey(address member, uint64 until) private pure returns (bytes32) {
        return keccak256(abi.encode(member, until));
    }

    /// @dev Adds a stream of `scaled` sub-units over [start, until) to the difference array.
    function _addStream(uint256 scaled, uint64 start, uint64 until, uint64 first, uint64 last) private {
        uint256 duration = until - start;
        uint256 rate = scaled / duration;
        // The dust of the division lands in the last epoch: the epochs add up to `scaled`.
        uint256 dust = scaled - rate * duration;
        // The rate joins during `first`, for the seconds left in it, and leaves during `last`,
        // minus the seconds after `until` (the pool of an epoch uses the rate at the end of the
        // one before, plus its lump).
        int256 r = rate.toInt256();
        Delta storage d = _deltas[first];
        d.rate += r.toInt128();
        d.lump += (r * int256(uint256(_epochStart(first + 1) - start))).toInt128();
        d = _deltas[last];
        d.rate -= r.toInt128();
        d.lump += (dust.toInt256() - r * int256(uint256(_epochStart(last + 1) - until))).toInt128();
        _books.outstanding += scaled.toUint128();
    }

    function _paymentEpochs(Payment memory p) private view returns (uint64 first, uint64 last) {
        uint64 start = p.until - uint64(p.periods) * periodLength;
        return (_epochAt(start), _epochAt(p.until - 1));
    }

    function _noMarks() private pure returns (Mark[2] memory marks) {}

    function _storedMark(uint64 epoch) private view returns (Mark memory) {
        Epoch memory e = _epochs[epoch];
        return Mark(e.emptyBefore, e.totalSlots == 0);
    }

    /// @dev What payment `p` is owed back, in sub-units, once every epoch below `settled` is
    ///      settled and `emptyEpochs` of them were refunded: its rate times the seconds of its
    ///      access in those empty epochs not refunded yet, plus its dust if its last epoch was
    ///      empty. `fromStorage` reads the marks of its first and last epoch, else takes `marks`.
    function _refundDue(Payment memory p, uint64 settled, uint64 emptyEpochs, bool fromStorage, Mark[2] memory marks)
        private
        view
        returns (uint256 due, uint40 refundedSeconds, bool done)
    {
        (uint64 first, uint64 last) = _paymentEpochs(p);
        refundedSeconds = p.refundedSeconds;
        if (settled <= first) return (0, refundedSeconds, false);
        done = last < settled;
        if (fromStorage) {
            marks[0] = _storedMark(first);
            if (done) marks[1] = _storedMark(last);
        }
        uint64 duration = uint64(p.periods) * periodLength;
        // Seconds of nobody online since genesis at the end of what is settled of the payment,
        // less the same at its start. Every epoch of a payment has a pool, so all are counted.
        uint256 emptySeconds = (done ? _emptyAt(marks[1], last, p.until) : uint256(emptyEpochs) * epochLength)
            - _emptyAt(marks[0], first, p.until - duration);
        uint256 scaled = price * p.periods * SUBUNITS;
        uint256 rate = scaled / duration;
        due = rate * (emptySeconds - refundedSeconds);
        if (done && marks[1].empty) due += scaled - rate * duration;
        // Cannot overflow: at most `duration` seconds, below 2^32.
        // forge-lint: disable-next-line(unsafe-typecast)
        refundedSeconds = uint40(emptySeconds);
    }

    /// @dev Seconds of nobody online from genesis to `t`, a moment inside settled `epoch`.
    function _emptyAt(Mark memory m, uint64 epoch, uint64 t) private view returns (uint256) {
        return uint256(m.emptyBefore) * epochLength + (m.empty ? t - _epochStart(epoch) : 0);
    }

    function _loadSettlement() private view returns (Settlement memory s) {
        Progress memory pr = _progress;
        Books memory b = _books;
        s = Settlement({
            epoch: pr.settledEpoch,
            emptyEpochs: pr.emptyEpochs,
            rate: pr.rate,
            outstanding: b.outstanding,
            carry: b.carry,
            owedToNodes: b.owedToNodes,
            owedToPayers: b.owedToPayers
        });
    }

    /// @dev Works out the settlement of epoch `s.epoch` from storage and advances `s` past it.
    ///      Shared by the real settlement and by the views that preview it.
    function _settleNext(Settlement memory s) private view returns (uint256 pool, uint256 perSlot, uint64 totalSlots) {
        Delta memory d = _deltas[s.epoch];
        // The pool is what the streams delivered over the epoch: never negative.
        pool = ((s.rate * epochLength).toInt256() + d.lump).toUint256();
        s.rate = (s.rate.toInt256() + d.rate).toUint256();
        s.outstanding -= pool;
        totalSlots = _epochs[s.epoch].totalSlots;
        if (totalSlots == 0) {
            // Nobody was online: the payers get the pool back; the carry waits for a node.
            if (pool > 0) {
                s.owedToPayers += pool;
                ++s.emptyEpochs;
            }
        } else {
            int256 total = pool.toInt256() + s.carry;
            if (total > 0) {
                // Rounded up, so that nothing stays behind; the rounding is owed by the carry,
                // at most one sub-unit per slot.
                // forge-lint: disable-next-line(unsafe-typecast) -- positive
                perSlot = Math.ceilDiv(uint256(total), totalSlots);
                s.carry = total - (perSlot * totalSlots).toInt256();
                s.owedToNodes += perSlot * totalSlots;
            } else {
                s.carry = total;
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
            uint64 emptyBefore = s.emptyEpochs;
            (uint256 pool, uint256 perSlot, uint64 totalSlots) = _settleNext(s);
            // What a refund of a payment in this epoch needs (every such epoch has a pool).
            if (pool > 0 || perSlot > 0) {
                _epochs[epoch] =
                    Epoch({totalSlots: totalSlots, emptyBefore: emptyBefore, perSlot: perSlot.toUint128()});
            }
            emit EpochSettled(epoch, pool, totalSlots, perSlot, s.carry);
            // Cannot overflow: bounded by maxEpochs.
            unchecked {
                ++done;
            }
        }
        if (done == 0) return;
        _progress = Progress({settledEpoch: s.epoch, emptyEpochs: s.emptyEpochs, rate: s.rate.toUint128()});
        _books = Books({
            outstanding: s.outstanding.toUint128(),
            carry: s.carry.toInt128(),
            owedToNodes: s.owedToNodes.toUint128(),
            owedToPayers: s.owedToPayers.toUint128()
        });
    }
}
