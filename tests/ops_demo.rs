//! `make demo` end to end: scripts/demo.sh with this build's binary and the project's
//! anvil and cast. The demo must reach its end, show each thing it promises, and leave
//! nothing running behind it.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::tools;

use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The `host:port` after `marker` on the first line that has it.
fn addr_after(out: &str, marker: &str) -> SocketAddr {
    out.lines()
        .find_map(|l| l.split(marker).nth(1))
        .and_then(|rest| rest.split(['/', ' ']).next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address after {marker:?} in:\n{out}"))
}

#[test]
fn demo_runs_end_to_end_and_stops_everything() {
    let bin = tools::tool("anvil");
    let tools_dir = bin.parent().unwrap();
    let path = format!(
        "{}:{}",
        tools_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The script bounds each of its own waits; the whole run takes well under a minute.
    let out = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo.sh"))
        .env("AQUEDUCT_BIN", env!("CARGO_BIN_EXE_aqueduct"))
        .env("PATH", path)
        .env_remove("AQUEDUCT_RPC")
        .env_remove("AQUEDUCT_DEMO_KEEP")
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/demo.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n--- stderr ---\n{stderr}"
    );
    let expect = [
        // the member's page, over SOCKS5 and over the HTTP proxy
        "curl over SOCKS5:\n     > Hello from the other side of the aqueduct.\n",
        "curl over the HTTP proxy:\n     > Hello from the other side of the aqueduct.\n",
        "a well-signed credential of a non-member: the HTTP proxy answers 407",
        // the node earns from epoch 1, which begins at slot 6
        "node log: heartbeat sent for slot 6",
        "node log: heartbeat sent for slot 7",
        "| running node: yes (http://127.0.0.1:",
        // the member and the monitor
        "|   members known: 2",
        "| heartbeats this epoch: 2 of 2 slots so far (6 per epoch)",
        "claimable: 0 tUSD",
        // the monitor: its dashboard, the lazy node flagged, then withheld, its share nothing
        "the dashboard: http://127.0.0.1:",
        "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65  flagged  uptime   0% (measured)",
        "FLAGGED: heartbeats while failing probes",
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8  up       uptime 100% (measured)",
        "monitor log: withheld node 0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65 epoch 1",
        "| lazy node claimable: 0 tUSD",
        "Everything the demo started has been stopped.",
    ];
    for line in expect {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    // What was claimable after the epoch (the last status) is what the claim paid to the
    // payee: what the member's and the monitor's fees streamed in epoch 1, which the
    // payments began within a few seconds of (10 tUSD each over a day of hourly epochs: at
    // most 0.833333 a full hour for both), all of it: the lazy node's slots were withheld.
    let last_after = |marker: &str| {
        stdout
            .lines()
            .rev()
            .find_map(|l| l.split(marker).nth(1))
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("no amount after {marker:?} in:\n{stdout}"))
    };
    let claimable = last_after("| claimable: ");
    let amount: f64 = claimable.parse().unwrap();
    assert!(amount > 0.82 && amount <= 0.833333, "{claimable}");
    assert_eq!(last_after("   claimed "), claimable, "{stdout}");
    assert!(stdout.contains(" tUSD for 1 epoch of node "), "{stdout}");
    assert!(
        stdout.contains("paid to 0x90F79bf6EB2c4f870365E785982E1f101E93b906"),
        "{stdout}"
    );
    // Nothing it started still listens: not anvil, not the node, not its metrics.
    for marker in [
        "answers at http://",
        "clients on ",
        "Prometheus metrics on http://",
        "the dashboard: http://",
    ] {
        let addr = addr_after(&stdout, marker);
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
            "{addr} ({marker}) still accepts connections after the demo"
        );
    }
}
