//! The `aqueduct monitor` tests' network: anvil mining a block a second with the
//! contract deployed (no node registered yet), real chain-mode `aqueduct node`s with
//! keys of their own, and the real `aqueduct monitor` process, paying as dev account
//! [`MONITOR`]. Every wait is bounded; every process stops on drop.
//!
//! Include after tools, anvil, proxy and node:
//! `#[path = "support/monitor.rs"] mod monitor;`.
#![allow(dead_code)]

use super::anvil::{aqueduct, path_str, Anvil};
use super::node::{chain_node_sections, dev, ChainNet};
use super::proxy::{Node, TempDir, WAIT};
use super::tls::TlsNode;
use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The contract's owner (deploys, adds and removes nodes).
pub const OWNER: usize = 0;
/// The monitor's member key.
pub const MONITOR: usize = 2;

/// anvil with real one-second blocks (heartbeats need the chain's clock to move) and
/// the contract at its shortest clock: one-hour epochs of one-minute slots, one-day
/// periods (the monitor's membership outlives the tests' warps). Nodes earn from the
/// epoch after they are added: [`start_earning`] moves the chain there.
pub fn network() -> ChainNet {
    let anvil = Anvil::start_with(&["--block-time", "1"]);
    let d = anvil.deploy_dev(&["--period", "1d", "--epoch", "1h", "--slot", "1m"]);
    let state_file = anvil.dir.join("unused-state.json");
    let net = ChainNet {
        anvil,
        contract: d.contract,
        token: d.token,
        deploy_block: d.block,
        state_file,
    };
    net.subscribe(MONITOR, 1);
    net
}

/// A chain-mode node run by dev account `key`, with `auth` lines in `[auth]`,
/// registered at `endpoint` (its own address unless given: a forwarder's, say).
pub fn start_node(net: &ChainNet, key: usize, auth: &str) -> Node {
    net.start_node_with(auth, "", &node_chain(net, key))
}

/// Like [`start_node`], with a TLS listener too (its self-signed pair kept in `dir`).
pub fn start_tls_node(net: &ChainNet, key: usize, dir: &std::path::Path) -> TlsNode {
    TlsNode::start(dir, &chain_node_sections("", "", &node_chain(net, key)))
}

/// The `[chain]` section of a node run by dev account `key`.
fn node_chain(net: &ChainNet, key: usize) -> String {
    format!(
        "[chain]\nrpc = [\"{}\"]\ncontract = \"{}\"\nkey = \"{}\"\ndeploy_block = {}\nstate_file = \"{}\"\npoll_secs = 1\nreorg_depth = 2\n",
        net.anvil.url,
        net.contract,
        net.anvil.key_file(key).display(),
        net.deploy_block,
        net.anvil.dir.join(format!("node{key}-state.json")).display()
    )
}

pub fn register(net: &ChainNet, key: usize, endpoint: SocketAddr) {
    register_entry(net, key, &endpoint.to_string());
}

/// Registers dev account `key` with a registry entry as written (`tls=… pin=…`, say).
pub fn register_entry(net: &ChainNet, key: usize, entry: &str) {
    net.run_ok(
        OWNER,
        &[
            "add-node",
            "--node",
            &dev(key).to_string(),
            "--endpoint",
            entry,
        ],
    );
}

/// Moves the chain to the first second of the next epoch (the one the nodes added so
/// far earn in) and returns that epoch.
pub fn start_earning(net: &ChainNet) -> u64 {
    net.warp_to_next_epoch();
    current_epoch(net)
}

pub fn current_epoch(net: &ChainNet) -> u64 {
    let client = net.anvil.client();
    net.contract(&client).current_epoch().unwrap()
}

