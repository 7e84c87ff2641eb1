//! `cargo bench --bench monitor`: one probe round over 1,000 loopback nodes (issue 12),
//! with the monitor's engine pinned to one CPU: round time, the engine's CPU and peak
//! memory, and the database's bytes per node per day.
//!
//! The nodes are 1,000 listeners in one helper process (this binary re-run with
//! `--farm N`, pinned to the other CPU): each accepts any SOCKS5 login and relays to
//! the CONNECT target, a thread per connection. The monitor side is the real engine
//! (`aqueduct::monitor::probe::Engine`) with its real echo endpoint, probing every node
//! as in production: connect, login, echo request, 1 MiB download, 64 at a time.
//!
//! Knobs: `MONITOR_BENCH_NODES` (1000), `MONITOR_BENCH_ROUNDS` (3),
//! `MONITOR_BENCH_PARALLEL` (64), `MONITOR_BENCH_DOWNLOAD` (bytes, 1048576).
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../proxy/sys.rs"]
mod sys;

use aqueduct::contract::Heartbeat;
use aqueduct::eth::Address;
use aqueduct::monitor::config::EchoUrl;
use aqueduct::monitor::outcome::Outcome;
use aqueduct::monitor::probe::{Engine, Measured, ProbePath, ProbeSettings, ProbeTarget};
use aqueduct::monitor::store::{Retention, RoundRecord, Store};
use aqueduct::proxy::upstream::Login;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------
// The helper process: many SOCKS5 listeners
// ---------------------------------------------------------------------------

fn farm(n: usize) {
    if sys::online_cpus() >= 2 {
        let _ = sys::pin_to_cpu(1);
    }
    let _ = sys::raise_nofile();
    let mut poll = mio::Poll::new().expect("poll");
    let mut listeners = Vec::with_capacity(n);
    let mut out = std::io::stdout().lock();
    for i in 0..n {
        let mut l = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
        poll.registry()
            .register(&mut l, mio::Token(i), mio::Interest::READABLE)
            .expect("register");
        let _ = writeln!(out, "{}", l.local_addr().unwrap());
        listeners.push(l);
    }
    let _ = writeln!(out, "ready");
    let _ = out.flush();
    drop(out);
    // Ends with the bench: its end of our stdin closes.
    std::thread::spawn(|| {
        let mut buf = [0u8; 64];
        while matches!(std::io::stdin().read(&mut buf), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
    let mut events = mio::Events::with_capacity(1024);
    loop {
        if poll.poll(&mut events, None).is_err() {
            continue;
        }
        for ev in events.iter() {
            let Some(l) = listeners.get(ev.token().0) else {
                continue;
            };
            while let Ok((sock, _)) = l.accept() {
                use std::os::fd::{FromRawFd, IntoRawFd};
                // SAFETY: the descriptor comes from into_raw_fd, so it is owned once.
                let sock = unsafe { TcpStream::from_raw_fd(sock.into_raw_fd()) };
                let _ = std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || {
                        let _ = serve(sock);
                    });
            }
        }
    }
}

fn read_vec(s: &mut TcpStream, n: usize) -> std::io::Result<Vec<u8>> {
    let mut v = vec![0u8; n];
    s.read_exact(&mut v)?;
    Ok(v)
}

/// Any login is accepted; CONNECT to an IPv4 target, then relay both ways.
fn serve(mut c: TcpStream) -> std::io::Result<()> {
    c.set_nonblocking(false)?;
    c.set_read_timeout(Some(Duration::from_secs(60)))?;
    let head = read_vec(&mut c, 2)?;
    read_vec(&mut c, usize::from(head[1]))?;
    c.write_all(&[5, 2])?;
    let v = read_vec(&mut c, 2)?;
    read_vec(&mut c, usize::from(v[1]))?;
    let plen = read_vec(&mut c, 1)?;
    read_vec(&mut c, usize::from(plen[0]))?;
    c.write_all(&[1, 0])?;
    let req = read_vec(&mut c, 4)?;
    if req[3] != 1 {
        c.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0])?;
        return Ok(());
    }
    let ip = read_vec(&mut c, 4)?;
    let port = read_vec(&mut c, 2)?;
    let target = SocketAddr::from((
        [ip[0], ip[1], ip[2], ip[3]],
        u16::from_be_bytes([port[0], port[1]]),
    ));
    let up = TcpStream::connect_timeout(&target, Duration::from_secs(10))?;
    c.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])?;
    let (mut c2, mut up2) = (c.try_clone()?, up.try_clone()?);
    let t = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            let _ = std::io::copy(&mut up2, &mut c2);
            let _ = c2.shutdown(Shutdown::Write);
        })?;
    let mut up = up;
    let _ = std::io::copy(&mut c, &mut up);
    let _ = up.shutdown(Shutdown::Write);
    let _ = t.join();
    Ok(())
}

// ---------------------------------------------------------------------------
// The bench
// ---------------------------------------------------------------------------

