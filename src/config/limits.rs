//! `[limits]`: sessions, handshake bytes, buffers, handshakes per client; and the
//! operator controls (rates, allowance, yielding, per-member caps: [`super::operator`]).

use super::ConfigError;
use crate::proxy::limits::settings::OperatorLimits;
use crate::proxy::settings::{Limits, DEFAULT_LIMITS};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_sessions: Option<usize>,
    pub max_handshake_bytes: Option<usize>,
    pub buffer_bytes: Option<usize>,
    pub max_handshakes_per_client: Option<usize>,
    pub max_mbit: Option<f64>,
    pub monthly_gb: Option<f64>,
    pub month_starts_on: Option<u32>,
    pub allowance_file: Option<PathBuf>,
    pub yield_to_host: Option<bool>,
    pub link_mbit: Option<f64>,
    pub reserve_mbit: Option<f64>,
    pub interfaces: Option<Vec<String>>,
    pub net_dev_file: Option<PathBuf>,
    pub per_member_mbit: Option<f64>,
    pub per_member_daily_gb: Option<f64>,
}

impl RawLimits {
    pub fn validate(self) -> Result<(Limits, OperatorLimits), ConfigError> {
        let raw = self;
        let operator = raw.validate_operator()?;
        let d = DEFAULT_LIMITS;
        let max_sessions = raw.max_sessions.unwrap_or(d.max_sessions);
        if !(1..=1_000_000).contains(&max_sessions) {
            return Err(ConfigError::new(
                "limits.max_sessions",
                "must be 1 to 1000000",
            ));
        }
        let buffer_bytes = raw.buffer_bytes.unwrap_or(d.buffer_bytes);
        if !(1024..=16 * 1024 * 1024).contains(&buffer_bytes) {
            return Err(ConfigError::new(
                "limits.buffer_bytes",
                "must be 1024 to 16777216",
            ));
        }
        let max_handshake_bytes = raw.max_handshake_bytes.unwrap_or(d.max_handshake_bytes);
        // A SOCKS5 greeting + auth + request can take 257 + 513 + 262 bytes.
        if !(1100..=buffer_bytes).contains(&max_handshake_bytes) {
            return Err(ConfigError::new(
                "limits.max_handshake_bytes",
                format!("must be 1100 to limits.buffer_bytes ({buffer_bytes})"),
            ));
        }
        let max_handshakes_per_client = raw
            .max_handshakes_per_client
            .unwrap_or(d.max_handshakes_per_client);
        if !(1..=1_000_000).contains(&max_handshakes_per_client) {
            return Err(ConfigError::new(
                "limits.max_handshakes_per_client",
                "must be 1 to 1000000",
            ));
        }
        let limits = Limits {
            max_sessions,
            max_handshake_bytes,
            buffer_bytes,
            max_handshakes_per_client,
        };
        Ok((limits, operator))
    }
}
