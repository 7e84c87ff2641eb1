//! A whole network for the chain-mode tests: anvil with the contract and test token
//! deployed (`aqueduct deploy --dev`), dev account 1 registered as the node, and the
//! real `aqueduct node` started with `[auth] mode = "chain"` against it.
//!
//! Include after tools, anvil and proxy:
//! `#[path = "support/node.rs"] mod node;`.

#![allow(dead_code)]

use super::anvil::{aqueduct, dev_key, path_str, Anvil, Run};
use super::proxy::{
    connect, curl, curl_status, read_socks_replies, socks_handshake_bytes, Node, SocksTarget, WAIT,
};
use aqueduct::contract::Contract;
use aqueduct::credential::{self, NodeScope};
use aqueduct::eth::Address;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Dev account that runs the node.
pub const NODE_KEY: usize = 1;
/// Dev account that pays in most tests.
pub const MEMBER: usize = 2;
/// anvil's chain id.
pub const CHAIN_ID: u64 = 31337;

pub fn dev(i: usize) -> Address {
    dev_key(i).address()
}

pub use aqueduct::clock::unix_now;

pub struct ChainNet {
    pub anvil: Anvil,
    pub contract: Address,
    pub token: Address,
    pub deploy_block: u64,
    /// Kept across node restarts (lives in anvil's scratch directory).
    pub state_file: PathBuf,
}

impl ChainNet {
    /// Deploys with `flags` (e.g. `--period 1h --slot 1m`), registers the node and moves
    /// the chain to the start of the next epoch, the first one the node earns in.
    pub fn deploy(flags: &[&str]) -> ChainNet {
        ChainNet::deploy_on(Anvil::start(), flags)
    }

    pub fn deploy_on(anvil: Anvil, flags: &[&str]) -> ChainNet {
        let d = anvil.deploy_dev(flags);
        let state_file = anvil.dir.join("node-state.json");
        let net = ChainNet {
            anvil,
            contract: d.contract,
            token: d.token,
            deploy_block: d.block,
            state_file,
        };
        let node = dev(NODE_KEY).to_string();
        net.run_ok(
            0,
            &["add-node", "--node", &node, "--endpoint", "127.0.0.1:1080"],
        );
        net.warp_to_next_epoch();
        net
    }

    /// Moves the chain's clock to the first second of the next epoch and mines a block.
    pub fn warp_to_next_epoch(&self) {
        let client = self.anvil.client();
        let c = self.contract(&client);
        let (genesis, length) = (c.genesis().unwrap(), c.epoch_length().unwrap());
        let now = client
            .block(aqueduct::eth::rpc::BlockId::Latest)
            .unwrap()
            .unwrap()
            .timestamp;
        self.anvil
            .warp_to(genesis + ((now - genesis) / length + 1) * length);
    }

    /// Runs a chain command as dev account `key`.
    pub fn run(&self, key: usize, args: &[&str]) -> Run {
        let key = self.anvil.key_file(key);
        let contract = self.contract.to_string();
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--rpc", &self.anvil.url, "--contract", &contract]);
        // `nodes` signs nothing and refuses a key.
        if args.first() != Some(&"nodes") {
            full.extend(["--key", path_str(&key)]);
        }
        aqueduct(&full)
    }

    pub fn run_ok(&self, key: usize, args: &[&str]) -> Run {
        let run = self.run(key, args);
        assert!(run.ok, "aqueduct {args:?} failed: {}", run.stderr);
        run
    }

    pub fn subscribe(&self, key: usize, periods: u32) {
        self.run_ok(key, &["subscribe", "--periods", &periods.to_string()]);
    }

    /// The `[chain]` section for the node (1 s polls, a 2-block reorg window).
    pub fn chain_section(&self) -> String {
        format!(
            "[chain]\nrpc = [\"{}\"]\ncontract = \"{}\"\nkey = \"{}\"\ndeploy_block = {}\nstate_file = \"{}\"\npoll_secs = 1\nreorg_depth = 2\n",
            self.anvil.url,
            self.contract,
            self.anvil.key_file(NODE_KEY).display(),
            self.deploy_block,
            self.state_file.display()
        )
    }

    /// Starts the node; `auth_keys` go into `[auth]`, `sections` after it.
    pub fn start_node(&self, auth_keys: &str, sections: &str) -> Node {
        self.start_node_with(auth_keys, sections, &self.chain_section())
    }

    /// Like [`ChainNet::start_node`], with a `[chain]` section of the caller's.
    pub fn start_node_with(&self, auth_keys: &str, sections: &str, chain: &str) -> Node {
        Node::start(&chain_node_sections(auth_keys, sections, chain))
    }

