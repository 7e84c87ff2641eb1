//! The JSON-RPC transport: one request to the first endpoint that answers, with
//! timeouts, failover over every configured URL, backoff on transport errors and rate
//! limits, and the node's error (with decoded revert data) when it answers with one.

use super::super::hex;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Value};
use std::cell::Cell;
use std::fmt;
use std::io::{BufReader, Read};
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
        self.request_with(method, params, &mut AnyResult)
    }

    /// [`Client::request`] with the `result` read by `reader` as the answer arrives.
    /// A retried request reads its answer afresh: what `reader` built of a failed one is
    /// dropped.
    pub(super) fn request_with<R: ReadResult>(
        &self,
        method: &str,
        params: Value,
        reader: &mut R,
    ) -> Result<R::Output, RpcError> {
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
                match self.exchange(method, url, &body, reader) {
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

    fn exchange<R: ReadResult>(
        &self,
        method: &str,
        url: &str,
        body: &str,
        reader: &mut R,
    ) -> Result<R::Output, Attempt> {
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
        let mut limited = Limited {
            inner: response.body_mut().with_config().reader(),
            left: self.config.max_response_bytes,
            exceeded: false,
        };
        let read = read_envelope(&mut limited, reader);
        if limited.exceeded {
            return Err(Attempt::Final(RpcError::TooLarge {
                method: method.to_string(),
                limit: self.config.max_response_bytes,
            }));
        }
        let envelope = match read {
            Ok(envelope) => envelope,
            Err(Unread::Io(e)) => return Err(Attempt::Retry(format!("reading the answer: {e}"))),
            Err(Unread::BadResult(message)) => {
                return Err(Attempt::Final(RpcError::BadResponse {
                    method: method.to_string(),
                    message,
                }))
            }
            Err(Unread::NotJsonRpc) => Envelope {
                result: None,
                error: None,
            },
        };
        // Some providers send JSON-RPC errors with an HTTP error status: the JSON wins.
        if let Some(err) = envelope.error {
            let e = self.rpc_error(method, &err);
            if is_rate_limited(&e) {
                return Err(Attempt::Retry(e.to_string()));
            }
            return Err(Attempt::Final(e));
        }
        let Some(result) = envelope.result else {
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
        Ok(result)
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

/// Reads a JSON-RPC `result` from the answer as it streams in, so a large one (logs of
/// busy blocks) is never held as text or as a JSON tree.
pub(super) trait ReadResult {
    type Output;
    fn read<'de, D: Deserializer<'de>>(&mut self, d: D) -> Result<Self::Output, D::Error>;
}

/// Any result, as a JSON tree.
struct AnyResult;

impl ReadResult for AnyResult {
    type Output = Value;
    fn read<'de, D: Deserializer<'de>>(&mut self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
}

/// A body reader that fails, and says so, past `left` bytes.
struct Limited<R> {
    inner: R,
    left: u64,
    exceeded: bool,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match self.left.checked_sub(n as u64) {
            Some(left) => {
                self.left = left;
                Ok(n)
            }
            None => {
                self.exceeded = true;
                Err(std::io::Error::other("the answer is too large"))
            }
        }
    }
}

/// The parts of a JSON-RPC response object that matter; other members are skipped.
struct Envelope<T> {
    result: Option<T>,
    error: Option<Value>,
}

/// Why a body gave no envelope.
#[derive(Debug)]
enum Unread {
    /// The transport failed, or the body ended, before the answer did.
    Io(String),
    /// A JSON-RPC answer whose `result` is not what the method promises.
    BadResult(String),
    /// Not JSON, or JSON that is not a JSON-RPC response object.
    NotJsonRpc,
}

fn read_envelope<R: ReadResult>(
    body: impl Read,
    reader: &mut R,
) -> Result<Envelope<R::Output>, Unread> {
    let in_result = Cell::new(false);
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(16 << 10, body));
    let read = EnvelopeSeed {
        reader,
        in_result: &in_result,
    }
    .deserialize(&mut de)
    .and_then(|envelope| de.end().map(|()| envelope));
    read.map_err(|e| {
        // A result that ends early was cut off on the way: asking again may get all of it.
        if e.is_io() || (e.is_eof() && in_result.get()) {
            Unread::Io(e.to_string())
        } else if in_result.get() && e.is_data() {
            Unread::BadResult(e.to_string())
        } else {
            Unread::NotJsonRpc
        }
    })
}

struct EnvelopeSeed<'a, R> {
    reader: &'a mut R,
    /// Set while `result` is read: an error then is the result's, not the envelope's.
    in_result: &'a Cell<bool>,
}

impl<'de, R: ReadResult> DeserializeSeed<'de> for EnvelopeSeed<'_, R> {
    type Value = Envelope<R::Output>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, R: ReadResult> Visitor<'de> for EnvelopeSeed<'_, R> {
    type Value = Envelope<R::Output>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON-RPC response object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut envelope = Envelope {
            result: None,
            error: None,
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "result" if envelope.result.is_none() => {
                    self.in_result.set(true);
                    envelope.result = Some(map.next_value_seed(ResultSeed(&mut *self.reader))?);
                    self.in_result.set(false);
                }
                "error" => envelope.error = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(envelope)
    }
}

struct ResultSeed<'a, R>(&'a mut R);

impl<'de, R: ReadResult> DeserializeSeed<'de> for ResultSeed<'_, R> {
    type Value = R::Output;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<R::Output, D::Error> {
        self.0.read(d)
    }
}
