//! The JSON-RPC transport: one request to the first endpoint that answers, with
//! timeouts, failover over every configured URL, backoff on transport errors and rate
//! limits, and the node's error (with decoded revert data) when it answers with one.

use super::super::hex;
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
    /// The answer is larger than `max_response_bytes`: asking again brings the same;
    /// ask for less (fewer blocks of logs).
    TooLarge { method: String, limit: u64 },
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
            RpcError::TooLarge { method, limit } => {
                write!(f, "the answer to {method} is larger than {limit} bytes")
            }
        }
    }
}

impl std::error::Error for RpcError {}

/// A blocking JSON-RPC client with failover over several URLs.
pub struct Client {
    agent: ureq::Agent,
    pub(super) config: RpcConfig,
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

/// Scheme and authority of a URL: what errors and logs may show of it.
pub(super) fn redact(url: &str) -> String {
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
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(limit) => Attempt::Final(RpcError::TooLarge {
                    method: method.to_string(),
                    limit,
                }),
                e => Attempt::Retry(format!("reading the answer: {e}")),
            })?;
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

/// Revert data in a JSON-RPC error's `data`: `"0x…"`, `{"data": "0x…"}`, or text such
/// as `"Reverted 0x…"`.
pub(super) fn revert_data(v: &Value) -> Option<Vec<u8>> {
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
