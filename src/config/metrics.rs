//! `[metrics]`: where the Prometheus endpoint listens.

use super::values::Listen;
use super::ConfigError;
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub listen: Option<Listen>,
}

impl RawMetrics {
    /// Where `/metrics` is served, if anywhere.
    pub fn validate(self) -> Result<Option<SocketAddr>, ConfigError> {
        let raw = self;
        let listen = match raw.listen.map(|l| l.parse("metrics.listen")).transpose()? {
            None => None,
            Some(list) => match list.as_slice() {
                [one] => Some(*one),
                _ => {
                    return Err(ConfigError::new(
                        "metrics.listen",
                        "takes one address (a string or a list of one)",
                    ))
                }
            },
        };
        Ok(listen)
    }
}
