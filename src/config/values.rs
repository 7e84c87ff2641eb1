//! Value shapes more than one section uses: listen addresses, durations in seconds,
//! lists of parsed strings.

use super::ConfigError;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// A `listen` key: one `IP:port` string or a list of them, in every section.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Listen {
    One(String),
    Many(Vec<String>),
}

impl Listen {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Listen::One(s) => vec![s],
            Listen::Many(list) => list,
        }
    }

    /// The addresses, each checked; `key` names the setting in errors.
    pub fn parse(self, key: &str) -> Result<Vec<SocketAddr>, ConfigError> {
        self.into_vec()
            .into_iter()
            .map(|s| {
                s.parse::<SocketAddr>()
                    .map_err(|_| ConfigError::new(key, format!("`{s}` is not an IP:port address")))
            })
            .collect()
    }
}

/// A `*_secs` key: `default` when absent, else 1 to a year (so that `now + timeout` can
/// never overflow an Instant).
pub fn secs(key: &str, value: Option<u64>, default: Duration) -> Result<Duration, ConfigError> {
    secs_at_most(key, value, default, YEAR)
}

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// A `*_secs` key of 1 to `max` seconds, `default` when absent.
pub fn secs_at_most(
    key: &str,
    value: Option<u64>,
    default: Duration,
    max: Duration,
) -> Result<Duration, ConfigError> {
    match value.map(Duration::from_secs) {
        None => Ok(default),
        Some(Duration::ZERO) => Err(ConfigError::new(key, "must be at least 1")),
        Some(d) if d > max && max == YEAR => Err(ConfigError::new(key, "must be at most a year")),
        Some(d) if d > max => Err(ConfigError::new(
            key,
            format!("must be at most {}", max.as_secs()),
        )),
        Some(d) => Ok(d),
    }
}

/// Each string of `list` parsed, the first failure named under `key`.
pub fn parse_list<T: std::str::FromStr>(key: &str, list: Vec<String>) -> Result<Vec<T>, ConfigError>
where
    T::Err: fmt::Display,
{
    list.iter()
        .map(|s| {
            s.parse::<T>()
                .map_err(|e| ConfigError::new(key, format!("`{s}`: {e}")))
        })
        .collect()
}
