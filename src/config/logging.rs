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
        Ok(LogSettings {
            format,
            timestamps: self.timestamps.unwrap_or(true),
        })
    }
}
