//! Calldata of the Aqueduct and ERC-20 functions and their view calls through a
//! [`Client`]: every signature in [`sig`], checked against the artifacts by a test.

use super::errors::ContractError;
use crate::eth::abi::{self, Kind, Value};
use crate::eth::rpc::{BlockId, CallRequest, Client, RpcError};
use crate::eth::Address;

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

pub(crate) fn call_data(signature: &str, args: &[Value]) -> Vec<u8> {
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

    /// Fails with [`ContractError::NotAqueduct`] when the address holds code that does not
    /// answer Aqueduct's timing views (a token, another contract, an older Aqueduct), so
    /// that a wrong `--contract` is named as such instead of failing call by call.
    pub fn ensure_aqueduct(&self) -> Result<(), ContractError> {
        self.ensure_code()?;
        let answer = self
            .epoch_length()
            .and_then(|_| self.slot_length())
            .and_then(|_| self.max_periods())
            .and_then(|_| self.token());
        match answer {
            Ok(_) => Ok(()),
            // The chain could not be asked: not a verdict on the contract.
            Err(ContractError::Rpc(e)) if !matches!(e, RpcError::Rpc { .. }) => {
                Err(ContractError::Rpc(e))
            }
            Err(ContractError::Rpc(e)) => Err(ContractError::NotAqueduct {
                address: self.address,
                why: format!(
                    "the call reverted: {}",
                    e.revert().unwrap_or("no reason given")
                ),
            }),
            Err(ContractError::Decode { function, .. }) => Err(ContractError::NotAqueduct {
                address: self.address,
                why: format!("it does not answer {function}"),
            }),
            Err(e) => Err(e),
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::artifact::tests::abi_signatures;
    use crate::contract::artifact::{AQUEDUCT_ARTIFACT, STABLECOIN_ARTIFACT};

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
}
