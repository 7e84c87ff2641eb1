//! Side-by-side benchmark of Aqueduct and the SOCKS5 servers a user would pick instead
//! (issue 7): bulk throughput, connection rate and latency, memory per idle relayed
//! connection, and proxy CPU per GiB and per connection, all on loopback, with the direct
//! connection as the baseline. `cargo bench --bench proxy`; knobs in `Knobs::from_env`.
//!
//! Placement: the load generator and the target servers run on CPU 0 and the proxy on
//! CPU 1, so the baseline (client and servers alone on CPU 0) is the ceiling a proxy can
//! reach: a proxy that costs nothing keeps CPU 0's work unchanged.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod floor;
mod load;
mod peers;
mod report;
mod sys;
mod targets;

use load::Route;
use report::{IdlePoint, RateStats, Row};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const GIB: f64 = (1u64 << 30) as f64;

pub struct Knobs {
    pub quick: bool,
    /// Bytes per single-stream run, and in total across the parallel streams.
    pub bytes: u64,
    pub streams: usize,
    /// Times each bulk run is repeated (the best is kept).
    pub repeat: usize,
    pub idle_counts: Vec<usize>,
    pub rate_time: Duration,
    pub rate_clients: Vec<usize>,
    pub only: Vec<String>,
    pub relay_modes: Vec<String>,
    pub aqueduct_toml: String,
    pub out: PathBuf,
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mul) = match s.char_indices().last()? {
        (i, 'G' | 'g') => (&s[..i], 1u64 << 30),
        (i, 'M' | 'm') => (&s[..i], 1 << 20),
        (i, 'K' | 'k') => (&s[..i], 1 << 10),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

impl Knobs {
    /// AQ_BENCH_QUICK=1 (about a minute, for checking the harness), AQ_BENCH_BYTES (e.g.
    /// 2G, 256M), AQ_BENCH_STREAMS, AQ_BENCH_REPEAT (bulk runs, best kept), AQ_BENCH_IDLE (e.g. 5000,9000), AQ_BENCH_RATE_SECS,
    /// AQ_BENCH_ONLY (row name substrings), AQ_BENCH_RELAY_MODES (Aqueduct `[relay] mode`
    /// values, one row each), AQ_BENCH_AQUEDUCT_TOML (appended to its config),
    /// AQ_BENCH_OUT (report path).
    fn from_env(root: &Path) -> Result<Knobs, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let quick = var("AQ_BENCH_QUICK").is_some_and(|v| v != "0");
        let bytes = match var("AQ_BENCH_BYTES") {
            Some(v) => parse_size(&v).ok_or(format!("AQ_BENCH_BYTES: bad size {v:?}"))?,
            None if quick => 128 << 20,
            None => 2 << 30,
        };
        let streams = match var("AQ_BENCH_STREAMS") {
            Some(v) => v.parse().map_err(|_| format!("AQ_BENCH_STREAMS: {v:?}"))?,
            None => 64,
        };
        let repeat = match var("AQ_BENCH_REPEAT") {
            Some(v) => v.parse().map_err(|_| format!("AQ_BENCH_REPEAT: {v:?}"))?,
            None if quick => 1,
            None => 3,
        };
        let idle_counts = match var("AQ_BENCH_IDLE") {
            Some(v) => list(&v)
                .iter()
                .map(|n| n.parse().map_err(|_| format!("AQ_BENCH_IDLE: {n:?}")))
                .collect::<Result<Vec<usize>, String>>()?,
            None if quick => vec![500, 1000],
            None => vec![5000, 9000],
        };
        let rate_secs: f64 = match var("AQ_BENCH_RATE_SECS") {
            Some(v) => v
                .parse()
                .map_err(|_| format!("AQ_BENCH_RATE_SECS: {v:?}"))?,
            None if quick => 1.0,
            None => 5.0,
        };
        let out = match var("AQ_BENCH_OUT") {
            Some(p) => PathBuf::from(p),
            // Quick figures are for checking the harness; they never replace the real ones.
            None if quick => root.join("target/bench-work/BENCHMARKS.quick.md"),
            None => root.join("BENCHMARKS.md"),
        };
        if streams == 0 || streams > 1024 || bytes < streams as u64 {
            return Err("AQ_BENCH_STREAMS must be 1..=1024 and at most AQ_BENCH_BYTES".into());
        }
        Ok(Knobs {
            quick,
            bytes,
            streams,
            repeat: usize::clamp(repeat, 1, 100),
            idle_counts,
            rate_time: Duration::from_secs_f64(rate_secs.clamp(0.1, 600.0)),
            rate_clients: vec![1, 50],
            only: list(&var("AQ_BENCH_ONLY").unwrap_or_default()),
            relay_modes: list(&var("AQ_BENCH_RELAY_MODES").unwrap_or("splice,copy".into())),
            aqueduct_toml: var("AQ_BENCH_AQUEDUCT_TOML").unwrap_or_default(),
            out,
        })
    }
}

