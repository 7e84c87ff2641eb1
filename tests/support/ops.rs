//! Shared by the ops tests: a node with its metrics endpoint on a free loopback port, and
//! a strict reader of what the endpoint serves.
//! Include after `support/proxy.rs` (as `mod proxy`).
#![allow(dead_code)]

use super::proxy::{curl, Node, ALICE, WAIT};
use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

/// A static-auth node (alice) that may reach loopback targets, serving `/metrics` on
/// 127.0.0.1:0; returns it with the metrics URL it logged.
pub fn node_with_metrics() -> (Node, String) {
    let node = Node::start(&format!(
        "{ALICE}[policy]\nallow_private = true\n[metrics]\nlisten = \"127.0.0.1:0\"\n"
    ));
    let url = metrics_url(&node);
    (node, url)
}

/// The metrics URL a node logged at start.
pub fn metrics_url(node: &Node) -> String {
    let log = node.wait_log("metrics on http://", 1);
    log.split("metrics on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("metrics URL in the log")
        .to_string()
}

/// Parses Prometheus text exposition: every sample's family must have been declared
/// with `# HELP` and `# TYPE` first. Returns series (name with labels) → value.
pub fn parse(text: &str) -> HashMap<String, f64> {
    let mut helped = Vec::new();
    let mut typed: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has text");
            assert!(!help.is_empty(), "{line}");
            helped.push(name.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(name.to_string(), kind.to_string());
        } else {
            assert!(
                !line.starts_with('#') && !line.is_empty(),
                "stray line {line:?}"
            );
            let (series, value) = line.rsplit_once(' ').expect("series and value");
            let name = series.split('{').next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
                })
                .unwrap_or(name);
            assert!(
                helped.iter().any(|h| h == family) && typed.contains_key(family),
                "{series} has no HELP/TYPE"
            );
            if typed[family] == "counter" {
                assert!(
                    name.ends_with("_total"),
                    "counter {name} must end in _total"
                );
            }
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
            assert!(
                samples.insert(series.to_string(), value).is_none(),
                "{series} twice"
            );
        }
    }
    samples
}

pub fn scrape(url: &str) -> HashMap<String, f64> {
    let out = curl(&["--fail", "-D", "-", url]);
    assert!(
        out.status.success(),
        "scrape failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    parse(body)
}

pub fn get(m: &HashMap<String, f64>, series: &str) -> f64 {
    *m.get(series)
        .unwrap_or_else(|| panic!("{series} missing from {m:#?}"))
}

pub fn finished(m: &HashMap<String, f64>) -> f64 {
    m.iter()
        .filter(|(k, _)| k.starts_with("aqueduct_sessions_total{"))
        .map(|(_, v)| v)
        .sum()
}

/// Scrapes until `done` holds (bounded): sessions are counted when the node has closed
/// them, a moment after curl is satisfied.
pub fn scrape_until(
    url: &str,
    done: impl Fn(&HashMap<String, f64>) -> bool,
) -> HashMap<String, f64> {
    let deadline = Instant::now() + WAIT;
    loop {
        let m = scrape(url);
        if done(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "metrics never settled: {m:#?}");
        thread::sleep(Duration::from_millis(50));
    }
}
