//! `[log]`: how the node's log lines are written (see [`crate::logging`]).

use super::ConfigError;
use crate::logging::{LogFormat, LogSettings};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// "text" (logfmt key-values) or "json" (one object per line).
    pub format: Option<String>,
    /// false for journald, which stamps lines itself.
    pub timestamps: Option<bool>,
    /// off, error, warn, info (the default), debug or trace; `RUST_LOG` wins when set.
    pub level: Option<String>,
}

impl RawLog {
    pub fn validate(self) -> Result<LogSettings, ConfigError> {
        let format = match self.format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "log.format",
                    format!("`{other}` is not \"text\" or \"json\""),
                ))
            }
        };
        let level = match self.level.as_deref() {
            None => None,
            Some(l) => Some(l.parse::<log::LevelFilter>().map_err(|_| {
                ConfigError::new(
                    "log.level",
                    format!("`{l}` is not one of off, error, warn, info, debug, trace"),
                )
            })?),
        };
        Ok(LogSettings {
            format,
            timestamps: self.timestamps.unwrap_or(true),
            level,
        })
    }
}