/// The target servers' child process; closing its stdin ends it.
struct Targets {
    child: Child,
    addrs: Vec<SocketAddr>,
}

impl Targets {
    fn start() -> Result<Targets, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .env("AQ_BENCH_ROLE", "targets")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting the target servers: {e}"))?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let addrs: Vec<SocketAddr> = line
            .split_whitespace()
            .filter_map(|p| p.parse::<u16>().ok())
            .map(|p| ([127, 0, 0, 1], p).into())
            .collect();
        if addrs.len() != targets::LISTENERS {
            let _ = child.kill();
            return Err(format!("target servers said {line:?}"));
        }
        Ok(Targets { child, addrs })
    }
}

impl Drop for Targets {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    let role = std::env::var("AQ_BENCH_ROLE").unwrap_or_default();
    let served = match role.as_str() {
        "targets" => Some(targets::serve()),
        "floor" => Some(floor::serve()),
        _ => None,
    };
    if let Some(result) = served {
        if let Err(e) = result {
            eprintln!("{role}: {e}");
            std::process::exit(1);
        }
        return;
    }
    // `cargo bench` passes --bench; anything else (`cargo test --benches`) must not start
    // a run that takes minutes and rewrites BENCHMARKS.md.
    if !std::env::args().any(|a| a == "--bench") {
        println!("proxy bench: run it with `cargo bench --bench proxy` (or `make bench`)");
        return;
    }
    if let Err(e) = run() {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let started = Instant::now();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let knobs = Knobs::from_env(&root)?;
    let work = root.join("target/bench-work");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;

    let nofile = sys::raise_nofile().map_err(|e| format!("raising RLIMIT_NOFILE: {e}"))?;
    let need = knobs.idle_counts.iter().max().copied().unwrap_or(0) + 200;
    if (nofile as usize) < need {
        println!("note: descriptor limit {nofile} is below the {need} the idle runs need; they will stop short");
    }
    if let Err(e) = sys::become_subreaper() {
        println!("note: cannot become a subreaper ({e}); daemonizing peers may leave zombies");
    }
    let cpus = sys::online_cpus();
    let proxy_cpu = if cpus >= 2 {
        sys::pin_to_cpu(0).map_err(|e| format!("pinning the load generator: {e}"))?;
        println!("placement: load generator and target servers on CPU 0, proxy on CPU 1");
        Some(1)
    } else {
        println!("placement: one CPU only, nothing pinned");
        None
    };
    let load_before = sys::loadavg();
    let (busy0, own0) = (sys::machine_busy_secs(), sys::own_cpu_secs());
    let targets = Targets::start()?;
    // The binary cargo built for this bench (target/release/aqueduct), unless another
    // build is named, e.g. to compare two versions.
    let aqueduct = std::env::var_os("AQ_BENCH_AQUEDUCT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_aqueduct")));

    let mut rows = Vec::new();
    let mut skipped = Vec::new();

    println!("== baseline (direct, no proxy)");
    let mut base = Row::new(
        "baseline (direct)",
        "no proxy: client straight to the target servers. Its CPU figures are the target \
         servers' own: one TCP endpoint (accept, stream or echo, close) where a proxy holds \
         two, so they show what the kernel alone costs per connection and per GiB",
    );
    let server = Some(targets.child.id() as i32);
    throughput(&mut base, &Route::Direct, &targets, &knobs, server);
    rates(&mut base, &Route::Direct, &targets, &knobs, server);
    rows.push(base);

    let selected = |label: &str| {
        knobs.only.is_empty()
            || knobs
                .only
                .iter()
                .any(|o| label.to_lowercase().contains(&o.to_lowercase()))
    };
    let measure = |spec: peers::Spec| -> Result<Row, String> {
        if !selected(&spec.label) {
            return Err(String::new());
        }
        println!("== {}", spec.label);
        let bulk_only = spec.bulk_only;
        let proxy = peers::start(spec, proxy_cpu, &work)?;
        let route = Route::Socks5 {
            proxy: proxy.addr,
            auth: proxy
                .auth
                .then(|| (peers::USER.to_string(), peers::PASSWORD.to_string())),
        };
        let mut row = Row::new(&proxy.label, &proxy.note);
        if bulk_only {
            throughput(&mut row, &route, &targets, &knobs, Some(proxy.pid()));
            return Ok(row);
        }
        // Memory first, on the fresh process, so relay buffers left from the bulk runs
        // do not count as idle.
        memory(&mut row, &route, &targets, &knobs, proxy.pid());
        throughput(&mut row, &route, &targets, &knobs, Some(proxy.pid()));
        rates(&mut row, &route, &targets, &knobs, Some(proxy.pid()));
        Ok(row)
    };
    let mut record = |result: Result<Row, String>, rows: &mut Vec<Row>| match result {
        Ok(row) => rows.push(row),
        Err(why) if why.is_empty() => {}
        Err(why) => {
            println!("skip: {why}");
            // Paths in the committed report are relative to the repository.
            skipped.push(why.replace(&format!("{}/", root.display()), ""));
        }
    };

    // One Aqueduct row per relay mode it accepts; if it accepts none (no `[relay]` key
    // yet), one row with its default relay.
    let max_sessions = knobs.idle_counts.iter().max().copied().unwrap_or(0) + 1000;
    let (mut accepted, mut unusable) = (0, false);
    for cand in peers::aqueduct(
        &work,
        &aqueduct,
        &knobs.relay_modes,
        &knobs.aqueduct_toml,
        max_sessions,
    ) {
        // An Err here (not from starting) means no usable binary: nothing to retry.
        unusable |= cand.is_err();
        let result = cand.and_then(measure);
        accepted += usize::from(result.is_ok());
        record(result, &mut rows);
    }
    if accepted == 0 && !unusable && !knobs.relay_modes.is_empty() {
        for cand in peers::aqueduct(&work, &aqueduct, &[], &knobs.aqueduct_toml, max_sessions) {
            record(cand.and_then(measure), &mut rows);
        }
    }
    record(peers::floor().and_then(measure), &mut rows);
    for cand in peers::others(&root, &work) {
        record(cand.and_then(measure), &mut rows);
    }
    drop(targets);
    // What the rest of the machine used meanwhile: the noise in these figures.
    let busy = sys::machine_busy_secs() - busy0;
    let own = sys::own_cpu_secs() - own0;
    let others = ((busy - own) / (started.elapsed().as_secs_f64() * cpus as f64)).max(0.0);
    println!(
        "processes other than this run's used {:.0}% of the machine's CPU meanwhile",
        others * 100.0
    );

    let meta = report::Meta {
        nproc: cpus,
        cpu_model: sys::cpu_model(),
        kernel: sys::kernel(),
        date: report::utc_now(),
        command: command_line(),
        bytes: knobs.bytes,
        streams: knobs.streams,
        repeat: knobs.repeat,
        load_before,
        load_after: sys::loadavg(),
        others_share: others,
        rate_secs: knobs.rate_time.as_secs_f64(),
        idle_counts: knobs.idle_counts.clone(),
        placement: proxy_cpu.is_some(),
        duration: started.elapsed(),
    };
    let text = report::terminal(&rows);
    println!("\n{text}");
    let svg_path = knobs.out.with_extension("svg");
    let chart = svg_path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let md = report::markdown(&meta, &rows, &skipped, &chart);
    let svg = report::svg(&rows);
    std::fs::write(&knobs.out, md).map_err(|e| format!("{}: {e}", knobs.out.display()))?;
    std::fs::write(&svg_path, svg).map_err(|e| format!("{}: {e}", svg_path.display()))?;
    println!(
        "wrote {} and {} in {:.0} s",
        knobs.out.display(),
        svg_path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// How this run was started, with the knobs that were set, for the report.
fn command_line() -> String {
    let mut knobs: Vec<String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("AQ_BENCH_") && k != "AQ_BENCH_ROLE")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    knobs.sort();
    knobs.push("cargo bench --bench proxy".into());
    knobs.join(" ")
}

fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

fn gbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 * 8.0 / d.as_secs_f64().max(1e-9) / 1e9
}

/// Single stream each way, then the parallel streams, each `repeat` times keeping the
/// best (the run least disturbed by whatever else the machine is doing); proxy CPU over
/// every byte moved.
///
/// Through a proxy, each single stream also has a direct twin run just before it: the
/// machine's load drifts over a run of minutes, and a ratio to the stream next to it in
/// time tells the proxy's cost apart from that drift (the median pair is reported).
fn throughput(row: &mut Row, route: &Route, t: &Targets, k: &Knobs, pid: Option<i32>) {
    let target = t.addrs[0];
    let cpu0 = pid.map(sys::tree_cpu);
    let total = k.bytes / k.streams as u64 * k.streams as u64;
    let mut moved = 0u64;
    let mut best = [None::<f64>; 3];
    let twins = !matches!(route, Route::Direct);
    let mut pairs: [Vec<f64>; 2] = Default::default();
    for _ in 0..k.repeat {
        let up_twin = twins.then(|| load::upload(&Route::Direct, target, k.bytes));
        let up = load::upload(route, target, k.bytes);
        let down_twin = twins.then(|| load::download(&Route::Direct, target, k.bytes));
        let down = load::download(route, target, k.bytes);
        for (i, (twin, run)) in [(&up_twin, &up), (&down_twin, &down)]
            .into_iter()
            .enumerate()
        {
            if let (Some(Ok(direct)), Ok(proxied)) = (twin, run) {
                pairs[i].push(direct.as_secs_f64() / proxied.as_secs_f64().max(1e-9));
            }
        }
        let runs = [
            ("1 stream up", k.bytes, up),
            ("1 stream down", k.bytes, down),
            (
                "parallel streams down",
                total,
                load::parallel_download(route, target, k.streams, total),
            ),
        ];
        for (i, (what, bytes, result)) in runs.into_iter().enumerate() {
            match result {
                Ok(d) => {
                    moved += bytes;
                    let g = gbps(bytes, d);
                    println!("  {what}: {g:.2} Gbit/s");
                    best[i] = Some(best[i].map_or(g, |b: f64| b.max(g)));
                }
                Err(e) => row.fail(what, e),
            }
        }
    }
    [row.up_gbps, row.down_gbps, row.par_gbps] = best;
    row.twin_ratios = pairs.map(|mut p| median(&mut p));
    if let [Some(up), Some(down)] = row.twin_ratios {
        println!(
            "  against a direct stream just before each: up {up:.2}x, down {down:.2}x (median)"
        );
    }
    row.par_streams = k.streams;
    if let (Some(pid), Some(c0)) = (pid, cpu0) {
        let used = sys::tree_cpu(pid).since(c0);
        let cpu = used.total();
        if moved > 0 {
            row.cpu_s_per_gib = Some(cpu / (moved as f64 / GIB));
            row.gib_kernel_share = used.kernel_share();
            println!(
                "  proxy CPU: {:.2} s for {:.2} GiB",
                cpu,
                moved as f64 / GIB
            );
        }
    }
}

