//! Fair share at the ceiling, through a real node on loopback: ten members, one with 32
//! parallel tunnels and nine with one each, all downloading as fast as they can from a
//! node held to `max_mbit`, through a Python SOCKS5 client (`support/fair_clients.py`,
//! standard library only). Each member gets an equal share (a member's tunnels count as
//! one member); `per_member_mbit` caps one member below a free ceiling. The clients count
//! bytes; the shares and Jain's index are judged here.
//!
//! Shares are ratios of bytes counted over the same window, so a slow machine changes the
//! totals, not the verdict; the total is checked one-sidedly (never above the ceiling).
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

use proxy::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

fn users(n: usize) -> String {
    let mut s = String::from("[auth]\nmode = \"static\"\n");
    for i in 0..n {
        s.push_str(&format!(
            "[[auth.users]]\nname = \"m{i}\"\npassword = \"pw\"\n"
        ));
    }
    s
}

/// Runs `tests/support/fair_clients.py`: `streams[i]` tunnels as member `m{i}`, all read
/// for a 2 s warm-up (rates settle over a few ticks) and a 4 s window. Returns each
/// member's bytes during the window and the window's length, as the clients counted.
fn measure(node: SocketAddr, origin: SocketAddr, streams: &[usize]) -> (Vec<u64>, f64) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/fair_clients.py");
    let mut args = vec![
        script.to_string(),
        node.to_string(),
        origin.to_string(),
        "2".into(),
        "4".into(),
    ];
    args.extend(
        streams
            .iter()
            .enumerate()
            .map(|(i, n)| format!("m{i}:pw:{n}")),
    );
    let out = Command::new("python3")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("python3 is needed for this test (.ci/run installs it)");
    assert!(
        out.status.success(),
        "fair_clients.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let got = (0..streams.len())
        .map(|i| report["bytes"][format!("m{i}")].as_u64().unwrap())
        .collect();
    (got, report["window_secs"].as_f64().unwrap())
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
