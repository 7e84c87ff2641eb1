//! The monitor's dashboard in a real browser: Debian's chromium, headless, loads the
//! node table and two node pages served by a monitor watching real nodes on anvil; the
//! test checks the rendered DOM and keeps screenshots under target/ as artifacts.
//! (`apt-get install chromium` where it is missing.)
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::chromium::chromium;
use support::{monitor, node};

use monitor::{entry, free_port, network, register, start_earning, start_node, Monitor};
use node::{dev, heartbeats};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// target/ (the test binary lives in target/debug/deps/).
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

#[test]
fn dashboard_renders_in_chromium_without_any_external_asset() {
    let net = network();
    let healthy = start_node(&net, 1, "");
    let lazy = start_node(&net, 3, "max_credential_lifetime_secs = 1");
    register(&net, 1, healthy.addr());
    register(&net, 3, lazy.addr());
    start_earning(&net);
    let echo = free_port();
    let mut mon = Monitor::start(&net, echo, echo, "");
    let deadline = Instant::now() + Duration::from_secs(60);
    while heartbeats(&net, dev(3)).is_empty() {
        assert!(Instant::now() < deadline, "the lazy node never heartbeated");
        std::thread::sleep(Duration::from_millis(500));
    }
    mon.wait_rounds(3);
    assert_eq!(entry(&mon.json("/api/nodes"), dev(3))["flagged"], true);

    let profile = mon.dir.path().to_path_buf();
    let base = format!("http://{}", mon.dashboard);
    let shots = target_dir().join("monitor-dashboard");
    std::fs::create_dir_all(&shots).unwrap();

    // The table, sorted by 24 h uptime, worst first.
    let url = format!("{base}/?sort=uptime_24h&dir=asc");
    let dom = chromium(&profile, &url, &["--dump-dom"]);
    assert!(dom.contains("<table id=\"nodes\">"), "{dom}");
    let (lazy_row, healthy_row) = (
        dom.find(&format!(">{}</a>", dev(3)))
            .expect("lazy node row"),
        dom.find(&format!(">{}</a>", dev(1)))
            .expect("healthy node row"),
    );
    assert!(
        lazy_row < healthy_row,
        "sorted by uptime, the lazy node comes first"
    );
    assert!(
        dom.contains("<tr class=\"flagged flagged\">"),
        "the lazy node's row is flagged"
    );
    assert!(
        dom.contains("<b>auth_refused</b>"),
        "its last failure and why"
    );
    assert!(dom.contains("100.0%"), "the healthy node's uptime");
    assert!(dom.contains("1 flagged"), "{dom}");
    // What the nodes report, beside (never instead of) what the monitor measured.
    assert!(dom.contains("reported usage 24 h (self-reported)"), "{dom}");
    assert!(dom.contains(" heartbeats)</td>"), "{dom}");
    // Nothing but this page: no script, stylesheet link, image or font from anywhere.
    for external in ["<script", "<link", "<img", "@import", "url("] {
        assert!(!dom.contains(external), "{external} in the page");
    }
    let table_png = shots.join("nodes.png");
    let _ = std::fs::remove_file(&table_png);
    chromium(
        &profile,
        &url,
        &[&format!("--screenshot={}", table_png.display())],
    );
    assert!(std::fs::metadata(&table_png).map(|m| m.len()).unwrap_or(0) > 5_000);

    // The lazy node's page: the flag, its epochs, the hourly strip.
    let lazy_url = format!("{base}/nodes/{}", dev(3));
    let dom = chromium(&profile, &lazy_url, &["--dump-dom"]);
    assert!(dom.contains("heartbeats while failing probes"), "{dom}");
    assert!(dom.contains("<table id=\"epochs\">"));
    assert!(dom.contains("<svg id=\"uptime-strip\""));
    assert!(
        dom.contains("fill=\"#d22\""),
        "the current hour is red for the lazy node"
    );

    // The healthy node's page: charts drawn with data points.
    let healthy_url = format!("{base}/nodes/{}", dev(1));
    let dom = chromium(&profile, &healthy_url, &["--dump-dom"]);
    assert!(dom.contains("<svg id=\"latency-chart\""), "{dom}");
    let latency = &dom[dom.find("latency-chart").unwrap()..];
    assert!(latency.contains("<polyline"), "latency points drawn");
    assert!(dom.contains("<svg id=\"throughput-chart\""));
    assert!(dom.contains("fill=\"#2a2\""), "the current hour is green");
    let node_png = shots.join("node.png");
    let _ = std::fs::remove_file(&node_png);
    chromium(
        &profile,
        &healthy_url,
        &[&format!("--screenshot={}", node_png.display())],
    );
    assert!(std::fs::metadata(&node_png).map(|m| m.len()).unwrap_or(0) > 5_000);
}
