//! The running service: the main thread owns the database (the one writer) and the
//! probe engine and runs a round every `probe_every`; a chain thread reads the chain's
//! clock, the registry and the `Heartbeat` logs every `registry_refresh` and hands them
//! over by channel; a withhold thread carries out the withhold decisions and answers on
//! the same channel; the dashboard thread reads the database on its own connection.

use super::chain::{Chain, Timing};
use super::clock::{self, unix_ms};
use super::config::{self, MonitorConfig};
use super::metrics::{Metrics, SharedMetrics};
use super::probe::{Engine, ProbeSettings};
use super::round::{plan, probe_endpoint, void_reason, Credentials, RegEntry};
use super::stats::Policy;
use super::store::{meta, Retention, RoundRecord, Store};
use super::web;
use super::withhold::{self, Done, Job};

use crate::contract::Heartbeat;
use crate::eth::keys::load_key;
use crate::eth::Address;
use std::collections::HashSet;
use std::net::ToSocketAddrs;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the chain thread learned.
enum News {
    Registry(Vec<RegEntry>),
    Heartbeats {
        beats: Vec<Heartbeat>,
        synced_to: u64,
    },
    /// The latest block's timestamp less the host's time, in ms.
    Clock(i64),
    /// The withhold thread's answer.
    Withheld(Done),
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
        let head = match chain.head_block() {
            Ok((number, timestamp)) => {
                let offset = (timestamp as i64).saturating_mul(1000) - unix_ms();
                if news.send(News::Clock(offset)).is_err() {
                    return;
                }
                Some(number)
            }
            Err(e) => {
                log::warn!("chain RPC: {e}");
                None
            }
        };
        match chain.registry() {
            Ok(nodes) => {
                let entries = nodes
                    .into_iter()
                    .map(|info| {
                        let probed = probe_endpoint(&info.endpoint);
                        RegEntry {
                            tls: probed.as_ref().ok().and_then(|(_, pin)| *pin),
                            addr: probed.and_then(|(addr, _)| resolve(&addr.to_string())),
                            info,
                        }
                    })
                    .collect();
                if news.send(News::Registry(entries)).is_err() {
                    return;
                }
            }
            Err(e) => log::warn!("cannot read the node registry: {e}; keeping the last one"),
        }
        if let Some(head) = head {
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
    let clock_offset = store.meta(meta::CLOCK_OFFSET_MS).map_err(db_err)?;
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
        m.api_origin.clone(),
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
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    {
        let answers = tx.clone();
        let withhold_chain = Chain::new(&cfg.chain)?;
        let sender = crate::eth::sender::Sender::new(key.clone(), chain_id);
        if m.withhold {
            match withhold_chain.monitor() {
                Ok(a) if a == member => log::info!("withhold on: this key is the contract's monitor"),
                Ok(a) => log::warn!(
                    "[monitor] withhold = true, but the contract's monitor is {a}, not this key ({member}): withholds will fail (the owner runs `aqueduct set-monitor --monitor {member}`)"
                ),
                Err(e) => log::warn!("cannot read the contract's monitor: {e}"),
            }
        } else {
            log::info!(
                "withhold off ([monitor] withhold = false): decisions are logged as dry runs"
            );
        }
        std::thread::Builder::new()
            .name("withhold".into())
            .spawn(move || {
                withhold::run_thread(withhold_chain, sender, jobs_rx, |d| {
                    answers.send(News::Withheld(d)).is_ok()
                })
            })
            .map_err(|e| format!("cannot start the withhold thread: {e}"))?;
    }
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
        timing,
        clock_offset,
        jobs: jobs_tx,
        in_flight: HashSet::new(),
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
    timing: Timing,
    /// The chain's clock less the host's (None until the first block is read).
    clock_offset: Option<i64>,
    jobs: Sender<Job>,
    /// Withholds handed to the withhold thread and not answered yet.
    in_flight: HashSet<(Address, u64)>,
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

    /// Now on the chain's clock, in ms.
    fn now_ms(&self) -> i64 {
        clock::chain_ms(self.clock_offset.unwrap_or(0))
    }

    /// After a round that started at `started_ms` (chain time): decides for the epoch
    /// just ended, once, and hands over what is not done yet.
    fn withholds(&mut self, started_ms: i64) -> rusqlite::Result<()> {
        let t = self.timing;
        let epoch = t.epoch_at((started_ms / 1000).max(0) as u64);
        let Some(ended) = epoch.checked_sub(1) else {
            return Ok(());
        };
        let now = self.now_ms();
        let policy = policy(&self.cfg);
        let todo = withhold::decide(&mut self.store, &t, ended, &policy, now)?;
        for w in todo {
            if !self.in_flight.insert((w.node, w.epoch)) {
                continue;
            }
            let job = Job {
                node: w.node,
                epoch: w.epoch,
                evidence: w.evidence,
                dry_run: !self.cfg.monitor.withhold,
            };
            if self.jobs.send(job).is_err() {
                log::warn!("the withhold thread stopped");
            }
        }
        Ok(())
    }

    fn take(&mut self, news: News, registry: &mut Option<Vec<RegEntry>>) -> Result<(), String> {
        let db = &self.cfg.monitor.database;
        match news {
            News::Clock(measured) => {
                let next = clock::next_offset(self.clock_offset, measured);
                if self.clock_offset != Some(next) {
                    log::info!(
                        "clock: the chain's time is the host's {:+.1} s",
                        next as f64 / 1000.0
                    );
                    self.clock_offset = Some(next);
                    self.store
                        .set_meta(meta::CLOCK_OFFSET_MS, next)
                        .map_err(|e| format!("database {}: {e}", db.display()))?;
                }
            }
            News::Withheld(done) => {
                self.in_flight.remove(&(done.node, done.epoch));
                let now = self.now_ms();
                withhold::record(&mut self.store, &done, now)
                    .map_err(|e| format!("database {}: {e}", db.display()))?;
            }
            News::Registry(entries) => {
                let infos: Vec<_> = entries.iter().map(|e| e.info.clone()).collect();
                self.store
                    .save_registry(self.now_ms(), &infos)
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
            let started_ms = self.now_ms();
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
                finished_ms: self.now_ms(),
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
            self.withholds(record.started_ms)
                .map_err(|e| format!("database {}: {e}", self.cfg.monitor.database.display()))?;
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