/// Connection rate at each concurrency; proxy CPU per completed connection over all.
fn rates(row: &mut Row, route: &Route, t: &Targets, k: &Knobs, pid: Option<i32>) {
    let cpu0 = pid.map(sys::tree_cpu);
    let me = std::process::id() as i32;
    let client0 = sys::process_cpu(me, false);
    let mut done = 0usize;
    for &clients in &k.rate_clients {
        let run = load::connection_rate(route, &t.addrs, clients, k.rate_time, 1_000_000);
        done += run.latencies_us.len();
        if let Some(e) = &run.first_error {
            row.fail(
                &format!("connection rate c={clients}: {} errors, first", run.errors),
                std::io::Error::other(e.clone()),
            );
        }
        let stats = RateStats::from_run(run);
        match &stats {
            Some(s) => println!(
                "  c={clients}: {:.0} conn/s, p50 {} µs, p99 {} µs, max {} µs",
                s.per_sec, s.p50_us, s.p99_us, s.max_us
            ),
            None => println!("  c={clients}: no connection completed"),
        }
        row.rates.push((clients, stats));
    }
    if let (Some(pid), Some(c0)) = (pid, cpu0) {
        if done > 0 {
            let used = sys::tree_cpu(pid).since(c0);
            let cpu = used.total();
            row.cpu_us_per_conn = Some(cpu * 1e6 / done as f64);
            row.conn_kernel_share = used.kernel_share();
            if matches!(route, Route::Direct) {
                // The load generator's own CPU: the client endpoint of each connection.
                let client = sys::process_cpu(me, false).since(client0).total();
                row.client_us_per_conn = Some(client * 1e6 / done as f64);
                println!("  load generator CPU: {client:.2} s for {done} connections");
            }
            println!("  proxy CPU: {cpu:.2} s for {done} connections");
        }
    }
}

