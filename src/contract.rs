//! Typed bindings of the Aqueduct contract and its ERC-20 token (TestStablecoin on dev
//! chains): calldata builders, view calls, event decoding, and revert data decoded into
//! the custom error names of the embedded artifacts.
//!
//! Every signature used here is listed in [`sig`]; a test checks each against the
//! artifact's ABI, so a renamed or retyped contract function fails the build's tests
//! instead of failing on chain.

use crate::eth::abi::{self, Kind, Value};
use crate::eth::rpc::{BlockId, CallRequest, Client, Log, LogFilter, RpcError};
use crate::eth::{hex, Address};
use std::fmt;

/// `{"abi": [...], "bytecode": "0x..."}` as committed by the contracts branch.
pub const AQUEDUCT_ARTIFACT: &str = include_str!("../contracts/artifacts/Aqueduct.json");
pub const STABLECOIN_ARTIFACT: &str = include_str!("../contracts/artifacts/TestStablecoin.json");

/// The canonical signatures of everything the bindings call or decode.
pub mod sig {
    pub const SUBSCRIBE: &str = "subscribe(address,uint256)";
    pub const IS_MEMBER: &str = "isMember(address)";
    pub const MEMBER_UNTIL: &str = "memberUntil(address)";
    pub const ADD_NODE: &str = "addNode(address,string,address)";
    pub const REMOVE_NODE: &str = "removeNode(address)";
    pub const SET_ENDPOINT: &str = "setEndpoint(string)";
    pub const NODE_COUNT: &str = "nodeCount()";
    pub const NODE_AT: &str = "nodeAt(uint256)";
    pub const IS_ACTIVE_NODE: &str = "isActiveNode(address)";
    pub const IM_ONLINE: &str = "imOnline(uint64,uint64,uint64)";
    pub const CLAIM: &str = "claim(address,uint256)";
    pub const CLAIMABLE: &str = "claimable(address)";
    pub const GENESIS: &str = "genesis()";
    pub const CURRENT_EPOCH: &str = "currentEpoch()";
    pub const CURRENT_SLOT: &str = "currentSlot()";
    pub const LAST_HEARTBEAT_SLOT: &str = "lastHeartbeatSlot(address)";
    pub const HEARTBEATS_IN_EPOCH: &str = "heartbeatsInEpoch(address,uint64)";
    pub const SET_PAYEE: &str = "setPayee(address,address)";
    pub const PAYEE_OF: &str = "payeeOf(address)";
    pub const EARNS_FROM: &str = "earnsFrom(address)";
    pub const REFUND: &str = "refund(address,uint64)";
    pub const REFUNDABLE: &str = "refundable(address,uint64)";
    pub const SETTLE: &str = "settle(uint256)";
    pub const SETTLED_EPOCH: &str = "settledEpoch()";
    pub const MAX_PERIODS: &str = "maxPeriods()";
    pub const SET_MONITOR: &str = "setMonitor(address)";
    pub const MONITOR: &str = "monitor()";
    pub const WITHHOLD: &str = "withhold(address,uint64,uint8,bytes32)";
    pub const TOKEN: &str = "token()";
    pub const PRICE: &str = "price()";
    pub const PERIOD_LENGTH: &str = "periodLength()";
    pub const EPOCH_LENGTH: &str = "epochLength()";
    pub const SLOT_LENGTH: &str = "slotLength()";
    pub const OWNER: &str = "owner()";
    pub const PAUSED: &str = "paused()";

    pub const AQUEDUCT_FUNCTIONS: &[&str] = &[
        SUBSCRIBE,
        IS_MEMBER,
        MEMBER_UNTIL,
        ADD_NODE,
        REMOVE_NODE,
        SET_ENDPOINT,
        NODE_COUNT,
        NODE_AT,
        IS_ACTIVE_NODE,
        IM_ONLINE,
        CLAIM,
        CLAIMABLE,
        GENESIS,
        CURRENT_EPOCH,
        CURRENT_SLOT,
        LAST_HEARTBEAT_SLOT,
        HEARTBEATS_IN_EPOCH,
        SET_PAYEE,
        PAYEE_OF,
        EARNS_FROM,
        REFUND,
        REFUNDABLE,
        SETTLE,
        SETTLED_EPOCH,
        MAX_PERIODS,
        SET_MONITOR,
        MONITOR,
        WITHHOLD,
        TOKEN,
        PRICE,
        PERIOD_LENGTH,
        EPOCH_LENGTH,
        SLOT_LENGTH,
        OWNER,
        PAUSED,
    ];

