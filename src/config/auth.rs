//! `[auth]`: who may use the proxy: nobody checked (loopback only), static users, or
//! members' wallet-signed credentials (mode "chain", whose own keys are here too).

use super::values::secs;
use super::ConfigError;
use crate::proxy::settings::{AuthMode, AuthSettings, User};
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub mode: Option<String>,
    #[serde(default)]
    pub users: Vec<RawUser>,
    /// Mode "chain": longest credential lifetime accepted, in seconds.
    pub max_credential_lifetime_secs: Option<u64>,
    /// Mode "chain": concurrent sessions one member may hold at this node.
    pub max_sessions_per_member: Option<u32>,
    /// Mode "chain": how long "not a member" answers are remembered.
    pub negative_cache_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub name: String,
    pub password: String,
}

/// The `[auth]` keys of mode "chain".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainAuthConfig {
    pub max_credential_lifetime: Duration,
    pub max_sessions_per_member: u32,
    pub negative_cache: Duration,
}

pub const DEFAULT_CHAIN_AUTH: ChainAuthConfig = ChainAuthConfig {
    max_credential_lifetime: Duration::from_secs(30 * 24 * 3600),
    max_sessions_per_member: 64,
    negative_cache: Duration::from_secs(30),
};

impl RawAuth {
    /// The engine's part and mode "chain"'s own keys; mode "none" only when every
    /// `listen` address is loopback.
    pub fn validate(
        self,
        listen: &[SocketAddr],
    ) -> Result<(AuthSettings, ChainAuthConfig), ConfigError> {
        validate_auth(self, listen)
    }
}

fn validate_auth(
    raw: RawAuth,
    listen: &[SocketAddr],
) -> Result<(AuthSettings, ChainAuthConfig), ConfigError> {
    let mode = match raw.mode.as_deref() {
        None | Some("static") => AuthMode::Static,
        Some("none") => AuthMode::None,
        Some("chain") => AuthMode::Chain,
        Some(other) => {
            return Err(ConfigError::new(
                "auth.mode",
                format!("`{other}` is not one of \"none\", \"static\", \"chain\""),
            ))
        }
    };
    let chain = validate_chain_auth(&raw, mode)?;
    let mut users: Vec<User> = Vec::with_capacity(raw.users.len());
    for u in raw.users {
        // RFC 1929 carries each in a one-byte length field.
        if u.name.is_empty() || u.name.len() > 255 {
            return Err(ConfigError::new(
                "auth.users.name",
                "must be 1 to 255 bytes",
            ));
        }
        if u.password.is_empty() || u.password.len() > 255 {
            return Err(ConfigError::new(
                "auth.users.password",
                format!("password of `{}` must be 1 to 255 bytes", u.name),
            ));
        }
        if u.name.contains(':') {
            // HTTP Basic splits user and password at the first colon.
            return Err(ConfigError::new(
                "auth.users.name",
                format!("`{}` contains ':'", u.name),
            ));
        }
        if users.iter().any(|x| x.name == u.name) {
            return Err(ConfigError::new(
                "auth.users.name",
                format!("`{}` appears twice", u.name),
            ));
        }
        users.push(User {
            name: u.name,
            password: u.password,
        });
    }
    match mode {
        AuthMode::Chain if !users.is_empty() => Err(ConfigError::new(
            "auth.users",
            "users are only used with mode \"static\"",
        )),
        AuthMode::Chain => Ok((AuthSettings { mode, users }, chain)),
        AuthMode::Static if users.is_empty() => Err(ConfigError::new(
            "auth.users",
            "mode \"static\" needs at least one [[auth.users]] entry",
        )),
        AuthMode::None if !users.is_empty() => Err(ConfigError::new(
            "auth.users",
            "users are only used with mode \"static\"",
        )),
        AuthMode::None => match listen.iter().find(|a| !a.ip().is_loopback()) {
            Some(a) => Err(ConfigError::new(
                "auth.mode",
                format!(
                    "\"none\" would make an open proxy on {a}; it is only allowed when every node.listen address is loopback"
                ),
            )),
            None => Ok((AuthSettings { mode, users }, chain)),
        },
        AuthMode::Static => Ok((AuthSettings { mode, users }, chain)),
    }
}

fn validate_chain_auth(raw: &RawAuth, mode: AuthMode) -> Result<ChainAuthConfig, ConfigError> {
    let d = DEFAULT_CHAIN_AUTH;
    let set = raw.max_credential_lifetime_secs.is_some()
        || raw.max_sessions_per_member.is_some()
        || raw.negative_cache_secs.is_some();
    if set && mode != AuthMode::Chain {
        return Err(ConfigError::new(
            "auth.mode",
            "max_credential_lifetime_secs, max_sessions_per_member and negative_cache_secs only apply to mode \"chain\"",
        ));
    }
    let max_sessions_per_member = raw
        .max_sessions_per_member
        .unwrap_or(d.max_sessions_per_member);
    if max_sessions_per_member == 0 {
        return Err(ConfigError::new(
            "auth.max_sessions_per_member",
            "must be at least 1",
        ));
    }
    Ok(ChainAuthConfig {
        max_credential_lifetime: secs(
            "auth.max_credential_lifetime_secs",
            raw.max_credential_lifetime_secs,
            d.max_credential_lifetime,
        )?,
        max_sessions_per_member,
        negative_cache: secs(
            "auth.negative_cache_secs",
            raw.negative_cache_secs,
            d.negative_cache,
        )?,
    })
}