/// Idle RSS, then RSS with each count of idle relayed connections, then after closing.
fn memory(row: &mut Row, route: &Route, t: &Targets, k: &Knobs, pid: i32) {
    std::thread::sleep(Duration::from_millis(500));
    let idle = sys::tree_rss_kb(pid);
    let idle_fds = sys::tree_fds(pid);
    row.rss_idle_kb = Some(idle);
    row.pss_idle_kb = Some(sys::tree_pss_kb(pid));
    println!("  idle RSS: {idle} KB");
    let mut held: Vec<TcpStream> = Vec::new();
    for &n in &k.idle_counts {
        let err = load::open_idle(route, &t.addrs, &mut held, n, Duration::from_secs(120));
        // Let the proxy finish its side of the last connections.
        std::thread::sleep(Duration::from_secs(1));
        let rss = sys::tree_rss_kb(pid);
        let got = held.len();
        println!(
            "  {got} idle connections: RSS {rss} KB ({:.2} KB/conn)",
            (rss as f64 - idle as f64) / got.max(1) as f64
        );
        if let Some(e) = err {
            row.fail(
                &format!("idle connections ({got} of {n} opened)"),
                std::io::Error::other(e),
            );
        }
        let processes = sys::process_tree(pid).len();
        row.idle.push(IdlePoint {
            wanted: n,
            opened: got,
            rss_kb: rss,
            pss_kb: (processes > 1).then(|| sys::tree_pss_kb(pid)),
            processes,
        });
    }
    match load::close_idle(t.addrs[0], held, Duration::from_secs(20)) {
        Ok(n) => println!("  target servers closed {n} idle connections"),
        Err(e) => row.fail("closing idle connections", e),
    }
    // Wait (bounded) for the proxy to close its side of every connection.
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until && sys::tree_fds(pid) > idle_fds + 4 {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    let after = sys::tree_rss_kb(pid);
    row.rss_after_kb = Some(after);
    println!("  after close: RSS {after} KB");
}
