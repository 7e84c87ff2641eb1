//! The results: one row per proxy, shown as a terminal table, as BENCHMARKS.md and as an
//! SVG chart. Each figure is also given as a ratio to the baseline (B) and to Aqueduct (A):
//! value divided by the reference, so for CPU, latency and memory below 1 is better.

use crate::load::RateRun;
use std::fmt::Write as _;
use std::time::Duration;

pub struct RateStats {
    pub per_sec: f64,
    pub p50_us: u32,
    pub p99_us: u32,
    pub max_us: u32,
}

impl RateStats {
    pub fn from_run(mut run: RateRun) -> Option<RateStats> {
        if run.latencies_us.is_empty() {
            return None;
        }
        run.latencies_us.sort_unstable();
        let l = &run.latencies_us;
        let pick = |q: f64| l[((l.len() as f64 * q).ceil() as usize).clamp(1, l.len()) - 1];
        Some(RateStats {
            per_sec: l.len() as f64 / run.elapsed.as_secs_f64().max(1e-9),
            p50_us: pick(0.50),
            p99_us: pick(0.99),
            max_us: l[l.len() - 1],
        })
    }
}

pub struct IdlePoint {
    pub wanted: usize,
    pub opened: usize,
    pub rss_kb: u64,
    /// Proportional set size, for trees of several processes (shared pages split).
    pub pss_kb: Option<u64>,
    pub processes: usize,
}

pub struct Row {
    pub label: String,
    pub note: String,
    pub up_gbps: Option<f64>,
    pub down_gbps: Option<f64>,
    pub par_gbps: Option<f64>,
    pub par_streams: usize,
    /// Single stream up and down, each over a direct stream run just before it (median).
    pub twin_ratios: [Option<f64>; 2],
    pub cpu_s_per_gib: Option<f64>,
    /// The kernel's share of that CPU time (stime over utime + stime).
    pub gib_kernel_share: Option<f64>,
    /// (concurrent clients, stats)
    pub rates: Vec<(usize, Option<RateStats>)>,
    pub cpu_us_per_conn: Option<f64>,
    pub conn_kernel_share: Option<f64>,
    /// Baseline only: the load generator's CPU per direct connection (the client end).
    pub client_us_per_conn: Option<f64>,
    pub rss_idle_kb: Option<u64>,
    pub pss_idle_kb: Option<u64>,
    pub idle: Vec<IdlePoint>,
    pub rss_after_kb: Option<u64>,
    pub failures: Vec<String>,
}

impl Row {
    pub fn new(label: &str, note: &str) -> Row {
        Row {
            label: label.into(),
            note: note.into(),
            up_gbps: None,
            down_gbps: None,
            par_gbps: None,
            par_streams: 0,
            twin_ratios: [None; 2],
            cpu_s_per_gib: None,
            gib_kernel_share: None,
            rates: Vec::new(),
            cpu_us_per_conn: None,
            conn_kernel_share: None,
            client_us_per_conn: None,
            rss_idle_kb: None,
            pss_idle_kb: None,
            idle: Vec::new(),
            rss_after_kb: None,
            failures: Vec::new(),
        }
    }

    pub fn fail(&mut self, what: &str, e: std::io::Error) {
        println!("  FAILED {what}: {e}");
        self.failures.push(format!("{what}: {e}"));
    }

    fn rate(&self, clients: usize) -> Option<&RateStats> {
        self.rates
            .iter()
            .find(|(c, _)| *c == clients)
            .and_then(|(_, s)| s.as_ref())
    }

    fn kb_per_conn(&self, wanted: usize) -> Option<f64> {
        let idle = self.rss_idle_kb? as f64;
        let p = self.idle.iter().find(|p| p.wanted == wanted)?;
        (p.opened > 0).then(|| (p.rss_kb as f64 - idle) / p.opened as f64)
    }
}

