//! `yield_to_host` on loopback: a second flow between two sockets of this machine,
//! outside the node, stands in for the host's own traffic. The node reads /proc/net/dev
//! for `lo`, subtracts what it relayed itself, and lowers its ceiling while the host flow
//! runs; the ceiling climbs back once it stops.
//!
//! Other processes on this machine also use loopback: their traffic can only lower the
//! ceiling further, so the "lowered" check is one-sided, and each "back up" check waits
//! (bounded) for a moment when the machine is quiet enough.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{ops, proxy};

use ops::{metrics_url, scrape};
use proxy::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const MB: f64 = 1_000_000.0;

/// A loopback flow at about `rate` bytes per second until `stop`.
fn host_flow(rate: f64, stop: Arc<AtomicBool>) -> thread::JoinHandle<()> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let mut tx = TcpStream::connect(addr).unwrap();
        let (mut rx, _) = listener.accept().unwrap();
        let drain = thread::spawn(move || {
            let mut buf = vec![0u8; 256 * 1024];
            while let Ok(n) = rx.read(&mut buf) {
                if n == 0 {
                    return;
                }
            }
        });
        let chunk = vec![0u8; 256 * 1024];
        let started = Instant::now();
        let mut sent = 0.0;
        let deadline = started + 3 * WAIT;
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            let due = Duration::from_secs_f64(sent / rate);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                thread::sleep(wait);
            }
            if tx.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len() as f64;
        }
        drop(tx);
        let _ = drain.join();
    })
}

/// Scrapes until the ceiling satisfies `ok` (bounded); returns the last value seen.
fn ceiling_until(url: &str, ok: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = scrape(url);
        let c = m
            .get("aqueduct_ceiling_bytes_per_second{reason=\"yielding\"}")
            .copied()
            .unwrap_or(f64::NAN);
        if ok(c) || Instant::now() > deadline {
            return c;
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// Bytes per second the busier direction of `lo` carries now, over `secs`.
fn loopback_rate(secs: f64) -> f64 {
    let read = || -> (u64, u64) {
        let text = std::fs::read_to_string("/proc/net/dev").unwrap();
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("lo:"))
            .expect("lo in /proc/net/dev");
        let fields: Vec<u64> = line
            .split_once(':')
            .unwrap()
            .1
            .split_whitespace()
            .map(|f| f.parse().unwrap())
            .collect();
        (fields[0], fields[8])
    };
    let (rx0, tx0) = read();
    thread::sleep(Duration::from_secs_f64(secs));
    let (rx1, tx1) = read();
    (rx1 - rx0).max(tx1 - tx0) as f64 / secs
}

#[test]
fn the_node_yields_to_the_host_s_own_traffic_and_climbs_back_when_it_stops() {
    // Loopback is the whole machine's: while other processes push a lot through it, the
    // node rightly yields to them and this test could not tell its own flow from theirs.
    let busy = loopback_rate(1.0);
    if busy > 5.0 * MB {
        eprintln!(
            "SKIPPED: loopback already carries {:.0} MB/s of other traffic",
            busy / MB
        );
        return;
    }
    let origin = TestServer::start("127.0.0.1:0", serve_endless);
    // An 800 Mbit/s "uplink" (100 MB/s), 80 Mbit/s (10 MB/s) always left to the host.
    let node = Node::start(&format!(
        "{ALICE}[policy]\nallow_private = true\n[metrics]\nlisten = \"127.0.0.1:0\"\n[limits]\nyield_to_host = true\nlink_mbit = 800\nreserve_mbit = 80\ninterfaces = [\"lo\"]\n"
    ));
    let url = metrics_url(&node);
    // The node's own download runs throughout: its bytes on lo are not the host's.
    let (mut tunnel, _) = socks_tunnel(node.addr(), SocksTarget::Addr(origin.addr));
    tunnel
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let reading = Arc::new(AtomicBool::new(true));
    let reader = {
        let reading = Arc::clone(&reading);
        thread::spawn(move || {
            let mut buf = vec![0u8; 256 * 1024];
            let deadline = Instant::now() + 3 * WAIT;
            while reading.load(Ordering::Relaxed) && Instant::now() < deadline {
                if matches!(tunnel.read(&mut buf), Ok(0) | Err(_)) {
                    return;
                }
            }
        })
    };

    // The ceiling starts at the link: let a few one-second samples with the node's own
    // traffic pass before judging it.
    thread::sleep(Duration::from_millis(2500));
    let quiet = ceiling_until(&url, |c| c >= 80.0 * MB);
    assert!(
        quiet >= 80.0 * MB,
        "alone, the node keeps about link - reserve: {quiet}"
    );

    // The host sends 50 MB/s of its own: the node leaves it that (and no less).
    let stop = Arc::new(AtomicBool::new(false));
    let host = host_flow(50.0 * MB, Arc::clone(&stop));
    let busy = ceiling_until(&url, |c| c <= 60.0 * MB);
    assert!(
        busy <= 60.0 * MB,
        "the host's 50 MB/s left the ceiling at {busy}"
    );

    stop.store(true, Ordering::Relaxed);
    host.join().unwrap();
    let back = ceiling_until(&url, |c| c >= 80.0 * MB);
    assert!(back >= 80.0 * MB, "the ceiling did not climb back: {back}");

    reading.store(false, Ordering::Relaxed);
    reader.join().unwrap();
}

/// Writes a /proc/net/dev lookalike whose `eth0` has carried `bytes` each way.
fn write_counters(path: &std::path::Path, bytes: u64) {
    let text = format!(
        "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n    lo: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n  eth0: {bytes} 0 0 0 0 0 0 0 {bytes} 0 0 0 0 0 0 0\n"
    );
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The same rule with the counters file under the test's control (`limits.net_dev_file`,
/// as for a container reading the host's counters elsewhere): deterministic whatever else
/// the machine does.
#[test]
fn the_ceiling_follows_the_host_s_traffic_in_the_interface_counters() {
    let dir = TempDir::new("netdev");
    let counters = dir.path().join("net_dev");
    write_counters(&counters, 0);
    let node = Node::start(&format!(
        "{ALICE}[metrics]\nlisten = \"127.0.0.1:0\"\n[limits]\nyield_to_host = true\nlink_mbit = 800\nreserve_mbit = 80\ninterfaces = [\"eth0\"]\nnet_dev_file = \"{}\"\n",
        counters.display()
    ));
    let url = metrics_url(&node);
    // The host sends 60 MB/s for a while: the node keeps 100 - 60 = 40 MB/s.
    let started = std::time::Instant::now();
    let busy = loop {
        thread::sleep(Duration::from_millis(100));
        write_counters(
            &counters,
            (started.elapsed().as_secs_f64() * 60.0 * MB) as u64,
        );
        let m = scrape(&url);
        let c = m
            .get("aqueduct_ceiling_bytes_per_second{reason=\"yielding\"}")
            .copied()
            .unwrap_or(f64::MAX);
        if c <= 50.0 * MB || started.elapsed() > Duration::from_secs(20) {
            break c;
        }
    };
    // The file is written every ~100 ms and the node samples it once a second on its own
    // clock, so one sample can see a tenth more or less than a second of the host's bytes.
    assert!(
        (25.0 * MB..=50.0 * MB).contains(&busy),
        "with the host at 60 MB/s the ceiling is {busy}"
    );
    // The host goes quiet: back up to link - reserve within seconds.
    let back = ceiling_until(&url, |c| c >= 89.0 * MB);
    assert!(back >= 89.0 * MB, "{back}");
}
