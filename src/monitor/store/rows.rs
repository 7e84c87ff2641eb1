//! The rows the store hands out, and the state of a withhold.

use super::*;

/// Where a withhold stands. Stored as its code; the row is written before the chain
/// is asked, so a restart finds every decision it made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WithholdState {
    /// Decided, handed to the chain thread, no answer yet (a restart asks again).
    Pending,
    /// `withhold` mined.
    Sent,
    /// `[monitor] withhold = false`: logged, never sent.
    DryRun,
    /// The node had no slots left in the epoch (never heartbeated, or already withheld).
    NoSlots,
    /// The challenge window closed before it could be sent.
    Missed,
    /// The last attempt failed; retried while the window is open.
    Failed,
}

impl WithholdState {
    pub const ALL: [WithholdState; 6] = [
        WithholdState::Pending,
        WithholdState::Sent,
        WithholdState::DryRun,
        WithholdState::NoSlots,
        WithholdState::Missed,
        WithholdState::Failed,
    ];
    pub fn code(self) -> i64 {
        match self {
            WithholdState::Pending => 0,
            WithholdState::Sent => 1,
            WithholdState::DryRun => 2,
            WithholdState::NoSlots => 3,
            WithholdState::Missed => 4,
            WithholdState::Failed => 5,
        }
    }
    pub fn from_code(c: i64) -> WithholdState {
        WithholdState::ALL
            .into_iter()
            .find(|s| s.code() == c)
            .unwrap_or(WithholdState::Failed)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            WithholdState::Pending => "pending",
            WithholdState::Sent => "sent",
            WithholdState::DryRun => "dry_run",
            WithholdState::NoSlots => "no_slots",
            WithholdState::Missed => "missed",
            WithholdState::Failed => "failed",
        }
    }
    /// Nothing more will be done for it.
    pub fn is_final(self) -> bool {
        !matches!(self, WithholdState::Pending | WithholdState::Failed)
    }
}

/// One withhold decision as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct WithholdRow {
    pub node: Address,
    pub epoch: u64,
    pub state: WithholdState,
    pub probes: i64,
    pub relayed: i64,
    pub evidence: [u8; 32],
    pub evidence_text: String,
    pub slots: Option<i64>,
    pub tx_hash: Option<[u8; 32]>,
    pub detail: Option<String>,
    pub updated_ms: i64,
}

/// What a node said it served, summed over its heartbeats in a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReportedUsage {
    pub heartbeats: i64,
    pub sessions: i64,
    pub bytes_relayed: i64,
    /// The most distinct members one heartbeat reported (distinct counts do not add up).
    pub members_max: i64,
}

/// One finished round as the service hands it over.
#[derive(Debug, Clone)]
pub struct RoundRecord {
    pub started_ms: i64,
    pub finished_ms: i64,
    /// Why the round counts against nobody, when it does not count.
    pub void_reason: Option<String>,
    pub probes: Vec<Measured>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoundRow {
    pub id: i64,
    pub started_ms: i64,
    pub finished_ms: i64,
    pub nodes: i64,
    pub relayed: i64,
    pub void_reason: Option<String>,
}

/// A stored probe, with its round's start and whether that round was void.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRow {
    pub round: i64,
    pub at_ms: i64,
    pub void: bool,
    pub node: Address,
    pub path: ProbePath,
    pub outcome: Outcome,
    pub connect_us: Option<i64>,
    /// The TLS handshake (probes of a TLS endpoint that got that far).
    pub tls_us: Option<i64>,
    pub login_us: Option<i64>,
    pub latency_us: Option<i64>,
    pub download_bytes: i64,
    pub download_us: Option<i64>,
    pub egress: Option<String>,
    pub detail: Option<String>,
}

impl ProbeRow {
    pub fn kbps(&self) -> Option<f64> {
        let us = self.download_us.filter(|u| *u > 0)?;
        (self.download_bytes > 0).then(|| self.download_bytes as f64 * 8000.0 / us as f64)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub node: Address,
    pub endpoint: String,
    pub active: bool,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HourRow {
    pub hour: i64,
    pub probes: i64,
    pub relayed: i64,
    pub ok: i64,
    pub latency_p50_us: Option<i64>,
    pub latency_p95_us: Option<i64>,
    pub kbps: Option<f64>,
}
