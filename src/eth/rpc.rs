//! A blocking JSON-RPC 2.0 client for Ethereum nodes, over ureq.
//!
//! One [`Client`] holds everything it needs (no global state), and its methods take
//! `&self`, so the node's chain thread and the CLI use it the same way. Each request
//! has a timeout; transport errors, HTTP 429 and 5xx are retried with exponential
//! backoff, trying every configured URL in turn before sleeping. A JSON-RPC error is
//! not retried: it comes back with the node's message and, when it carries revert data,
//! the contract's custom error decoded by the client's [`RevertDecoder`].

use super::{hex, Address};
use serde_json::{json, Value};
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Turns revert data into a readable error such as `NotActiveNode(0x…)`; `None` when
/// the data matches no known error.
pub type RevertDecoder = fn(&[u8]) -> Option<String>;

#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Endpoints, tried in order; the last one that answered is tried first.
    pub urls: Vec<String>,
    /// Whole-request timeout (connect, send, receive).
    pub timeout: Duration,
    /// Rounds over all URLs before giving up on a transport error.
    pub attempts: u32,
    /// Sleep after the first failed round; doubled after each further round.
    pub backoff: Duration,
    /// Largest response body accepted (eth_getLogs answers can be large).
    pub max_response_bytes: u64,
    /// Blocks per eth_getLogs request; halved while the node says "too many results".
    pub log_chunk: u64,
}

