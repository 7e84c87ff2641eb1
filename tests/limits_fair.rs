//! Fair share at the ceiling, through a real node on loopback: ten members, one with 32
//! parallel tunnels and nine with one each, all downloading as fast as they can from a
//! node held to `max_mbit`. Each member gets an equal share (a member's tunnels count as
//! one member); `per_member_mbit` caps one member below a free ceiling.
//!
//! Shares are ratios of bytes counted over the same window, so a slow machine changes the
//! totals, not the verdict; the total is checked one-sidedly (never above the ceiling).
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

use proxy::*;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn users(n: usize) -> String {
    let mut s = String::from("[auth]\nmode = \"static\"\n");
    for i in 0..n {
        s.push_str(&format!(
            "[[auth.users]]\nname = \"m{i}\"\npassword = \"pw\"\n"
        ));
    }
    s
}

/// Opens `streams[i]` tunnels as member `m{i}`, reads them all for `warmup + window`,
/// and returns each member's bytes during the window and the window's length.
fn measure(node: SocketAddr, origin: SocketAddr, streams: &[usize]) -> (Vec<u64>, f64) {
    let counters: Vec<Arc<AtomicU64>> = streams.iter().map(|_| Arc::default()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for (member, &n) in streams.iter().enumerate() {
        for _ in 0..n {
            let mut s = connect(node);
            let user = format!("m{member}");
            s.write_all(&socks_handshake_bytes(
                &user,
                "pw",
                &SocksTarget::Addr(origin),
            ))
            .unwrap();
            let (code, _) = read_socks_replies(&mut s).unwrap();
            assert_eq!(code, 0);
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let (counter, stop) = (Arc::clone(&counters[member]), Arc::clone(&stop));
            threads.push(thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                let deadline = Instant::now() + WAIT;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            counter.fetch_add(n as u64, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
    }
    let sample = || -> Vec<u64> { counters.iter().map(|c| c.load(Ordering::Relaxed)).collect() };
    thread::sleep(Duration::from_secs(2)); // rates settle over a few ticks
    let (t1, before) = (Instant::now(), sample());
    thread::sleep(Duration::from_secs(4));
    let (t2, after) = (Instant::now(), sample());
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let got = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    (got, (t2 - t1).as_secs_f64())
}

fn jain(x: &[u64]) -> f64 {
    let sum: f64 = x.iter().map(|&v| v as f64).sum();
    let squares: f64 = x.iter().map(|&v| (v as f64).powi(2)).sum();
    sum * sum / (x.len() as f64 * squares)
}

#[test]
fn ten_members_at_the_ceiling_share_it_equally_whatever_their_tunnel_counts() {
    let origin = TestServer::start("127.0.0.1:0", serve_endless);
    // 80 Mbit/s = 10 MB/s, 1 MB/s each.
    let node = Node::start(&format!(
        "{}[policy]\nallow_private = true\n[limits]\nmax_mbit = 80\nmax_sessions = 256\n",
        users(10)
    ));
    let mut streams = vec![1; 10];
    streams[0] = 32;
    let (got, secs) = measure(node.addr(), origin.addr, &streams);
    let total: u64 = got.iter().sum();
    let index = jain(&got);
    eprintln!("shares over {secs:.2}s: {got:?}, Jain {index:.4}");
    let mean = total as f64 / got.len() as f64;
    for (i, &g) in got.iter().enumerate() {
        assert!(
            (g as f64 - mean).abs() <= 0.10 * mean,
            "member m{i} ({} tunnels) got {g} bytes, the mean is {mean:.0}: {got:?}",
            streams[i]
        );
    }
    assert!(index >= 0.95, "Jain's index {index:.3}: {got:?}");
    let ceiling = 10_000_000.0 * secs;
    assert!(
        (total as f64) <= ceiling * 1.05,
        "{total} bytes in {secs:.2}s: above the ceiling"
    );
}

#[test]
fn per_member_mbit_caps_each_member_below_a_free_ceiling() {
    let origin = TestServer::start("127.0.0.1:0", serve_endless);
    // 16 Mbit/s = 2 MB/s per member; no node ceiling.
    let node = Node::start(&format!(
        "{}[policy]\nallow_private = true\n[limits]\nper_member_mbit = 16\n",
        users(2)
    ));
    let (got, secs) = measure(node.addr(), origin.addr, &[4, 1]);
    for (i, &g) in got.iter().enumerate() {
        assert!(
            (g as f64) <= 2_000_000.0 * secs * 1.05,
            "member m{i} got {g} bytes in {secs:.2}s: above its cap"
        );
    }
    assert!(jain(&got) >= 0.95, "{got:?}");
}