    pub const SUBSCRIBED: &str = "Subscribed(address,address,uint256,uint256,uint64)";
    pub const HEARTBEAT: &str = "Heartbeat(address,uint64,uint64,uint64,uint64,uint64)";
    pub const NODE_ADDED: &str = "NodeAdded(address,string,uint64)";
    pub const NODE_REMOVED: &str = "NodeRemoved(address)";
    pub const ENDPOINT_SET: &str = "EndpointSet(address,string)";
    pub const CLAIMED: &str = "Claimed(address,address,uint256,uint64)";
    pub const PAYEE_SET: &str = "PayeeSet(address,address)";
    pub const REFUNDED: &str = "Refunded(address,address,uint64,uint256)";
    pub const MONITOR_SET: &str = "MonitorSet(address)";
    pub const WITHHELD: &str = "Withheld(address,uint64,uint64,uint8,bytes32)";
    pub const AQUEDUCT_EVENTS: &[&str] = &[
        SUBSCRIBED,
        HEARTBEAT,
        NODE_ADDED,
        NODE_REMOVED,
        ENDPOINT_SET,
        CLAIMED,
        PAYEE_SET,
        REFUNDED,
        MONITOR_SET,
        WITHHELD,
    ];

    pub const APPROVE: &str = "approve(address,uint256)";
    pub const ALLOWANCE: &str = "allowance(address,address)";
    pub const BALANCE_OF: &str = "balanceOf(address)";
    pub const DECIMALS: &str = "decimals()";
    pub const SYMBOL: &str = "symbol()";
    pub const MINT: &str = "mint(address,uint256)";
    pub const TOKEN_FUNCTIONS: &[&str] = &[APPROVE, ALLOWANCE, BALANCE_OF, DECIMALS, SYMBOL, MINT];
}

/// A contract's ABI and creation bytecode.
pub struct Artifact {
    pub abi: Vec<serde_json::Value>,
    pub bytecode: Vec<u8>,
}

impl Artifact {
    pub fn parse(json: &str) -> Result<Artifact, String> {
        let v: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("artifact is not JSON: {e}"))?;
        let abi = v
            .get("abi")
            .and_then(|a| a.as_array())
            .ok_or("artifact has no `abi` list")?
            .clone();
        let code = v
            .get("bytecode")
            .and_then(|b| {
                b.as_str()
                    .or_else(|| b.get("object").and_then(|o| o.as_str()))
            })
            .ok_or("artifact has no `bytecode`")?;
        let bytecode = hex::decode(code).map_err(|e| format!("artifact bytecode: {e}"))?;
        Ok(Artifact { abi, bytecode })
    }

    /// Entries of one `type` (function, event, error) as (name, input kinds, indexed flags).
    pub fn entries(&self, ty: &str) -> Vec<(String, Vec<Kind>, Vec<bool>)> {
        self.abi
            .iter()
            .filter(|e| e.get("type").and_then(|t| t.as_str()) == Some(ty))
            .filter_map(|e| {
                let name = e.get("name")?.as_str()?.to_string();
                let inputs = e.get("inputs")?.as_array()?;
                let kinds = inputs
                    .iter()
                    .map(Kind::from_abi_param)
                    .collect::<Result<Vec<_>, _>>()
                    .ok()?;
                let indexed = inputs
                    .iter()
                    .map(|i| i.get("indexed").and_then(|x| x.as_bool()).unwrap_or(false))
                    .collect();
                Some((name, kinds, indexed))
            })
            .collect()
    }
}

/// Revert data as a readable error: the contract's custom error with its arguments
/// (`NodeNotActive(0x…)`), `Error(string)`'s message, or a `Panic` code's meaning.
/// `None` for empty data or a selector found in neither artifact.
pub fn decode_revert(data: &[u8]) -> Option<String> {
    let (selector, args) = (data.get(..4)?, data.get(4..)?);
    if selector == abi::selector("Error(string)") {
        let v = abi::decode(&[Kind::String], args).ok()?;
        return v.first()?.as_str().map(str::to_string);
    }
    if selector == abi::selector("Panic(uint256)") {
        let code = abi::decode(&[Kind::Uint(256)], args)
            .ok()?
            .first()?
            .as_uint()?;
        let what = match code {
            0x01 => "assertion failed",
            0x11 => "arithmetic overflow or underflow",
            0x12 => "division by zero",
            0x32 => "array index out of bounds",
            _ => "internal error",
        };
        return Some(format!("Panic(0x{code:x}): {what}"));
    }
    for json in [AQUEDUCT_ARTIFACT, STABLECOIN_ARTIFACT] {
        let Ok(artifact) = Artifact::parse(json) else {
            continue;
        };
        for (name, kinds, _) in artifact.entries("error") {
            if abi::selector(&abi::signature(&name, &kinds)) != selector {
                continue;
            }
            let shown = match abi::decode(&kinds, args) {
                Ok(values) => values
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                Err(_) => "undecodable arguments".to_string(),
            };
            return Some(format!("{name}({shown})"));
        }
    }
    None
}

/// The constructor arguments of Aqueduct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployParams {
    pub token: Address,
    /// Token units per period.
    pub price: u128,
    pub period_length: u64,
    pub epoch_length: u64,
    pub slot_length: u64,
    /// Most periods one payment buys, and how far ahead access may be prepaid.
    pub max_periods: u64,
    pub owner: Address,
}

