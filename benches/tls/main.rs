//! TLS on the member's leg against the same node's plain listener, in one run (issue 15):
//! single-stream throughput through CONNECT (ratio TLS/plain), the node's CPU per GiB
//! each way, its CPU per TLS handshake, and its memory per idle tunnel. The client is a
//! blocking rustls client in this process, checking the pin as `aqueduct local` does;
//! the origin is a loopback sink that streams zeros.
//!
//! `cargo bench --bench tls` (AQUEDUCT_TLS_BENCH_MIB, default 1024; _CONNS, default 300).
//!
//! Measured 2026-12-02 on the 2-core Xeon dev machine (client, node and origin sharing
//! it): plain 9.91 Gbit/s at 0.26 node CPU s/GiB (splice), TLS 5.50 Gbit/s at 0.71 s/GiB
//! (ratio 0.55); node CPU per connection plain 33 us, TLS 167 us (handshake 133 us);
//! node memory per idle tunnel plain 0.7 KiB, TLS 8.3 KiB.

// A bench's unwrap is its failure: nothing to recover.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../proxy/sys.rs"]
mod sys;

use aqueduct::tls::configs::pinned_client_config;
use aqueduct::tls::Pin;
use rustls::pki_types::ServerName;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const BLOCK: usize = 256 * 1024;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An origin that writes `mib` MiB of zeros to each connection after reading its first
/// byte (so idle tunnels stay idle), then closes.
fn sink(mib: u64) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            thread::spawn(move || {
                let mut first = [0u8; 1];
                if conn.read_exact(&mut first).is_err() {
                    return;
                }
                let block = vec![0u8; BLOCK];
                for _ in 0..mib * 1024 * 1024 / BLOCK as u64 {
                    if conn.write_all(&block).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

struct Node {
    child: Child,
    plain: SocketAddr,
    tls: SocketAddr,
    pin: Pin,
    _dir: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn start_node() -> Node {
    let dir = std::env::temp_dir().join(format!("aqueduct-tls-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ready = dir.join("ready");
    let log = dir.join("node.log");
    let config = dir.join("node.toml");
    std::fs::write(
        &config,
        format!(
            "[node]\nlisten = [\"127.0.0.1:0\"]\ntls_listen = [\"127.0.0.1:0\"]\nready_file = \"{}\"\n\
             [auth]\nmode = \"none\"\n[policy]\nallow_private = true\n[limits]\nmax_sessions = 8192\nmax_handshakes_per_client = 8192\n",
            ready.display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .args(["node", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn,aqueduct::commands::node=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Dropping it stops the node, whatever happens next.
    let mut node = Node {
        child,
        plain: SocketAddr::from(([0, 0, 0, 0], 0)),
        tls: SocketAddr::from(([0, 0, 0, 0], 0)),
        pin: Pin::of_spki(b""),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let addrs: Vec<SocketAddr> = std::fs::read_to_string(&ready)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect();
        if addrs.len() == 2 {
            let text = std::fs::read_to_string(&log).unwrap();
            node.pin = text
                .split_whitespace()
                .find(|w| w.starts_with("sha256//"))
                .and_then(|w| w.parse().ok())
                .expect("the node logs its pin");
            node.plain = addrs[0];
            node.tls = addrs[1];
            return node;
        }
        assert!(Instant::now() < deadline, "node did not start");
        thread::sleep(Duration::from_millis(20));
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    fn open(node: &Node, tls: Option<&Arc<rustls::ClientConfig>>) -> Conn {
        match tls {
            None => Conn::Plain(TcpStream::connect(node.plain).unwrap()),
            Some(config) => {
                let sock = TcpStream::connect(node.tls).unwrap();
                let name = ServerName::IpAddress(node.tls.ip().into());
                let conn = rustls::ClientConnection::new(Arc::clone(config), name).unwrap();
                Conn::Tls(Box::new(rustls::StreamOwned::new(conn, sock)))
            }
        }
    }

    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => s.as_mut(),
        }
    }

    /// CONNECT to `target` and the first byte the origin waits for; panics unless 200.
    fn tunnel(&mut self, target: SocketAddr) {
        let io = self.io();
        write!(io, "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            io.read_exact(&mut b).unwrap();
            head.push(b[0]);
            assert!(head.len() < 4096);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        io.write_all(b"x").unwrap();
        io.flush().unwrap();
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Bytes read until the origin closes, and how long it took.
fn stream(
    node: &Node,
    tls: Option<&Arc<rustls::ClientConfig>>,
    origin: SocketAddr,
) -> (u64, Duration) {
    let mut c = Conn::open(node, tls);
    c.tunnel(origin);
    let start = Instant::now();
    let mut buf = vec![0u8; BLOCK];
    let mut total = 0u64;
    loop {
        match c.io().read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n as u64,
        }
    }
    (total, start.elapsed())
}

fn main() {
    let mib = env_u64("AQUEDUCT_TLS_BENCH_MIB", 1024);
    let conns = env_u64("AQUEDUCT_TLS_BENCH_CONNS", 300) as usize;
    let _ = sys::raise_nofile();
    let node = start_node();
    let pid = node.child.id() as i32;
    let config = pinned_client_config(node.pin);
    let big = sink(mib);
    let idle = sink(0);
    println!(
        "# TLS bench: {mib} MiB per stream, {conns} connections; {}",
        sys::cpu_model()
    );

    // Single stream, plain then TLS, twice each; medians of throughput, node CPU per GiB.
    let mut rows = Vec::new();
    for (name, tls) in [("plain", None), ("tls", Some(&config))] {
        let mut gbps = Vec::new();
        let mut cpu_gib = Vec::new();
        for _ in 0..3 {
            let before = sys::process_cpu(pid, false);
            let (bytes, took) = stream(&node, tls, big);
            let used = sys::process_cpu(pid, false).since(before);
            assert!(bytes >= mib * 1024 * 1024, "{name}: {bytes} bytes");
            gbps.push(bytes as f64 * 8.0 / took.as_secs_f64() / 1e9);
            cpu_gib.push(used.total() / (bytes as f64 / (1u64 << 30) as f64));
        }
        gbps.sort_by(f64::total_cmp);
        cpu_gib.sort_by(f64::total_cmp);
        rows.push((name, gbps[1], cpu_gib[1]));
    }
    let (plain_gbps, tls_gbps) = (rows[0].1, rows[1].1);
    println!("| route | single stream Gbit/s | node CPU s/GiB |");
    println!("|---|---|---|");
    for (name, g, c) in &rows {
        println!("| {name} | {g:.2} | {c:.3} |");
    }
    println!(
        "TLS/plain single-stream ratio: {:.2} (target >= 0.5)",
        tls_gbps / plain_gbps
    );

    // Handshake CPU: connections that complete the handshake and one CONNECT, then close;
    // the plain ones are the baseline for everything but TLS.
    let mut per_conn = Vec::new();
    for tls in [None, Some(&config)] {
        let before = sys::process_cpu(pid, false);
        for _ in 0..conns {
            let mut c = Conn::open(&node, tls);
            c.tunnel(idle);
        }
        thread::sleep(Duration::from_millis(300));
        let used = sys::process_cpu(pid, false).since(before);
        per_conn.push(used.total() / conns as f64 * 1e6);
    }
    println!(
        "node CPU per connection: plain {:.0} us, TLS {:.0} us; TLS handshake {:.0} us (target <= 400)",
        per_conn[0],
        per_conn[1],
        per_conn[1] - per_conn[0]
    );

    // Memory per idle tunnel: open tunnels to the idle origin and hold them.
    let mut per_tunnel = Vec::new();
    for tls in [None, Some(&config)] {
        thread::sleep(Duration::from_millis(300));
        let before = sys::tree_rss_kb(pid);
        let held: Vec<Conn> = (0..conns)
            .map(|_| {
                let mut c = Conn::open(&node, tls);
                c.tunnel(idle);
                c
            })
            .collect();
        thread::sleep(Duration::from_millis(500));
        let after = sys::tree_rss_kb(pid);
        per_tunnel.push(after.saturating_sub(before) as f64 / conns as f64);
        drop(held);
    }
    println!(
        "node memory per idle tunnel: plain {:.1} KiB, TLS {:.1} KiB (target <= 40 KB)",
        per_tunnel[0], per_tunnel[1]
    );
}
