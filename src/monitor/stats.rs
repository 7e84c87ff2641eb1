//! What the stored rows say about each node: the dashboard's summary (state, uptime
//! over 24 h / 7 d / 30 d, share of slots heartbeated, latency, throughput, egress, last
//! failure), its per-epoch view (heartbeats beside probe results), and the report's
//! verdicts with the removal policy. Void rounds count for nobody, everywhere.

use super::chain::Timing;
use super::outcome::Outcome;
use super::probe::ProbePath;
use super::store::{
    meta, percentile, NodeRow, ProbeRow, ReportedUsage, Result, Store, WithholdState,
};
use crate::eth::Address;
use serde::Serialize;

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// What the thresholds are.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Heartbeats with a success share below this: flagged ("heartbeats while failing probes").
    pub flag_below: f64,
    /// Success share below this: the report says to remove the node.
    pub remove_below: f64,
    /// Fewer counted probes than this in the window: no verdict.
    pub min_probes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Up,
    Slow,
    WrongEgress,
    Down,
    /// Heartbeats while failing probes.
    Flagged,
    Unmeasured,
    Removed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Up => "up",
            State::Slow => "slow",
            State::WrongEgress => "wrong_egress",
            State::Down => "down",
            State::Flagged => "flagged",
            State::Unmeasured => "unmeasured",
            State::Removed => "removed",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub at_ms: i64,
    pub outcome: String,
    pub detail: String,
}

/// The flag that matters most, as the dashboard and the API spell it.
pub const FLAG: &str = "heartbeats while failing probes";

#[derive(Debug, Clone, Serialize)]
pub struct NodeSummary {
    pub node: String,
    /// `node` in lower case: the key the website matches the registry on.
    pub address: String,
    pub endpoint: String,
    pub active: bool,
    pub state: State,
    /// Relayed share of counted probes, 0..1; None without probes in the window.
    pub uptime_24h: Option<f64>,
    pub uptime_7d: Option<f64>,
    pub uptime_30d: Option<f64>,
    pub probes_24h: i64,
    pub heartbeats_24h: i64,
    pub slots_24h: i64,
    pub heartbeat_share_24h: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub throughput_kbps: Option<f64>,
    pub egress: Option<String>,
    pub last_outcome: Option<String>,
    pub last_probe_ms: Option<i64>,
    pub last_failure: Option<Failure>,
    /// The p50 again, under the name the website reads.
    pub latency_ms: Option<f64>,
    /// `state` is `up`: what the website counts as a healthy node.
    pub healthy: bool,
    /// Heartbeats in the last 24 h while the probe success share was below the limit.
    pub flagged: bool,
    /// [`FLAG`] when flagged.
    pub flag: Option<&'static str>,
    /// What the node says it served in its heartbeats of the last 24 h: self-reported,
    /// shown beside the monitor's own measurements above, never instead of them.
    pub reported_usage_24h: ReportedUsage,
    /// Epochs whose pay the monitor withheld from this node (sent on chain).
    pub withheld_epochs: i64,
}

pub fn timing(store: &Store) -> Result<Option<Timing>> {
    Ok(
        match (
            store.meta(meta::GENESIS)?,
            store.meta(meta::EPOCH_LENGTH)?,
            store.meta(meta::SLOT_LENGTH)?,
        ) {
            (Some(g), Some(e), Some(s)) if e > 0 && s > 0 => Some(Timing {
                genesis: g as u64,
                epoch_length: e as u64,
                slot_length: s as u64,
            }),
            _ => None,
        },
    )
}

fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Heartbeats of `node` and slots that passed in `[since_ms, now_ms]` (not before the
/// node was first seen).
pub fn heartbeat_slots(
    store: &Store,
    t: &Timing,
    node: &NodeRow,
    since_ms: i64,
    now_ms: i64,
) -> Result<(i64, i64)> {
    let from = since_ms.max(node.first_seen_ms).max(0) as u64 / 1000;
    let first = t.slot_at(from);
    let last = t.slot_at((now_ms.max(0) as u64) / 1000);
    let slots = (last + 1).saturating_sub(first) as i64;
    let beats = store
        .heartbeats(node.node, first as i64)?
        .into_iter()
        .filter(|(slot, _)| *slot <= last as i64)
        .count() as i64;
    Ok((beats, slots))
}

fn counted(rows: &[ProbeRow]) -> impl Iterator<Item = &ProbeRow> {
    rows.iter()
        .filter(|p| !p.void && p.path == ProbePath::Socks)
}

pub fn summarise(
    store: &Store,
    node: &NodeRow,
    now_ms: i64,
    policy: &Policy,
) -> Result<NodeSummary> {
    let day = store.probes(node.node, now_ms - DAY_MS)?;
    let mut lat: Vec<i64> = counted(&day).filter_map(|p| p.latency_us).collect();
    lat.sort_unstable();
    let kbps: Vec<f64> = counted(&day).filter_map(ProbeRow::kbps).collect();
    let probes_24h = counted(&day).count() as i64;
    let relayed_24h = counted(&day).filter(|p| p.outcome.relayed()).count() as i64;
    let last = counted(&day).last();
    let (uptime_7d, uptime_30d) = {
        let (n7, r7) = store.uptime_counts(node.node, now_ms - 7 * DAY_MS)?;
        let (n30, r30) = store.uptime_counts(node.node, now_ms - 30 * DAY_MS)?;
        (share(r7, n7), share(r30, n30))
    };
    let t = timing(store)?;
    let (heartbeats_24h, slots_24h) = match t {
        Some(t) => heartbeat_slots(store, &t, node, now_ms - DAY_MS, now_ms)?,
        None => (0, 0),
    };
    let reported_usage_24h = match t {
        Some(t) => {
            let slot = |ms: i64| t.slot_at((ms.max(0) as u64) / 1000) as i64;
            store.reported_usage(node.node, slot(now_ms - DAY_MS), slot(now_ms))?
        }
        None => ReportedUsage::default(),
    };
    let withheld_epochs = store
        .withholds(Some(node.node), i64::MAX)?
        .iter()
        .filter(|w| w.state == WithholdState::Sent)
        .count() as i64;
    let uptime_24h = share(relayed_24h, probes_24h);
    let flagged = heartbeats_24h > 0 && uptime_24h.is_some_and(|u| u < policy.flag_below);
    let state = if !node.active {
        State::Removed
    } else if flagged {
        State::Flagged
    } else {
        match last.map(|p| p.outcome) {
            None => State::Unmeasured,
            Some(Outcome::Ok) => State::Up,
            Some(Outcome::Slow) => State::Slow,
            Some(Outcome::WrongEgress) => State::WrongEgress,
            Some(_) => State::Down,
        }
    };
    let last_failure = store
        .last_failure(node.node, now_ms - 30 * DAY_MS)?
        .map(|p| Failure {
            at_ms: p.at_ms,
            outcome: p.outcome.as_str().to_string(),
            detail: p.detail.unwrap_or_default(),
        });
    let latency_p50_ms = percentile(&lat, 50).map(|us| us as f64 / 1000.0);
    Ok(NodeSummary {
        node: node.node.to_string(),
        address: node.node.to_lower_hex(),
        endpoint: node.endpoint.clone(),
        active: node.active,
        state,
        uptime_24h,
        uptime_7d,
        uptime_30d,
        probes_24h,
        heartbeats_24h,
        slots_24h,
        heartbeat_share_24h: share(heartbeats_24h, slots_24h).map(|s| s.min(1.0)),
        latency_p50_ms,
        latency_ms: latency_p50_ms,
        healthy: state == State::Up,
        latency_p95_ms: percentile(&lat, 95).map(|us| us as f64 / 1000.0),
        throughput_kbps: (!kbps.is_empty()).then(|| kbps.iter().sum::<f64>() / kbps.len() as f64),
        egress: day.iter().rev().find_map(|p| p.egress.clone()),
        last_outcome: last.map(|p| p.outcome.as_str().to_string()),
        last_probe_ms: last.map(|p| p.at_ms),
        last_failure,
        flagged,
        flag: flagged.then_some(FLAG),
        reported_usage_24h,
        withheld_epochs,
    })
}

pub fn summaries(store: &Store, now_ms: i64, policy: &Policy) -> Result<Vec<NodeSummary>> {
    store
        .nodes()?
        .iter()
        .map(|n| summarise(store, n, now_ms, policy))
        .collect()
}

/// One epoch of one node: its heartbeats beside the monitor's probes in that epoch.
#[derive(Debug, Clone, Serialize)]
pub struct EpochRow {
    pub epoch: u64,
    pub start: u64,
    pub heartbeats: i64,
    pub slots: u64,
    pub probes: i64,
    pub relayed: i64,
    pub success: Option<f64>,
    pub flagged: bool,
    /// What the node reported in that epoch's heartbeats (self-reported).
    pub reported_usage: ReportedUsage,
    /// What the monitor did about the epoch's pay, if anything (`sent`, `dry_run`, …).
    pub withhold: Option<WithholdState>,
}

/// The last `count` epochs of `node` (newest first) since it was first seen.
pub fn epochs(
    store: &Store,
    t: &Timing,
    node: &NodeRow,
    now_ms: i64,
    count: u64,
    policy: &Policy,
) -> Result<Vec<EpochRow>> {
    let now = (now_ms.max(0) as u64) / 1000;
    let current = t.epoch_at(now);
    let first_seen_epoch = t.epoch_at((node.first_seen_ms.max(0) as u64) / 1000);
    let oldest = current
        .saturating_sub(count.saturating_sub(1))
        .max(first_seen_epoch);
    let from_slot = oldest * t.slots_per_epoch();
    let beats = store.heartbeats(node.node, from_slot as i64)?;
    let probes = store.probes(node.node, t.epoch_start(oldest) as i64 * 1000)?;
    let withholds = store.withholds(Some(node.node), count as i64)?;
    let mut out = Vec::new();
    for epoch in (oldest..=current).rev() {
        let start = t.epoch_start(epoch) as i64 * 1000;
        let end = t.epoch_start(epoch + 1) as i64 * 1000;
        let heartbeats = beats.iter().filter(|(_, e)| *e as u64 == epoch).count() as i64;
        let in_epoch: Vec<&ProbeRow> = counted(&probes)
            .filter(|p| p.at_ms >= start && p.at_ms < end)
            .collect();
        let relayed = in_epoch.iter().filter(|p| p.outcome.relayed()).count() as i64;
        let success = share(relayed, in_epoch.len() as i64);
        out.push(EpochRow {
            epoch,
            start: t.epoch_start(epoch),
            heartbeats,
            slots: t.slots_per_epoch(),
            probes: in_epoch.len() as i64,
            relayed,
            success,
            flagged: heartbeats > 0 && success.is_some_and(|s| s < policy.flag_below),
            reported_usage: store.reported_usage(
                node.node,
                (epoch * t.slots_per_epoch()) as i64,
                ((epoch + 1) * t.slots_per_epoch()) as i64 - 1,
            )?,
            withhold: withholds.iter().find(|w| w.epoch == epoch).map(|w| w.state),
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Healthy,
    Slow,
    Flaky,
    WrongEgress,
    /// Heartbeats (so it is paid) while failing the monitor's probes.
    Lazy,
    Down,
    Unmeasured,
    Removed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Healthy => "healthy",
            Verdict::Slow => "slow",
            Verdict::Flaky => "flaky",
            Verdict::WrongEgress => "wrong_egress",
            Verdict::Lazy => "lazy",
            Verdict::Down => "down",
            Verdict::Unmeasured => "unmeasured",
            Verdict::Removed => "removed",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Judged {
    pub node: String,
    #[serde(skip)]
    pub address: Address,
    pub endpoint: String,
    pub verdict: Verdict,
    pub reason: String,
    pub remove: bool,
    pub probes: i64,
    pub relayed: i64,
    pub heartbeats: i64,
    pub slots: i64,
    pub outcomes: std::collections::BTreeMap<String, i64>,
}

/// The verdict on `node` over `[since_ms, now_ms]`, and whether the policy removes it:
/// a node is removed when it heartbeats while failing (lazy) or relays less than
/// `remove_below` of its probes (down), over at least `min_probes` counted probes.
pub fn judge(
    store: &Store,
    node: &NodeRow,
    since_ms: i64,
    now_ms: i64,
    p: &Policy,
) -> Result<Judged> {
    let rows = store.probes(node.node, since_ms)?;
    let mut outcomes = std::collections::BTreeMap::new();
    for r in counted(&rows) {
        *outcomes.entry(r.outcome.as_str().to_string()).or_insert(0) += 1;
    }
    let n = counted(&rows).count() as i64;
    let relayed = counted(&rows).filter(|r| r.outcome.relayed()).count() as i64;
    let of = |o: Outcome| outcomes.get(o.as_str()).copied().unwrap_or(0);
    let (heartbeats, slots) = match timing(store)? {
        Some(t) => heartbeat_slots(store, &t, node, since_ms, now_ms)?,
        None => (0, 0),
    };
    let success = share(relayed, n).unwrap_or(0.0);
    let pct = |x: f64| format!("{:.0}%", x * 100.0);
    let worst = counted(&rows)
        .filter(|r| !r.outcome.relayed())
        .fold(
            std::collections::BTreeMap::<Outcome, i64>::new(),
            |mut m, r| {
                *m.entry(r.outcome).or_default() += 1;
                m
            },
        )
        .into_iter()
        .max_by_key(|(_, c)| *c)
        .map(|(o, c)| format!("{c}x {o}"))
        .unwrap_or_default();
    let (verdict, reason) = if !node.active {
        (Verdict::Removed, "no longer in the registry".to_string())
    } else if (n as u64) < p.min_probes {
        (
            Verdict::Unmeasured,
            format!(
                "{n} counted probes, fewer than the {} a verdict needs",
                p.min_probes
            ),
        )
    } else if heartbeats > 0 && success < p.flag_below {
        (
            Verdict::Lazy,
            format!(
                "heartbeats while failing probes: {heartbeats} heartbeats, {} of {n} probes relayed ({}; {worst})",
                relayed,
                pct(success)
            ),
        )
    } else if success < p.remove_below {
        (
            Verdict::Down,
            format!(
                "{relayed} of {n} probes relayed ({}; {worst})",
                pct(success)
            ),
        )
    } else if of(Outcome::WrongEgress) * 2 > n {
        (
            Verdict::WrongEgress,
            format!(
                "{} of {n} probes left from another address than the endpoint's",
                of(Outcome::WrongEgress)
            ),
        )
    } else if success < 0.9 {
        (
            Verdict::Flaky,
            format!(
                "{relayed} of {n} probes relayed ({}; {worst})",
                pct(success)
            ),
        )
    } else if of(Outcome::Slow) * 2 > n {
        (
            Verdict::Slow,
            format!("{} of {n} probes slow", of(Outcome::Slow)),
        )
    } else {
        (
            Verdict::Healthy,
            format!("{relayed} of {n} probes relayed ({})", pct(success)),
        )
    };
    Ok(Judged {
        node: node.node.to_string(),
        address: node.node,
        endpoint: node.endpoint.clone(),
        remove: matches!(verdict, Verdict::Lazy | Verdict::Down),
        verdict,
        reason,
        probes: n,
        relayed,
        heartbeats,
        slots,
        outcomes,
    })
}

/// A node the policy says should not be paid for `epoch`: it heartbeated in that epoch
/// while relaying less than `flag_below` of the monitor's counted probes (void rounds
/// excluded). `evidence` is keccak256 of the probe rows as [`evidence_text`] writes
/// them, what the contract's `withhold(node, epoch, reason, evidence)` carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WithholdCandidate {
    pub node: String,
    #[serde(skip)]
    pub address: Address,
    pub epoch: u64,
    pub heartbeats: i64,
    pub probes: i64,
    pub relayed: i64,
    pub evidence: String,
}

/// One line per counted probe, in round order: `round,path,outcome,latency_us,egress`.
pub fn evidence_text(rows: &[&ProbeRow]) -> String {
    rows.iter()
        .map(|p| {
            format!(
                "{},{},{},{},{}\n",
                p.round,
                p.path.as_str(),
                p.outcome.as_str(),
                p.latency_us.map_or(String::new(), |l| l.to_string()),
                p.egress.as_deref().unwrap_or("")
            )
        })
        .collect()
}

/// A node that failed its probes in a finished epoch: it relayed less than `flag_below`
/// of the counted probes in it (void rounds excluded). Whether it heartbeated is the
/// chain's to say (the withhold thread asks); the report asks the stored heartbeats.
#[derive(Debug, Clone, PartialEq)]
pub struct Failing {
    pub address: Address,
    pub probes: i64,
    pub relayed: i64,
    pub evidence_text: String,
    /// keccak256 of `evidence_text`: what `withhold` carries.
    pub evidence_hash: [u8; 32],
}

/// The nodes that failed their probes in `epoch` (see [`Failing`]).
pub fn failing_in_epoch(
    store: &Store,
    t: &Timing,
    epoch: u64,
    policy: &Policy,
) -> Result<Vec<Failing>> {
    let start = t.epoch_start(epoch) as i64 * 1000;
    let end = t.epoch_start(epoch + 1) as i64 * 1000;
    let mut out = Vec::new();
    for node in store.nodes()? {
        let rows = store.probes(node.node, start)?;
        let counted: Vec<&ProbeRow> = counted(&rows).filter(|p| p.at_ms < end).collect();
        let relayed = counted.iter().filter(|p| p.outcome.relayed()).count() as i64;
        // No counted probe in the epoch is no evidence: nobody is withheld on silence.
        if share(relayed, counted.len() as i64).is_some_and(|s| s < policy.flag_below) {
            let evidence_text = evidence_text(&counted);
            out.push(Failing {
                address: node.node,
                probes: counted.len() as i64,
                relayed,
                evidence_hash: crate::eth::keccak256(evidence_text.as_bytes()),
                evidence_text,
            });
        }
    }
    Ok(out)
}

/// The nodes to withhold for a finished `epoch` by the stored heartbeats (see
/// [`WithholdCandidate`]).
pub fn withhold_candidates(
    store: &Store,
    t: &Timing,
    epoch: u64,
    policy: &Policy,
) -> Result<Vec<WithholdCandidate>> {
    let from_slot = (epoch * t.slots_per_epoch()) as i64;
    let mut out = Vec::new();
    for f in failing_in_epoch(store, t, epoch, policy)? {
        let heartbeats = store
            .heartbeats(f.address, from_slot)?
            .iter()
            .filter(|(_, e)| *e as u64 == epoch)
            .count() as i64;
        if heartbeats == 0 {
            continue;
        }
        out.push(WithholdCandidate {
            node: f.address.to_string(),
            address: f.address,
            epoch,
            heartbeats,
            probes: f.probes,
            relayed: f.relayed,
            evidence: crate::eth::hex::encode_prefixed(&f.evidence_hash),
        });
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::contract::{Heartbeat, NodeInfo};
    use crate::monitor::probe::Measured;
    use crate::monitor::store::{Retention, RoundRecord};
    use std::time::Duration;

    fn probe(node: u8, outcome: Outcome) -> Measured {
        Measured {
            node: Address([node; 20]),
            path: ProbePath::Socks,
            outcome,
            detail: String::new(),
            connect: None,
            tls: None,
            login: None,
            latency: outcome.relayed().then(|| Duration::from_millis(5)),
            download_bytes: 0,
            download: None,
            egress: None,
        }
    }

    /// Epoch 0 runs 1000..1600 s; node 1 serves, node 2 heartbeats and refuses, node 3
    /// refuses without heartbeats; one round is void (everybody failed).
    pub(crate) fn fixture(tag: &str) -> (Store, Timing) {
        let dir = std::env::temp_dir().join(format!("aq-stats-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Store::open(&dir.join("m.db")).unwrap();
        let t = Timing {
            genesis: 1000,
            epoch_length: 600,
            slot_length: 60,
        };
        let infos: Vec<NodeInfo> = (1..=3u8)
            .map(|b| NodeInfo {
                node: Address([b; 20]),
                endpoint: format!("127.0.0.1:{b}"),
                active: true,
            })
            .collect();
        s.save_registry(1_000_000, &infos).unwrap();
        // What the service writes at start: the contract's clock.
        s.set_meta(meta::GENESIS, 1000).unwrap();
        s.set_meta(meta::EPOCH_LENGTH, 600).unwrap();
        s.set_meta(meta::SLOT_LENGTH, 60).unwrap();
        let keep = Retention {
            probe_days: 90,
            rollup_days: 365,
        };
        for (i, void) in [(0i64, false), (1, false), (2, true), (3, false)] {
            let at = 1_100_000 + i * 60_000;
            let probes = if void {
                vec![
                    probe(1, Outcome::Timeout),
                    probe(2, Outcome::Timeout),
                    probe(3, Outcome::Timeout),
                ]
            } else {
                vec![
                    probe(1, Outcome::Ok),
                    probe(2, Outcome::AuthRefused),
                    probe(3, Outcome::AuthRefused),
                ]
            };
            s.record_round(
                &RoundRecord {
                    started_ms: at,
                    finished_ms: at + 10,
                    void_reason: void.then(|| "3 of 3".into()),
                    probes,
                },
                &keep,
            )
            .unwrap();
        }
        let beats: Vec<Heartbeat> = [1u8, 2]
            .iter()
            .flat_map(|b| {
                (1..4).map(move |slot| Heartbeat {
                    node: Address([*b; 20]),
                    epoch: 0,
                    slot,
                    usage: crate::contract::Usage {
                        sessions: slot,
                        bytes_relayed: 1000 * slot,
                        members: slot,
                    },
                    block_number: slot,
                })
            })
            .collect();
        s.save_heartbeats(&beats, 10).unwrap();
        (s, t)
    }

    const POLICY: Policy = Policy {
        flag_below: 0.5,
        remove_below: 0.5,
        min_probes: 2,
    };

    #[test]
    fn only_the_node_paid_while_failing_is_withheld_with_its_evidence() {
        let (s, t) = fixture("withhold");
        let c = withhold_candidates(&s, &t, 0, &POLICY).unwrap();
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].address, Address([2; 20]));
        assert_eq!(
            (c[0].heartbeats, c[0].probes, c[0].relayed),
            (3, 3, 0),
            "the void round is left out"
        );
        let rows = s.probes(Address([2; 20]), 0).unwrap();
        let counted: Vec<&ProbeRow> = rows.iter().filter(|p| !p.void).collect();
        let text = evidence_text(&counted);
        assert_eq!(text.lines().count(), 3);
        assert!(
            text.lines().all(|l| l.contains(",socks5,auth_refused,")),
            "{text}"
        );
        assert_eq!(
            c[0].evidence,
            crate::eth::hex::encode_prefixed(&crate::eth::keccak256(text.as_bytes()))
        );
        // Nothing in an epoch without probes.
        assert!(withhold_candidates(&s, &t, 5, &POLICY).unwrap().is_empty());
    }

    #[test]
    fn reported_usage_is_shown_beside_the_measurements() {
        let (s, t) = fixture("usage");
        let now = 1_400_000;
        let nodes = s.nodes().unwrap();
        let lazy = summarise(&s, &nodes[1], now, &POLICY).unwrap();
        // Node 2 says it served 1 + 2 + 3 sessions while it relayed none of the probes.
        assert_eq!(
            lazy.reported_usage_24h,
            ReportedUsage {
                heartbeats: 3,
                sessions: 6,
                bytes_relayed: 6000,
                members_max: 3
            }
        );
        assert_eq!(lazy.uptime_24h, Some(0.0));
        assert!(lazy.flagged);
        assert_eq!(lazy.flag, Some(FLAG));
        assert!(!lazy.healthy);
        let quiet = summarise(&s, &nodes[2], now, &POLICY).unwrap();
        assert_eq!(quiet.reported_usage_24h, ReportedUsage::default());
        assert_eq!(quiet.flag, None);
        let e = epochs(&s, &t, &nodes[1], now, 1, &POLICY).unwrap();
        assert_eq!(e[0].reported_usage.sessions, 6);
        assert_eq!(e[0].withhold, None);
        // The website's names: lower-case address and the p50 as latency_ms.
        let serving = summarise(&s, &nodes[0], now, &POLICY).unwrap();
        assert_eq!(serving.address, Address([1; 20]).to_lower_hex());
        assert!(serving.healthy);
        assert_eq!(serving.latency_ms, serving.latency_p50_ms);
    }

    #[test]
    fn verdicts_and_epochs_side_by_side() {
        let (s, t) = fixture("verdicts");
        let now = 1_400_000;
        let nodes = s.nodes().unwrap();
        let v: Vec<(Verdict, bool)> = nodes
            .iter()
            .map(|n| {
                judge(&s, n, 0, now, &POLICY)
                    .map(|j| (j.verdict, j.remove))
                    .unwrap()
            })
            .collect();
        assert_eq!(
            v,
            [
                (Verdict::Healthy, false),
                (Verdict::Lazy, true),
                (Verdict::Down, true)
            ]
        );
        let e = epochs(&s, &t, &nodes[1], now, 3, &POLICY).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].heartbeats, e[0].probes, e[0].flagged), (3, 3, true));
        let sum = summarise(&s, &nodes[0], now, &POLICY).unwrap();
        assert_eq!(sum.state, State::Up);
        assert_eq!(sum.uptime_24h, Some(1.0));
        assert_eq!(sum.probes_24h, 3);
        let strict = Policy {
            min_probes: 4,
            ..POLICY
        };
        assert_eq!(
            judge(&s, &nodes[1], 0, now, &strict).unwrap().verdict,
            Verdict::Unmeasured
        );
    }
}
