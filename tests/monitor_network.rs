//! `aqueduct monitor` against real nodes on anvil: a healthy node, a lazy node that
//! heartbeats but refuses every member, a slow node behind a delaying forwarder and a
//! node killed during a round; the report's verdicts and `--remove`; a monitor killed
//! mid-round that loses no stored row; the void-round guard; and nodes reached over TLS
//! (TLS-only, a wrong pin, both endpoints).
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{anvil, local, monitor, node, proxy};

use aqueduct::monitor::store::Store;
use local::Forwarder;
use monitor::{
    current_epoch, entry, free_port, network, register, register_entry, slots_in, start_earning,
    start_node, start_tls_node, Monitor, MONITOR, OWNER,
};
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
    let epoch = current_epoch(net);
    while !heartbeats(net, dev(key)).iter().any(|h| h.epoch == epoch) {
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
    let earning = start_earning(&net);
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

    // Once the epoch has ended, the report names the nodes whose pay for it should be
    // withheld, with the evidence's hash: the lazy node, and the killed one if it
    // heartbeated before it died (it relayed under half of that epoch's probes); never
    // the healthy or the slow node. With `withhold` off the monitor only says so.
    let nonce = net.nonce(dev(MONITOR));
    start_earning(&net);
    mon.wait_log(
        &format!("would withhold node {} epoch {earning}", dev(LAZY)),
        1,
    );
    let r = mon.report(&["--since", "2h", "--json"]).json();
    let withheld = r["withhold"].as_array().unwrap().clone();
    let named = |key: usize| withheld.iter().find(|w| w["node"] == dev(key).to_string());
    let lazy_w = named(LAZY).unwrap_or_else(|| panic!("{withheld:?}"));
    assert_eq!(lazy_w["epoch"], earning);
    assert_eq!(lazy_w["relayed"], 0);
    assert_eq!(lazy_w["evidence"].as_str().unwrap().len(), 66);
    assert!(
        named(HEALTHY).is_none() && named(SLOW).is_none(),
        "{withheld:?}"
    );
    assert!(withheld
        .iter()
        .all(|w| w["node"] == dev(LAZY).to_string() || w["node"] == dev(VICTIM).to_string()));
    assert!(!mon
        .log()
        .contains(&format!("would withhold node {}", dev(HEALTHY))));
    assert_eq!(net.nonce(dev(MONITOR)), nonce, "a dry run sends nothing");
    assert!(slots_in(&net, dev(LAZY), earning) > 0, "{}", mon.log());
    let l = mon.json(&format!("/api/nodes/{}", dev(LAZY)));
    assert_eq!(l["withholds"][0]["state"], "dry_run", "{l}");
    assert_eq!(l["withholds"][0]["epoch"], earning, "{l}");
}

/// A healthy and a lazy node registered, the monitor's key named the contract's monitor,
/// and the chain moved into the epoch both earn in (returned).
fn healthy_and_lazy_watched() -> (node::ChainNet, proxy::Node, proxy::Node, u64) {
    let net = network();
    let healthy = start_node(&net, HEALTHY, "");
    let lazy = start_node(&net, LAZY, REFUSES_ALL);
    register(&net, HEALTHY, healthy.addr());
    register(&net, LAZY, lazy.addr());
    net.run_ok(
        OWNER,
        &["set-monitor", "--monitor", &dev(MONITOR).to_string()],
    );
    let epoch = start_earning(&net);
    (net, healthy, lazy, epoch)
}

/// Token units `who` holds.
fn balance(net: &node::ChainNet, who: aqueduct::eth::Address) -> u128 {
    let client = net.anvil.client();
    aqueduct::contract::Contract::new(&client, net.token)
        .balance_of(who)
        .unwrap()
}

