//! The typed calls: one method per JSON-RPC method the project uses, each reading its
//! answer strictly into a [`super::wire`] type.

use super::transport::{Client, ReadResult, RpcError};
use super::wire::*;
use crate::eth::{hex, Address};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_json::{json, Value};
use std::fmt;
use std::marker::PhantomData;

impl Client {
    fn typed<T>(
        &self,
        method: &str,
        params: Value,
        read: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Result<T, RpcError> {
        let v = self.request(method, params)?;
        read(&v).map_err(|message| RpcError::BadResponse {
            method: method.to_string(),
            message,
        })
    }

    pub fn chain_id(&self) -> Result<u64, RpcError> {
        self.typed("eth_chainId", json!([]), as_u64)
    }

    pub fn block_number(&self) -> Result<u64, RpcError> {
        self.typed("eth_blockNumber", json!([]), as_u64)
    }

    /// The next nonce for `address`, counting its pending transactions.
    pub fn pending_nonce(&self, address: Address) -> Result<u64, RpcError> {
        self.typed(
            "eth_getTransactionCount",
            json!([address.to_lower_hex(), "pending"]),
            as_u64,
        )
    }

    pub fn balance(&self, address: Address) -> Result<u128, RpcError> {
        self.typed(
            "eth_getBalance",
            json!([address.to_lower_hex(), "latest"]),
            as_u128,
        )
    }

    /// The deployed code at `address` (empty for an account without code).
    pub fn code(&self, address: Address) -> Result<Vec<u8>, RpcError> {
        self.typed(
            "eth_getCode",
            json!([address.to_lower_hex(), "latest"]),
            as_bytes,
        )
    }

    pub fn gas_price(&self) -> Result<u128, RpcError> {
        self.typed("eth_gasPrice", json!([]), as_u128)
    }

    /// `None` when the block does not exist (yet).
    pub fn block(&self, id: BlockId) -> Result<Option<Block>, RpcError> {
        self.typed("eth_getBlockByNumber", json!([id.to_json(), false]), |v| {
            if v.is_null() {
                return Ok(None);
            }
            Ok(Some(Block {
                number: as_u64(field(v, "number")?)?,
                hash: as_hash(field(v, "hash")?)?,
                parent_hash: as_hash(field(v, "parentHash")?)?,
                timestamp: as_u64(field(v, "timestamp")?)?,
                base_fee: match v.get("baseFeePerGas") {
                    None | Some(Value::Null) => None,
                    Some(b) => Some(as_u128(b)?),
                },
            }))
        })
    }

    /// Current fees: EIP-1559 when the latest block has a base fee, else legacy.
    pub fn fee_data(&self) -> Result<FeeData, RpcError> {
        let latest = self.block(BlockId::Latest)?.ok_or(RpcError::BadResponse {
            method: "eth_getBlockByNumber".into(),
            message: "the latest block is missing".into(),
        })?;
        let Some(block_base) = latest.base_fee else {
            return Ok(FeeData::Legacy {
                gas_price: self.gas_price()?,
            });
        };
        // eth_feeHistory's last base fee is the next block's: what a transaction sent now
        // pays. Nodes without it fall back to the latest block's.
        let (next_base, reward) = match self.fee_history() {
            Ok(h) => h,
            Err(e @ RpcError::Unreachable { .. }) => return Err(e),
            Err(_) => (None, None),
        };
        let priority_fee = match self.typed("eth_maxPriorityFeePerGas", json!([]), as_u128) {
            Ok(p) => p,
            Err(e @ RpcError::Unreachable { .. }) => return Err(e),
            Err(_) => reward.unwrap_or(1_000_000_000),
        };
        Ok(FeeData::Eip1559 {
            base_fee: next_base.unwrap_or(block_base).max(block_base),
            priority_fee,
        })
    }

    /// (next block's base fee, median priority fee of the last blocks).
    fn fee_history(&self) -> Result<(Option<u128>, Option<u128>), RpcError> {
        self.typed("eth_feeHistory", json!(["0x5", "latest", [50.0]]), |v| {
            let base = match v.get("baseFeePerGas").and_then(Value::as_array) {
                Some(list) => list.last().map(as_u128).transpose()?,
                None => None,
            };
            let mut rewards: Vec<u128> = match v.get("reward").and_then(Value::as_array) {
                Some(rows) => rows
                    .iter()
                    .filter_map(|r| r.as_array().and_then(|r| r.first()))
                    .map(as_u128)
                    .collect::<Result<_, _>>()?,
                None => Vec::new(),
            };
            rewards.sort_unstable();
            Ok((base, rewards.get(rewards.len() / 2).copied()))
        })
    }

    pub fn estimate_gas(&self, call: &CallRequest) -> Result<u64, RpcError> {
        self.typed("eth_estimateGas", json!([call.to_json()]), as_u64)
    }

    pub fn call(&self, call: &CallRequest, block: BlockId) -> Result<Vec<u8>, RpcError> {
        self.typed(
            "eth_call",
            json!([call.to_json(), block.to_json()]),
            as_bytes,
        )
    }

    /// Broadcasts a signed transaction; returns the hash the node reports.
    pub fn send_raw_transaction(&self, raw: &[u8]) -> Result<[u8; 32], RpcError> {
        self.typed(
            "eth_sendRawTransaction",
            json!([hex::encode_prefixed(raw)]),
            as_hash,
        )
    }

    /// `None` while the transaction is pending or unknown.
    pub fn receipt(&self, hash: &[u8; 32]) -> Result<Option<Receipt>, RpcError> {
        self.typed(
            "eth_getTransactionReceipt",
            json!([hex::encode_prefixed(hash)]),
            |v| {
                if v.is_null() {
                    return Ok(None);
                }
                // A pending "receipt" (some nodes) has no block yet.
                if field(v, "blockNumber")?.is_null() {
                    return Ok(None);
                }
                let logs = match v.get("logs").and_then(Value::as_array) {
                    Some(list) => list.iter().map(parse_log).collect::<Result<_, _>>()?,
                    None => Vec::new(),
                };
                Ok(Some(Receipt {
                    transaction_hash: as_hash(field(v, "transactionHash")?)?,
                    status: as_u64(field(v, "status")?)? == 1,
                    block_number: as_u64(field(v, "blockNumber")?)?,
                    block_hash: as_hash(field(v, "blockHash")?)?,
                    gas_used: as_u64(field(v, "gasUsed")?)?,
                    effective_gas_price: v
                        .get("effectiveGasPrice")
                        .filter(|p| !p.is_null())
                        .map(as_u128)
                        .transpose()?,
                    contract_address: v
                        .get("contractAddress")
                        .filter(|a| !a.is_null())
                        .map(as_address)
                        .transpose()?,
                    logs,
                }))
            },
        )
    }

    /// Logs matching `filter` in `from..=to`, fetched in chunks of at most
    /// `log_chunk` blocks; a chunk the node refuses as too large is halved and retried.
    pub fn logs(&self, filter: &LogFilter, from: u64, to: u64) -> Result<Vec<Log>, RpcError> {
        self.logs_mapped(filter, from, to, Ok)
    }

    /// [`Client::logs`], each log turned by `map` into what the caller keeps as soon as
    /// it is read: only one log at a time exists as JSON. An error from `map` ends the
    /// call with [`RpcError::BadResponse`]. `map` may see a log twice when a request
    /// is retried; only the answer of the attempt that succeeded is kept.
    pub fn logs_mapped<T>(
        &self,
        filter: &LogFilter,
        from: u64,
        to: u64,
        map: impl FnMut(Log) -> Result<T, String>,
    ) -> Result<Vec<T>, RpcError> {
        let mut reader = EachLog { map };
        let mut out = Vec::new();
        let mut chunk = self.config.log_chunk.max(1);
        let mut start = from;
        while start <= to {
            let end = start.saturating_add(chunk - 1).min(to);
            match self.logs_once(filter, start, end, &mut reader) {
                Ok(mut logs) => {
                    out.append(&mut logs);
                    if end == u64::MAX {
                        break;
                    }
                    start = end + 1;
                }
                Err(e) if chunk > 1 && is_too_many_results(&e) => {
                    chunk /= 2;
                    log::debug!("eth_getLogs: range too large, trying {chunk} blocks");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn logs_once<T, F: FnMut(Log) -> Result<T, String>>(
        &self,
        filter: &LogFilter,
        from: u64,
        to: u64,
        reader: &mut EachLog<F>,
    ) -> Result<Vec<T>, RpcError> {
        let mut o = serde_json::Map::new();
        o.insert("fromBlock".into(), json!(quantity(from as u128)));
        o.insert("toBlock".into(), json!(quantity(to as u128)));
        if let Some(a) = filter.address {
            o.insert("address".into(), json!(a.to_lower_hex()));
        }
        if !filter.topics.is_empty() {
            let topics: Vec<Value> = filter
                .topics
                .iter()
                .map(|t| match t {
                    None => Value::Null,
                    Some(list) => list
                        .iter()
                        .map(|h| json!(hex::encode_prefixed(h)))
                        .collect(),
                })
                .collect();
            o.insert("topics".into(), Value::Array(topics));
        }
        self.request_with("eth_getLogs", json!([Value::Object(o)]), reader)
    }
}

/// Reads an eth_getLogs answer one log at a time, keeping what `map` makes of each.
struct EachLog<F> {
    map: F,
}

impl<T, F: FnMut(Log) -> Result<T, String>> ReadResult for EachLog<F> {
    type Output = Vec<T>;
    fn read<'de, D: Deserializer<'de>>(&mut self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_seq(LogList(&mut self.map, PhantomData))
    }
}

struct LogList<'a, F, T>(&'a mut F, PhantomData<T>);

impl<'de, T, F: FnMut(Log) -> Result<T, String>> Visitor<'de> for LogList<'_, F, T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of logs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            let log = parse_log(&v).map_err(de::Error::custom)?;
            out.push((self.0)(log).map_err(de::Error::custom)?);
        }
        Ok(out)
    }
}

/// Node errors that mean "ask for a smaller block range" (geth, Infura, Alchemy, ...).
pub(super) fn is_too_many_results(e: &RpcError) -> bool {
    let RpcError::Rpc { code, message, .. } = e else {
        return matches!(e, RpcError::TooLarge { .. });
    };
    let m = message.to_ascii_lowercase();
    *code == -32005
        || [
            "too many",
            "more than",
            "block range",
            "range too",
            "limit exceeded",
            "exceed",
            "response size",
            "query timeout",
        ]
        .iter()
        .any(|p| m.contains(p))
}
