//! A real anvil for a test: started on a free loopback port, ready once it answers
//! eth_chainId (bounded wait), killed when dropped. Also: anvil's well-known dev keys,
//! key files in a per-test directory, and running the `aqueduct` binary.
//!
//! Test files include it after the toolchain finder:
//! `#[path = "support/tools.rs"] mod tools;` then `#[path = "support/anvil.rs"] mod anvil;`.

#![allow(dead_code)]

use aqueduct::eth::rpc::{Client, RpcConfig};
use aqueduct::eth::signer::PrivateKey;
use aqueduct::eth::{hex, Address};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Private keys of anvil's default mnemonic (public test keys, never use elsewhere).
pub const DEV_KEYS: [&str; 10] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "dbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

/// Dev account `i`'s key.
pub fn dev_key(i: usize) -> PrivateKey {
    PrivateKey::from_bytes(&hex::decode_array(DEV_KEYS[i]).expect("hex")).expect("key")
}

/// What `aqueduct deploy --dev --json` reported.
pub struct Deployed {
    pub contract: Address,
    pub token: Address,
    pub block: u64,
}

pub struct Anvil {
    child: Option<Child>,
    pub port: u16,
    pub url: String,
    /// Scratch directory for key files and the like, removed on drop.
    pub dir: PathBuf,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

static DIRS: AtomicU32 = AtomicU32::new(0);

impl Anvil {
    pub fn start() -> Anvil {
        Anvil::start_with(&[])
    }

    /// Starts anvil with extra flags (e.g. `--no-mining`). A port taken between
    /// picking and binding makes anvil exit: then it is tried again on another port.
    pub fn start_with(extra: &[&str]) -> Anvil {
        let dir = std::env::temp_dir().join(format!(
            "aqueduct-test-{}-{}",
            std::process::id(),
            DIRS.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create test dir");
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(super::tools::tool("anvil"))
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                // The npm `anvil` is a node wrapper that spawns the real binary: a process
                // group of its own lets `kill` stop both.
                .process_group(0)
                .spawn()
                .expect("spawn anvil");
            let stdout = child.stdout.take().expect("anvil stdout");
            let mut anvil = Anvil {
                child: Some(child),
                port,
                url: format!("http://127.0.0.1:{port}"),
                dir: dir.clone(),
            };
            // Our anvil, not whatever else may answer on that port, says it listens;
            // the reader keeps draining its output so it never blocks on a full pipe.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if line.contains("Listening on") {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(());
                        }
                    }
                }
            });
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(()) => {
                    anvil.wait_ready();
                    return anvil;
                }
                Err(_) => {
                    // Exited (port taken) or hung: stop it without removing the dir.
                    anvil.kill();
                    anvil.dir = PathBuf::new();
                }
            }
        }
        panic!("anvil did not start on a free loopback port after 5 tries");
    }

    /// A handle on an anvil started elsewhere (e.g. for another thread); dropping it
    /// does not stop that anvil.
    pub fn attach(url: &str) -> Anvil {
        Anvil {
            child: None,
            port: url
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0),
            url: url.to_string(),
            dir: std::env::temp_dir().join(format!(
                "aqueduct-test-{}-{}",
                std::process::id(),
                DIRS.fetch_add(1, Ordering::Relaxed)
            )),
        }
    }

    fn wait_ready(&mut self) {
        let client = self.client();
        for _ in 0..600 {
            if client.chain_id().is_ok() {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("anvil exited at startup: {status}");
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "anvil did not answer eth_chainId within 30 s on port {}",
            self.port
        );
    }

    /// A client with short timeouts and a single quick retry: tests should not wait long.
    pub fn client(&self) -> Client {
        let mut cfg = RpcConfig::new(vec![self.url.clone()]);
        cfg.timeout = Duration::from_secs(10);
        cfg.attempts = 1;
        cfg.backoff = Duration::from_millis(10);
        Client::new(cfg)
            .expect("client")
            .with_revert_decoder(aqueduct::contract::decode_revert)
    }

    /// A raw JSON-RPC call (anvil_*, evm_*, txpool_*), panicking on error.
    pub fn rpc(&self, method: &str, params: Value) -> Value {
        self.client()
            .request(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// Advances the chain clock by `seconds` and mines a block.
    pub fn warp(&self, seconds: u64) {
        self.rpc("evm_increaseTime", json!([seconds]));
        self.rpc("evm_mine", json!([]));
    }

    /// Mines the next block at exactly `timestamp` (later blocks go on from there).
    pub fn warp_to(&self, timestamp: u64) {
        self.rpc("evm_setNextBlockTimestamp", json!([timestamp]));
        self.rpc("evm_mine", json!([]));
    }

    /// Writes dev key `i` to a 0600 file and returns its path.
    pub fn key_file(&self, i: usize) -> PathBuf {
        let path = self.dir.join(format!("dev{i}.key"));
        if !path.exists() {
            std::fs::write(&path, format!("0x{}\n", DEV_KEYS[i])).expect("write key");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .expect("chmod key");
        }
        path
    }

    /// Runs `aqueduct deploy --dev` as dev account 0 with `extra` flags.
    pub fn deploy_dev(&self, extra: &[&str]) -> Deployed {
        let key = self.key_file(0);
        let mut args = vec![
            "deploy",
            "--dev",
            "--json",
            "--rpc",
            &self.url,
            "--key",
            path_str(&key),
        ];
        args.extend(extra);
        let out = aqueduct(&args).json();
        let address = |k: &str| -> Address {
            out[k]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("address in deploy output")
        };
        Deployed {
            contract: address("contract"),
            token: address("token"),
            block: out["deploy_block"].as_u64().expect("deploy block"),
        }
    }

    /// Stops anvil now (to test an RPC outage).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pgid) = i32::try_from(child.id()) {
                // SAFETY: kill(2) with a negative pid signals the group we created.
                unsafe { libc::kill(-pgid, libc::SIGKILL) };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The result of running the `aqueduct` binary.
pub struct Run {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        assert!(self.ok, "command failed: {}", self.stderr);
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// Runs `aqueduct <args>` with progress output silenced and no AQUEDUCT_RPC inherited.
pub fn aqueduct(args: &[&str]) -> Run {
    aqueduct_with_rpc_env(args, None)
}

/// Like [`aqueduct`], with AQUEDUCT_RPC set to `rpc_env` when given.
pub fn aqueduct_with_rpc_env(args: &[&str], rpc_env: Option<&str>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aqueduct"));
    cmd.args(args)
        .env("AQUEDUCT_QUIET", "1")
        .env_remove("AQUEDUCT_RPC");
    if let Some(v) = rpc_env {
        cmd.env("AQUEDUCT_RPC", v);
    }
    let out: Output = cmd.stdin(Stdio::null()).output().expect("run aqueduct");
    Run {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `cast <args>` and returns its trimmed stdout, panicking on failure.
pub fn cast(args: &[&str]) -> String {
    let out = Command::new(super::tools::tool("cast"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run cast");
    assert!(
        out.status.success(),
        "cast {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}
