//! What goes over the wire: the request and answer types of the calls the project makes,
//! their JSON forms, and strict readers of the node's hex quantities, hashes and logs.

use super::super::{hex, Address};
use serde_json::{json, Value};

/// Which block a read is made against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockId {
    Latest,
    Pending,
    Number(u64),
}

impl BlockId {
    pub(super) fn to_json(self) -> Value {
        match self {
            BlockId::Latest => json!("latest"),
            BlockId::Pending => json!("pending"),
            BlockId::Number(n) => json!(quantity(n as u128)),
        }
    }
}

/// The transaction-like object of eth_call and eth_estimateGas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallRequest {
    pub from: Option<Address>,
    /// `None` for a contract creation.
    pub to: Option<Address>,
    pub data: Vec<u8>,
    pub value: u128,
    pub gas: Option<u64>,
}

impl CallRequest {
    pub fn new(to: Address, data: Vec<u8>) -> CallRequest {
        CallRequest {
            to: Some(to),
            data,
            ..CallRequest::default()
        }
    }

    pub(super) fn to_json(&self) -> Value {
        let mut o = serde_json::Map::new();
        if let Some(from) = self.from {
            o.insert("from".into(), json!(from.to_lower_hex()));
        }
        if let Some(to) = self.to {
            o.insert("to".into(), json!(to.to_lower_hex()));
        }
        o.insert("data".into(), json!(hex::encode_prefixed(&self.data)));
        if self.value != 0 {
            o.insert("value".into(), json!(quantity(self.value)));
        }
        if let Some(gas) = self.gas {
            o.insert("gas".into(), json!(quantity(gas as u128)));
        }
        Value::Object(o)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    pub address: Address,
    pub topics: Vec<[u8; 32]>,
    pub data: Vec<u8>,
    pub block_number: u64,
    pub block_hash: [u8; 32],
    pub transaction_hash: [u8; 32],
    pub log_index: u64,
    /// Set by nodes for logs undone by a reorg (seen through filters).
    pub removed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub transaction_hash: [u8; 32],
    /// True when the transaction succeeded; false when it reverted.
    pub status: bool,
    pub block_number: u64,
    pub block_hash: [u8; 32],
    pub gas_used: u64,
    pub effective_gas_price: Option<u128>,
    pub contract_address: Option<Address>,
    pub logs: Vec<Log>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub number: u64,
    pub hash: [u8; 32],
    pub parent_hash: [u8; 32],
    pub timestamp: u64,
    /// `None` on chains without EIP-1559.
    pub base_fee: Option<u128>,
}

/// What a transaction should pay, from the chain's current conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeData {
    /// The chain has a base fee: send type-2 transactions.
    Eip1559 { base_fee: u128, priority_fee: u128 },
    /// No base fee: send legacy transactions at this gas price.
    Legacy { gas_price: u128 },
}

impl FeeData {
    /// maxFeePerGas that survives the base fee doubling, as wallets commonly set it.
    pub fn max_fee(&self) -> u128 {
        match *self {
            FeeData::Eip1559 {
                base_fee,
                priority_fee,
            } => base_fee.saturating_mul(2).saturating_add(priority_fee),
            FeeData::Legacy { gas_price } => gas_price,
        }
    }
}

/// Filter of eth_getLogs. `topics[i]` = `None` matches anything at position i, or
/// `Some(list)` matches any of the listed values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub address: Option<Address>,
    pub topics: Vec<Option<Vec<[u8; 32]>>>,
}

/// `0x`-prefixed minimal hex, the JSON-RPC "quantity" encoding.
pub fn quantity(n: u128) -> String {
    format!("{n:#x}")
}

pub(super) fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, String> {
    v.get(name).ok_or_else(|| format!("missing `{name}`"))
}

pub(super) fn as_str(v: &Value) -> Result<&str, String> {
    v.as_str()
        .ok_or_else(|| format!("expected a hex string, got {v}"))
}

pub(super) fn as_u128(v: &Value) -> Result<u128, String> {
    let s = as_str(v)?;
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("`{s}` is not 0x-prefixed"))?;
    if digits.is_empty() || digits.len() > 32 {
        return Err(format!("`{s}` is not a quantity of at most 128 bits"));
    }
    u128::from_str_radix(digits, 16).map_err(|_| format!("`{s}` is not a hex quantity"))
}

pub(super) fn as_u64(v: &Value) -> Result<u64, String> {
    let n = as_u128(v)?;
    u64::try_from(n).map_err(|_| format!("{n} does not fit in 64 bits"))
}

pub(super) fn as_bytes(v: &Value) -> Result<Vec<u8>, String> {
    hex::decode(as_str(v)?).map_err(|e| e.to_string())
}

pub(super) fn as_hash(v: &Value) -> Result<[u8; 32], String> {
    hex::decode_array(as_str(v)?).map_err(|e| e.to_string())
}

pub(super) fn as_address(v: &Value) -> Result<Address, String> {
    hex::decode_array(as_str(v)?)
        .map(Address)
        .map_err(|e| e.to_string())
}

pub(super) fn parse_log(v: &Value) -> Result<Log, String> {
    Ok(Log {
        address: as_address(field(v, "address")?)?,
        topics: field(v, "topics")?
            .as_array()
            .ok_or("topics is not a list")?
            .iter()
            .map(as_hash)
            .collect::<Result<_, _>>()?,
        data: as_bytes(field(v, "data")?)?,
        block_number: as_u64(field(v, "blockNumber")?)?,
        block_hash: as_hash(field(v, "blockHash")?)?,
        transaction_hash: as_hash(field(v, "transactionHash")?)?,
        log_index: as_u64(field(v, "logIndex")?)?,
        removed: v.get("removed").and_then(Value::as_bool).unwrap_or(false),
    })
}