pub struct Meta {
    pub nproc: usize,
    pub cpu_model: String,
    pub kernel: String,
    pub date: String,
    pub command: String,
    pub bytes: u64,
    pub streams: usize,
    pub repeat: usize,
    pub load_before: String,
    pub load_after: String,
    /// Share of the machine's CPU time that other processes used during the run.
    pub others_share: f64,
    pub rate_secs: f64,
    pub idle_counts: Vec<usize>,
    pub placement: bool,
    pub duration: Duration,
}

type Figure = Box<dyn Fn(&Row) -> Option<f64>>;
type Cell = Box<dyn Fn(&Row) -> Option<String>>;

/// One column of the table: a heading and how to read its figure from a row.
struct Column {
    head: String,
    value: Figure,
    /// Formats the cell (may show more than the figure the ratio is taken of).
    show: Cell,
}

fn num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn simple(head: &str, f: impl Fn(&Row) -> Option<f64> + Copy + 'static) -> Column {
    Column {
        head: head.into(),
        value: Box::new(f),
        show: Box::new(move |r| f(r).map(num)),
    }
}

/// A CPU figure with the kernel's share of it, e.g. "109 (95% kernel)".
fn cpu(
    head: &str,
    f: impl Fn(&Row) -> Option<f64> + Copy + 'static,
    share: impl Fn(&Row) -> Option<f64> + 'static,
) -> Column {
    Column {
        head: head.into(),
        value: Box::new(f),
        show: Box::new(move |r| {
            let v = num(f(r)?);
            Some(match share(r) {
                Some(k) => format!("{v} ({:.0}% kernel)", k * 100.0),
                None => v,
            })
        }),
    }
}

fn columns(rows: &[Row]) -> Vec<Column> {
    let streams = rows.iter().map(|r| r.par_streams).max().unwrap_or(0);
    let mut cols = vec![
        simple("1 stream up Gbit/s", |r| r.up_gbps),
        simple("1 stream down Gbit/s", |r| r.down_gbps),
        simple(&format!("{streams} streams down Gbit/s"), |r| r.par_gbps),
        cpu("CPU s/GiB", |r| r.cpu_s_per_gib, |r| r.gib_kernel_share),
    ];
    let mut clients: Vec<usize> = rows
        .iter()
        .flat_map(|r| r.rates.iter().map(|(c, _)| *c))
        .collect();
    clients.sort_unstable();
    clients.dedup();
    for c in clients {
        cols.push(simple(&format!("conn/s c={c}"), move |r| {
            r.rate(c).map(|s| s.per_sec)
        }));
        cols.push(Column {
            head: format!("p50/p99/max µs c={c} (ratio: p99)"),
            value: Box::new(move |r| r.rate(c).map(|s| s.p99_us as f64)),
            show: Box::new(move |r| {
                r.rate(c)
                    .map(|s| format!("{}/{}/{}", s.p50_us, s.p99_us, s.max_us))
            }),
        });
    }
    cols.push(cpu(
        "CPU µs/conn",
        |r| r.cpu_us_per_conn,
        |r| r.conn_kernel_share,
    ));
    cols.push(simple("idle RSS KB", |r| r.rss_idle_kb.map(|v| v as f64)));
    let mut counts: Vec<usize> = rows
        .iter()
        .flat_map(|r| r.idle.iter().map(|p| p.wanted))
        .collect();
    counts.sort_unstable();
    counts.dedup();
    for n in counts {
        cols.push(Column {
            head: format!("KB/conn @{n}"),
            value: Box::new(move |r| r.kb_per_conn(n)),
            show: Box::new(move |r| {
                let v = r.kb_per_conn(n)?;
                let p = r.idle.iter().find(|p| p.wanted == n)?;
                Some(if p.opened < p.wanted {
                    format!("{} (only {})", num(v), p.opened)
                } else {
                    num(v)
                })
            }),
        });
    }
    cols.push(simple("RSS after close KB", |r| {
        r.rss_after_kb.map(|v| v as f64)
    }));
    cols
}

