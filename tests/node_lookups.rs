//! What credentials for fresh addresses cost the node's RPC. Keys are free, so anyone
//! can sign a valid credential for an address nobody has seen: the node must not turn
//! each one into chain calls. A real anvil sits behind a counting JSON-RPC forwarder on
//! loopback, the real node talks to the forwarder, and raw SOCKS5 clients send the burst.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{node, proxy};

use aqueduct::credential::{self, NodeScope};
use aqueduct::eth::signer::PrivateKey;
use aqueduct::node::auth::LOOKUP_RATE;
use node::{http_status, socks_get, unix_now, ChainNet, CHAIN_ID, MEMBER};
use proxy::{connect, socks_handshake_bytes, Node, Origin, SocksTarget, PAGE};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FLAGS: [&str; 6] = ["--period", "1h", "--epoch", "1h", "--slot", "1m"];
const NO_HEARTBEATS: &str = "[heartbeat]\nenabled = false\n";
/// Fresh-key credentials in the burst, and how many connections are open at once.
const BURST: usize = 500;
const AT_ONCE: usize = 50;

/// A loopback HTTP server that counts JSON-RPC requests by method and passes each to
/// anvil; with `fail_logs` set it answers `eth_getLogs` with an error instead, so the
/// node's member table cannot sync. One request per connection (`Connection: close`).
struct CountingRpc {
    url: String,
    counts: Arc<Mutex<HashMap<String, u64>>>,
    fail_logs: Arc<AtomicBool>,
}

impl CountingRpc {
    fn start(upstream: &str) -> CountingRpc {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .parse()
            .expect("anvil's URL is http://127.0.0.1:PORT");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let fail_logs = Arc::new(AtomicBool::new(false));
        let (c, f) = (Arc::clone(&counts), Arc::clone(&fail_logs));
        // Detached: it serves until the test process ends.
        std::thread::spawn(move || {
            for stream in listener.incoming().take(1_000_000) {
                let Ok(stream) = stream else { continue };
                let (c, f) = (Arc::clone(&c), Arc::clone(&f));
                std::thread::spawn(move || {
                    let _ = forward(stream, upstream, &c, &f);
                });
            }
        });
        CountingRpc {
            url,
            counts,
            fail_logs,
        }
    }

    fn count(&self, method: &str) -> u64 {
        self.counts
            .lock()
            .unwrap()
            .get(method)
            .copied()
            .unwrap_or(0)
    }

    fn total(&self) -> u64 {
        self.counts.lock().unwrap().values().sum()
    }
}

fn forward(
    mut client: TcpStream,
    upstream: SocketAddr,
    counts: &Mutex<HashMap<String, u64>>,
    fail_logs: &AtomicBool,
) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut length = 0usize;
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let method = request["method"].as_str().unwrap_or("?").to_string();
    *counts.lock().unwrap().entry(method.clone()).or_insert(0) += 1;
    if method == "eth_getLogs" && fail_logs.load(Ordering::Relaxed) {
        let text = serde_json::json!({
            "jsonrpc": "2.0",
            "id": request["id"],
            "error": {"code": -32000, "message": "test forwarder: logs unavailable"}
        })
        .to_string();
        return write!(
            client,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
    }
    let mut anvil = TcpStream::connect_timeout(&upstream, Duration::from_secs(10))?;
    anvil.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        anvil,
        "POST / HTTP/1.1\r\nHost: {upstream}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    anvil.write_all(&body)?;
    // anvil answers with a Content-Length and closes: its answer passes through whole.
    let mut answer = Vec::new();
    anvil.read_to_end(&mut answer)?;
    client.write_all(&answer)
}

/// The node, with its RPC pointed at the forwarder.
fn node_behind(net: &ChainNet, rpc: &CountingRpc) -> Node {
    let chain = net.chain_section().replace(&net.anvil.url, &rpc.url);
    assert!(chain.contains(&rpc.url));
    net.start_node_with("", NO_HEARTBEATS, &chain)
}

