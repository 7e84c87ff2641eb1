//! Counters the chain threads keep for the metrics endpoint and `aqueduct status`, and
//! how `/metrics` shows them (the engine renders them through [`MetricFamilies`]).

use crate::proxy::metrics::{family, MetricFamilies};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the chain thread reports; it stores, the metrics endpoint and `aqueduct status`
/// (through the endpoint) read. Shared as `Arc<ChainStats>`.
#[derive(Debug)]
pub struct ChainStats {
    pub heartbeats_sent: AtomicU64,
    pub heartbeats_failed: AtomicU64,
    pub heartbeats_skipped: AtomicU64,
    /// Unix time (seconds) of the last heartbeat that landed; 0 = none yet.
    pub last_heartbeat_unix: AtomicU64,
    pub members_known: AtomicU64,
    pub rpc_errors: AtomicU64,
    /// The node's ETH balance as last read before a heartbeat, in gwei; `u64::MAX`: not
    /// read yet.
    pub balance_gwei: AtomicU64,
}

impl Default for ChainStats {
    fn default() -> Self {
        ChainStats {
            heartbeats_sent: AtomicU64::new(0),
            heartbeats_failed: AtomicU64::new(0),
            heartbeats_skipped: AtomicU64::new(0),
            last_heartbeat_unix: AtomicU64::new(0),
            members_known: AtomicU64::new(0),
            rpc_errors: AtomicU64::new(0),
            balance_gwei: AtomicU64::new(u64::MAX),
        }
    }
}

impl MetricFamilies for ChainStats {
    fn render(&self, out: &mut String) {
        render_chain(out, self);
    }
}

/// The chain thread's numbers; only present on a node that runs one.
fn render_chain(out: &mut String, chain: &ChainStats) {
    let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
    family(
        out,
        "aqueduct_heartbeats_total",
        "counter",
        "imOnline heartbeats, by result: sent (landed), failed, skipped (checked first and not sent).",
    );
    for (label, n) in [
        ("sent", &chain.heartbeats_sent),
        ("failed", &chain.heartbeats_failed),
        ("skipped", &chain.heartbeats_skipped),
    ] {
        let _ = writeln!(
            out,
            "aqueduct_heartbeats_total{{result=\"{label}\"}} {}",
            get(n)
        );
    }
    family(
        out,
        "aqueduct_last_heartbeat_timestamp_seconds",
        "gauge",
        "Unix time of the last heartbeat that landed; 0 if none yet.",
    );
    let _ = writeln!(
        out,
        "aqueduct_last_heartbeat_timestamp_seconds {}",
        get(&chain.last_heartbeat_unix)
    );
    family(
        out,
        "aqueduct_members_known",
        "gauge",
        "Members in the node's table synced from the chain.",
    );
    let _ = writeln!(out, "aqueduct_members_known {}", get(&chain.members_known));
    family(
        out,
        "aqueduct_rpc_errors_total",
        "counter",
        "Failed JSON-RPC requests of the chain thread.",
    );
    let _ = writeln!(out, "aqueduct_rpc_errors_total {}", get(&chain.rpc_errors));
    let gwei = get(&chain.balance_gwei);
    if gwei != u64::MAX {
        family(
            out,
            "aqueduct_eth_balance",
            "gauge",
            "The node's ETH balance (for gas), as last read before a heartbeat.",
        );
        let _ = writeln!(out, "aqueduct_eth_balance {}", gwei as f64 / 1e9);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::metrics::sample;

    #[test]
    fn chain_stats_are_read_live() {
        let chain = ChainStats::default();
        chain.heartbeats_sent.store(4, Ordering::Relaxed);
        chain.heartbeats_skipped.store(1, Ordering::Relaxed);
        chain
            .last_heartbeat_unix
            .store(1_700_000_000, Ordering::Relaxed);
        chain.members_known.store(12, Ordering::Relaxed);
        chain.rpc_errors.store(2, Ordering::Relaxed);
        let mut text = String::new();
        chain.render(&mut text);
        let get = |s: &str| sample(&text, s).unwrap_or_else(|| panic!("{s} missing:\n{text}"));
        assert_eq!(get("aqueduct_heartbeats_total{result=\"sent\"}"), 4.0);
        assert_eq!(get("aqueduct_heartbeats_total{result=\"failed\"}"), 0.0);
        assert_eq!(get("aqueduct_heartbeats_total{result=\"skipped\"}"), 1.0);
        assert_eq!(get("aqueduct_last_heartbeat_timestamp_seconds"), 1.7e9);
        assert_eq!(get("aqueduct_members_known"), 12.0);
        assert_eq!(get("aqueduct_rpc_errors_total"), 2.0);
        assert!(
            sample(&text, "aqueduct_eth_balance").is_none(),
            "not read yet"
        );
        chain.balance_gwei.store(1_500_000_000, Ordering::Relaxed);
        let mut text = String::new();
        chain.render(&mut text);
        assert_eq!(sample(&text, "aqueduct_eth_balance"), Some(1.5));
    }
}