fn peak_rss_kb() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// p50 / p95 / max of the time to the echo answer, in ms.
fn latency(results: &[Measured]) -> String {
    let mut l: Vec<f64> = results
        .iter()
        .filter_map(|r| r.latency)
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    l.sort_by(f64::total_cmp);
    let at = |p: usize| {
        l.get((l.len() * p / 100).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    format!(
        "{:.0} / {:.0} / {:.0}",
        at(50),
        at(95),
        l.last().copied().unwrap_or(0.0)
    )
}

fn outcomes(results: &[Measured]) -> String {
    let mut m: BTreeMap<&str, usize> = BTreeMap::new();
    for r in results {
        *m.entry(r.outcome.as_str()).or_default() += 1;
    }
    m.iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A distinct address per node index.
fn node_address(i: usize) -> Address {
    let mut a = [7u8; 20];
    a[..8].copy_from_slice(&(i as u64).to_be_bytes());
    Address(a)
}

/// When the bench's nodes were first seen: just before its simulated day.
fn t0_registry() -> i64 {
    1_800_000_000_000 - 1
}

fn bytes_per_node_day(nodes: usize) -> (f64, f64, f64, (f64, usize)) {
    let dir = std::env::temp_dir().join(format!("aq-monitor-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("day.db");
    let mut store = Store::open(&path).unwrap();
    let registry: Vec<aqueduct::contract::NodeInfo> = (0..nodes)
        .map(|i| aqueduct::contract::NodeInfo {
            node: node_address(i),
            endpoint: format!("203.0.113.{}:1080", i % 250),
            active: true,
        })
        .collect();
    store.save_registry(t0_registry(), &registry).unwrap();
    store.checkpoint().unwrap();
    let empty = Store::file_bytes(&path);
    let keep = Retention {
        probe_days: 90,
        rollup_days: 365,
    };
    let t0 = 1_800_000_000_000i64;
    let mut write = Duration::ZERO;
    // A day at the default 5-minute rounds, one HTTP probe per round, a heartbeat per hour.
    for round in 0..288i64 {
        let probes: Vec<Measured> = (0..=nodes)
            .map(|i| Measured {
                node: node_address(i % nodes),
                path: if i == nodes {
                    ProbePath::Http
                } else {
                    ProbePath::Socks
                },
                outcome: Outcome::Ok,
                detail: String::new(),
                connect: Some(Duration::from_micros(30_000 + (i as u64 * 37) % 5_000)),
                tls: None,
                login: Some(Duration::from_micros(31_000 + (i as u64 * 53) % 5_000)),
                latency: Some(Duration::from_micros(95_000 + (i as u64 * 71) % 20_000)),
                download_bytes: 1 << 20,
                download: Some(Duration::from_micros(800_000 + (i as u64 * 97) % 100_000)),
                egress: Some(std::net::IpAddr::from([203, 0, 113, (i % 250) as u8])),
            })
            .collect();
        let start = Instant::now();
        store
            .record_round(
                &RoundRecord {
                    started_ms: t0 + round * 300_000,
                    finished_ms: t0 + round * 300_000 + 20_000,
                    void_reason: None,
                    probes,
                },
                &keep,
            )
            .unwrap();
        write += start.elapsed();
    }
    let beats: Vec<Heartbeat> = (0..nodes)
        .flat_map(|i| {
            (0..24u64).map(move |h| Heartbeat {
                node: node_address(i),
                epoch: h / 24,
                slot: 1_000 + h,
                // A busy node's counters: what every heartbeat now carries.
                usage: aqueduct::contract::Usage {
                    sessions: 400,
                    bytes_relayed: 500_000_000,
                    members: 12,
                },
                block_number: 5_000 + h * 1_800,
            })
        })
        .collect();
    store.save_heartbeats(&beats, 60_000).unwrap();
    store.checkpoint().unwrap();
    let bytes = Store::file_bytes(&path).saturating_sub(empty);
    // What the dashboard's table costs over that day (every node's summary).
    let policy = aqueduct::monitor::stats::Policy {
        flag_below: 0.5,
        remove_below: 0.5,
        min_probes: 12,
    };
    let start = Instant::now();
    let table = aqueduct::monitor::stats::summaries(&store, t0 + 288 * 300_000, &policy).unwrap();
    let table_ms = start.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(table.len(), nodes);
    assert!(
        table.iter().all(|n| n.probes_24h == 288),
        "a day of probes per node"
    );
    // The withhold decision for that day as an epoch: every node's probes read once.
    let timing = aqueduct::monitor::chain::Timing {
        genesis: (t0 / 1000) as u64,
        epoch_length: 86_400,
        slot_length: 3_600,
    };
    let start = Instant::now();
    let failing = aqueduct::monitor::stats::failing_in_epoch(&store, &timing, 0, &policy).unwrap();
    let decide_ms = start.elapsed().as_secs_f64() * 1000.0;
    let _ = std::fs::remove_dir_all(&dir);
    (
        bytes as f64 / nodes as f64,
        write.as_secs_f64() * 1000.0 / 288.0,
        table_ms,
        (decide_ms, failing.len()),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--farm") {
        let n = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(1000);
        farm(n);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return; // `cargo bench -- --list`: nothing to list
    }
    let nodes = knob("MONITOR_BENCH_NODES", 1000) as usize;
    let rounds = knob("MONITOR_BENCH_ROUNDS", 3);
    let parallel = knob("MONITOR_BENCH_PARALLEL", 64) as usize;
    let download = knob("MONITOR_BENCH_DOWNLOAD", 1 << 20);
    let nofile = sys::raise_nofile().unwrap_or(0);
    let exe = std::env::current_exe().expect("own path");
    let mut helper = Command::new(exe)
        .args(["--farm", &nodes.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the node farm");
    let farm_pid = helper.id() as i32;
    let mut addrs: Vec<SocketAddr> = Vec::with_capacity(nodes);
    for line in BufReader::new(helper.stdout.take().unwrap()).lines() {
        let line = line.expect("farm output");
        if line == "ready" {
            break;
        }
        addrs.push(line.parse().expect("farm address"));
    }
    assert_eq!(addrs.len(), nodes, "the farm did not bind every listener");
    let cpus = sys::online_cpus();
    if cpus >= 2 {
        let _ = sys::pin_to_cpu(0);
    }
    let mut engine = Engine::bind("127.0.0.1:0".parse().unwrap()).expect("echo endpoint");
    let echo = engine.echo_addr();
    let login = Arc::new(Login {
        username: "bench".into(),
        password: "bench".into(),
    });
    let targets: Vec<ProbeTarget> = addrs
        .iter()
        .enumerate()
        .map(|(i, a)| ProbeTarget {
            node: node_address(i),
            addr: *a,
            login: Arc::clone(&login),
            expect_egress: Some(a.ip()),
            path: ProbePath::Socks,
            tls: None,
        })
        .collect();
    let settings = |download_bytes| ProbeSettings {
        parallel,
        timeout: Duration::from_secs(30),
        download_bytes,
        slow_latency: Duration::from_secs(3),
        slow_throughput_kbps: 1000,
        echo: EchoUrl {
            host: echo.ip().to_string(),
            port: echo.port(),
        },
    };
    println!("machine load before: {}", sys::loadavg());
    println!(
        "monitor bench: {nodes} loopback nodes in one helper process, {parallel} probes at a time, \
         engine pinned to CPU 0 of {cpus} (helper on CPU 1), descriptor limit {nofile}"
    );
    println!("| round | download | wall s | engine CPU s (user/sys) | helper CPU s | engine RSS / peak KiB | echo answer p50 / p95 / max ms | outcomes |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut plan: Vec<(String, u64)> = vec![("handshake + echo".into(), 0)];
    for i in 0..rounds {
        plan.push((format!("full {}", i + 1), download));
    }
    let mut walls = Vec::new();
    for (name, bytes) in plan {
        let me = sys::process_cpu(std::process::id() as i32, false);
        let them = sys::process_cpu(farm_pid, false);
        let start = Instant::now();
        let results = engine.run_round(targets.clone(), &settings(bytes));
        let wall = start.elapsed().as_secs_f64();
        let used = sys::process_cpu(std::process::id() as i32, false).since(me);
        let helper_cpu = sys::process_cpu(farm_pid, false).since(them);
        let (rss, peak) = peak_rss_kb();
        if bytes > 0 {
            walls.push((wall, used.total()));
        }
        println!(
            "| {name} | {} KiB | {wall:.2} | {:.2} ({:.2}/{:.2}) | {:.2} | {rss} / {peak} | {} | {} |",
            bytes / 1024,
            used.total(),
            used.user,
            used.system,
            helper_cpu.total(),
            latency(&results),
            outcomes(&results)
        );
        assert_eq!(results.len(), nodes);
    }
    drop(helper.stdin.take());
    let _ = helper.wait();
    if let Some(best) = walls.iter().map(|w| w.0).reduce(f64::min) {
        println!(
            "\nfull round: best {best:.2} s wall for {nodes} nodes ({:.1} ms per node per core at {parallel} in flight)",
            walls.iter().map(|w| w.1).reduce(f64::min).unwrap_or(0.0) * 1000.0 / nodes as f64
        );
    }
    let (per_node, write_ms, table_ms, (decide_ms, failing)) = bytes_per_node_day(100);
    println!(
        "database: {per_node:.0} bytes per node per day (288 rounds, 1 HTTP probe per round, 24 heartbeats with usage counters, hourly roll-ups; 100 nodes); \
         {write_ms:.1} ms to store a 100-node round; {table_ms:.0} ms for the dashboard's table over that day; \
         {decide_ms:.0} ms for the withhold decision over that day as one epoch ({failing} nodes failing)"
    );
}
