//! The node's chain side (`[auth] mode = "chain"`): who may use the proxy, and proof
//! that the node is online.
//!
//! - [`auth`]: the authenticator on the event loop: credentials checked locally, the
//!   member table in memory; an address the table does not list waits for its next
//!   sync, or, while the table is still catching up, is looked up (rate-limited).
//! - [`membership`]: the chain thread: syncs the member table from `Subscribed` logs
//!   ([`members`] persists it), says when it is current to the head, polls early when
//!   sessions wait (at most once a second), answers lookups, reports the chain's clock.
//! - [`heartbeat`]: a second thread sending `imOnline` once per slot.
//!
//! The threads block on the RPC; the loop never does. The membership thread talks to the
//! loop through an mpsc channel each way and wakes it with the server's `mio::Waker`; the
//! heartbeat thread needs no channel: it reads the loop's `serving` flag and the usage
//! counters, and both threads write the shared [`stats::ChainStats`].
//!
//! What a client sees:
//! - a credential that fails a check (malformed, expired, lifetime beyond
//!   `auth.max_credential_lifetime_secs`, scoped to another node, signature not by the
//!   username) or a non-member: SOCKS5 auth status 1 / HTTP 407, and one log line naming
//!   the check (never the password);
//! - a member already holding `auth.max_sessions_per_member` sessions here: SOCKS5 auth
//!   status 1 / HTTP 403 (the credential is fine; retrying helps once a session ends);
//! - a member whose access ends: their open sessions are closed within seconds
//!   (`outcome=account's access ended`);
//! - a member who has just paid: served on the first try once the payment is mined
//!   (their session waits about a second for the sync that lists them).
//!
//! With the RPC down, members already known are served until their access ends (by the
//! chain's clock, extrapolated) and unknown addresses are refused; lookups resume when
//! it answers. Membership is judged by the chain's clock (its head's timestamp), the
//! credential's expiry by the local one.
//!
//! Config: `[auth] mode = "chain"`, `max_credential_lifetime_secs` (30 days),
//! `max_sessions_per_member` (64), `negative_cache_secs` (30); `[heartbeat] enabled`
//! (true); `[chain] rpc, contract, key, password_file|password_env, deploy_block,
//! state_file` (default `$STATE_DIRECTORY/chain-state.json`, else `<config>.state.json`
//! next to the config file), `reorg_depth` (12), `poll_secs` (5), `log_chunk` (5000).

pub mod auth;
pub mod heartbeat;
pub mod members;
pub mod membership;
pub mod stats;
pub mod usage;

use crate::config::Config;
use crate::contract::Contract;
use crate::credential::Verifier;
use crate::eth::keys::load_key;
use crate::eth::rpc::{Client, RpcConfig};
use crate::eth::sender::Sender;
use crate::eth::Address;
use crate::proxy::settings::AuthMode;
use crate::proxy::Server;
use members::{MemberState, MemberView};
use stats::ChainStats;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// From the loop to the chain thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToChain {
    /// Is this address a member? Asked once while its sessions wait.
    Lookup(Address),
    /// Sessions wait for a sync (their address is not in the table yet): poll soon.
    /// The number comes back in the `Synced` of the first poll started after it.
    Poll(u64),
}