/// The deploy-time rules of the contract's constructor, checked before anything is sent.
pub mod limits {
    pub const MIN_EPOCH_LENGTH: u64 = 3600;
    pub const MIN_SLOT_LENGTH: u64 = 60;
    pub const MAX_SLOTS_PER_EPOCH: u64 = 1 << 16;
    pub const MAX_PERIODS_LIMIT: u64 = 1000;
    /// `max_periods * period_length` must stay below this many seconds.
    pub const MAX_PREPAID_SECONDS: u64 = 1 << 32;
    /// Largest `price * max_periods`, in token units.
    pub const MAX_PAYMENT: u128 = 1 << 80;
}

impl DeployParams {
    /// Why the constructor would refuse these parameters, in the words of its rules.
    pub fn check(&self) -> Result<(), String> {
        use limits::*;
        let (epoch, slot, period) = (self.epoch_length, self.slot_length, self.period_length);
        if epoch < MIN_EPOCH_LENGTH {
            return Err(format!(
                "an epoch must last at least {MIN_EPOCH_LENGTH} s (1h), not {epoch} s"
            ));
        }
        if slot < MIN_SLOT_LENGTH {
            return Err(format!(
                "a slot must last at least {MIN_SLOT_LENGTH} s (1m), not {slot} s"
            ));
        }
        if epoch % slot != 0 {
            return Err(format!(
                "the epoch ({epoch} s) is not a whole number of slots ({slot} s)"
            ));
        }
        if epoch / slot > MAX_SLOTS_PER_EPOCH {
            return Err(format!(
                "an epoch may hold at most {MAX_SLOTS_PER_EPOCH} slots, not {}",
                epoch / slot
            ));
        }
        if period < epoch {
            return Err(format!(
                "a period ({period} s) must last at least one epoch ({epoch} s)"
            ));
        }
        if self.max_periods == 0 || self.max_periods > MAX_PERIODS_LIMIT {
            return Err(format!(
                "max periods must be between 1 and {MAX_PERIODS_LIMIT}, not {}",
                self.max_periods
            ));
        }
        if u128::from(period) * u128::from(self.max_periods) >= u128::from(MAX_PREPAID_SECONDS) {
            return Err(format!(
                "{} periods of {period} s reach 2^32 seconds (136 years): choose fewer or shorter",
                self.max_periods
            ));
        }
        if self.price == 0 || self.price > MAX_PAYMENT / u128::from(self.max_periods) {
            return Err(format!(
                "the price must be above zero and at most 2^80 / {} token units",
                self.max_periods
            ));
        }
        Ok(())
    }
}

fn creation_code(artifact_json: &str, args: &[Value]) -> Result<Vec<u8>, String> {
    let mut code = Artifact::parse(artifact_json)?.bytecode;
    if code.is_empty() {
        return Err("the embedded artifact has no bytecode".into());
    }
    code.extend_from_slice(&abi::encode(args));
    Ok(code)
}

/// Bytecode plus encoded constructor arguments, ready for a creation transaction.
pub fn aqueduct_creation_code(p: &DeployParams) -> Result<Vec<u8>, String> {
    creation_code(
        AQUEDUCT_ARTIFACT,
        &[
            Value::Address(p.token),
            Value::Uint(p.price),
            Value::Uint(p.period_length.into()),
            Value::Uint(p.epoch_length.into()),
            Value::Uint(p.slot_length.into()),
            Value::Uint(p.max_periods.into()),
            Value::Address(p.owner),
        ],
    )
}

pub fn stablecoin_creation_code() -> Result<Vec<u8>, String> {
    creation_code(STABLECOIN_ARTIFACT, &[])
}

fn call_data(signature: &str, args: &[Value]) -> Vec<u8> {
    abi::encode_call(abi::selector(signature), args)
}

/// Calldata of the state-changing Aqueduct functions.
pub mod calls {
    use super::*;

