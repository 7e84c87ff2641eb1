//! Floods of connections that never finish their handshake (issue 11): memory they pin
//! must come back once they are gone, and they must not keep good clients out (the
//! oldest handshake is evicted when the node is full; one address holds only so many).
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

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
/// and then say nothing. Opened from `threads` threads (a flood that outruns the timeout)
/// or, with one, in order.
fn one_byte_clients(node: SocketAddr, count: usize, threads: usize) -> Vec<TcpStream> {
    let threads: Vec<_> = (0..threads)
        .map(|t| {
            thread::spawn(move || {
                (t..count)
                    .step_by(threads)
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
            "{ALICE}[policy]\nallow_private = true\n[timeouts]\nhandshake_secs = {HANDSHAKE_SECS}\n[limits]\nmax_sessions = {}\nmax_handshakes_per_client = {}\n",
            2 * FLOOD,
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
    // A member's tunnel stays open throughout: the flood's memory must come back even
    // though the node never empties.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (held, _) = socks_tunnel(node.addr(), SocksTarget::Addr(holder.local_addr().unwrap()));
    let (_held_far, _) = holder.accept().unwrap();
    let mut accepted = WARM_UP + 1;
    let mut ended = WARM_UP;
    let idle = rss_kib(pid);

    for round in ["closed by the clients", "closed at the handshake timeout"] {
        let started = Instant::now();
        let clients = one_byte_clients(node.addr(), FLOOD, 4);
        let took = started.elapsed();
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
        assert!(still_open(&held), "the member's tunnel is untouched");
        eprintln!(
            "{round}: RSS idle {idle} KiB, with {FLOOD} one-byte clients {during} KiB (sent in {took:.1?}), after {after} KiB"
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

/// A tunnel to `echo` as alice that carries one round trip.
fn served(node: SocketAddr, echo: SocketAddr) -> TcpStream {
    let (mut tunnel, _) = socks_tunnel(node, SocksTarget::Addr(echo));
    assert_eq!(round_trip(&mut tunnel, b"ping"), b"ping");
    tunnel
}

#[test]
fn a_full_node_evicts_its_oldest_handshake_for_a_new_client() {
    const MAX: usize = 8;
    let node = Node::start(&format!(
        "{ALICE}[policy]\nallow_private = true\n[limits]\nmax_sessions = {MAX}\nmax_handshakes_per_client = 100\n"
    ));
    let echo = Echo::start();
    let silent = one_byte_clients(node.addr(), MAX, 1);
    node.wait_log("accepted as", MAX);

    // Full of silent connections: a good client still gets in, in place of the oldest.
    let mut tunnel = served(node.addr(), echo.addr);
    let log = node.wait_log("outcome=evicted reason=\"evicted in its handshake", 1);
    assert_eq!(log.matches("outcome=evicted").count(), 1, "{log}");
    let mut silent = silent.into_iter();
    let mut oldest = silent.next().unwrap();
    assert!(
        closed_by_peer(&mut oldest),
        "the oldest silent client was closed"
    );
    let rest: Vec<TcpStream> = silent.collect();
    assert!(rest.iter().all(still_open), "only the oldest was evicted");

    // Admitted sessions are never evicted: with every slot relaying, a newcomer is closed.
    drop(rest);
    node.wait_log("outcome=client_gone", MAX - 1);
    let mut tunnels: Vec<TcpStream> = (1..MAX).map(|_| served(node.addr(), echo.addr)).collect();
    let mut newcomer = connect(node.addr());
    assert!(
        closed_by_peer(&mut newcomer),
        "a full node of tunnels refuses"
    );
    tunnels.push(tunnel);
    for t in &mut tunnels {
        assert_eq!(round_trip(t, b"still"), b"still");
    }
    tunnel = tunnels.pop().unwrap();
    drop(tunnels);
    assert_eq!(node.log().matches("outcome=evicted").count(), 1);
    assert!(node.log().contains("none in its handshake"));
    drop(tunnel);
}

#[test]
fn one_client_address_holds_at_most_its_share_of_handshakes() {
    const PER_CLIENT: usize = 4;
    let node = Node::start_on(
        &["127.0.0.1:0", "[::1]:0"],
        &format!(
            "{ALICE}[policy]\nallow_private = true\n[limits]\nmax_handshakes_per_client = {PER_CLIENT}\n"
        ),
    );
    let (v4, v6) = (node.addrs[0], node.addrs[1]);
    let echo = Echo::start();
    // An admitted tunnel is not in its handshake: it takes nothing from the share.
    let mut tunnel = served(v4, echo.addr);
    let mut silent = one_byte_clients(v4, PER_CLIENT, 1);
    node.wait_log("accepted as", 1 + PER_CLIENT);

    let mut one_more = connect(v4);
    assert!(
        closed_by_peer(&mut one_more),
        "beyond the share: closed at accept"
    );
    node.wait_log("limits.max_handshakes_per_client", 1);
    assert!(silent.iter().all(still_open));
    // Another address is served, and so is the open tunnel.
    drop(served(v6, echo.addr));
    assert_eq!(round_trip(&mut tunnel, b"ping"), b"ping");

    // Once one of the silent clients goes, the address may start a handshake again.
    drop(silent.pop());
    node.wait_log("outcome=client_gone", 1);
    drop(served(v4, echo.addr));
}