impl RpcConfig {
    pub fn new(urls: Vec<String>) -> RpcConfig {
        RpcConfig {
            urls,
            timeout: Duration::from_secs(15),
            attempts: 3,
            backoff: Duration::from_millis(300),
            max_response_bytes: 32 << 20,
            log_chunk: 5_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcError {
    /// No endpoint could be reached (connection refused, timeout, HTTP 429/5xx) after
    /// every retry. `url` is the last one tried, without its path (which may hold an
    /// API key).
    Unreachable {
        method: String,
        url: String,
        cause: String,
    },
    /// The endpoint answered with an HTTP error that is not a JSON-RPC response.
    Http {
        method: String,
        url: String,
        status: u16,
    },
    /// The node answered with a JSON-RPC error.
    Rpc {
        method: String,
        code: i64,
        message: String,
        /// Revert data, when the error carries it.
        data: Option<Vec<u8>>,
        /// `data` decoded into the contract's error, e.g. `NotMember(0x…)`.
        revert: Option<String>,
    },
    /// The answer is not what the method promises.
    BadResponse { method: String, message: String },
}

impl RpcError {
    /// The node's own error message, for matching ("nonce too low", ...).
    pub fn rpc_message(&self) -> Option<&str> {
        match self {
            RpcError::Rpc { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The decoded revert (custom error name and arguments), when there is one.
    pub fn revert(&self) -> Option<&str> {
        match self {
            RpcError::Rpc { revert, .. } => revert.as_deref(),
            _ => None,
        }
    }

    /// True when the node could not be reached at all (as opposed to answering "no").
    pub fn is_unreachable(&self) -> bool {
        matches!(self, RpcError::Unreachable { .. } | RpcError::Http { .. })
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcError::Unreachable { method, url, cause } => {
                write!(
                    f,
                    "cannot reach the RPC endpoint {url} for {method}: {cause}"
                )
            }
            RpcError::Http {
                method,
                url,
                status,
            } => write!(f, "RPC endpoint {url} answered HTTP {status} to {method}"),
            RpcError::Rpc {
                method,
                revert: Some(revert),
                ..
            } => write!(f, "{method}: execution reverted: {revert}"),
            RpcError::Rpc {
                method,
                code,
                message,
                ..
            } => write!(f, "{method}: {message} (JSON-RPC error {code})"),
            RpcError::BadResponse { method, message } => {
                write!(f, "unexpected answer to {method}: {message}")
            }
        }
    }
}

impl std::error::Error for RpcError {}

/// Which block a read is made against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockId {
    Latest,
    Pending,
    Number(u64),
}

impl BlockId {
    fn to_json(self) -> Value {
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

    fn to_json(&self) -> Value {
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

/// A blocking JSON-RPC client with failover over several URLs.
pub struct Client {
    agent: ureq::Agent,
    config: RpcConfig,
    /// Index of the URL that answered last.
    preferred: AtomicUsize,
    next_id: AtomicU64,
    revert_decoder: Option<RevertDecoder>,
}

/// Why one HTTP exchange failed, and whether another URL or a later try may succeed.
enum Attempt {
    /// Transport failure or rate limit: other URLs now, this one again after a backoff.
    Retry(String),
    /// This endpoint is misconfigured (bad URL, HTTP error page, not JSON-RPC): other
    /// URLs may work, waiting will not help.
    NextUrl(RpcError),
    /// The node answered: the answer stands.
    Final(RpcError),
}

/// `0x`-prefixed minimal hex, the JSON-RPC "quantity" encoding.
pub fn quantity(n: u128) -> String {
    format!("{n:#x}")
}

/// Scheme and authority of a URL: what errors and logs may show of it.
fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // user:password@host: keep only the host.
    let host = authority.rsplit('@').next().unwrap_or(authority);
    if scheme.is_empty() {
        host.to_string()
    } else {
        format!("{scheme}://{host}")
    }
}

impl Client {
    /// Fails only on an empty URL list; URLs are checked when first used.
    pub fn new(config: RpcConfig) -> Result<Client, RpcError> {
        if config.urls.is_empty() {
            return Err(RpcError::BadResponse {
                method: "setup".into(),
                message: "no RPC URL configured".into(),
            });
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("aqueduct/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Client {
            agent,
            config,
            preferred: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            revert_decoder: None,
        })
    }

    /// A client for one URL with default settings.
    pub fn connect(url: &str) -> Result<Client, RpcError> {
        Client::new(RpcConfig::new(vec![url.to_string()]))
    }

    /// Decodes revert data of JSON-RPC errors with `decoder` from now on.
    pub fn with_revert_decoder(mut self, decoder: RevertDecoder) -> Client {
        self.revert_decoder = Some(decoder);
        self
    }

    pub fn config(&self) -> &RpcConfig {
        &self.config
    }

    /// Sends one JSON-RPC request and returns its `result`, with failover and retries.
    pub fn request(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        let urls = &self.config.urls;
        let start = self.preferred.load(Ordering::Relaxed) % urls.len();
        let mut last = (String::new(), String::new());
        let mut broken: Option<RpcError> = None;
        let mut backoff = self.config.backoff;
        for round in 0..self.config.attempts.max(1) {
            if round > 0 {
                if let Some(e) = broken {
                    // Every URL answered with a definite non-JSON-RPC error.
                    return Err(e);
                }
                log::debug!("{method}: retrying in {backoff:?}");
                std::thread::sleep(backoff);
                backoff = backoff.saturating_mul(2);
            }
            let mut transient = false;
            for k in 0..urls.len() {
                let i = (start + k) % urls.len();
                let url = &urls[i];
                match self.exchange(method, url, &body) {
                    Ok(result) => {
                        self.preferred.store(i, Ordering::Relaxed);
                        return Ok(result);
                    }
                    Err(Attempt::Final(e)) => {
                        self.preferred.store(i, Ordering::Relaxed);
                        return Err(e);
                    }
                    Err(Attempt::Retry(cause)) => {
                        log::debug!("{method} via {}: {cause}", redact(url));
                        last = (redact(url), cause);
                        transient = true;
                    }
                    Err(Attempt::NextUrl(e)) => {
                        log::debug!("{method} via {}: {e}", redact(url));
                        broken = Some(e);
                    }
                }
            }
            if transient {
                broken = None;
            }
        }
        match broken {
            Some(e) if last.0.is_empty() => Err(e),
            _ => Err(RpcError::Unreachable {
                method: method.to_string(),
                url: last.0,
                cause: last.1,
            }),
        }
    }

    fn exchange(&self, method: &str, url: &str, body: &str) -> Result<Value, Attempt> {
        let mut response = self
            .agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|e| match e {
                ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
                    Attempt::NextUrl(RpcError::Unreachable {
                        method: method.to_string(),
                        url: redact(url),
                        cause: format!("invalid URL: {e}"),
                    })
                }
                other => Attempt::Retry(other.to_string()),
            })?;
        let status = response.status().as_u16();
        if status == 429 {
            return Err(Attempt::Retry("rate limited (HTTP 429)".into()));
        }
        let text = response
            .body_mut()
            .with_config()
            .limit(self.config.max_response_bytes)
            .read_to_string()
            .map_err(|e| Attempt::Retry(format!("reading the answer: {e}")))?;
        // Some providers send JSON-RPC errors with an HTTP error status: the JSON wins.
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        let envelope = parsed.filter(|v| v.get("result").is_some() || v.get("error").is_some());
        let Some(mut envelope) = envelope else {
            if status >= 500 {
                return Err(Attempt::Retry(format!("HTTP {status}")));
            }
            if !(200..300).contains(&status) {
                return Err(Attempt::NextUrl(RpcError::Http {
                    method: method.to_string(),
                    url: redact(url),
                    status,
                }));
            }
            return Err(Attempt::NextUrl(RpcError::BadResponse {
                method: method.to_string(),
                message: format!("{} does not answer JSON-RPC", redact(url)),
            }));
        };
        if let Some(err) = envelope.get("error") {
            let e = self.rpc_error(method, err);
            if is_rate_limited(&e) {
                return Err(Attempt::Retry(e.to_string()));
            }
            return Err(Attempt::Final(e));
        }
        Ok(envelope
            .get_mut("result")
            .map(Value::take)
            .unwrap_or(Value::Null))
    }

    fn rpc_error(&self, method: &str, err: &Value) -> RpcError {
        let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("(no message)")
            .chars()
            .take(500)
            .collect::<String>();
        let data = err.get("data").and_then(revert_data);
        let revert = match (&data, self.revert_decoder) {
            (Some(d), Some(decode)) => decode(d),
            _ => None,
        };
        RpcError::Rpc {
            method: method.to_string(),
            code,
            message,
            data,
            revert,
        }
    }

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
        let mut out = Vec::new();
        let mut chunk = self.config.log_chunk.max(1);
        let mut start = from;
        while start <= to {
            let end = start.saturating_add(chunk - 1).min(to);
            match self.logs_once(filter, start, end) {
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

    fn logs_once(&self, filter: &LogFilter, from: u64, to: u64) -> Result<Vec<Log>, RpcError> {
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
        self.typed("eth_getLogs", json!([Value::Object(o)]), |v| {
            v.as_array()
                .ok_or("not a list")?
                .iter()
                .map(parse_log)
                .collect()
        })
    }
}

/// Providers that signal rate limits inside a JSON-RPC error instead of HTTP 429.
fn is_rate_limited(e: &RpcError) -> bool {
    let RpcError::Rpc { code, message, .. } = e else {
        return false;
    };
    let m = message.to_ascii_lowercase();
    *code == 429
        || [
            "rate limit",
            "too many requests",
            "request rate",
            "exceeded its compute units",
        ]
        .iter()
        .any(|p| m.contains(p))
}

/// Node errors that mean "ask for a smaller block range" (geth, Infura, Alchemy, ...).
fn is_too_many_results(e: &RpcError) -> bool {
    let RpcError::Rpc { code, message, .. } = e else {
        return false;
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

/// Revert data in a JSON-RPC error's `data`: `"0x…"`, `{"data": "0x…"}`, or text such
/// as `"Reverted 0x…"`.
fn revert_data(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => {
            let start = s.find("0x")?;
            let digits: String = s[start..]
                .chars()
                .take_while(|c| c.is_ascii_hexdigit() || *c == 'x')
                .collect();
            hex::decode(&digits).ok().filter(|d| !d.is_empty())
        }
        Value::Object(o) => o.get("data").and_then(revert_data),
        _ => None,
    }
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, String> {
    v.get(name).ok_or_else(|| format!("missing `{name}`"))
}

fn as_str(v: &Value) -> Result<&str, String> {
    v.as_str()
        .ok_or_else(|| format!("expected a hex string, got {v}"))
}

pub(crate) fn as_u128(v: &Value) -> Result<u128, String> {
    let s = as_str(v)?;
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("`{s}` is not 0x-prefixed"))?;
    if digits.is_empty() || digits.len() > 32 {
        return Err(format!("`{s}` is not a quantity of at most 128 bits"));
    }
    u128::from_str_radix(digits, 16).map_err(|_| format!("`{s}` is not a hex quantity"))
}

pub(crate) fn as_u64(v: &Value) -> Result<u64, String> {
    let n = as_u128(v)?;
    u64::try_from(n).map_err(|_| format!("{n} does not fit in 64 bits"))
}

fn as_bytes(v: &Value) -> Result<Vec<u8>, String> {
    hex::decode(as_str(v)?).map_err(|e| e.to_string())
}

fn as_hash(v: &Value) -> Result<[u8; 32], String> {
    hex::decode_array(as_str(v)?).map_err(|e| e.to_string())
}

fn as_address(v: &Value) -> Result<Address, String> {
    hex::decode_array(as_str(v)?)
        .map(Address)
        .map_err(|e| e.to_string())
}

fn parse_log(v: &Value) -> Result<Log, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The node moves a client and a sender into its chain thread and may share the
    /// client with the CLI-style helpers there.
    #[test]
    fn client_and_sender_can_live_on_a_chain_thread() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Client>();
        send::<crate::eth::sender::Sender>();
        send::<crate::eth::sender::Pending>();
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity(0), "0x0");
        assert_eq!(quantity(255), "0xff");
        assert_eq!(as_u64(&json!("0x1a")), Ok(26));
        assert!(as_u64(&json!("0x10000000000000000")).is_err());
        assert!(as_u128(&json!("0x")).is_err());
        assert!(as_u128(&json!("12")).is_err());
        assert!(as_u128(&json!(12)).is_err());
        assert!(as_u128(&json!(format!("0x1{}", "0".repeat(32)))).is_err());
    }

    #[test]
    fn urls_are_redacted_to_scheme_and_host() {
        assert_eq!(
            redact("https://base-mainnet.example/v2/SECRETKEY"),
            "https://base-mainnet.example"
        );
        assert_eq!(
            redact("http://user:pw@127.0.0.1:8545/"),
            "http://127.0.0.1:8545"
        );
    }

    #[test]
    fn revert_data_shapes() {
        assert_eq!(revert_data(&json!("0x1234")), Some(vec![0x12, 0x34]));
        assert_eq!(
            revert_data(&json!({"data": "0xabcd"})),
            Some(vec![0xab, 0xcd])
        );
        assert_eq!(
            revert_data(&json!("Reverted 0x08c379a0")),
            Some(vec![8, 0xc3, 0x79, 0xa0])
        );
        assert_eq!(revert_data(&json!("no data")), None);
        assert_eq!(revert_data(&json!(5)), None);
    }

    #[test]
    fn too_many_results_detection() {
        let e = |code, m: &str| RpcError::Rpc {
            method: "eth_getLogs".into(),
            code,
            message: m.into(),
            data: None,
            revert: None,
        };
        assert!(is_too_many_results(&e(
            -32005,
            "query returned more than 10000 results"
        )));
        assert!(is_too_many_results(&e(-32600, "block range is too wide")));
        assert!(!is_too_many_results(&e(-32000, "header not found")));
    }

    #[test]
    fn fee_math() {
        let f = FeeData::Eip1559 {
            base_fee: 10,
            priority_fee: 3,
        };
        assert_eq!(f.max_fee(), 23);
        assert_eq!(FeeData::Legacy { gas_price: 7 }.max_fee(), 7);
    }
}
