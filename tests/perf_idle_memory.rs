//! Memory per idle relayed connection: 1,000 tunnels that have carried data and gone quiet
//! hold no relay buffers or pipes, the node's RSS grows by far less than 1,000 buffer
//! pairs would cost, and everything lent out by the pool is back once they close (and
//! most of the memory too). In both relay modes. Memory is asserted against generous bounds; nothing here measures speed.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

use proxy::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 1000;
const WARM_UP: usize = 20;
/// The relay buffer size these nodes run with (also the default).
const BUFFER_BYTES: u64 = 32 * 1024;

fn config(relay: &str) -> String {
    format!(
        "{ALICE}[policy]\nallow_private = true\n[limits]\nbuffer_bytes = {BUFFER_BYTES}\n[relay]\nmode = \"{relay}\"\n"
    )
}

/// An origin that answers each connection's "ping" with "pong" and then holds it open
/// until told to let go (`release`), so the tunnels stay idle but alive.
fn holding_origin(count: usize) -> (SocketAddr, mpsc::Sender<()>, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let (release, released) = mpsc::channel();
    let handle = thread::spawn(move || {
        let mut held = Vec::with_capacity(count);
        let deadline = Instant::now() + 6 * WAIT;
        while held.len() < count {
            match listener.accept() {
                Ok((mut conn, _)) => {
                    conn.set_nonblocking(false).unwrap();
                    conn.set_read_timeout(Some(WAIT)).unwrap();
                    let mut ping = [0u8; 4];
                    conn.read_exact(&mut ping).unwrap();
                    assert_eq!(&ping, b"ping");
                    conn.write_all(b"pong").unwrap();
                    held.push(conn);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    assert!(
                        Instant::now() < deadline,
                        "origin: only {} came",
                        held.len()
                    );
                    thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("origin accept: {e}"),
            }
        }
        let _ = released.recv_timeout(6 * WAIT);
        drop(held);
    });
    (addr, release, handle)
}

/// Opens a tunnel and passes one message each way through it.
fn relayed(node: SocketAddr, origin: SocketAddr, answer: &[u8]) -> TcpStream {
    let (mut tunnel, _) = socks_tunnel(node, SocksTarget::Addr(origin));
    assert_eq!(round_trip(&mut tunnel, b"ping"), answer);
    tunnel
}

/// The pool's "in use" figures from the last `relay pool:` line of the log.
fn last_pool_line(log: &str) -> &str {
    log.lines()
        .rev()
        .find(|l| l.contains("relay pool:"))
        .expect("a relay pool line")
}

fn idle_connections_hold_no_relay_memory(relay: &str) {
    let node = Node::start(&config(relay));
    let pid = node.pid();
    let (origin, release, origin_thread) = holding_origin(CONNECTIONS);

    // Warm up: the first connections allocate what every later one reuses (slab, timer
    // heap, the pool's free lists, the logger).
    let echo = Echo::start();
    let warm: Vec<TcpStream> = (0..WARM_UP)
        .map(|_| relayed(node.addr(), echo.addr, b"ping"))
        .collect();
    drop(warm);
    node.wait_log("relay pool:", WARM_UP);
    let idle_rss = rss_kib(pid);

    let tunnels: Vec<TcpStream> = (0..CONNECTIONS)
        .map(|_| relayed(node.addr(), origin, b"pong"))
        .collect();
    let open_rss = rss_kib(pid);
    let grown = open_rss.saturating_sub(idle_rss);
    // Holding a buffer pair each would cost 2 × 32 KiB per connection (64 MB here);
    // sessions that hold none cost about one session slot (~1 KiB).
    let bound_kib = CONNECTIONS as u64 * 8;
    assert!(
        grown < bound_kib,
        "{relay}: RSS grew {grown} KiB for {CONNECTIONS} idle tunnels (idle {idle_rss} KiB, bound {bound_kib} KiB; buffers would be {} KiB)",
        CONNECTIONS as u64 * 2 * BUFFER_BYTES / 1024
    );

    // A connection that fails at once logs the pool's state while the 1,000 tunnels sit
    // idle: they hold nothing.
    let mut probe = connect(node.addr());
    probe.write_all(&[0x00]).unwrap();
    node.wait_log("neither SOCKS5 nor HTTP", 1);
    let log = node.wait_log("relay pool:", WARM_UP + 1);
    assert!(
        last_pool_line(&log).contains("relay pool: 0 buffers, 0 pipes in use"),
        "{relay}: idle tunnels hold pool memory: {}",
        last_pool_line(&log)
    );
    drop(probe);

    // Close every tunnel from both ends: each session ends cleanly and gives back all
    // it borrowed.
    drop(tunnels);
    release.send(()).unwrap();
    origin_thread.join().unwrap();
    node.wait_log("outcome=ok", WARM_UP + CONNECTIONS);
    let log = node.wait_log("relay pool:", WARM_UP + 1 + CONNECTIONS);
    assert!(
        last_pool_line(&log).contains("relay pool: 0 buffers, 0 pipes in use"),
        "{relay}: not everything came back: {}",
        last_pool_line(&log)
    );
    // What the tunnels took goes back (the session slab frees its slots once empty, and
    // the node trims the heap a second after a burst ends); allow for what the
    // allocator keeps. Polled, bounded: the trim runs on the node's own schedule.
    let limit = idle_rss + grown / 2 + 256;
    let mut closed_rss = rss_kib(pid);
    for _ in 0..40 {
        if closed_rss < limit {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        closed_rss = rss_kib(pid);
    }
    eprintln!(
        "{relay}: RSS idle {idle_rss} KiB, with {CONNECTIONS} idle tunnels {open_rss} KiB, after closing {closed_rss} KiB"
    );
    assert!(
        closed_rss < limit,
        "{relay}: RSS after closing {closed_rss} KiB (idle {idle_rss} KiB, with tunnels {open_rss} KiB)"
    );
}

#[test]
fn idle_tunnels_hold_no_buffers_or_pipes_splicing() {
    idle_connections_hold_no_relay_memory("splice");
}

#[test]
fn idle_tunnels_hold_no_buffers_or_pipes_copying() {
    idle_connections_hold_no_relay_memory("copy");
}