/// Sends `BURST` SOCKS5 logins with valid credentials of fresh keys, `AT_ONCE`
/// connections at a time; every one must be refused (RFC 1929 status 1). Between
/// rounds a real member is fetched through the node, and must be served at once.
fn burst_of_fresh_keys(node: &Node, target: SocketAddr, member: &(String, String), url: &str) {
    let expires = unix_now() + 3600;
    let contract = node_contract(node);
    let creds: Vec<(String, String)> = (0..BURST)
        .map(|i| {
            let mut seed = [0x5a; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            let key = PrivateKey::from_bytes(&seed).unwrap();
            credential::sign(&key, CHAIN_ID, contract, NodeScope::Any, expires)
        })
        .collect();
    for (round, chunk) in creds.chunks(AT_ONCE).enumerate() {
        let mut open: Vec<TcpStream> = chunk
            .iter()
            .map(|(u, p)| {
                let mut s = connect(node.addr());
                s.write_all(&socks_handshake_bytes(u, p, &SocksTarget::Addr(target)))
                    .unwrap();
                s
            })
            .collect();
        for s in &mut open {
            let mut reply = [0u8; 4];
            s.read_exact(&mut reply).unwrap();
            assert_eq!(reply, [5, 2, 1, 1], "a fresh key is refused");
        }
        if round % 5 == 0 {
            assert_eq!(socks_get(node, member, url).unwrap(), PAGE, "round {round}");
        }
    }
}

/// The contract the node was configured with, from its startup line.
fn node_contract(node: &Node) -> aqueduct::eth::Address {
    let log = node.wait_log("chain mode: node", 1);
    log.split("contract ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|a| a.parse().ok())
        .expect("contract in the startup line")
}

/// Lookups possible in `elapsed` by the overall limit, each an `isMember` and a
/// `memberUntil` call, plus `extra` lookups the test itself causes.
fn lookup_call_bound(elapsed: Duration, extra: u64) -> u64 {
    let lookups = LOOKUP_RATE.burst + LOOKUP_RATE.per_sec * elapsed.as_secs_f64().ceil();
    2 * (lookups as u64 + extra)
}

#[test]
fn a_burst_of_fresh_keys_costs_no_lookups_while_the_member_table_is_current() {
    let net = ChainNet::deploy(&FLAGS);
    net.subscribe(MEMBER, 1);
    let rpc = CountingRpc::start(&net.anvil.url);
    let node = node_behind(&net, &rpc);
    node.wait_log("member table current to block", 1);
    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://{}/", origin.addr);
    let member = net.good(MEMBER);
    assert_eq!(http_status(&node, &member, &url), 200);

    let (calls_before, total_before) = (rpc.count("eth_call"), rpc.total());
    let started = Instant::now();
    burst_of_fresh_keys(&node, origin.addr, &member, &url);
    let elapsed = started.elapsed();
    let calls = rpc.count("eth_call") - calls_before;
    let total = rpc.total() - total_before;
    eprintln!("{BURST} fresh keys in {elapsed:?}: {calls} eth_call, {total} RPC requests in all");
    // Answered from the table: no lookup. (Were the table to lapse on a slow machine,
    // the rate limit would still bound them.)
    assert!(
        calls <= lookup_call_bound(elapsed, 0),
        "{calls} eth_call for {BURST} fresh keys in {elapsed:?}"
    );
    // The early polls they asked for come at most once a second, like the regular ones
    // of this config (poll_secs = 1); on a quiet chain each reads the head and stops.
    let polls = 2 * (elapsed.as_secs() + 2);
    assert!(
        total <= polls + calls,
        "{total} RPC requests for {BURST} fresh keys in {elapsed:?}"
    );
    node.wait_log("is not a paying member", BURST);
    assert_eq!(http_status(&node, &member, &url), 200);

    // Someone who pays now is served on the first try: their session waits for the
    // sync it asked for, which lists them.
    net.subscribe(3, 1);
    assert_eq!(http_status(&node, &net.good(3), &url), 200);
    assert!(!node.log().contains("lookup of"), "no lookup was made");
}

#[test]
fn while_the_member_table_cannot_sync_lookups_are_rate_limited() {
    let net = ChainNet::deploy(&FLAGS);
    net.subscribe(MEMBER, 1);
    let rpc = CountingRpc::start(&net.anvil.url);
    rpc.fail_logs.store(true, Ordering::Relaxed);
    let node = node_behind(&net, &rpc);
    node.wait_log("syncing members: ", 1);
    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://{}/", origin.addr);
    // Not in the table (no log could be read): found by a lookup, then remembered.
    let member = net.good(MEMBER);
    assert_eq!(http_status(&node, &member, &url), 200);
    node.wait_log("lookup of", 1);

    let calls_before = rpc.count("eth_call");
    let started = Instant::now();
    burst_of_fresh_keys(&node, origin.addr, &member, &url);
    let elapsed = started.elapsed();
    let calls = rpc.count("eth_call") - calls_before;
    eprintln!("{BURST} fresh keys in {elapsed:?} with the table behind: {calls} eth_call");
    assert!(
        calls <= lookup_call_bound(elapsed, 0),
        "{calls} eth_call for {BURST} fresh keys in {elapsed:?}"
    );
    node.wait_log("lookup(s) of addresses not in the member table", 1);
    assert!(!node.log().contains("member table current"));
    assert!(!rpc.url.is_empty() && rpc.count("eth_getLogs") > 0);
}