    pub fn subscribe(member: Address, periods: u64) -> Vec<u8> {
        call_data(
            sig::SUBSCRIBE,
            &[Value::Address(member), Value::Uint(periods.into())],
        )
    }
    pub fn add_node(node: Address, endpoint: &str, payee: Address) -> Vec<u8> {
        call_data(
            sig::ADD_NODE,
            &[
                Value::Address(node),
                Value::String(endpoint.into()),
                Value::Address(payee),
            ],
        )
    }
    pub fn set_payee(node: Address, payee: Address) -> Vec<u8> {
        call_data(
            sig::SET_PAYEE,
            &[Value::Address(node), Value::Address(payee)],
        )
    }
    pub fn refund(member: Address, until: u64) -> Vec<u8> {
        call_data(
            sig::REFUND,
            &[Value::Address(member), Value::Uint(until.into())],
        )
    }
    pub fn settle(max_epochs: u64) -> Vec<u8> {
        call_data(sig::SETTLE, &[Value::Uint(max_epochs.into())])
    }
    pub fn remove_node(node: Address) -> Vec<u8> {
        call_data(sig::REMOVE_NODE, &[Value::Address(node)])
    }
    pub fn set_endpoint(endpoint: &str) -> Vec<u8> {
        call_data(sig::SET_ENDPOINT, &[Value::String(endpoint.into())])
    }
    pub fn im_online(usage: &Usage) -> Vec<u8> {
        call_data(
            sig::IM_ONLINE,
            &[
                Value::Uint(usage.sessions.into()),
                Value::Uint(usage.bytes_relayed.into()),
                Value::Uint(usage.members.into()),
            ],
        )
    }
    pub fn set_monitor(monitor: Address) -> Vec<u8> {
        call_data(sig::SET_MONITOR, &[Value::Address(monitor)])
    }
    /// The monitor takes `node`'s slots out of `epoch` (the epoch just ended), with its
    /// reason code and the hash of its evidence.
    pub fn withhold(node: Address, epoch: u64, reason: u8, evidence: [u8; 32]) -> Vec<u8> {
        call_data(
            sig::WITHHOLD,
            &[
                Value::Address(node),
                Value::Uint(epoch.into()),
                Value::Uint(reason.into()),
                Value::FixedBytes(evidence.to_vec()),
            ],
        )
    }
    pub fn claim(node: Address, max_epochs: u64) -> Vec<u8> {
        call_data(
            sig::CLAIM,
            &[Value::Address(node), Value::Uint(max_epochs.into())],
        )
    }
    pub fn approve(spender: Address, amount: u128) -> Vec<u8> {
        call_data(
            sig::APPROVE,
            &[Value::Address(spender), Value::Uint(amount)],
        )
    }
    pub fn mint(to: Address, amount: u128) -> Vec<u8> {
        call_data(sig::MINT, &[Value::Address(to), Value::Uint(amount)])
    }
}

/// An RPC failure, or an answer that does not decode as the function's return type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractError {
    Rpc(RpcError),
    /// The address has no code: a wrong address, or the wrong chain.
    NoContract {
        address: Address,
    },
    Decode {
        function: &'static str,
        error: abi::AbiError,
    },
}

impl fmt::Display for ContractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContractError::Rpc(e) => write!(f, "{e}"),
            ContractError::NoContract { address } => {
                write!(f, "there is no contract at {address} on this chain")
            }
            ContractError::Decode { function, error } => write!(
                f,
                "cannot decode the answer of {function}: {error} (is this the right contract address?)"
            ),
        }
    }
}

impl std::error::Error for ContractError {}

impl From<RpcError> for ContractError {
    fn from(e: RpcError) -> Self {
        ContractError::Rpc(e)
    }
}

/// One entry of the node registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub node: Address,
    pub endpoint: String,
    pub active: bool,
}

/// What a node reports it served since its previous heartbeat (self-reported; the
/// contract emits it in `Heartbeat` and stores nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Sessions opened by members.
    pub sessions: u64,
    /// Payload bytes relayed, both ways.
    pub bytes_relayed: u64,
    /// Distinct members seen.
    pub members: u64,
}

/// Whether a node's `imOnline` would be accepted now: checked before spending gas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatCheck {
    /// Active, and no heartbeat yet in the current global `slot`.
    Due { slot: u64 },
    /// This slot's heartbeat is already on chain.
    AlreadySent { slot: u64 },
    /// Not (or no longer) an active node: `imOnline` would revert.
    NotActive,
    /// Added in the current epoch: heartbeats count (and are accepted) from `from_epoch`.
    NotYet { from_epoch: u64 },
}

/// Read access to a deployed contract through a client (views via eth_call).
#[derive(Clone, Copy)]
pub struct Contract<'c> {
    pub client: &'c Client,
    pub address: Address,
}

fn u64_of(function: &'static str, v: u128) -> Result<u64, ContractError> {
    u64::try_from(v).map_err(|_| ContractError::Decode {
        function,
        error: abi::AbiError::Overflow { at: 0 },
    })
}

