//! The admin's view, served by the monitor on `[monitor] listen` (loopback by default):
//! the node table (`/`, sortable by any column through `?sort=`), a page per node
//! (`/nodes/{address}`: hourly uptime strip, latency and throughput charts drawn here as
//! SVG, heartbeats per epoch beside the probes), the JSON API (`/api/nodes`,
//! `/api/nodes/{address}`, `/api/rounds`) and Prometheus text (`/metrics`).
//!
//! Everything is in the page itself: no script, no font, no external asset, so it works
//! offline. One request at a time on its own thread, each bounded by a 5 s deadline and
//! an 8 KiB head; the database is opened read-only per request.

use super::chain::Timing;
use super::clock::unix_ms;
use super::http::{self, parse_request, Request};
use super::metrics::SharedMetrics;
use super::probe::ProbePath;
use super::stats::{self, NodeSummary, Policy, DAY_MS, HOUR_MS};
use super::store::{ProbeRow, ReportedUsage, Store, WithholdState};
use crate::clock::utc;
use crate::eth::Address;
use crate::proxy::codec::Parsed;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(5);

pub struct Dashboard {
    listener: TcpListener,
    addr: SocketAddr,
    db: PathBuf,
    metrics: SharedMetrics,
    policy: Policy,
    /// `Access-Control-Allow-Origin` of the JSON API (`[monitor] api_origin`).
    api_origin: String,
}

