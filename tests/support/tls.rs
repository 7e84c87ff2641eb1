//! `aqueduct node` with a plain and a TLS listener, for the TLS tests (the proxy's own
//! and `aqueduct local`'s).

use super::proxy::{base_config, WAIT};
use aqueduct::tls::Pin;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// `aqueduct node` with one plain and one TLS listener, its config in `dir` (so a
/// restart in the same directory finds the same self-signed pair).
pub struct TlsNode {
    child: Child,
    pub plain: SocketAddr,
    pub tls: SocketAddr,
    pub pin: Pin,
    log: PathBuf,
}

impl TlsNode {
    pub fn start(dir: &Path, sections: &str) -> TlsNode {
        let ready = dir.join("ready");
        let _ = fs::remove_file(&ready);
        let text = format!(
            "[node]\nlisten = [\"127.0.0.1:0\"]\ntls_listen = [\"127.0.0.1:0\"]\nready_file = \"{}\"\n{sections}\n{}",
            ready.display(),
            base_config(dir)
        );
        let config = dir.join("node.toml");
        fs::write(&config, text).unwrap();
        let log = dir.join(format!(
            "node-{}.log",
            fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
        ));
        let child = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
            .args(["node", "--config"])
            .arg(&config)
            .env("RUST_LOG", "debug")
            .env_remove("STATE_DIRECTORY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + WAIT;
        let addrs: Vec<SocketAddr> = loop {
            if let Ok(text) = fs::read_to_string(&ready) {
                let addrs: Vec<SocketAddr> = text.lines().filter_map(|l| l.parse().ok()).collect();
                if addrs.len() == 2 {
                    break addrs;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node did not start: {}",
                fs::read_to_string(&log).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(20));
        };
        let text = fs::read_to_string(&log).unwrap();
        let pin = text
            .split_whitespace()
            .find(|w| w.starts_with("sha256//"))
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no pin logged: {text}"));
        TlsNode {
            child,
            plain: addrs[0],
            tls: addrs[1],
            pin,
            log,
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) until the log holds `needle` `count` times.
    pub fn wait_log(&self, needle: &str, count: usize) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let log = self.log();
            if log.matches(needle).count() >= count || Instant::now() > deadline {
                return log;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TlsNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