/// From the chain thread to the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToLoop {
    /// The member table, sent when it changed (shared with the chain thread, not copied).
    Members(MemberView),
    Lookup {
        member: Address,
        answer: LookupAnswer,
    },
    /// The table last sent lists every `Subscribed` log up to `block`, the head just
    /// read: until `valid_for` has passed without another, an address it does not list
    /// is not a member. `answers`: the latest `Poll` received before the head was read.
    Synced {
        block: u64,
        valid_for: Duration,
        answers: u64,
    },
    /// The chain's time (unix seconds) now.
    Clock(u64),
    /// Whether the RPC answers.
    Rpc { up: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupAnswer {
    Member {
        until: u64,
    },
    NotMember,
    /// The RPC did not answer: the address stays unknown (and is refused).
    Unavailable,
}

/// The running chain side; dropping it stops the heartbeat thread (the chain thread
/// stops when the server, holding the other end of its channel, is gone).
pub struct ChainSide {
    pub stats: Arc<ChainStats>,
    pub node: Address,
    stop: Arc<AtomicBool>,
}

impl Drop for ChainSide {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Where the member state goes without `chain.state_file`: systemd's StateDirectory
/// when set, else next to the config file.
pub fn default_state_file(config_path: &Path) -> PathBuf {
    crate::config::default_state_path(config_path, "chain-state.json", ".state.json")
}

fn rpc_client(urls: &[String], log_chunk: u64) -> Result<Client, String> {
    let mut cfg = RpcConfig::new(urls.to_vec());
    cfg.log_chunk = log_chunk;
    // A lookup holds a session in its handshake: fail fast and let the next poll retry.
    cfg.timeout = Duration::from_secs(8);
    cfg.attempts = 2;
    crate::contract::client(cfg).map_err(|e| format!("chain.rpc: {e}"))
}

/// Sets up mode "chain" on a bound server: loads the key, learns the chain id, loads
/// the member state, installs the authenticator and starts the chain threads.
pub fn attach(
    config: &Config,
    config_path: &Path,
    server: &mut Server,
) -> Result<ChainSide, String> {
    if config.engine.auth.mode != AuthMode::Chain {
        return Err("auth.mode is not \"chain\"".into());
    }
    let chain = config
        .chain
        .as_ref()
        .ok_or("auth.mode \"chain\" needs a [chain] section")?;
    let (Some(key_path), Some(contract)) = (chain.key.as_ref(), chain.contract) else {
        return Err("auth.mode \"chain\" needs chain.key and chain.contract".into());
    };
    let key = load_key(key_path, chain.password.as_ref())
        .map_err(|e| format!("chain.key {}: {e}", key_path.display()))?;
    let node = key.address();
    let client = rpc_client(&chain.rpc, chain.log_chunk)?;
    let state_file = chain
        .state_file
        .clone()
        .unwrap_or_else(|| default_state_file(config_path));
    let saved = MemberState::load(&state_file).unwrap_or_else(|e| {
        log::warn!("{e}; starting a fresh member table");
        None
    });

    let chain_id = match client.chain_id() {
        Ok(id) => {
            // A wrong address is refused here rather than retried by every sync.
            Contract::new(&client, contract)
                .ensure_aqueduct()
                .map_err(|e| format!("chain.contract: {e}"))?;
            id
        }
        Err(e) => match &saved {
            Some(s) if s.contract == contract => {
                log::warn!(
                    "chain RPC unreachable at startup ({e}); serving the {} members of {} until it answers",
                    s.members.len(),
                    state_file.display()
                );
                s.chain_id
            }
            _ => {
                return Err(format!(
                    "cannot learn the chain id: {e} (check chain.rpc; the node needs the chain once to start)"
                ))
            }
        },
    };
    let state = match saved {
        Some(s) if s.chain_id == chain_id && s.contract == contract => s,
        Some(_) => {
            log::warn!(
                "{} belongs to another chain or contract; starting a fresh member table",
                state_file.display()
            );
            MemberState::new(chain_id, contract)
        }
        None => MemberState::new(chain_id, contract),
    };
    log::info!(
        "chain mode: node {node}, contract {contract}, chain id {chain_id}, {} members from {} (synced to block {})",
        state.members.len(),
        state_file.display(),
        state
            .synced_to
            .map_or_else(|| "none".to_string(), |b| b.to_string())
    );

    let stats = Arc::new(ChainStats::default());
    let serving = Arc::new(AtomicBool::new(true));
    let stop = Arc::new(AtomicBool::new(false));
    let (to_chain, requests) = mpsc::channel();
    let (to_loop, from_chain) = mpsc::channel();
    let verifier = Verifier {
        chain_id,
        contract,
        node,
        max_lifetime: config.chain_auth.max_credential_lifetime.as_secs(),
    };
    let auth = auth::ChainAuth::new(
        verifier,
        config.chain_auth,
        state.view(&Arc::default()),
        to_chain,
        from_chain,
        Arc::clone(&serving),
    );

    let membership = membership::Membership {
        client,
        contract,
        deploy_block: chain.deploy_block,
        log_chunk: chain.log_chunk,
        reorg_depth: chain.reorg_depth,
        poll_interval: chain.poll_interval,
        state_file,
        state,
        to_loop,
        requests,
        waker: server.waker(),
        stats: Arc::clone(&stats),
    };
    std::thread::Builder::new()
        .name("chain".into())
        .spawn(move || membership.run())
        .map_err(|e| format!("cannot start the chain thread: {e}"))?;

    let served = Arc::new(usage::UsageCounters::default());
    if config.heartbeat.enabled {
        let heartbeats = heartbeat::Heartbeats {
            client: rpc_client(&chain.rpc, chain.log_chunk)?,
            sender: Sender::new(key, chain_id),
            contract,
            poll_interval: chain.poll_interval,
            serving,
            allowance_used_up: server.allowance_used_up(),
            stats: Arc::clone(&stats),
            stop: Arc::clone(&stop),
            usage: Arc::clone(&served),
            metrics_url: server.metrics_addr().map(usage::metrics_url),
        };
        std::thread::Builder::new()
            .name("heartbeat".into())
            .spawn(move || heartbeats.run())
            .map_err(|e| format!("cannot start the heartbeat thread: {e}"))?;
    } else {
        log::info!("heartbeat.enabled = false: this node sends no heartbeats");
    }

    server.set_authenticator(Box::new(usage::Counting::new(Box::new(auth), served)));
    server.add_metrics(Arc::clone(&stats) as _);
    Ok(ChainSide { stats, node, stop })
}
