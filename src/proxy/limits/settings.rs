//! The engine's side of `[limits]`' operator controls, as validated by
//! `config::operator` (units already converted: bytes and bytes per second).

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct OperatorLimits {
    /// Bytes per second, all sessions together.
    pub max_rate: Option<u64>,
    pub monthly: Option<Monthly>,
    pub yield_to_host: Option<YieldToHost>,
    /// Bytes per second, one member's sessions together.
    pub per_member_rate: Option<u64>,
    /// Bytes per UTC day, one member.
    pub per_member_daily: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Monthly {
    pub bytes: u64,
    /// Day of month (1-31) a period starts; past a month's end, its last day.
    pub starts_on: u32,
    /// Where the count is kept; `None`: `allowance.json` in the state directory.
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct YieldToHost {
    /// Bytes per second, each direction of the uplink.
    pub link: u64,
    /// Left to the host even when it is quiet.
    pub reserve: u64,
    /// Interfaces to read; empty: every one but loopback.
    pub interfaces: Vec<String>,
    /// Where the counters are read: `/proc/net/dev`, or the host's as a container sees it.
    pub counters_file: PathBuf,
}
