//! Counters the chain threads keep for the metrics endpoint and `aqueduct status`.
//! Identical to the pinned `proxy::metrics::ChainStats` (ops); replaced by it on merge.

use std::sync::atomic::AtomicU64;

#[derive(Debug, Default)]
pub struct ChainStats {
    pub heartbeats_sent: AtomicU64,
    pub heartbeats_failed: AtomicU64,
    pub heartbeats_skipped: AtomicU64,
    pub last_heartbeat_unix: AtomicU64,
    pub members_known: AtomicU64,
    pub rpc_errors: AtomicU64,
}
