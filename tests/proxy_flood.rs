//! Floods of connections that never finish their handshake (issue 11): memory they pin
//! must come back once they are gone, and they must not keep good clients out.

#[path = "support/proxy.rs"]
mod proxy;

use proxy::*;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// One-byte clients per round.
const FLOOD: usize = 4000;
/// Descriptors the node and this test need: the flood plus room for the rest.
const FD_LIMIT: u64 = FLOOD as u64 + 1024;
const WARM_UP: usize = 20;
/// Long enough for a whole flood to be open at once.
const HANDSHAKE_SECS: u64 = 20;

/// `count` clients that each send the first byte of a handshake (SOCKS5 or HTTP, in turn)
/// and then say nothing; opened from a few threads so the flood outruns the timeout.
fn one_byte_clients(node: SocketAddr, count: usize) -> Vec<TcpStream> {
    const THREADS: usize = 4;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            thread::spawn(move || {
                (t..count)
                    .step_by(THREADS)
                    .map(|i| {
                        let mut s = connect(node);
                        s.write_all(if i % 2 == 0 { &[5] } else { b"G" }).unwrap();
                        s
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect()
}

/// Waits (bounded) until the node's RSS is at most `bound` KiB; returns the last reading.
fn rss_settles_below(pid: u32, bound: u64) -> u64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let rss = rss_kib(pid);
        if rss <= bound || Instant::now() >= deadline {
            return rss;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn memory_pinned_by_one_byte_clients_comes_back() {
    assert!(
        raise_fd_limit(FD_LIMIT) >= FD_LIMIT,
        "this test needs {FD_LIMIT} descriptors"
    );
    let node = Node::start_with_fd_limit(
        &format!(
            "{ALICE}[policy]\nallow_private = true\n[timeouts]\nhandshake_secs = {HANDSHAKE_SECS}\n[limits]\nmax_sessions = {}\n",
            2 * FLOOD
        ),
        FD_LIMIT,
    );
    let pid = node.pid();
    let echo = Echo::start();
    // Warm up what every later connection reuses (slab, timers, pool free lists, logger).
    for _ in 0..WARM_UP {
        let (mut tunnel, _) = socks_tunnel(node.addr(), SocksTarget::Addr(echo.addr));
        assert_eq!(round_trip(&mut tunnel, b"ping"), b"ping");
    }
    node.wait_log("outcome=ok", WARM_UP);
    let idle = rss_kib(pid);

    let mut accepted = WARM_UP;
    let mut ended = WARM_UP;
    for round in ["closed by the clients", "closed at the handshake timeout"] {
        let started = Instant::now();
        let clients = one_byte_clients(node.addr(), FLOOD);
        eprintln!("flood sent in {:?}", started.elapsed());
        accepted += FLOOD;
        node.wait_log("accepted as", accepted);
        accepted += 1;
        // A full round trip after the flood: the node has read the bytes sent before it.
        let (mut tunnel, _) = socks_tunnel(node.addr(), SocksTarget::Addr(echo.addr));
        assert_eq!(round_trip(&mut tunnel, b"ping"), b"ping");
        drop(tunnel);
        let during = rss_kib(pid);
        ended += FLOOD + 1;
        if round == "closed by the clients" {
            drop(clients);
            node.wait_log("outcome=", ended);
        } else {
            node.wait_log("outcome=", ended);
            drop(clients);
        }
        let after = rss_settles_below(pid, idle + 2048);
        eprintln!(
            "{round}: RSS idle {idle} KiB, with {FLOOD} one-byte clients {during} KiB, after {after} KiB"
        );
        // A relay buffer each would be 4,000 × 32 KiB = 125 MiB.
        assert!(
            during < idle + FLOOD as u64 * 4,
            "{round}: {FLOOD} one-byte clients took RSS from {idle} to {during} KiB"
        );
        assert!(
            after <= idle + 2048,
            "{round}: RSS {after} KiB after the flood, idle was {idle} KiB"
        );
    }
}
