//! The connection path allocates nothing per connection once warmed up: accept, SOCKS5
//! handshake with username/password, auth check, connect, relaying one echo, close. The
//! node runs in-process here under a counting allocator that counts only the event-loop
//! thread's allocations; both relay modes.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

use proxy::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set on the event-loop thread only.
    static TRACKED: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if TRACKED.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed on to the system allocator unchanged; counting touches a
// const-initialised thread-local (no allocation, no destructor) and an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const WARM_UP: usize = 50;
const MEASURED: usize = 200;

/// Starts a node in a thread of this process (left running when the test ends).
fn start_node(dir: &TempDir, relay: &str) -> SocketAddr {
    let text = format!(
        "[node]\nlisten = [\"127.0.0.1:0\"]\n{ALICE}[policy]\nallow_private = true\n[relay]\nmode = \"{relay}\"\n{}",
        base_config(dir.path())
    );
    let config = aqueduct::config::parse(&text).expect("test config");
    let (tell, addr) = std::sync::mpsc::channel();
    // The server is not Send: it is made and run on the event-loop thread.
    thread::spawn(move || {
        let server = aqueduct::proxy::Server::bind(config.engine).expect("bind");
        tell.send(server.local_addrs()[0]).unwrap();
        TRACKED.with(|t| t.set(true));
        let _ = server.run();
    });
    addr.recv_timeout(WAIT).expect("the node started")
}

fn one_connection(node: SocketAddr, origin: SocketAddr) {
    let (mut tunnel, _) = socks_tunnel(node, SocksTarget::Addr(origin));
    tunnel.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(round_trip(&mut tunnel, b"echo"), b"echo");
}

#[test]
fn a_warmed_up_node_allocates_nothing_per_connection() {
    let echo = Echo::start();
    for relay in ["splice", "copy"] {
        let dir = TempDir::new("alloc");
        let node = start_node(&dir, relay);
        for _ in 0..WARM_UP {
            one_connection(node, echo.addr);
        }
        thread::sleep(Duration::from_millis(200));
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        for _ in 0..MEASURED {
            one_connection(node, echo.addr);
        }
        // Let the last sessions close.
        thread::sleep(Duration::from_millis(200));
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        // A few may come from amortised growth (timer heap, a burst of concurrent closes);
        // one per connection would be MEASURED.
        assert!(
            allocations < (MEASURED / 10) as u64,
            "{relay}: {allocations} allocations on the event loop for {MEASURED} connections"
        );
    }
}