/// A response: status, content type, body.
struct Page(u16, &'static str, String);

impl Dashboard {
    pub fn bind(
        addr: SocketAddr,
        db: PathBuf,
        metrics: SharedMetrics,
        policy: Policy,
        api_origin: String,
    ) -> std::io::Result<Dashboard> {
        let listener = TcpListener::bind(addr)?;
        Ok(Dashboard {
            addr: listener.local_addr()?,
            listener,
            db,
            metrics,
            policy,
            api_origin,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn serve(self) {
        for conn in self.listener.incoming() {
            match conn {
                Ok(sock) => self.handle(sock),
                Err(e) => {
                    log::warn!("dashboard: accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    fn handle(&self, mut sock: TcpStream) {
        let started = Instant::now();
        let _ = sock.set_write_timeout(Some(DEADLINE));
        let mut buf = Vec::with_capacity(1024);
        let mut api = false;
        let page = loop {
            let left = DEADLINE.saturating_sub(started.elapsed());
            if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
                return;
            }
            let mut chunk = [0u8; 2048];
            match sock.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
            match parse_request(&buf) {
                Ok(Parsed::NeedMore) => continue,
                Ok(Parsed::Done { value, .. }) => {
                    api = value.path().starts_with("/api/");
                    break self.route(&value);
                }
                Err(e) => break Page(400, "text/plain", format!("bad request: {e}\n")),
            }
        };
        let Page(status, ctype, body) = page;
        // The website (another origin) reads the JSON API from the browser: say it may.
        let extra = if api {
            format!(
                "Access-Control-Allow-Origin: {}\r\nAccess-Control-Allow-Methods: GET, OPTIONS\r\n\
                 Access-Control-Allow-Headers: Content-Type, Cache-Control, Pragma\r\nAccess-Control-Max-Age: 86400\r\n\
                 Vary: Origin\r\nConnection: close\r\n",
                self.api_origin
            )
        } else {
            "Connection: close\r\n".to_string()
        };
        let head = http::response_head(status, ctype, body.len(), &extra);
        let _ = sock.write_all(head.as_bytes());
        let _ = sock.write_all(body.as_bytes());
    }

    fn route(&self, req: &Request<'_>) -> Page {
        if req.method == "OPTIONS" && req.path().starts_with("/api/") {
            // A CORS preflight: the headers say it all.
            return Page(204, "text/plain", String::new());
        }
        if req.method != "GET" {
            return Page(405, "text/plain", "GET only\n".into());
        }
        let path = req.path();
        if path == "/metrics" {
            let text = self.metrics.lock().map(|m| m.render()).unwrap_or_default();
            return Page(200, "text/plain; version=0.0.4", text);
        }
        let store = match Store::open_read_only(&self.db) {
            Ok(s) => s,
            Err(e) => return Page(503, "text/plain", format!("database not ready: {e}\n")),
        };
        let now = store.now_ms().unwrap_or_else(|_| unix_ms());
        let result = match path {
            "/" => self.index(&store, req, now),
            "/api/nodes" => stats::summaries(&store, now, &self.policy)
                .map(|s| Page(200, "application/json", json(&s))),
            "/api/rounds" => {
                let limit = req
                    .query("limit")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(100i64);
                store.rounds(limit.clamp(1, 10_000)).map(|rounds| {
                    let list: Vec<_> = rounds
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "id": r.id, "started_ms": r.started_ms, "finished_ms": r.finished_ms,
                                "nodes": r.nodes, "relayed": r.relayed,
                                "void": r.void_reason.is_some(), "void_reason": r.void_reason,
                            })
                        })
                        .collect();
                    Page(200, "application/json", serde_json::Value::Array(list).to_string())
                })
            }
            p => match (p.strip_prefix("/api/nodes/"), p.strip_prefix("/nodes/")) {
                (Some(a), _) => self.node_json(&store, a, now),
                (_, Some(a)) => self.node_page(&store, a, now),
                _ => Ok(Page(404, "text/plain", "not found\n".into())),
            },
        };
        result.unwrap_or_else(|e| Page(500, "text/plain", format!("database error: {e}\n")))
    }

    fn find(
        &self,
        store: &Store,
        address: &str,
    ) -> rusqlite::Result<Option<super::store::NodeRow>> {
        let Ok(address) = address.to_ascii_lowercase().parse::<Address>() else {
            return Ok(None);
        };
        Ok(store.nodes()?.into_iter().find(|n| n.node == address))
    }

    fn node_json(&self, store: &Store, address: &str, now: i64) -> rusqlite::Result<Page> {
        let Some(node) = self.find(store, address)? else {
            return Ok(Page(
                404,
                "application/json",
                "{\"error\":\"unknown node\"}".into(),
            ));
        };
        let summary = stats::summarise(store, &node, now, &self.policy)?;
        let epochs = match stats::timing(store)? {
            Some(t) => stats::epochs(store, &t, &node, now, 10, &self.policy)?,
            None => Vec::new(),
        };
        let hours = hours(store, node.node, now, 48)?;
        let probes: Vec<_> = store
            .probes(node.node, now - DAY_MS)?
            .iter()
            .rev()
            .take(100)
            .map(probe_json)
            .collect();
        let withholds: Vec<_> = store
            .withholds(Some(node.node), 100)?
            .iter()
            .map(|w| {
                serde_json::json!({
                    "epoch": w.epoch, "state": w.state, "probes": w.probes, "relayed": w.relayed,
                    "slots": w.slots, "evidence": crate::eth::hex::encode_prefixed(&w.evidence),
                    "evidence_rows": w.evidence_text,
                    "tx": w.tx_hash.map(|h| crate::eth::hex::encode_prefixed(&h)),
                    "detail": w.detail, "updated_ms": w.updated_ms,
                })
            })
            .collect();
        let v = serde_json::json!({
            "summary": summary,
            "withholds": withholds,
            "epochs": epochs,
            "hours": hours.iter().map(|(h, probes, relayed)| serde_json::json!({"hour_start_ms": h * HOUR_MS, "probes": probes, "relayed": relayed})).collect::<Vec<_>>(),
            "probes": probes,
        });
        Ok(Page(200, "application/json", v.to_string()))
    }

    fn index(&self, store: &Store, req: &Request<'_>, now: i64) -> rusqlite::Result<Page> {
        let mut nodes = stats::summaries(store, now, &self.policy)?;
        let sort = req.query("sort").unwrap_or("node");
        let desc = req.query("dir") == Some("desc");
        sort_nodes(&mut nodes, sort);
        if desc {
            nodes.reverse();
        }
        let rounds = store.rounds(1)?;
        let mut body = String::new();
        let last = match rounds.first() {
            Some(r) => format!(
                "last round {} at {}: {} of {} nodes relayed{}",
                r.id,
                utc((r.started_ms / 1000) as u64),
                r.relayed,
                r.nodes,
                r.void_reason
                    .as_ref()
                    .map(|v| format!(" (void: {})", esc(v)))
                    .unwrap_or_default()
            ),
            None => "no round yet".into(),
        };
        let flagged = nodes.iter().filter(|n| n.flagged).count();
        let _ = write!(
            body,
            "<h1>Aqueduct network monitor</h1><p id=\"status\">{} nodes; {last}; <strong>{flagged} flagged</strong> (heartbeats while failing probes)</p>",
            nodes.len()
        );
        body.push_str("<table id=\"nodes\"><thead><tr>");
        for (key, label) in COLUMNS {
            let dir = if *key == sort && !desc { "desc" } else { "asc" };
            let mark = if *key == sort {
                if desc {
                    " ▼"
                } else {
                    " ▲"
                }
            } else {
                ""
            };
            let _ = write!(
                body,
                "<th><a href=\"/?sort={key}&amp;dir={dir}\">{label}{mark}</a></th>"
            );
        }
        body.push_str("</tr></thead><tbody>");
        for n in &nodes {
            let failure = n
                .last_failure
                .as_ref()
                .map(|f| {
                    format!(
                        "{} <b>{}</b> {}",
                        utc((f.at_ms / 1000) as u64),
                        esc(&f.outcome),
                        esc(&f.detail)
                    )
                })
                .unwrap_or_else(|| "-".into());
            let _ = write!(
                body,
                "<tr class=\"{state}{flag}\"><td><a href=\"/nodes/{node}\">{node}</a></td><td>{endpoint}</td><td class=\"state\">{state}</td>\
                 <td>{u24}</td><td>{u7}</td><td>{u30}</td><td>{hb}</td><td>{p50}</td><td>{p95}</td><td>{thr}</td><td>{egress}</td><td class=\"why\">{failure}</td><td>{usage}</td></tr>",
                state = n.state.as_str(),
                flag = if n.flagged { " flagged" } else { "" },
                node = n.node,
                endpoint = esc(&n.endpoint),
                u24 = pct(n.uptime_24h),
                u7 = pct(n.uptime_7d),
                u30 = pct(n.uptime_30d),
                hb = if n.slots_24h > 0 {
                    format!("{} ({}/{})", pct(n.heartbeat_share_24h), n.heartbeats_24h, n.slots_24h)
                } else {
                    "-".into()
                },
                p50 = ms(n.latency_p50_ms),
                p95 = ms(n.latency_p95_ms),
                thr = kbps(n.throughput_kbps),
                egress = esc(n.egress.as_deref().unwrap_or("-")),
                usage = usage(&n.reported_usage_24h),
            );
        }
        body.push_str("</tbody></table><p class=\"note\">Uptime: share of counted probes (void rounds excluded) the node relayed. Heartbeats: share of the last 24 h's slots with a heartbeat on chain. Latency: start of the probe to the echo answer through the node, last 24 h. <a href=\"/api/nodes\">JSON</a> · <a href=\"/api/rounds\">rounds</a> · <a href=\"/metrics\">metrics</a></p>");
        Ok(Page(
            200,
            "text/html; charset=utf-8",
            html("Aqueduct monitor", &body),
        ))
    }

    fn node_page(&self, store: &Store, address: &str, now: i64) -> rusqlite::Result<Page> {
        let Some(node) = self.find(store, address)? else {
            return Ok(Page(
                404,
                "text/html; charset=utf-8",
                html(
                    "unknown node",
                    "<h1>Unknown node</h1><p><a href=\"/\">all nodes</a></p>",
                ),
            ));
        };
        let n = stats::summarise(store, &node, now, &self.policy)?;
        let mut body = String::new();
        let _ = write!(
            body,
            "<p><a href=\"/\">all nodes</a></p><h1>Node {}</h1><dl id=\"summary\"><dt>endpoint</dt><dd>{}</dd><dt>state</dt><dd class=\"state\">{}{}</dd>\
             <dt>uptime 24 h / 7 d / 30 d</dt><dd>{} / {} / {}</dd><dt>heartbeats (24 h)</dt><dd>{} of {} slots</dd>\
             <dt>latency p50 / p95</dt><dd>{} / {}</dd><dt>throughput</dt><dd>{}</dd><dt>egress</dt><dd>{}</dd><dt>last failure</dt><dd>{}</dd><dt>reported usage</dt><dd>{}</dd></dl>",
            n.node,
            esc(&n.endpoint),
            n.state.as_str(),
            if n.flagged { format!(" — <strong>{}</strong>", stats::FLAG) } else { String::new() },
            pct(n.uptime_24h),
            pct(n.uptime_7d),
            pct(n.uptime_30d),
            n.heartbeats_24h,
            n.slots_24h,
            ms(n.latency_p50_ms),
            ms(n.latency_p95_ms),
            kbps(n.throughput_kbps),
            esc(n.egress.as_deref().unwrap_or("-")),
            n.last_failure
                .as_ref()
                .map(|f| format!("{} {}: {}", utc((f.at_ms / 1000) as u64), esc(&f.outcome), esc(&f.detail)))
                .unwrap_or_else(|| "-".into()),
            usage(&n.reported_usage_24h),
        );
        body.push_str("<h2>Uptime per hour, last 48 h</h2>");
        body.push_str(&strip_svg(&hours(store, node.node, now, 48)?, now));
        let probes = store.probes(node.node, now - DAY_MS)?;
        let counted: Vec<&ProbeRow> = probes
            .iter()
            .filter(|p| !p.void && p.path == ProbePath::Socks)
            .collect();
        let lat: Vec<(i64, f64)> = counted
            .iter()
            .filter_map(|p| Some((p.at_ms, p.latency_us? as f64 / 1000.0)))
            .collect();
        let thr: Vec<(i64, f64)> = counted
            .iter()
            .filter_map(|p| Some((p.at_ms, p.kbps()? / 1000.0)))
            .collect();
        body.push_str("<h2>Latency, last 24 h (ms)</h2>");
        body.push_str(&line_svg("latency", &lat, now - DAY_MS, now, "ms"));
        body.push_str("<h2>Throughput, last 24 h (Mbit/s)</h2>");
        body.push_str(&line_svg("throughput", &thr, now - DAY_MS, now, "Mbit/s"));
        if let Some(t) = stats::timing(store)? {
            body.push_str(&epoch_table(store, &t, &node, now, &self.policy)?);
        }
        body.push_str("<h2>Recent probes</h2><table id=\"probes\"><thead><tr><th>time</th><th>path</th><th>outcome</th><th>connect</th><th>tls</th><th>login</th><th>latency</th><th>throughput</th><th>egress</th><th>why</th></tr></thead><tbody>");
        for p in probes.iter().rev().take(50) {
            let _ = write!(
                body,
                "<tr class=\"{o}\"><td>{t}</td><td>{path}</td><td>{o}{void}</td><td>{c}</td><td>{tls}</td><td>{l}</td><td>{lat}</td><td>{k}</td><td>{e}</td><td class=\"why\">{d}</td></tr>",
                o = p.outcome.as_str(),
                t = utc((p.at_ms / 1000) as u64),
                path = p.path.as_str(),
                void = if p.void { " (void round)" } else { "" },
                c = ms(p.connect_us.map(|u| u as f64 / 1000.0)),
                tls = ms(p.tls_us.map(|u| u as f64 / 1000.0)),
                l = ms(p.login_us.map(|u| u as f64 / 1000.0)),
                lat = ms(p.latency_us.map(|u| u as f64 / 1000.0)),
                k = kbps(p.kbps()),
                e = esc(p.egress.as_deref().unwrap_or("-")),
                d = esc(p.detail.as_deref().unwrap_or("")),
            );
        }
        body.push_str("</tbody></table>");
        Ok(Page(
            200,
            "text/html; charset=utf-8",
            html(&format!("node {}", n.node), &body),
        ))
    }
}

const COLUMNS: &[(&str, &str)] = &[
    ("node", "node"),
    ("endpoint", "endpoint"),
    ("state", "state"),
    ("uptime_24h", "uptime 24 h"),
    ("uptime_7d", "7 d"),
    ("uptime_30d", "30 d"),
    ("heartbeats", "heartbeats 24 h"),
    ("p50", "latency p50"),
    ("p95", "p95"),
    ("throughput", "throughput"),
    ("egress", "egress IP"),
    ("failure", "last failure"),
    ("usage", "reported usage 24 h (self-reported)"),
];

fn sort_nodes(nodes: &mut [NodeSummary], by: &str) {
    let f = |o: Option<f64>| o.unwrap_or(f64::NEG_INFINITY);
    match by {
        "endpoint" => nodes.sort_by(|a, b| a.endpoint.cmp(&b.endpoint)),
        "state" => nodes.sort_by(|a, b| a.state.as_str().cmp(b.state.as_str())),
        "uptime_24h" => nodes.sort_by(|a, b| f(a.uptime_24h).total_cmp(&f(b.uptime_24h))),
        "uptime_7d" => nodes.sort_by(|a, b| f(a.uptime_7d).total_cmp(&f(b.uptime_7d))),
        "uptime_30d" => nodes.sort_by(|a, b| f(a.uptime_30d).total_cmp(&f(b.uptime_30d))),
        "heartbeats" => {
            nodes.sort_by(|a, b| f(a.heartbeat_share_24h).total_cmp(&f(b.heartbeat_share_24h)))
        }
        "p50" => nodes.sort_by(|a, b| f(a.latency_p50_ms).total_cmp(&f(b.latency_p50_ms))),
        "p95" => nodes.sort_by(|a, b| f(a.latency_p95_ms).total_cmp(&f(b.latency_p95_ms))),
        "throughput" => nodes.sort_by(|a, b| f(a.throughput_kbps).total_cmp(&f(b.throughput_kbps))),
        "egress" => nodes.sort_by(|a, b| a.egress.cmp(&b.egress)),
        "failure" => nodes.sort_by_key(|n| n.last_failure.as_ref().map(|l| l.at_ms)),
        "usage" => nodes.sort_by_key(|n| {
            (
                n.reported_usage_24h.bytes_relayed,
                n.reported_usage_24h.sessions,
            )
        }),
        _ => nodes.sort_by(|a, b| a.node.cmp(&b.node)),
    }
}

/// (hour, counted probes, relayed) for the last `count` hours, oldest first: stored
/// roll-ups, and the hours not rolled up yet computed from the probes.
fn hours(
    store: &Store,
    node: Address,
    now: i64,
    count: i64,
) -> rusqlite::Result<Vec<(i64, i64, i64)>> {
    let current = now / HOUR_MS;
    let first = current - count + 1;
    let stored = store.hourly(node, first)?;
    let mut out = Vec::new();
    for h in first..=current {
        let row = match stored.iter().find(|r| r.hour == h) {
            Some(r) => Some(r.clone()),
            None => store.hour_live(node, h)?,
        };
        out.push(row.map_or((h, 0, 0), |r| (h, r.probes, r.relayed)));
    }
    Ok(out)
}

fn epoch_table(
    store: &Store,
    t: &Timing,
    node: &super::store::NodeRow,
    now: i64,
    policy: &Policy,
) -> rusqlite::Result<String> {
    let mut s = String::from("<h2>Heartbeats and probes per epoch</h2><table id=\"epochs\"><thead><tr><th>epoch</th><th>starts</th><th>heartbeats</th><th>probes relayed (measured)</th><th>usage (reported by the node)</th><th>flag</th><th>pay</th></tr></thead><tbody>");
    for e in stats::epochs(store, t, node, now, 10, policy)? {
        let _ = write!(
            s,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{} of {} slots</td><td>{} of {} ({})</td><td>{}</td><td>{}</td><td class=\"withhold\">{}</td></tr>",
            if e.flagged { "flagged" } else { "" },
            e.epoch,
            utc(e.start),
            e.heartbeats,
            e.slots,
            e.relayed,
            e.probes,
            pct(e.success),
            usage(&e.reported_usage),
            if e.flagged { stats::FLAG } else { "" },
            match e.withhold {
                Some(WithholdState::Sent) => "withheld",
                Some(WithholdState::DryRun) => "would be withheld (dry run)",
                Some(WithholdState::Pending) => "withhold pending",
                Some(WithholdState::Failed) => "withhold failed, retrying",
                Some(WithholdState::Missed) => "withhold missed its window",
                Some(WithholdState::NoSlots) | None => "",
            }
        );
    }
    s.push_str("</tbody></table>");
    Ok(s)
}

/// What a node reported in its heartbeats, in a few words.
fn usage(u: &ReportedUsage) -> String {
    if u.heartbeats == 0 {
        return "no heartbeat".into();
    }
    format!(
        "{} sessions, {}, up to {} members ({} heartbeats)",
        u.sessions,
        bytes(u.bytes_relayed),
        u.members_max,
        u.heartbeats
    )
}

fn bytes(n: i64) -> String {
    let n = n.max(0) as f64;
    if n >= 1e9 {
        format!("{:.1} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} kB", n / 1e3)
    } else {
        format!("{n} B")
    }
}

/// One cell per hour, coloured by the share relayed; grey without probes.
fn strip_svg(hours: &[(i64, i64, i64)], now: i64) -> String {
    let w = 14;
    let mut s = format!(
        "<svg id=\"uptime-strip\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"34\" role=\"img\" aria-label=\"uptime per hour\">",
        hours.len() * w
    );
    for (i, (hour, probes, relayed)) in hours.iter().enumerate() {
        let (color, text) = if *probes == 0 {
            ("#ccc", "no counted probes".to_string())
        } else {
            let share = *relayed as f64 / *probes as f64;
            let c = if share >= 0.9 {
                "#2a2"
            } else if share >= 0.5 {
                "#e90"
            } else {
                "#d22"
            };
            (c, format!("{relayed} of {probes} relayed"))
        };
        let _ = write!(
            s,
            "<rect x=\"{}\" y=\"0\" width=\"{}\" height=\"22\" fill=\"{color}\"><title>{}: {text}</title></rect>",
            i * w,
            w - 2,
            utc((*hour * 3600) as u64)
        );
    }
    let _ = write!(
        s,
        "<text x=\"0\" y=\"33\" font-size=\"10\">48 h ago</text><text x=\"{}\" y=\"33\" font-size=\"10\" text-anchor=\"end\">now ({})</text></svg>",
        hours.len() * w,
        utc((now / 1000) as u64)
    );
    s
}

/// A line chart of (time, value) points between `from` and `to` (ms), drawn here; the
/// time axis starts at the first point when that is later (a young node's day).
fn line_svg(id: &str, points: &[(i64, f64)], from: i64, to: i64, unit: &str) -> String {
    let (w, h, pad) = (640.0f64, 160.0f64, 44.0f64);
    let from = points
        .iter()
        .map(|p| p.0)
        .min()
        .map_or(from, |first| first.max(from));
    let max = points.iter().map(|p| p.1).fold(0.0f64, f64::max);
    let top = if max > 0.0 { max * 1.1 } else { 1.0 };
    let span = (to - from).max(1) as f64;
    let mut s = format!(
        "<svg id=\"{id}-chart\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{id}\">\
         <line x1=\"{pad}\" y1=\"{}\" x2=\"{w}\" y2=\"{}\" stroke=\"#888\"/><line x1=\"{pad}\" y1=\"0\" x2=\"{pad}\" y2=\"{}\" stroke=\"#888\"/>\
         <text x=\"2\" y=\"12\" font-size=\"10\">{top:.1}</text><text x=\"2\" y=\"{}\" font-size=\"10\">0</text><text x=\"{w}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{unit}</text>",
        h - pad,
        h - pad,
        h - pad,
        h - pad,
        h - 4.0
    );
    if points.is_empty() {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\">no data</text>",
            w / 2.0,
            h / 2.0
        );
    } else {
        let coords: Vec<String> = points
            .iter()
            .map(|(t, v)| {
                let x = pad + (w - pad) * ((*t - from) as f64 / span).clamp(0.0, 1.0);
                let y = (h - pad) - (h - pad) * (v / top);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"#26c\" stroke-width=\"1.5\" points=\"{}\"/>",
            coords.join(" ")
        );
        for c in coords.iter() {
            let (x, y) = c.split_once(',').unwrap_or(("0", "0"));
            let _ = write!(s, "<circle cx=\"{x}\" cy=\"{y}\" r=\"2\" fill=\"#26c\"/>");
        }
    }
    s.push_str("</svg>");
    s
}

fn probe_json(p: &ProbeRow) -> serde_json::Value {
    serde_json::json!({
        "round": p.round, "at_ms": p.at_ms, "void": p.void, "path": p.path.as_str(),
        "outcome": p.outcome.as_str(), "connect_us": p.connect_us, "tls_us": p.tls_us, "login_us": p.login_us,
        "latency_us": p.latency_us, "download_bytes": p.download_bytes, "download_us": p.download_us,
        "throughput_kbps": p.kbps(), "egress": p.egress, "detail": p.detail,
    })
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1} ms"))
}

fn kbps(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(k) if k >= 1000.0 => format!("{:.1} Mbit/s", k / 1000.0),
        Some(k) => format!("{k:.0} kbit/s"),
    }
}

/// HTML-escapes text (every string that did not come from this file).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>\
         body{{font:14px system-ui,sans-serif;margin:1.5em;color:#222}}table{{border-collapse:collapse}}\
         th,td{{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left;white-space:nowrap}}th a{{color:#222}}\
         tr.flagged td{{background:#fdd}}td.state{{font-weight:bold}}tr.up td.state{{color:#181}}tr.down td.state,tr.flagged td.state{{color:#b11}}\
         tr.slow td.state{{color:#b70}}dl{{display:grid;grid-template-columns:max-content auto;gap:2px 12px}}dd{{margin:0}}.note{{color:#666}}td.why{{white-space:normal;max-width:30em}}\
         </style></head><body>{body}</body></html>",
        esc(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn charts_place_points_inside_the_frame() {
        let svg = line_svg(
            "latency",
            &[(0, 10.0), (50, 20.0), (100, 5.0)],
            0,
            100,
            "ms",
        );
        assert!(svg.contains("<polyline"));
        assert!(svg.contains("points=\"44.0,"));
        assert!(
            svg.contains("640.0,"),
            "the last point sits at the right edge: {svg}"
        );
        assert!(line_svg("x", &[], 0, 1, "ms").contains("no data"));
        let strip = strip_svg(&[(0, 0, 0), (1, 10, 10), (2, 10, 3)], 3 * HOUR_MS);
        assert_eq!(strip.matches("<rect").count(), 3);
        assert!(strip.contains("#ccc") && strip.contains("#2a2") && strip.contains("#d22"));
    }
}
