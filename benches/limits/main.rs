//! `[limits]` measured on loopback against the real node (issue 14):
//!
//! - accuracy: one SOCKS5 tunnel downloading as fast as it can through a node held to
//!   `max_mbit` = 50 and 500, bytes counted over 10 s against the ceiling times 10 s;
//! - cost: limits configured but not reached (`max_mbit`, `per_member_mbit`, `monthly_gb`
//!   far above what loopback does) against the unlimited node in the same run: throughput
//!   and the node's CPU seconds per GiB relayed, alternating runs, medians.
//!
//! `cargo bench --bench limits`; prints one row per case.
// A bench's unwrap is its assertion: a failure there is the measurement failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// An origin that sends bytes until the client closes (or `limit` bytes, if it asks).
fn origin() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut conn = conn;
                let mut want = [0u8; 8];
                if conn.read_exact(&mut want).is_err() {
                    return;
                }
                let mut left = u64::from_be_bytes(want);
                let chunk = vec![7u8; 256 * 1024];
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    if conn.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    left -= n as u64;
                }
            });
        }
    });
    addr
}

struct Node {
    child: Child,
    addr: SocketAddr,
    _dir: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn node(tag: &str, limits: &str) -> Node {
    let dir = std::env::temp_dir().join(format!(
        "aqueduct-bench-limits-{}-{tag}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let ready = dir.join("ready");
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let config = format!(
        "[node]\nlisten = [\"127.0.0.1:0\"]\nready_file = \"{}\"\n[auth]\nmode = \"none\"\n[policy]\nallow_private = true\n[dns]\nnameservers = [\"127.0.0.1:9\"]\nresolv_conf = \"{}\"\nhosts_file = \"{}\"\n[limits]\n{limits}\n",
        ready.display(),
        dir.join("resolv.conf").display(),
        hosts.display()
    );
    let path = dir.join("node.toml");
    std::fs::write(&path, config).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .args(["node", "--config"])
        .arg(&path)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut node = Node {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            if let Some(addr) = text.lines().next().and_then(|l| l.parse().ok()) {
                node.addr = addr;
                return node;
            }
        }
        assert!(Instant::now() < deadline, "node not ready");
        thread::sleep(Duration::from_millis(20));
    }
}

/// A SOCKS5 tunnel (no auth) to `target`, asking the origin for `bytes`.
fn tunnel(node: SocketAddr, target: SocketAddr, bytes: u64) -> io::Result<TcpStream> {
    let mut s = TcpStream::connect(node)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let SocketAddr::V4(t) = target else {
        return Err(io::Error::other("IPv4 only"));
    };
    let mut req = vec![5, 1, 0, 5, 1, 0, 1];
    req.extend_from_slice(&t.ip().octets());
    req.extend_from_slice(&t.port().to_be_bytes());
    s.write_all(&req)?;
    let mut reply = [0u8; 12];
    s.read_exact(&mut reply)?;
    if reply[0..2] != [5, 0] || reply[3] != 0 {
        return Err(io::Error::other(format!("SOCKS5 reply {reply:?}")));
    }
    s.write_all(&bytes.to_be_bytes())?;
    Ok(s)
}

/// The node's CPU seconds so far (utime + stime from /proc/PID/stat).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// Bytes one tunnel received in `secs` seconds from when its first byte arrived.
fn accuracy(mbit: f64, origin: SocketAddr) -> (f64, f64) {
    let n = node(&format!("acc{mbit}"), &format!("max_mbit = {mbit}"));
    let mut s = tunnel(n.addr, origin, u64::MAX).unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let first = s.read(&mut buf).unwrap() as u64;
    let started = Instant::now();
    let window = Duration::from_secs(10);
    let mut got = first;
    while started.elapsed() < window {
        got += s.read(&mut buf).unwrap() as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    let expected = mbit * 1e6 / 8.0 * secs;
    (got as f64, expected)
}

/// Four tunnels downloading `total` bytes in all: (GB/s, node CPU seconds per GiB).
fn bulk(n: &Node, origin: SocketAddr, total: u64) -> (f64, f64) {
    let pid = n.child.id();
    let cpu0 = cpu_secs(pid);
    let started = Instant::now();
    let each = total / 4;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let addr = n.addr;
            thread::spawn(move || {
                let mut s = tunnel(addr, origin, each).unwrap();
                let mut buf = vec![0u8; 256 * 1024];
                let mut got = 0u64;
                while got < each {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => got += k as u64,
                    }
                }
                got
            })
        })
        .collect();
    let got: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let secs = started.elapsed().as_secs_f64();
    // The session ends a moment after the last byte: let its CPU be counted.
    thread::sleep(Duration::from_millis(100));
    let cpu = cpu_secs(pid) - cpu0;
    (got as f64 / secs / 1e9, cpu / (got as f64 / GIB))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let origin = origin();
    println!("| case | result |\n|---|---|");
    for mbit in [50.0, 500.0] {
        let (got, expected) = accuracy(mbit, origin);
        println!(
            "| max_mbit = {mbit}, one tunnel, 10 s | {:.1} MB of {:.1} MB expected ({:+.2}%) |",
            got / 1e6,
            expected / 1e6,
            (got / expected - 1.0) * 100.0
        );
    }
    let unlimited = node("free", "");
    let configured = node(
        "high",
        "max_mbit = 100000\nper_member_mbit = 100000\nmonthly_gb = 1000000\nper_member_daily_gb = 1000000",
    );
    let total = 2 * 1024 * 1024 * 1024u64;
    let (mut free_rate, mut free_cpu, mut high_rate, mut high_cpu) =
        (vec![], vec![], vec![], vec![]);
    for _ in 0..3 {
        let (r, c) = bulk(&unlimited, origin, total);
        free_rate.push(r);
        free_cpu.push(c);
        let (r, c) = bulk(&configured, origin, total);
        high_rate.push(r);
        high_cpu.push(c);
    }
    let (fr, fc) = (median(&mut free_rate), median(&mut free_cpu));
    let (hr, hc) = (median(&mut high_rate), median(&mut high_cpu));
    println!("| unlimited, 4 tunnels x 512 MiB, median of 3 | {fr:.2} GB/s, {fc:.3} CPU s/GiB |");
    println!(
        "| limits configured, not reached, same run | {hr:.2} GB/s ({:.2}x), {hc:.3} CPU s/GiB ({:.2}x) |",
        hr / fr,
        hc / fc
    );
}