impl<'c> Contract<'c> {
    pub fn new(client: &'c Client, address: Address) -> Contract<'c> {
        Contract { client, address }
    }

    /// Calls a view function and decodes its outputs.
    pub fn view(
        &self,
        signature: &'static str,
        args: &[Value],
        outputs: &[Kind],
    ) -> Result<Vec<Value>, ContractError> {
        let data = self.client.call(
            &CallRequest::new(self.address, call_data(signature, args)),
            BlockId::Latest,
        )?;
        if data.is_empty() && !outputs.is_empty() {
            // eth_call to an address without code answers "0x".
            self.ensure_code()?;
            return Err(ContractError::Decode {
                function: signature,
                error: abi::AbiError::Truncated { at: 0 },
            });
        }
        abi::decode(outputs, &data).map_err(|error| ContractError::Decode {
            function: signature,
            error,
        })
    }

    /// Fails with [`ContractError::NoContract`] when nothing is deployed at the address:
    /// a transaction to such an address would "succeed" and do nothing.
    pub fn ensure_code(&self) -> Result<(), ContractError> {
        if self.client.code(self.address)?.is_empty() {
            return Err(ContractError::NoContract {
                address: self.address,
            });
        }
        Ok(())
    }

    fn one(
        &self,
        signature: &'static str,
        args: &[Value],
        out: Kind,
    ) -> Result<Value, ContractError> {
        let mut v = self.view(signature, args, &[out])?;
        v.pop().ok_or(ContractError::Decode {
            function: signature,
            error: abi::AbiError::Truncated { at: 0 },
        })
    }

    fn uint(&self, signature: &'static str, args: &[Value]) -> Result<u128, ContractError> {
        let v = self.one(signature, args, Kind::Uint(256))?;
        Ok(v.as_uint().unwrap_or_default())
    }

    fn uint64(&self, signature: &'static str, args: &[Value]) -> Result<u64, ContractError> {
        let v = self.one(signature, args, Kind::Uint(64))?;
        u64_of(signature, v.as_uint().unwrap_or_default())
    }

    fn boolean(&self, signature: &'static str, args: &[Value]) -> Result<bool, ContractError> {
        Ok(self
            .one(signature, args, Kind::Bool)?
            .as_bool()
            .unwrap_or_default())
    }

    fn address(&self, signature: &'static str, args: &[Value]) -> Result<Address, ContractError> {
        Ok(self
            .one(signature, args, Kind::Address)?
            .as_address()
            .unwrap_or_default())
    }

    // --- Aqueduct views ---

    pub fn is_member(&self, member: Address) -> Result<bool, ContractError> {
        self.boolean(sig::IS_MEMBER, &[Value::Address(member)])
    }
    pub fn member_until(&self, member: Address) -> Result<u64, ContractError> {
        self.uint64(sig::MEMBER_UNTIL, &[Value::Address(member)])
    }
    pub fn node_count(&self) -> Result<u64, ContractError> {
        let n = self.uint(sig::NODE_COUNT, &[])?;
        u64_of(sig::NODE_COUNT, n)
    }
    pub fn node_at(&self, index: u64) -> Result<NodeInfo, ContractError> {
        let v = self.view(
            sig::NODE_AT,
            &[Value::Uint(index.into())],
            &[Kind::Address, Kind::String, Kind::Bool],
        )?;
        match v.as_slice() {
            [Value::Address(node), Value::String(endpoint), Value::Bool(active)] => Ok(NodeInfo {
                node: *node,
                endpoint: endpoint.clone(),
                active: *active,
            }),
            _ => Err(ContractError::Decode {
                function: sig::NODE_AT,
                error: abi::AbiError::Truncated { at: 0 },
            }),
        }
    }
    /// Every registered node, active or not, in registry order.
    pub fn nodes(&self) -> Result<Vec<NodeInfo>, ContractError> {
        let count = self.node_count()?;
        (0..count).map(|i| self.node_at(i)).collect()
    }
    pub fn is_active_node(&self, node: Address) -> Result<bool, ContractError> {
        self.boolean(sig::IS_ACTIVE_NODE, &[Value::Address(node)])
    }
    pub fn claimable(&self, node: Address) -> Result<u128, ContractError> {
        self.uint(sig::CLAIMABLE, &[Value::Address(node)])
    }
    pub fn genesis(&self) -> Result<u64, ContractError> {
        self.uint64(sig::GENESIS, &[])
    }
    pub fn current_epoch(&self) -> Result<u64, ContractError> {
        self.uint64(sig::CURRENT_EPOCH, &[])
    }
    pub fn current_slot(&self) -> Result<u64, ContractError> {
        self.uint64(sig::CURRENT_SLOT, &[])
    }
    /// Global slot + 1 of the node's latest heartbeat; 0 = never.
    pub fn last_heartbeat_slot(&self, node: Address) -> Result<u64, ContractError> {
        self.uint64(sig::LAST_HEARTBEAT_SLOT, &[Value::Address(node)])
    }
    /// Pre-flight for `imOnline` at the latest block's time (the transaction lands a
    /// block later, so a slot boundary in between can still make it the next slot's).
    pub fn heartbeat_check(&self, node: Address) -> Result<HeartbeatCheck, ContractError> {
        if !self.is_active_node(node)? {
            return Ok(HeartbeatCheck::NotActive);
        }
        let slot = self.current_slot()?;
        if self.last_heartbeat_slot(node)? == slot.saturating_add(1) {
            return Ok(HeartbeatCheck::AlreadySent { slot });
        }
        let from_epoch = self.earns_from(node)?;
        if self.current_epoch()? < from_epoch {
            return Ok(HeartbeatCheck::NotYet { from_epoch });
        }
        Ok(HeartbeatCheck::Due { slot })
    }

    pub fn heartbeats_in_epoch(&self, node: Address, epoch: u64) -> Result<u64, ContractError> {
        self.uint64(
            sig::HEARTBEATS_IN_EPOCH,
            &[Value::Address(node), Value::Uint(epoch.into())],
        )
    }
    /// Where the node's earnings are paid (zero if it was never added).
    pub fn payee_of(&self, node: Address) -> Result<Address, ContractError> {
        self.address(sig::PAYEE_OF, &[Value::Address(node)])
    }
    /// The first epoch whose heartbeats count for the node.
    pub fn earns_from(&self, node: Address) -> Result<u64, ContractError> {
        self.uint64(sig::EARNS_FROM, &[Value::Address(node)])
    }
    /// Token units `refund(member, until)` would send the payment's payer now.
    pub fn refundable(&self, member: Address, until: u64) -> Result<u128, ContractError> {
        self.uint(
            sig::REFUNDABLE,
            &[Value::Address(member), Value::Uint(until.into())],
        )
    }
    pub fn settled_epoch(&self) -> Result<u64, ContractError> {
        self.uint64(sig::SETTLED_EPOCH, &[])
    }
    /// Who may withhold (zero: nobody).
    pub fn monitor(&self) -> Result<Address, ContractError> {
        self.address(sig::MONITOR, &[])
    }
    pub fn max_periods(&self) -> Result<u64, ContractError> {
        let n = self.uint(sig::MAX_PERIODS, &[])?;
        u64_of(sig::MAX_PERIODS, n)
    }
    pub fn token(&self) -> Result<Address, ContractError> {
        self.address(sig::TOKEN, &[])
    }
    pub fn price(&self) -> Result<u128, ContractError> {
        self.uint(sig::PRICE, &[])
    }
    pub fn period_length(&self) -> Result<u64, ContractError> {
        self.uint64(sig::PERIOD_LENGTH, &[])
    }
    pub fn epoch_length(&self) -> Result<u64, ContractError> {
        self.uint64(sig::EPOCH_LENGTH, &[])
    }
    pub fn slot_length(&self) -> Result<u64, ContractError> {
        self.uint64(sig::SLOT_LENGTH, &[])
    }
    pub fn owner(&self) -> Result<Address, ContractError> {
        self.address(sig::OWNER, &[])
    }
    pub fn paused(&self) -> Result<bool, ContractError> {
        self.boolean(sig::PAUSED, &[])
    }

    // --- ERC-20 views (on the token's address) ---

    pub fn balance_of(&self, owner: Address) -> Result<u128, ContractError> {
        self.uint(sig::BALANCE_OF, &[Value::Address(owner)])
    }
    pub fn allowance(&self, owner: Address, spender: Address) -> Result<u128, ContractError> {
        self.uint(
            sig::ALLOWANCE,
            &[Value::Address(owner), Value::Address(spender)],
        )
    }
    pub fn decimals(&self) -> Result<u8, ContractError> {
        let v = self.one(sig::DECIMALS, &[], Kind::Uint(8))?;
        Ok(v.as_uint().unwrap_or_default() as u8)
    }
    pub fn symbol(&self) -> Result<String, ContractError> {
        let v = self.one(sig::SYMBOL, &[], Kind::String)?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    // --- Events ---

    /// The filter for one of this contract's events (by signature, see [`sig`]).
    pub fn event_filter(&self, event_signature: &str) -> LogFilter {
        LogFilter {
            address: Some(self.address),
            topics: vec![Some(vec![abi::event_topic(event_signature)])],
        }
    }

    /// `Subscribed` events in `from..=to`, in chain order.
    pub fn subscribed(&self, from: u64, to: u64) -> Result<Vec<Subscribed>, ContractError> {
        self.subscribed_matching(self.event_filter(sig::SUBSCRIBED), from, to)
    }

    /// The `Subscribed` events of the payments `payer` made in `from..=to`.
    pub fn paid_by(
        &self,
        payer: Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<Subscribed>, ContractError> {
        let mut filter = self.event_filter(sig::SUBSCRIBED);
        let mut topic = [0u8; 32];
        topic[12..].copy_from_slice(&payer.0);
        filter.topics.extend([None, Some(vec![topic])]);
        self.subscribed_matching(filter, from, to)
    }

    fn subscribed_matching(
        &self,
        filter: LogFilter,
        from: u64,
        to: u64,
    ) -> Result<Vec<Subscribed>, ContractError> {
        let logs = self.client.logs(&filter, from, to)?;
        logs.iter()
            .map(|l| {
                Subscribed::from_log(l).map_err(|error| ContractError::Decode {
                    function: sig::SUBSCRIBED,
                    error,
                })
            })
            .collect()
    }
}

/// A decoded `Subscribed` log, with where it was found (for reorg handling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribed {
    pub member: Address,
    pub payer: Address,
    pub periods: u128,
    pub amount: u128,
    /// Unix time the membership now ends.
    pub until: u64,
    pub block_number: u64,
    pub block_hash: [u8; 32],
    pub log_index: u64,
}

/// A decoded `Heartbeat` log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub node: Address,
    pub epoch: u64,
    pub slot: u64,
    /// What the node reported it served since its previous heartbeat.
    pub usage: Usage,
    pub block_number: u64,
}

/// A decoded `Withheld` log: the monitor took `slots` of `node` out of `epoch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withheld {
    pub node: Address,
    pub epoch: u64,
    pub slots: u64,
    pub reason: u8,
    pub evidence: [u8; 32],
    pub block_number: u64,
}

