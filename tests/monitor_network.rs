//! `aqueduct monitor` against real nodes on anvil: a healthy node, a lazy node that
//! heartbeats but refuses every member, a slow node behind a delaying forwarder and a
//! node killed during a round; the report's verdicts and `--remove`; a monitor killed
//! mid-round that loses no stored row; and the void-round guard.

mod support;
use support::{anvil, local, monitor, node};

use aqueduct::monitor::store::Store;
use local::Forwarder;
use monitor::{entry, free_port, network, register, start_node, Monitor, OWNER};
use node::{dev, heartbeats};
use std::time::{Duration, Instant};

const HEALTHY: usize = 1;
const LAZY: usize = 3;
const SLOW: usize = 4;
const VICTIM: usize = 5;

/// A node that refuses every member: it accepts no credential living longer than a
/// second (the monitor's live an hour), and heartbeats all the same.
const REFUSES_ALL: &str = "max_credential_lifetime_secs = 1";

fn wait_heartbeat(net: &node::ChainNet, key: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while heartbeats(net, dev(key)).is_empty() {
        assert!(Instant::now() < deadline, "node {key} never heartbeated");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn healthy_lazy_slow_and_killed_nodes_are_told_apart() {
    let net = network();
    let healthy = start_node(&net, HEALTHY, "");
    let lazy = start_node(&net, LAZY, REFUSES_ALL);
    let slow = start_node(&net, SLOW, "");
    let victim = start_node(&net, VICTIM, "");
    // The slow node's first answer on every connection waits 2 s (the limit is 1.5 s).
    let front = Forwarder::start(slow.addr(), Duration::from_secs(2));
    register(&net, HEALTHY, healthy.addr());
    register(&net, LAZY, lazy.addr());
    register(&net, SLOW, front.addr);
    register(&net, VICTIM, victim.addr());
    let echo = free_port();
    let mut mon = Monitor::start(&net, echo, echo, "");
    mon.wait_rounds(3);
    wait_heartbeat(&net, LAZY);

    // Killed while a round is in flight.
    let started = mon.log().matches("round started").count();
    mon.wait_log("round started", started + 1);
    drop(victim);
    mon.wait_rounds(3);

    let nodes = mon.json("/api/nodes");
    let h = entry(&nodes, dev(HEALTHY));
    assert_eq!(h["state"], "up", "{h}");
    assert_eq!(h["uptime_24h"], 1.0, "{h}");
    assert_eq!(h["egress"], "127.0.0.1");
    assert!(h["latency_p50_ms"].as_f64().unwrap() > 0.0);
    assert!(h["throughput_kbps"].as_f64().unwrap() > 1000.0, "{h}");
    assert_eq!(h["flagged"], false);

    let l = entry(&nodes, dev(LAZY));
    assert_eq!(l["state"], "flagged", "{l}");
    assert_eq!(l["flagged"], true);
    assert!(l["heartbeats_24h"].as_i64().unwrap() >= 1, "{l}");
    assert_eq!(l["uptime_24h"], 0.0);
    assert_eq!(l["last_failure"]["outcome"], "auth_refused", "{l}");

    let s = entry(&nodes, dev(SLOW));
    assert_eq!(s["state"], "slow", "{s}");
    assert!(
        s["last_failure"]["detail"]
            .as_str()
            .unwrap()
            .contains("limit 1500 ms"),
        "{s}"
    );
    assert!(s["latency_p50_ms"].as_f64().unwrap() >= 2000.0, "{s}");

    let v = entry(&nodes, dev(VICTIM));
    assert_eq!(v["state"], "down", "{v}");
    assert_eq!(v["last_failure"]["outcome"], "connect_failed", "{v}");
    let up = v["uptime_24h"].as_f64().unwrap();
    assert!(up > 0.0 && up < 1.0, "served before it was killed: {v}");

    // Every stored round has a row per node plus its one HTTP proxy probe, none void.
    let store = Store::open_read_only(&mon.db).unwrap();
    let rounds = store.rounds(1000).unwrap();
    assert!(rounds.len() >= 6);
    for r in &rounds {
        assert_eq!(r.nodes, 4, "{r:?}");
        assert_eq!(r.void_reason, None, "{r:?}");
        assert_eq!(store.round_probes(r.id).unwrap().len(), 5);
    }
    let http_ok = rounds
        .iter()
        .flat_map(|r| store.round_probes(r.id).unwrap())
        .filter(|p| p.path == aqueduct::monitor::probe::ProbePath::Http && p.node == dev(HEALTHY))
        .map(|p| p.outcome)
        .collect::<Vec<_>>();
    assert!(
        http_ok.contains(&aqueduct::monitor::outcome::Outcome::Ok),
        "the HTTP proxy path was probed and worked on the healthy node: {http_ok:?}"
    );

    // Prometheus text counts the outcomes.
    let (status, metrics) = mon.get("/metrics");
    assert_eq!(status, 200);
    let refused: f64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                "aqueduct_monitor_probes_total{path=\"socks5\",outcome=\"auth_refused\"} ",
            )
        })
        .and_then(|v| v.parse().ok())
        .expect("auth_refused series");
    assert!(refused >= 6.0, "{metrics}");
    assert!(metrics.contains("aqueduct_monitor_round_duration_seconds_count"));

    // The report: the lazy node is to be removed, the healthy one kept.
    let report = mon.report(&["--since", "1h", "--json"]).json();
    let verdict = |key: usize| {
        report["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["node"] == dev(key).to_string())
            .unwrap()
            .clone()
    };
    assert_eq!(verdict(HEALTHY)["verdict"], "healthy", "{report}");
    assert_eq!(verdict(LAZY)["verdict"], "lazy", "{report}");
    assert_eq!(verdict(LAZY)["remove"], true);
    assert_eq!(verdict(SLOW)["verdict"], "slow", "{report}");
    assert!(verdict(LAZY)["reason"]
        .as_str()
        .unwrap()
        .contains("heartbeats while failing probes"));
    let text = mon.report(&["--since", "1h"]);
    assert!(text.ok, "{}", text.stderr);
    assert!(text.stdout.contains("-> remove"), "{}", text.stdout);

    // --remove without --yes and without a terminal asks nobody and removes nothing.
    let owner_key = net.anvil.key_file(OWNER);
    let owner_key = anvil::path_str(&owner_key);
    let refused = mon.report(&["--since", "1h", "--remove", "--key", owner_key]);
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(refused.stderr.contains("--yes"));
    // The monitor's own key is not the owner's.
    let monitor_key = net.anvil.key_file(monitor::MONITOR);
    let wrong = mon.report(&["--remove", "--yes", "--key", anvil::path_str(&monitor_key)]);
    assert!(
        !wrong.ok && wrong.stderr.contains("not the contract's owner"),
        "{}",
        wrong.stderr
    );
    let removed = mon.report(&["--since", "1h", "--remove", "--yes", "--key", owner_key]);
    assert!(removed.ok, "{}", removed.stderr);
    assert!(
        removed.stdout.contains(&format!("removed {}", dev(LAZY))),
        "{}",
        removed.stdout
    );
    let listed = net.run_ok(OWNER, &["nodes", "--json"]).json();
    let lazy_entry = listed["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == dev(LAZY).to_string())
        .unwrap()
        .clone();
    assert_eq!(lazy_entry["active"], false);
    assert!(listed["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["node"] == dev(HEALTHY).to_string() && n["active"] == true));
    // The monitor sees the removal and stops probing the node.
    mon.wait_log("registry: 3 active nodes", 1);
    mon.wait_rounds(1);
    let l = entry(&mon.json("/api/nodes"), dev(LAZY));
    assert_eq!(l["state"], "removed", "{l}");

    // Once the first one-minute epoch has ended, the report names the nodes whose pay for
    // it should be withheld, with the evidence's hash: the lazy node, and the killed one
    // if it heartbeated before it died (it relayed under half of that epoch's probes);
    // never the healthy or the slow node.
    let deadline = Instant::now() + Duration::from_secs(90);
    let withheld = loop {
        let r = mon.report(&["--since", "1h", "--json"]).json();
        let list = r["withhold"].as_array().unwrap().clone();
        if !list.is_empty() {
            break list;
        }
        assert!(
            Instant::now() < deadline,
            "no epoch ended with a withhold: {r}"
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    let named = |key: usize| withheld.iter().find(|w| w["node"] == dev(key).to_string());
    let lazy_w = named(LAZY).unwrap_or_else(|| panic!("{withheld:?}"));
    assert_eq!(lazy_w["epoch"], 0);
    assert_eq!(lazy_w["relayed"], 0);
    assert_eq!(lazy_w["evidence"].as_str().unwrap().len(), 66);
    assert!(
        named(HEALTHY).is_none() && named(SLOW).is_none(),
        "{withheld:?}"
    );
    assert!(withheld
        .iter()
        .all(|w| w["node"] == dev(LAZY).to_string() || w["node"] == dev(VICTIM).to_string()));
}

/// Rounds in the database: (id, probe rows), oldest first.
fn stored_rounds(mon: &Monitor) -> Vec<(i64, usize)> {
    let store = Store::open_read_only(&mon.db).unwrap();
    let mut rounds: Vec<(i64, usize)> = store
        .rounds(10_000)
        .unwrap()
        .iter()
        .map(|r| (r.id, store.round_probes(r.id).unwrap().len()))
        .collect();
    rounds.reverse();
    rounds
}

#[test]
fn a_monitor_killed_mid_round_loses_no_stored_row() {
    let net = network();
    let healthy = start_node(&net, HEALTHY, "");
    let slow = start_node(&net, SLOW, "");
    // Every round lasts over 2 s: a kill lands inside one.
    let front = Forwarder::start(slow.addr(), Duration::from_secs(2));
    register(&net, HEALTHY, healthy.addr());
    register(&net, SLOW, front.addr);
    let echo = free_port();
    let mut mon = Monitor::start(&net, echo, echo, "");
    mon.wait_rounds(2);
    let started = mon.log().matches("round started").count();
    mon.wait_log("round started", started + 1);
    std::thread::sleep(Duration::from_millis(500));
    mon.kill();
    let log = mon.log();
    assert!(
        log.trim_end()
            .lines()
            .last()
            .unwrap()
            .contains("round started"),
        "killed inside a round:\n{log}"
    );
    let before = stored_rounds(&mon);
    // Every round the log calls stored is there, each whole (2 nodes + 1 HTTP probe).
    assert_eq!(before.len(), mon.stored(), "{before:?}");
    assert!(before.iter().all(|(_, rows)| *rows == 3), "{before:?}");

    mon.spawn();
    mon.wait_rounds(2);
    let after = stored_rounds(&mon);
    assert_eq!(
        after[..before.len()],
        before[..],
        "rows stored before the kill are unchanged"
    );
    assert!(after.len() >= before.len() + 2);
    assert!(after.iter().all(|(_, rows)| *rows == 3), "{after:?}");
    assert!(after.windows(2).all(|w| w[0].0 < w[1].0));
    let h = entry(&mon.json("/api/nodes"), dev(HEALTHY));
    assert_eq!(h["uptime_24h"], 1.0, "{h}");
    assert_eq!(h["probes_24h"], after.len() as i64, "{h}");
}

#[test]
fn rounds_are_void_when_the_echo_endpoint_is_down_and_count_against_nobody() {
    let net = network();
    let healthy = start_node(&net, HEALTHY, "");
    let lazy = start_node(&net, LAZY, REFUSES_ALL);
    register(&net, HEALTHY, healthy.addr());
    register(&net, LAZY, lazy.addr());
    // Nodes are sent to a port where nothing listens: the monitor's side is down.
    let mut mon = Monitor::start(&net, free_port(), free_port(), "");
    mon.wait_rounds(3);
    wait_heartbeat(&net, LAZY);
    mon.wait_rounds(1);

    let rounds = mon.json("/api/rounds");
    let rounds = rounds.as_array().unwrap();
    assert!(rounds.len() >= 4);
    for r in rounds {
        assert_eq!(r["void"], true, "{r}");
        assert!(
            r["void_reason"]
                .as_str()
                .unwrap()
                .starts_with("2 of 2 nodes failed"),
            "{r}"
        );
    }
    let nodes = mon.json("/api/nodes");
    for key in [HEALTHY, LAZY] {
        let n = entry(&nodes, dev(key));
        assert_eq!(n["state"], "unmeasured", "{n}");
        assert_eq!(n["uptime_24h"], serde_json::Value::Null, "{n}");
        assert_eq!(n["flagged"], false, "{n}");
        assert_eq!(
            n["last_failure"],
            serde_json::Value::Null,
            "void rounds blame nobody: {n}"
        );
    }
    assert!(entry(&nodes, dev(LAZY))["heartbeats_24h"].as_i64().unwrap() >= 1);
    let report = mon.report(&["--json"]).json();
    assert_eq!(report["remove"], serde_json::json!([]), "{report}");
    assert!(report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["verdict"] == "unmeasured"));
    let (_, metrics) = mon.get("/metrics");
    let void: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("aqueduct_monitor_void_rounds_total "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(void >= 4.0, "{metrics}");
    assert!(mon.log().contains("stored as void"));
}

#[test]
fn probing_goes_on_while_the_chain_rpc_is_down() {
    let mut net = network();
    let healthy = start_node(&net, HEALTHY, "");
    register(&net, HEALTHY, healthy.addr());
    let echo = free_port();
    let mut mon = Monitor::start(&net, echo, echo, "");
    mon.wait_rounds(2);
    net.anvil.kill();
    mon.wait_log("cannot read the node registry", 1);
    let before = mon.stored();
    mon.wait_rounds(2);
    let h = entry(&mon.json("/api/nodes"), dev(HEALTHY));
    assert_eq!(h["state"], "up", "the last registry is probed on: {h}");
    // Rounds went on being stored after the RPC died.
    assert!(
        h["probes_24h"].as_i64().unwrap() as usize >= before + 2,
        "{h}"
    );
}