#[test]
fn a_node_paid_while_refusing_every_member_is_withheld_and_the_serving_node_gets_the_epoch() {
    let (net, _healthy, _lazy, epoch) = healthy_and_lazy_watched();
    let echo = free_port();
    let mut mon = Monitor::start(&net, echo, echo, "withhold = true");
    wait_heartbeat(&net, HEALTHY);
    wait_heartbeat(&net, LAZY);
    mon.wait_rounds(3);

    // Both paid by their heartbeats; the dashboard shows what each says it served beside
    // what the monitor measured, and flags the one paid while failing.
    let nodes = mon.json("/api/nodes");
    let (h, l) = (entry(&nodes, dev(HEALTHY)), entry(&nodes, dev(LAZY)));
    assert_eq!(
        (h["flagged"].clone(), h["uptime_24h"].clone()),
        (false.into(), 1.0.into()),
        "{h}"
    );
    assert_eq!(l["flag"], "heartbeats while failing probes", "{l}");
    assert_eq!(l["uptime_24h"], 0.0, "{l}");
    assert!(
        l["reported_usage_24h"]["heartbeats"].as_i64().unwrap() >= 1,
        "{l}"
    );
    assert!(
        h["reported_usage_24h"]["heartbeats"].as_i64().unwrap() >= 1,
        "{h}"
    );

    // The epoch ends: the monitor withholds the lazy node's slots in it, once.
    let lazy_slots = slots_in(&net, dev(LAZY), epoch);
    assert!(lazy_slots > 0);
    let nonce = net.nonce(dev(MONITOR));
    start_earning(&net);
    mon.wait_log(&format!("withheld node {} epoch {epoch}", dev(LAZY)), 1);
    assert_eq!(slots_in(&net, dev(LAZY), epoch), 0);
    let healthy_slots = slots_in(&net, dev(HEALTHY), epoch);
    assert!(healthy_slots > 0, "the serving node keeps its slots");
    assert_eq!(
        net.nonce(dev(MONITOR)),
        nonce + 1,
        "one transaction: {}",
        mon.log()
    );

    // Restarted inside the challenge window, it sends nothing again.
    mon.kill();
    mon.spawn();
    mon.wait_rounds(3);
    assert_eq!(net.nonce(dev(MONITOR)), nonce + 1, "{}", mon.log());
    let l = mon.json(&format!("/api/nodes/{}", dev(LAZY)));
    let w = &l["withholds"][0];
    assert_eq!(
        (w["epoch"].clone(), w["state"].clone()),
        (epoch.into(), "sent".into()),
        "{l}"
    );
    assert_eq!(w["slots"], lazy_slots, "{l}");
    assert_eq!(w["relayed"], 0);
    assert!(
        w["evidence_rows"]
            .as_str()
            .unwrap()
            .contains(",socks5,auth_refused,"),
        "{l}"
    );
    assert_eq!(w["tx"].as_str().unwrap().len(), 66);
    assert_eq!(l["summary"]["withheld_epochs"], 1);
    let h = mon.json(&format!("/api/nodes/{}", dev(HEALTHY)));
    assert_eq!(
        h["withholds"],
        serde_json::json!([]),
        "the serving node is untouched: {h}"
    );

    // One full epoch later the epoch settles: it paid the serving node's slots alone, so
    // its whole pool goes to the serving node and the lazy node's claim pays nothing.
    start_earning(&net);
    net.run_ok(OWNER, &["settle"]);
    let payout = anvil::cast(&[
        "call",
        &net.contract.to_string(),
        "epochPayout(uint64)(uint64,uint256)",
        &epoch.to_string(),
        "--rpc-url",
        &net.anvil.url,
    ]);
    let mut parts = payout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string());
    let total_slots: u64 = parts.next().unwrap().parse().unwrap();
    let per_slot: u128 = parts.next().unwrap().parse().unwrap();
    assert_eq!(
        total_slots, healthy_slots,
        "the lazy node's slots are out of the epoch's total"
    );
    assert!(per_slot > 0);
    let before = balance(&net, dev(HEALTHY));
    net.run_ok(
        HEALTHY,
        &[
            "claim",
            "--node",
            &dev(HEALTHY).to_string(),
            "--max-epochs",
            "1",
        ],
    );
    let paid = balance(&net, dev(HEALTHY)) - before;
    assert_eq!(
        paid,
        (u128::from(healthy_slots) * per_slot) >> 32,
        "the serving node is paid the whole epoch, to the unit"
    );
    let client = net.anvil.client();
    assert_eq!(net.contract(&client).claimable(dev(LAZY)).unwrap(), 0);
    let lazy_before = balance(&net, dev(LAZY));
    // The claim walks the withheld epoch and pays nothing for it.
    let _ = net.run(
        LAZY,
        &[
            "claim",
            "--node",
            &dev(LAZY).to_string(),
            "--max-epochs",
            "1",
        ],
    );
    assert_eq!(
        balance(&net, dev(LAZY)),
        lazy_before,
        "the lazy node's claim pays nothing"
    );
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
    let (net, _healthy, _lazy, earning) = healthy_and_lazy_watched();
    // Nodes are sent to a port where nothing listens: the monitor's side is down.
    let mut mon = Monitor::start(&net, free_port(), free_port(), "withhold = true");
    mon.wait_rounds(3);
    wait_heartbeat(&net, LAZY);
    wait_heartbeat(&net, HEALTHY);
    mon.wait_rounds(1);
    // The epoch ends with the lazy node paid while nobody could be probed: nothing is
    // withheld, from it or anyone.
    let nonce = net.nonce(dev(MONITOR));
    start_earning(&net);
    mon.wait_rounds(3);
    assert_eq!(net.nonce(dev(MONITOR)), nonce, "{}", mon.log());
    assert!(slots_in(&net, dev(LAZY), earning) > 0);
    assert!(slots_in(&net, dev(HEALTHY), earning) > 0);
    for key in [HEALTHY, LAZY] {
        let n = mon.json(&format!("/api/nodes/{}", dev(key)));
        assert_eq!(n["withholds"], serde_json::json!([]), "{n}");
    }
    assert!(!mon.log().contains("withheld node"), "{}", mon.log());

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