    /// A credential of dev account `key`, signed by our own code.
    pub fn credential(&self, key: usize, scope: NodeScope, expires: u64) -> (String, String) {
        credential::sign(&dev_key(key), CHAIN_ID, self.contract, scope, expires)
    }

    /// A credential good for an hour on any node.
    pub fn good(&self, key: usize) -> (String, String) {
        self.credential(key, NodeScope::Any, unix_now() + 3600)
    }

    /// A SOCKS5 tunnel through `node` to `target` for member `key`, with a good
    /// credential; panics unless the node answers "succeeded".
    pub fn open_tunnel(&self, node: &Node, key: usize, target: SocketAddr) -> TcpStream {
        let (u, p) = self.good(key);
        let mut s = connect(node.addr());
        s.write_all(&socks_handshake_bytes(&u, &p, &SocksTarget::Addr(target)))
            .unwrap();
        assert_eq!(read_socks_replies(&mut s).unwrap().0, 0, "tunnel refused");
        s
    }

    pub fn contract<'c>(&self, client: &'c aqueduct::eth::rpc::Client) -> Contract<'c> {
        Contract::new(client, self.contract)
    }

    /// Transactions sent from `who` so far (mined).
    pub fn nonce(&self, who: Address) -> u64 {
        let v = self.anvil.rpc(
            "eth_getTransactionCount",
            serde_json::json!([who.to_lower_hex(), "latest"]),
        );
        u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }
}

/// `curl` through the node's HTTP proxy with a credential; returns the status.
/// A chain-mode node's sections: `auth_keys` in `[auth]`, private targets allowed (the
/// tests' origins are on loopback), then `sections` and the `[chain]` section.
pub fn chain_node_sections(auth_keys: &str, sections: &str, chain: &str) -> String {
    format!(
        "[auth]\nmode = \"chain\"\n{auth_keys}\n[policy]\nallow_private = true\n{sections}\n{chain}"
    )
}

pub fn http_status(node: &Node, cred: &(String, String), url: &str) -> u16 {
    let proxy = format!("http://{}", node.addr());
    let user = format!("{}:{}", cred.0, cred.1);
    curl_status(&["-x", &proxy, "--proxy-user", &user, url])
}

/// `curl` through the node's SOCKS5 proxy with a credential; the body on success.
pub fn socks_get(node: &Node, cred: &(String, String), url: &str) -> Result<String, String> {
    let proxy = format!("socks5h://{}", node.addr());
    let user = format!("{}:{}", cred.0, cred.1);
    let out = curl(&["--proxy", &proxy, "--proxy-user", &user, url]);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Retries `f` (bounded by `WAIT` twice over) until it returns true.
pub fn eventually(what: &str, node: &Node, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + 2 * WAIT;
    while !f() {
        assert!(
            Instant::now() < deadline,
            "never happened: {what}\n--- node log ---\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Every `Heartbeat` event of `node` so far.
pub fn heartbeats(net: &ChainNet, node: Address) -> Vec<aqueduct::contract::Heartbeat> {
    use aqueduct::contract::{sig, Heartbeat};
    let client = net.anvil.client();
    let head = client.block_number().unwrap();
    let filter = net.contract(&client).event_filter(sig::HEARTBEAT);
    client
        .logs(&filter, 0, head)
        .unwrap()
        .iter()
        .filter_map(|l| Heartbeat::from_log(l).ok())
        .filter(|h| h.node == node)
        .collect()
}

/// An anvil restarted by the test on the port of one it killed, loading the state the
/// first one kept dumping (`--state FILE --state-interval 1`), mining every second;
/// killed on drop.
pub struct RestartedAnvil(Option<std::process::Child>);

impl RestartedAnvil {
    pub fn start(port: u16, state: &std::path::Path) -> RestartedAnvil {
        use std::os::unix::process::CommandExt;
        let child = std::process::Command::new(super::tools::tool("anvil"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--block-time", "1", "--state"])
            .arg(state)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn anvil");
        let restarted = RestartedAnvil(Some(child));
        let client = Anvil::attach(&format!("http://127.0.0.1:{port}")).client();
        let deadline = Instant::now() + WAIT;
        while client.chain_id().is_err() {
            assert!(Instant::now() < deadline, "restarted anvil does not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        restarted
    }
}

impl Drop for RestartedAnvil {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            if let Ok(pgid) = i32::try_from(child.id()) {
                // SAFETY: kill(2) with a negative pid signals the group we created.
                unsafe { libc::kill(-pgid, libc::SIGKILL) };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