/// Slots `node` has in `epoch` on chain (0 once withheld).
pub fn slots_in(net: &ChainNet, node: aqueduct::eth::Address, epoch: u64) -> u64 {
    let client = net.anvil.client();
    net.contract(&client)
        .heartbeats_in_epoch(node, epoch)
        .unwrap()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A running `aqueduct monitor`; SIGKILLed on drop.
pub struct Monitor {
    child: Option<Child>,
    pub dashboard: SocketAddr,
    pub config: PathBuf,
    pub db: PathBuf,
    log: PathBuf,
    starts: usize,
    pub dir: std::sync::Arc<TempDir>,
}

impl Monitor {
    /// Writes monitor.toml (test defaults: a round every 2 s, 1 s registry refresh,
    /// 256 KiB downloads, slow above 1.5 s, verdicts from 2 probes; `extra` lines are
    /// appended to `[monitor]`) and starts the monitor. `echo_url_port` is where nodes
    /// are told the echo endpoint is (the echo listens on `echo_port`).
    pub fn start(net: &ChainNet, echo_port: u16, echo_url_port: u16, extra: &str) -> Monitor {
        let dir = std::sync::Arc::new(TempDir::new("monitor"));
        let config = dir.path().join("monitor.toml");
        let db = dir.path().join("monitor.db");
        fs::write(
            &config,
            format!(
                "[chain]\nrpc = [\"{}\"]\nkey = \"{}\"\ncontract = \"{}\"\ndeploy_block = {}\nlog_chunk = 1000\n\n\
                 [monitor]\nlisten = \"127.0.0.1:0\"\necho_listen = \"127.0.0.1:{echo_port}\"\necho_url = \"http://127.0.0.1:{echo_url_port}\"\n\
                 database = \"{}\"\nprobe_every = \"2s\"\nprobe_timeout = 8\nregistry_refresh = \"1s\"\ndownload_bytes = 262144\n\
                 slow_latency_ms = 1500\nmin_probes = 2\n{extra}\n",
                net.anvil.url,
                net.anvil.key_file(MONITOR).display(),
                net.contract,
                net.deploy_block,
                db.display()
            ),
        )
        .unwrap();
        let mut m = Monitor {
            child: None,
            dashboard: SocketAddr::from(([127, 0, 0, 1], 0)),
            config,
            db,
            log: dir.path().join("monitor.log"),
            starts: 0,
            dir,
        };
        m.spawn();
        m
    }

    /// Starts (again) on the same config and database.
    pub fn spawn(&mut self) {
        self.starts += 1;
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
            .args(["monitor", "--config", path_str(&self.config)])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start aqueduct monitor");
        self.child = Some(child);
        let text = self.wait_log("dashboard on http://", self.starts);
        self.dashboard = text
            .lines()
            .rev()
            .find_map(|l| l.split("dashboard on http://").nth(1))
            .and_then(|rest| rest.trim_end_matches('/').parse().ok())
            .expect("dashboard address in the log");
    }

    pub fn log(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Waits (bounded: 90 s, rounds take seconds) until the log has `needle` `count` times.
    pub fn wait_log(&mut self, needle: &str, count: usize) -> String {
        let deadline = Instant::now() + 3 * WAIT;
        loop {
            let log = self.log();
            if log.matches(needle).count() >= count {
                return log;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("aqueduct monitor exited ({status}):\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "monitor log never had {count}x {needle:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Rounds stored so far (by the log).
    pub fn stored(&self) -> usize {
        self.log().matches(" stored").count()
    }

    /// Waits until `more` rounds beyond those stored now are stored.
    pub fn wait_rounds(&mut self, more: usize) {
        let n = self.stored() + more;
        self.wait_log(" stored", n);
    }

    /// SIGKILL, as a crash or the OOM killer would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// GET on the dashboard with curl: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let url = format!("http://{}{path}", self.dashboard);
        let out = super::proxy::curl(&["-w", "\n%{http_code}", &url]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    pub fn json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
    }

    /// `aqueduct monitor report --config … <args>`.
    pub fn report(&self, args: &[&str]) -> super::anvil::Run {
        let mut full = vec!["monitor", "report", "--config", path_str(&self.config)];
        full.extend_from_slice(args);
        aqueduct(&full)
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- monitor log ---\n{}", self.log());
        }
    }
}

/// The `/api/nodes` entry of `node`.
pub fn entry(nodes: &serde_json::Value, node: aqueduct::eth::Address) -> serde_json::Value {
    nodes
        .as_array()
        .expect("a list")
        .iter()
        .find(|n| n["node"] == node.to_string())
        .unwrap_or_else(|| panic!("{node} not in {nodes}"))
        .clone()
}