/// The head and body curl got for `args` (`-i`: the response head comes first).
fn curl_head_and_body(args: &[&str]) -> (String, String) {
    let mut full = vec!["-i"];
    full.extend_from_slice(args);
    let text = proxy::curl_ok(&full);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_ascii_lowercase(), body.to_string())
}

#[test]
fn the_json_api_answers_a_site_on_another_origin() {
    let net = network();
    let healthy = start_node(&net, HEALTHY, "");
    register(&net, HEALTHY, healthy.addr());
    let echo = free_port();
    let mut mon = Monitor::start(&net, echo, echo, "api_origin = \"https://site.example\"");
    mon.wait_rounds(1);
    let base = format!("http://{}", mon.dashboard);

    // A browser's GET from the site: the answer says the site may read it.
    let (head, body) = curl_head_and_body(&[
        "-H",
        "Origin: https://site.example",
        &format!("{base}/api/nodes"),
    ]);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("\r\naccess-control-allow-origin: https://site.example\r\n"),
        "{head}"
    );
    // What web/src/monitor.ts reads: a list of nodes by lower-case address, healthy or
    // not, the latency and the 24 h uptime share.
    let nodes: serde_json::Value = serde_json::from_str(&body).unwrap();
    let h = entry(&nodes, dev(HEALTHY));
    assert_eq!(h["address"], dev(HEALTHY).to_lower_hex(), "{h}");
    assert_eq!(h["healthy"], true, "{h}");
    assert!(h["latency_ms"].as_f64().unwrap() > 0.0, "{h}");
    assert_eq!(h["uptime_24h"], 1.0, "{h}");

    // A preflight (a site that sends headers of its own) is answered too.
    let (head, body) = curl_head_and_body(&[
        "-X",
        "OPTIONS",
        "-H",
        "Origin: https://site.example",
        "-H",
        "Access-Control-Request-Method: GET",
        "-H",
        "Access-Control-Request-Headers: cache-control",
        &format!("{base}/api/nodes/{}", dev(HEALTHY)),
    ]);
    assert!(head.starts_with("http/1.1 204"), "{head}");
    assert!(
        head.contains("\r\naccess-control-allow-methods: get, options\r\n"),
        "{head}"
    );
    assert!(head.contains("cache-control"), "{head}");
    assert_eq!(body, "");
    let (head, _) = curl_head_and_body(&[&format!("{base}/api/rounds")]);
    assert!(
        head.contains("access-control-allow-origin: https://site.example"),
        "{head}"
    );

    // The admin's pages are not for other sites.
    let (head, body) =
        curl_head_and_body(&["-H", "Origin: https://site.example", &format!("{base}/")]);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("access-control-allow-origin"), "{head}");
    assert!(body.contains("<table id=\"nodes\">"));
}