fn log_values(
    log: &Log,
    event_signature: &str,
    params: &[(Kind, bool)],
) -> Result<Vec<Value>, abi::AbiError> {
    let (first, rest) = log.topics.split_first().ok_or(abi::AbiError::BadValue {
        at: 0,
        what: "event topic",
    })?;
    if *first != abi::event_topic(event_signature) {
        return Err(abi::AbiError::BadValue {
            at: 0,
            what: "event topic",
        });
    }
    abi::decode_log(params, rest, &log.data)
}

fn small(v: &Value) -> Result<u64, abi::AbiError> {
    v.as_uint()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or(abi::AbiError::Overflow { at: 0 })
}

impl Subscribed {
    pub fn from_log(log: &Log) -> Result<Subscribed, abi::AbiError> {
        let v = log_values(
            log,
            sig::SUBSCRIBED,
            &[
                (Kind::Address, true),
                (Kind::Address, true),
                (Kind::Uint(256), false),
                (Kind::Uint(256), false),
                (Kind::Uint(64), false),
            ],
        )?;
        match v.as_slice() {
            [Value::Address(member), Value::Address(payer), Value::Uint(periods), Value::Uint(amount), until] => {
                Ok(Subscribed {
                    member: *member,
                    payer: *payer,
                    periods: *periods,
                    amount: *amount,
                    until: small(until)?,
                    block_number: log.block_number,
                    block_hash: log.block_hash,
                    log_index: log.log_index,
                })
            }
            _ => Err(abi::AbiError::Truncated { at: 0 }),
        }
    }
}

