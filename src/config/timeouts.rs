//! `[timeouts]`: how long each stage of a session may take, and the shutdown grace.

use super::values::secs;
use super::ConfigError;
use crate::proxy::settings::{Timeouts, DEFAULT_TIMEOUTS};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    pub handshake_secs: Option<u64>,
    pub connect_secs: Option<u64>,
    pub idle_secs: Option<u64>,
    pub shutdown_grace_secs: Option<u64>,
}

impl RawTimeouts {
    pub fn validate(self) -> Result<Timeouts, ConfigError> {
        let raw = self;
        let d = DEFAULT_TIMEOUTS;
        Ok(Timeouts {
            handshake: secs("timeouts.handshake_secs", raw.handshake_secs, d.handshake)?,
            connect: secs("timeouts.connect_secs", raw.connect_secs, d.connect)?,
            idle: secs("timeouts.idle_secs", raw.idle_secs, d.idle)?,
            shutdown_grace: match raw.shutdown_grace_secs {
                // Zero is meaningful here: exit at once.
                Some(s) if s <= 24 * 3600 => Duration::from_secs(s),
                Some(_) => {
                    return Err(ConfigError::new(
                        "timeouts.shutdown_grace_secs",
                        "must be at most a day",
                    ))
                }
                None => d.shutdown_grace,
            },
        })
    }
}
