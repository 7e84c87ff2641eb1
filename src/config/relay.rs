//! The `[relay]` section: how an open tunnel moves bytes.

use super::ConfigError;
use crate::proxy::settings::{RelayMode, RelaySettings, DEFAULT_RELAY};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRelay {
    pub mode: Option<String>,
    pub pipe_bytes: Option<usize>,
    pub max_pipes: Option<usize>,
}

impl RawRelay {
    pub fn validate(self) -> Result<RelaySettings, ConfigError> {
        let d = DEFAULT_RELAY;
        let mode = match self.mode.as_deref() {
            None | Some("auto") => RelayMode::Auto,
            Some("splice") => RelayMode::Splice,
            Some("copy") => RelayMode::Copy,
            Some(other) => {
                return Err(ConfigError::new(
                    "relay.mode",
                    format!("`{other}` is not one of auto, splice, copy"),
                ))
            }
        };
        let pipe_bytes = self.pipe_bytes.unwrap_or(d.pipe_bytes);
        if !(4096..=1024 * 1024).contains(&pipe_bytes) {
            return Err(ConfigError::new(
                "relay.pipe_bytes",
                "must be 4096 to 1048576",
            ));
        }
        let max_pipes = self.max_pipes.unwrap_or(d.max_pipes);
        if max_pipes > 1_000_000 {
            return Err(ConfigError::new("relay.max_pipes", "must be 0 to 1000000"));
        }
        Ok(RelaySettings {
            mode,
            pipe_bytes,
            max_pipes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RelaySettings, ConfigError> {
        toml::from_str::<RawRelay>(text).unwrap().validate()
    }

    #[test]
    fn modes_and_bounds() {
        assert_eq!(parse("").unwrap(), DEFAULT_RELAY);
        assert_eq!(parse("mode = \"copy\"").unwrap().mode, RelayMode::Copy);
        assert_eq!(parse("mode = \"splice\"").unwrap().mode, RelayMode::Splice);
        assert_eq!(parse("mode = \"fast\"").unwrap_err().key, "relay.mode");
        assert_eq!(
            parse("pipe_bytes = 100").unwrap_err().key,
            "relay.pipe_bytes"
        );
        assert_eq!(parse("max_pipes = 0").unwrap().max_pipes, 0);
    }
}