impl Heartbeat {
    pub fn from_log(log: &Log) -> Result<Heartbeat, abi::AbiError> {
        let v = log_values(
            log,
            sig::HEARTBEAT,
            &[
                (Kind::Address, true),
                (Kind::Uint(64), true),
                (Kind::Uint(64), false),
                (Kind::Uint(64), false),
                (Kind::Uint(64), false),
                (Kind::Uint(64), false),
            ],
        )?;
        match v.as_slice() {
            [Value::Address(node), epoch, slot, sessions, bytes, members] => Ok(Heartbeat {
                node: *node,
                epoch: small(epoch)?,
                slot: small(slot)?,
                usage: Usage {
                    sessions: small(sessions)?,
                    bytes_relayed: small(bytes)?,
                    members: small(members)?,
                },
                block_number: log.block_number,
            }),
            _ => Err(abi::AbiError::Truncated { at: 0 }),
        }
    }
}

impl Withheld {
    pub fn from_log(log: &Log) -> Result<Withheld, abi::AbiError> {
        let v = log_values(
            log,
            sig::WITHHELD,
            &[
                (Kind::Address, true),
                (Kind::Uint(64), true),
                (Kind::Uint(64), false),
                (Kind::Uint(8), false),
                (Kind::FixedBytes(32), false),
            ],
        )?;
        match v.as_slice() {
            [Value::Address(node), epoch, slots, reason, Value::FixedBytes(evidence)] => {
                Ok(Withheld {
                    node: *node,
                    epoch: small(epoch)?,
                    slots: small(slots)?,
                    reason: u8::try_from(small(reason)?)
                        .map_err(|_| abi::AbiError::Overflow { at: 0 })?,
                    evidence: evidence
                        .as_slice()
                        .try_into()
                        .map_err(|_| abi::AbiError::Truncated { at: 0 })?,
                    block_number: log.block_number,
                })
            }
            _ => Err(abi::AbiError::Truncated { at: 0 }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signatures computed from the artifact's JSON inputs, per entry type.
    fn abi_signatures(json: &str, ty: &str) -> Vec<String> {
        Artifact::parse(json)
            .unwrap()
            .entries(ty)
            .iter()
            .map(|(name, kinds, _)| abi::signature(name, kinds))
            .collect()
    }

    #[test]
    fn every_selector_used_is_in_the_artifacts() {
        let functions = abi_signatures(AQUEDUCT_ARTIFACT, "function");
        for s in sig::AQUEDUCT_FUNCTIONS {
            assert!(
                functions
                    .iter()
                    .any(|f| abi::selector(f) == abi::selector(s)),
                "{s} is not a function of Aqueduct.json"
            );
        }
        let events = abi_signatures(AQUEDUCT_ARTIFACT, "event");
        for s in sig::AQUEDUCT_EVENTS {
            assert!(
                events
                    .iter()
                    .any(|e| abi::event_topic(e) == abi::event_topic(s)),
                "{s} is not an event of Aqueduct.json"
            );
        }
        let token = abi_signatures(STABLECOIN_ARTIFACT, "function");
        for s in sig::TOKEN_FUNCTIONS {
            assert!(
                token.iter().any(|f| abi::selector(f) == abi::selector(s)),
                "{s} is not a function of TestStablecoin.json"
            );
        }
    }

    #[test]
    fn event_indexing_matches_the_artifact() {
        let artifact = Artifact::parse(AQUEDUCT_ARTIFACT).unwrap();
        let events = artifact.entries("event");
        let find = |name: &str| events.iter().find(|e| e.0 == name).unwrap().2.clone();
        assert_eq!(find("Subscribed"), vec![true, true, false, false, false]);
        assert_eq!(
            find("Heartbeat"),
            vec![true, true, false, false, false, false]
        );
        assert_eq!(find("Withheld"), vec![true, true, false, false, false]);
    }

    #[test]
    fn custom_errors_decode_by_name_with_arguments() {
        let node = Address([0xab; 20]);
        let data = call_data("NodeNotActive(address)", &[Value::Address(node)]);
        assert_eq!(
            decode_revert(&data).as_deref(),
            Some(format!("NodeNotActive({node})").as_str())
        );
        let data = call_data("NothingToClaim()", &[]);
        assert_eq!(decode_revert(&data).as_deref(), Some("NothingToClaim()"));
        let data = call_data("Error(string)", &[Value::String("nope".into())]);
        assert_eq!(decode_revert(&data).as_deref(), Some("nope"));
        let data = call_data("Panic(uint256)", &[Value::Uint(0x11)]);
        assert!(decode_revert(&data).unwrap().contains("overflow"));
        assert_eq!(decode_revert(&[]), None);
        assert_eq!(decode_revert(&[1, 2, 3, 4]), None);
        // Truncated arguments still name the error.
        let data = call_data("NodeNotActive(address)", &[Value::Address(node)]);
        assert!(decode_revert(&data[..10])
            .unwrap()
            .starts_with("NodeNotActive("));
    }

    #[test]
    fn every_error_in_the_artifacts_decodes() {
        for json in [AQUEDUCT_ARTIFACT, STABLECOIN_ARTIFACT] {
            for (name, kinds, _) in Artifact::parse(json).unwrap().entries("error") {
                let data = call_data(&abi::signature(&name, &kinds), &[]);
                let shown = decode_revert(&data).unwrap();
                assert!(shown.starts_with(&format!("{name}(")), "{shown}");
            }
        }
    }

    fn params() -> DeployParams {
        DeployParams {
            token: Address([1; 20]),
            price: 10_000_000,
            period_length: 30 * 86400,
            epoch_length: 86400,
            slot_length: 3600,
            max_periods: 12,
            owner: Address([3; 20]),
        }
    }

    #[test]
    fn deploy_params_are_checked_against_the_constructor_rules() {
        assert_eq!(params().check(), Ok(()));
        let shortest = DeployParams {
            period_length: 3600,
            epoch_length: 3600,
            slot_length: 60,
            ..params()
        };
        assert_eq!(shortest.check(), Ok(()));
        let refused = |p: DeployParams, words: &str| {
            let e = p.check().unwrap_err();
            assert!(e.contains(words), "{e}");
        };
        refused(
            DeployParams {
                epoch_length: 600,
                slot_length: 60,
                ..params()
            },
            "at least 3600 s",
        );
        refused(
            DeployParams {
                slot_length: 59,
                epoch_length: 3540,
                ..params()
            },
            "at least 3600 s",
        );
        refused(
            DeployParams {
                slot_length: 30,
                ..params()
            },
            "at least 60 s",
        );
        refused(
            DeployParams {
                slot_length: 7 * 3600,
                ..params()
            },
            "whole number of slots",
        );
        refused(
            DeployParams {
                epoch_length: 50 * 86400,
                slot_length: 60,
                period_length: 100 * 86400,
                ..params()
            },
            "at most 65536 slots",
        );
        refused(
            DeployParams {
                period_length: 3600,
                ..params()
            },
            "at least one epoch",
        );
        refused(
            DeployParams {
                max_periods: 0,
                ..params()
            },
            "between 1 and 1000",
        );
        refused(
            DeployParams {
                max_periods: 1001,
                ..params()
            },
            "between 1 and 1000",
        );
        refused(
            DeployParams {
                max_periods: 1000,
                period_length: 365 * 86400,
                ..params()
            },
            "2^32 seconds",
        );
        refused(
            DeployParams {
                price: 0,
                ..params()
            },
            "above zero",
        );
        refused(
            DeployParams {
                price: (1 << 80) / 12 + 1,
                ..params()
            },
            "2^80 / 12",
        );
    }

    #[test]
    fn creation_code_appends_constructor_arguments() {
        let code = aqueduct_creation_code(&params()).unwrap();
        let bytecode = Artifact::parse(AQUEDUCT_ARTIFACT).unwrap().bytecode;
        assert!(code.starts_with(&bytecode));
        assert_eq!(code.len(), bytecode.len() + 7 * 32);
    }
}
