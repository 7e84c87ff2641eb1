//! The running service: the main thread owns the database (the one writer) and the
//! probe engine and runs a round every `probe_every`; a chain thread reads the registry
//! and the `Heartbeat` logs every `registry_refresh` and hands them over by channel; the
//! dashboard thread reads the database on its own connection.

use super::chain::Chain;
use super::config::{self, MonitorConfig};
use super::metrics::{Metrics, SharedMetrics};
use super::probe::{Engine, ProbeSettings};
use super::round::{plan, void_reason, Credentials, RegEntry};
use super::stats::Policy;
use super::store::{meta, Retention, RoundRecord, Store};
use super::web;
use crate::contract::Heartbeat;
use crate::endpoint::Endpoint;
use crate::eth::keys::load_key;
use std::net::ToSocketAddrs;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the chain thread learned.
enum News {
    Registry(Vec<RegEntry>),
    Heartbeats {
        beats: Vec<Heartbeat>,
        synced_to: u64,
    },
}

pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub fn policy(cfg: &MonitorConfig) -> Policy {
    Policy {
        flag_below: cfg.monitor.flag_below,
        remove_below: cfg.monitor.remove_below,
        min_probes: cfg.monitor.min_probes,
    }
}

fn resolve(endpoint: &str) -> Result<std::net::SocketAddr, String> {
    endpoint
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {endpoint}: {e}"))?
        .next()
        .ok_or_else(|| format!("{endpoint} has no address"))
}

/// The chain thread's body: registry and heartbeats, then sleep, forever (it ends when
/// the main thread's receiver is gone).
fn chain_thread(chain: Chain, mut synced_to: Option<u64>, every: Duration, news: Sender<News>) {
    loop {
        match chain.registry() {
            Ok(nodes) => {
                let entries = nodes
                    .into_iter()
                    .map(|info| RegEntry {
                        addr: Endpoint::plain_only(&info.endpoint)
                            .and_then(|plain| resolve(&plain.to_string())),
                        info,
                    })
                    .collect();
                if news.send(News::Registry(entries)).is_err() {
                    return;
                }
            }
            Err(e) => log::warn!("cannot read the node registry: {e}; keeping the last one"),
        }
        match chain.head() {
            Ok(head) => {
                // Re-read the last reorg_depth blocks: a reorganised heartbeat replaces itself.
                let from = synced_to
                    .map_or(chain.deploy_block, |s| {
                        (s + 1).saturating_sub(chain.reorg_depth)
                    })
                    .max(chain.deploy_block);
                if from <= head {
                    match chain.heartbeats(from, head) {
                        Ok(beats) => {
                            synced_to = Some(head);
                            if news
                                .send(News::Heartbeats {
                                    beats,
                                    synced_to: head,
                                })
                                .is_err()
                            {
                                return;
                            }
                        }
                        Err(e) => log::warn!("cannot read Heartbeat logs {from}..{head}: {e}"),
                    }
                }
            }
            Err(e) => log::warn!("chain RPC: {e}"),
        }
        std::thread::sleep(every);
    }
}

/// Runs the monitor until it is killed.
pub fn run(config_path: &Path) -> Result<(), String> {
    let cfg = config::load(config_path).map_err(|e| format!("{}: {e}", config_path.display()))?;
    let m = &cfg.monitor;
    let key_path = cfg.chain.key.clone().ok_or("chain.key is required")?;
    let key = load_key(&key_path, cfg.chain.password.as_ref())
        .map_err(|e| format!("chain.key {}: {e}", key_path.display()))?;
    let chain = Chain::new(&cfg.chain)?;
    let chain_id = chain.chain_id().map_err(|e| format!("chain.rpc: {e}"))?;
    let timing = chain.timing().map_err(|e| format!("chain.contract: {e}"))?;
    let member = key.address();
    let now = (unix_ms() / 1000) as u64;
    match chain.member_until(member) {
        Ok(until) if until <= now => log::warn!(
            "the monitor's key {member} has no paid membership: every node will refuse it (run `aqueduct subscribe`)"
        ),
        Ok(_) => {}
        Err(e) => log::warn!("cannot read the monitor's membership: {e}"),
    }
    let mut store =
        Store::open(&m.database).map_err(|e| format!("database {}: {e}", m.database.display()))?;
    let db_err = |e: rusqlite::Error| format!("database {}: {e}", m.database.display());
    store
        .set_meta(meta::GENESIS, timing.genesis as i64)
        .map_err(db_err)?;
    store
        .set_meta(meta::EPOCH_LENGTH, timing.epoch_length as i64)
        .map_err(db_err)?;
    store
        .set_meta(meta::SLOT_LENGTH, timing.slot_length as i64)
        .map_err(db_err)?;
    let synced_to = store
        .meta(meta::HEARTBEATS_SYNCED_TO)
        .map_err(db_err)?
        .map(|b| b.max(0) as u64);

    let engine = Engine::bind(m.echo_listen)
        .map_err(|e| format!("monitor.echo_listen {}: {e}", m.echo_listen))?;
    let metrics: SharedMetrics = Arc::new(Mutex::new(Metrics::default()));
    let dashboard = web::Dashboard::bind(
        m.listen,
        m.database.clone(),
        Arc::clone(&metrics),
        policy(&cfg),
    )
    .map_err(|e| format!("monitor.listen {}: {e}", m.listen))?;
    log::info!(
        "monitor: member {member}, contract {}, chain id {chain_id}, database {} (schema {})",
        chain.contract_address(),
        m.database.display(),
        store.schema_version().unwrap_or(0)
    );
    log::info!("dashboard on http://{}/", dashboard.local_addr());
    log::info!(
        "echo endpoint on {} (nodes reach it as http://{})",
        engine.echo_addr(),
        m.echo_url.authority()
    );
    std::thread::Builder::new()
        .name("dashboard".into())
        .spawn(move || dashboard.serve())
        .map_err(|e| format!("cannot start the dashboard thread: {e}"))?;
    let (tx, rx) = mpsc::channel();
    let every = m.registry_refresh;
    std::thread::Builder::new()
        .name("chain".into())
        .spawn(move || chain_thread(chain, synced_to, every, tx))
        .map_err(|e| format!("cannot start the chain thread: {e}"))?;

    let creds = Credentials::new(
        key,
        chain_id,
        cfg.chain.contract.unwrap_or_default(),
        m.credential_ttl.as_secs(),
    );
    Service {
        cfg: cfg.clone(),
        store,
        engine,
        metrics,
        creds,
        news: rx,
    }
    .run()
}