fn ratio(v: Option<f64>, reference: Option<f64>) -> Option<f64> {
    match (v, reference) {
        (Some(v), Some(r)) if r > 0.0 => Some(v / r),
        _ => None,
    }
}

/// "0.45B 1.20A" with dashes where a reference is missing.
fn ratios(col: &Column, row: &Row, base: Option<&Row>, aq: Option<&Row>) -> String {
    let v = (col.value)(row);
    let b = ratio(v, base.and_then(|b| (col.value)(b)));
    let a = ratio(v, aq.and_then(|a| (col.value)(a)));
    let f = |x: Option<f64>, tag: char| match x {
        Some(x) => format!("{x:.2}{tag}"),
        None => format!("–{tag}"),
    };
    format!("{} {}", f(b, 'B'), f(a, 'A'))
}

fn references(rows: &[Row]) -> (Option<&Row>, Option<&Row>) {
    let base = rows.iter().find(|r| r.label.starts_with("baseline"));
    let aq = rows.iter().find(|r| r.label.starts_with("Aqueduct"));
    (base, aq)
}

/// The table for the terminal: per row, a line of figures and a line of ratios.
pub fn terminal(rows: &[Row]) -> String {
    let cols = columns(rows);
    let (base, aq) = references(rows);
    let mut grid: Vec<Vec<String>> = Vec::new();
    let mut head = vec!["proxy".to_string()];
    head.extend(cols.iter().map(|c| c.head.clone()));
    grid.push(head);
    for r in rows {
        let mut line = vec![r.label.clone()];
        line.extend(
            cols.iter()
                .map(|c| (c.show)(r).unwrap_or_else(|| "–".into())),
        );
        grid.push(line);
        let mut line = vec![String::new()];
        line.extend(cols.iter().map(|c| ratios(c, r, base, aq)));
        grid.push(line);
    }
    let widths: Vec<usize> = (0..grid[0].len())
        .map(|i| grid.iter().map(|l| l[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for l in &grid {
        for (i, cell) in l.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            let _ = write!(out, "{cell}{} | ", " ".repeat(pad));
        }
        out.push('\n');
    }
    out
}

pub fn markdown(meta: &Meta, rows: &[Row], skipped: &[String], chart: &str) -> String {
    let cols = columns(rows);
    let (base, aq) = references(rows);
    let mut md = String::new();
    md.push_str("# Benchmarks\n\n");
    md.push_str(
        "Aqueduct against the SOCKS5 servers a user would install instead, and against a \
         direct connection (the baseline: the most this machine moves on loopback with the \
         same load generator). Written by the bench harness (`benches/proxy/`); do not edit \
         by hand, rerun it.\n\n",
    );
    let _ = writeln!(md, "- Date: {}", meta.date);
    let _ = writeln!(md, "- Command: `{}`", meta.command);
    let _ = writeln!(
        md,
        "- Machine: {} CPUs, {}, Linux {}",
        meta.nproc, meta.cpu_model, meta.kernel
    );
    let _ = writeln!(
        md,
        "- Placement: {}",
        if meta.placement {
            "load generator and target servers pinned to CPU 0, proxy to CPU 1 (sched_setaffinity)"
        } else {
            "one CPU, nothing pinned"
        }
    );
    let _ = writeln!(
        md,
        "- Workload: single streams of {} each way; {} parallel download streams sharing {} \
         (each bulk run done {} times, best kept; each single stream through a proxy right after a direct twin, for the paired ratios under Rows); connection rate for {:.0} s per concurrency (SOCKS5 greeting, username/password, \
         CONNECT, one 32-byte echo, close); idle relayed connections: {}",
        size(meta.bytes),
        meta.streams,
        size(meta.bytes),
        meta.repeat,
        meta.rate_secs,
        meta.idle_counts
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        md,
        "- Other work on the machine: {:.0}% of its CPU time during the run was not this \
         run's processes (other users' work, and kernel threads such as ksoftirqd that may \
         serve this run's traffic; from /proc/stat); load average before {}, after {} (the \
         latter includes this run)",
        meta.others_share * 100.0,
        meta.load_before,
        meta.load_after
    );
    let _ = writeln!(md, "- Whole run: {:.0} s\n", meta.duration.as_secs_f64());
    md.push_str(
        "Each cell: the figure, then its ratio to the baseline (B) and to Aqueduct (A), \
         value ÷ reference (for CPU, latency and memory, below 1 is better). Memory and CPU \
         are the proxy's whole process tree (VmRSS and utime+stime from /proc; the share in \
         the kernel is stime's); the baseline's CPU is the target servers'. KB/conn is \
         (RSS with N idle relayed connections − idle RSS) ÷ N.\n\n",
    );
    md.push_str("| proxy |");
    for c in &cols {
        let _ = write!(md, " {} |", c.head);
    }
    md.push_str("\n|---|");
    for _ in &cols {
        md.push_str("---:|");
    }
    md.push('\n');
    for r in rows {
        let _ = write!(md, "| {} |", r.label);
        for c in &cols {
            let v = (c.show)(r).unwrap_or_else(|| "–".into());
            let _ = write!(md, " {v}<br><sub>{}</sub> |", ratios(c, r, base, aq));
        }
        md.push('\n');
    }
    let _ = write!(md, "\n![chart of the table]({chart})\n\n## Rows\n\n");
    for r in rows {
        let _ = writeln!(md, "- **{}**: {}.", r.label, r.note);
        if let (Some(client), Some(server)) = (r.client_us_per_conn, r.cpu_us_per_conn) {
            let _ = writeln!(
                md,
                "  - per direct connection the load generator (the client end: connect, echo, \
                 close) spent {} µs of CPU and the target servers (the server end) {} µs: \
                 {} µs for the two ends a proxy holds, before any SOCKS5 exchange",
                num(client),
                num(server),
                num(client + server)
            );
        }
        if let [Some(up), Some(down)] = r.twin_ratios {
            let _ = writeln!(
                md,
                "  - single stream against a direct stream run just before it (median of \
                 the pairs): up {up:.2}x, down {down:.2}x"
            );
        }
        for p in r.idle.iter().filter(|p| p.processes > 1) {
            if let (Some(pss), Some(idle)) = (p.pss_kb, r.pss_idle_kb) {
                let _ = writeln!(
                    md,
                    "  - {} processes with {} idle connections; VmRSS counts their shared \
                     pages once per process: their PSS is {} KB ({} KB/conn over idle PSS)",
                    p.processes,
                    p.opened,
                    pss,
                    num((pss as f64 - idle as f64) / p.opened.max(1) as f64)
                );
            }
        }
        for f in &r.failures {
            let _ = writeln!(md, "  - failed: {f}");
        }
    }
    if !skipped.is_empty() {
        md.push_str("\n## Skipped\n\n");
        for s in skipped {
            let _ = writeln!(md, "- {s}");
        }
    }
    md.push_str(
        "\n## How to rerun\n\n`make bench-peers` installs the peers (Debian packages, and \
         pproxy from PyPI into target/bench-peers); `make bench` builds the release binary \
         and runs `cargo bench --bench proxy`, which rewrites this file and BENCHMARKS.svg. \
         `AQ_BENCH_QUICK=1` gives a run of about a minute that writes to \
         target/bench-work/ instead. Knobs: AQ_BENCH_BYTES (e.g. 512M), AQ_BENCH_STREAMS, \
         AQ_BENCH_REPEAT, AQ_BENCH_IDLE (e.g. 5000,9000), AQ_BENCH_RATE_SECS, AQ_BENCH_ONLY (row names), \
         AQ_BENCH_RELAY_MODES (Aqueduct `[relay] mode` values), AQ_BENCH_AQUEDUCT_TOML \
         (appended to Aqueduct's config), AQ_BENCH_AQUEDUCT_BIN (another build to measure), \
         AQ_BENCH_OUT.\n\n\
         The machine has 2 cores and is shared with other work (see the load average \
         above): figures move between runs, most of all the throughput of the baseline and \
         of the fastest rows, so compare rows of the same run.\n",
    );
    md
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes % (1 << 30) == 0 {
        format!("{} GiB", bytes >> 30)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Small multiples: one horizontal bar panel per headline metric, one bar per row.
pub fn svg(rows: &[Row]) -> String {
    type Metric = (&'static str, fn(&Row) -> Option<f64>);
    let metrics: [Metric; 6] = [
        ("1 stream down, Gbit/s (higher is better)", |r| r.down_gbps),
        ("Parallel down, Gbit/s (higher is better)", |r| r.par_gbps),
        (
            "CPU per GiB, s (baseline: the servers'; lower is better)",
            |r| r.cpu_s_per_gib,
        ),
        ("Connections/s, 50 clients (higher is better)", |r| {
            r.rate(50).map(|s| s.per_sec)
        }),
        (
            "CPU per connection, µs (baseline: the servers'; lower is better)",
            |r| r.cpu_us_per_conn,
        ),
        (
            "RSS per idle connection at the largest count, KB (lower is better)",
            |r| {
                let n = r.idle.iter().map(|p| p.wanted).max()?;
                r.kb_per_conn(n)
            },
        ),
    ];
    let palette = [
        "#888888", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b",
    ];
    let label_w = 170.0;
    let bar_w = 300.0;
    let bar_h = 16.0;
    let panel_w = label_w + bar_w + 70.0;
    let panel_h = 30.0 + rows.len() as f64 * (bar_h + 4.0) + 14.0;
    let cols = 2;
    let panels = metrics.len();
    let width = panel_w * cols as f64 + 20.0;
    let height = panel_h * panels.div_ceil(cols) as f64 + 20.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    for (i, (title, f)) in metrics.iter().enumerate() {
        let x0 = 10.0 + (i % cols) as f64 * panel_w;
        let y0 = 10.0 + (i / cols) as f64 * panel_h;
        let _ = writeln!(
            s,
            "<text x=\"{x0:.0}\" y=\"{:.0}\" font-weight=\"bold\">{}</text>",
            y0 + 16.0,
            escape(title)
        );
        let max = rows.iter().filter_map(f).fold(0.0_f64, f64::max).max(1e-9);
        for (j, r) in rows.iter().enumerate() {
            let y = y0 + 28.0 + j as f64 * (bar_h + 4.0);
            let _ = writeln!(
                s,
                "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">{}</text>",
                x0 + label_w - 6.0,
                y + bar_h - 4.0,
                escape(&r.label)
            );
            match f(r) {
                Some(v) => {
                    let w = (v / max * bar_w).max(1.0);
                    let _ = writeln!(
                        s,
                        "<rect x=\"{:.0}\" y=\"{y:.0}\" width=\"{w:.1}\" height=\"{bar_h:.0}\" fill=\"{}\"/>",
                        x0 + label_w,
                        palette[j % palette.len()]
                    );
                    let _ = writeln!(
                        s,
                        "<text x=\"{:.0}\" y=\"{:.0}\">{}</text>",
                        x0 + label_w + w + 4.0,
                        y + bar_h - 4.0,
                        num(v)
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        "<text x=\"{:.0}\" y=\"{:.0}\" fill=\"#999\">n/a</text>",
                        x0 + label_w + 4.0,
                        y + bar_h - 4.0
                    );
                }
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

/// The current UTC time as "YYYY-MM-DD HH:MM UTC": the CLI's formatter, less the seconds.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let full = aqueduct::clock::utc(secs);
    match full.rsplit_once(':') {
        Some((minutes, _)) => format!("{minutes} UTC"),
        None => full,
    }
}
