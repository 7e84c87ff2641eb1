//! What the engine runs with, whoever embeds it: `src/config` builds these from the
//! node's file, `src/local` from the member's. Typed and validated before they get here;
//! the engine reads no config file and knows nothing of the chain.

use super::policy::PolicyConfig;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything [`super::Server::bind`] needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The proxy's listeners (SOCKS5 and HTTP on each); with `tls_listen`, at most
    /// [`MAX_LISTENERS`].
    pub listen: Vec<SocketAddr>,
    /// Listeners with the same two protocols inside TLS; they need `tls`.
    pub tls_listen: Vec<SocketAddr>,
    pub tls: Option<TlsServer>,
    pub auth: AuthSettings,
    pub policy: PolicyConfig,
    pub timeouts: Timeouts,
    pub limits: Limits,
    /// `[limits]`' operator controls: rate ceiling, monthly allowance, yielding to the
    /// host, per-member caps.
    pub operator: super::limits::settings::OperatorLimits,
    pub dns: DnsSettings,
    /// Where `GET /metrics` (Prometheus text) is served; off when unset.
    pub metrics_listen: Option<SocketAddr>,
    pub relay: RelaySettings,
}

/// The TLS side of `tls_listen`: the embedder loads the certificate (the engine reads
/// no files) and builds rustls's config.
#[derive(Debug, Clone)]
pub struct TlsServer {
    pub config: Arc<rustls::ServerConfig>,
    /// From accept until the TLS handshake is done; `timeouts.handshake` starts then.
    pub handshake: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Anyone may connect; only allowed when every listen address is loopback.
    None,
    /// Username/password pairs from `[[auth.users]]`.
    Static,
    /// Member credentials signed by paying members' wallets (issue 5, `src/node/`).
    Chain,
}

#[derive(Clone)]
pub struct User {
    pub name: String,
    pub password: String,
}

impl fmt::Debug for User {
    // Never print the password, not even in a debug dump of the config.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Who may use the proxy. Mode "chain" fails closed until the embedder installs its
/// authenticator (`Server::set_authenticator`).
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub mode: AuthMode,
    /// Mode "static" only.
    pub users: Vec<User>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From accept until the session is connecting upstream (greeting, auth, request, DNS).
    pub handshake: Duration,
    /// Per upstream address tried.
    pub connect: Duration,
    /// A relaying session with no bytes moving either way for this long is closed.
    pub idle: Duration,
    /// After SIGTERM/SIGINT, how long live sessions may go on before the node exits.
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_sessions: usize,
    pub max_handshake_bytes: usize,
    /// Capacity of each of a session's two relay buffers.
    pub buffer_bytes: usize,
    /// Connections one client address (IPv6: one /64) may have in their handshake at
    /// once; more are closed at accept.
    pub max_handshakes_per_client: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsSettings {
    /// Replaces the nameservers of resolv.conf when set.
    pub nameservers: Option<Vec<SocketAddr>>,
    pub resolv_conf: PathBuf,
    pub hosts_file: PathBuf,
}

/// `auto`: splice(2) where the kernel supports it (Linux), else copy. `splice`: zero-copy
/// through a kernel pipe per direction; refuses to start where splice is unavailable.
/// `copy`: read into and write from a userspace buffer (`limits.buffer_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayMode {
    Auto,
    Splice,
    Copy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelaySettings {
    pub mode: RelayMode,
    /// Size asked for each pipe (F_SETPIPE_SZ); bytes in a pipe count as buffered.
    pub pipe_bytes: usize,
    /// Pipes in use at once (each is two descriptors); a direction that finds none free
    /// relays through a userspace buffer instead.
    pub max_pipes: usize,
}

/// 1 MiB pipes (the unprivileged maximum, fs.pipe-max-size) measured about 1.3x the single
/// stream throughput of 256 KiB ones and 0.8x the CPU per GiB; 256 of them bound the
/// bytes pinned in pipes to what 4096 sessions' copy buffers would hold. An unprivileged
/// user past fs.pipe-user-pages-soft gets smaller pipes, which still work.
pub const DEFAULT_RELAY: RelaySettings = RelaySettings {
    mode: RelayMode::Auto,
    pipe_bytes: 1024 * 1024,
    max_pipes: 256,
};

pub const DEFAULT_TIMEOUTS: Timeouts = Timeouts {
    handshake: Duration::from_secs(10),
    connect: Duration::from_secs(10),
    idle: Duration::from_secs(300),
    shutdown_grace: Duration::from_secs(30),
};
pub const DEFAULT_LIMITS: Limits = Limits {
    max_sessions: 4096,
    max_handshake_bytes: 8192,
    buffer_bytes: 32 * 1024,
    max_handshakes_per_client: 64,
};
/// The engine's reserved token range leaves room for this many listeners.
pub const MAX_LISTENERS: usize = 32;