const TLS_ONLY: usize = 6;
const WRONG_PIN: usize = 7;
const BOTH: usize = 8;

#[test]
fn tls_only_nodes_are_probed_over_tls_and_a_wrong_pin_is_named() {
    let net = network();
    let dirs = [
        proxy::TempDir::new("mon-tls-a"),
        proxy::TempDir::new("mon-tls-b"),
        proxy::TempDir::new("mon-tls-c"),
    ];
    let tls_only = start_tls_node(&net, TLS_ONLY, dirs[0].path());
    let wrong = start_tls_node(&net, WRONG_PIN, dirs[1].path());
    let both = start_tls_node(&net, BOTH, dirs[2].path());
    register_entry(
        &net,
        TLS_ONLY,
        &format!("tls={} pin={}", tls_only.tls, tls_only.pin),
    );
    // The entry pins another key than the node's certificate has.
    let other = aqueduct::tls::Pin::of_spki(b"not this node's key");
    register_entry(&net, WRONG_PIN, &format!("tls={} pin={other}", wrong.tls));
    register_entry(
        &net,
        BOTH,
        &format!("{} tls={} pin={}", both.plain, both.tls, both.pin),
    );
    start_earning(&net);
    let echo = free_port();
    let mut mon = Monitor::start(&net, echo, echo, "");
    mon.wait_rounds(3);
    // Both heartbeat: only the one members cannot use is flagged.
    wait_heartbeat(&net, TLS_ONLY);
    wait_heartbeat(&net, WRONG_PIN);
    mon.wait_rounds(1);

    let nodes = mon.json("/api/nodes");
    let t = entry(&nodes, dev(TLS_ONLY));
    assert_eq!(t["state"], "up", "{t}");
    assert_eq!(t["uptime_24h"], 1.0, "{t}");
    assert_eq!(t["egress"], "127.0.0.1", "{t}");
    assert!(t["throughput_kbps"].as_f64().unwrap() > 1000.0, "{t}");
    assert_eq!(t["flagged"], false, "{t}");

    let w = entry(&nodes, dev(WRONG_PIN));
    assert_eq!(w["flagged"], true, "{w}");
    assert_eq!(w["last_failure"]["outcome"], "pin_mismatch", "{w}");
    let detail = w["last_failure"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("pin mismatch: possible interception")
            && detail.contains(&wrong.pin.to_string()),
        "{w}"
    );
    // The node page shows the reason like any other.
    let (status, page) = mon.get(&format!("/nodes/{}", dev(WRONG_PIN)));
    assert_eq!(status, 200);
    assert!(page.contains("pin_mismatch"), "{page}");

    // An entry with both endpoints is probed over TLS (where `aqueduct local` goes):
    // every probe has a handshake time.
    let b = entry(&nodes, dev(BOTH));
    assert_eq!(b["state"], "up", "{b}");
    let probes = mon.json(&format!("/api/nodes/{}", dev(BOTH)));
    let list = probes["probes"].as_array().unwrap();
    assert!(!list.is_empty(), "{probes}");
    for p in list {
        assert_eq!(p["outcome"], "ok", "{p}");
        assert!(p["tls_us"].as_i64().unwrap() > 0, "{p}");
        if p["path"] == "socks5" {
            assert!(p["login_us"].as_i64().is_some(), "{p}");
        }
    }
    let t_probes = mon.json(&format!("/api/nodes/{}", dev(TLS_ONLY)));
    assert!(
        t_probes["probes"][0]["tls_us"].as_i64().is_some(),
        "{t_probes}"
    );
}