struct Service {
    cfg: MonitorConfig,
    store: Store,
    engine: Engine,
    metrics: SharedMetrics,
    creds: Credentials,
    news: Receiver<News>,
}

impl Service {
    fn settings(&self) -> ProbeSettings {
        let m = &self.cfg.monitor;
        ProbeSettings {
            parallel: m.parallel,
            timeout: m.probe_timeout,
            download_bytes: m.download_bytes,
            slow_latency: m.slow_latency,
            slow_throughput_kbps: m.slow_throughput_kbps,
            echo: m.echo_url.clone(),
        }
    }

    fn take(&mut self, news: News, registry: &mut Option<Vec<RegEntry>>) -> Result<(), String> {
        let db = &self.cfg.monitor.database;
        match news {
            News::Registry(entries) => {
                let infos: Vec<_> = entries.iter().map(|e| e.info.clone()).collect();
                self.store
                    .save_registry(unix_ms(), &infos)
                    .map_err(|e| format!("database {}: {e}", db.display()))?;
                let active = entries.iter().filter(|e| e.info.active).count();
                if registry
                    .as_ref()
                    .map(|r| r.iter().filter(|e| e.info.active).count())
                    != Some(active)
                {
                    log::info!("registry: {active} active nodes of {}", entries.len());
                }
                *registry = Some(entries);
            }
            News::Heartbeats { beats, synced_to } => {
                if !beats.is_empty() {
                    log::debug!("{} heartbeats read up to block {synced_to}", beats.len());
                }
                self.store
                    .save_heartbeats(&beats, synced_to)
                    .map_err(|e| format!("database {}: {e}", db.display()))?;
            }
        }
        Ok(())
    }

    fn run(mut self) -> Result<(), String> {
        let mut registry: Option<Vec<RegEntry>> = None;
        let mut next_round = Instant::now();
        let mut round_no = self.store.round_count().unwrap_or(0) as u64;
        let retention = Retention {
            probe_days: self.cfg.monitor.retention_days,
            rollup_days: self.cfg.monitor.rollup_days,
        };
        loop {
            let wait = if registry.is_none() {
                Duration::from_secs(3600)
            } else {
                next_round.saturating_duration_since(Instant::now())
            };
            match self.news.recv_timeout(wait) {
                Ok(news) => {
                    self.take(news, &mut registry)?;
                    continue;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err("the chain thread stopped".into())
                }
            }
            let Some(reg) = registry.as_ref() else {
                continue;
            };
            if Instant::now() < next_round {
                continue;
            }
            let started = Instant::now();
            next_round = started + self.cfg.monitor.probe_every;
            let started_ms = unix_ms();
            let (targets, mut results) =
                plan(reg, &mut self.creds, round_no, (started_ms / 1000) as u64);
            round_no += 1;
            log::info!(
                "round started: probing {} nodes",
                targets.len() + results.len()
            );
            let settings = self.settings();
            let mut measured = self.engine.run_round(targets, &settings);
            measured.append(&mut results);
            let took = started.elapsed();
            let record = RoundRecord {
                started_ms,
                finished_ms: unix_ms(),
                void_reason: void_reason(&measured),
                probes: measured,
            };
            let id = self
                .store
                .record_round(&record, &retention)
                .map_err(|e| format!("database {}: {e}", self.cfg.monitor.database.display()))?;
            if let Ok(mut metrics) = self.metrics.lock() {
                metrics.record_round(&record, took);
            }
            let socks: Vec<_> = record
                .probes
                .iter()
                .filter(|p| p.path == super::probe::ProbePath::Socks)
                .collect();
            let relayed = socks.iter().filter(|p| p.outcome.relayed()).count();
            for p in record
                .probes
                .iter()
                .filter(|p| p.outcome != super::outcome::Outcome::Ok)
            {
                log::info!(
                    "round {id}: node {} ({}): {}: {}",
                    p.node,
                    p.path.as_str(),
                    p.outcome,
                    p.detail
                );
            }
            match &record.void_reason {
                None => log::info!(
                    "round {id} stored: {relayed} of {} nodes relayed in {:.1} s",
                    socks.len(),
                    took.as_secs_f64()
                ),
                Some(why) => log::warn!("round {id} stored as void: {why}"),
            }
        }
    }
}
