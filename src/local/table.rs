//! The nodes `aqueduct local` knows, their health and speed, and the ranking that picks
//! one for each new connection. Shared between the event loop (which picks and reports,
//! through [`TableRouter`]) and the discovery thread (which adds nodes, signs
//! credentials and measures); every lock is held only for in-memory work.

use crate::endpoint::Endpoint;
use crate::eth::Address;
use crate::proxy::upstream::{Hop, HopError, Login, Router};
use crate::tls::configs::pinned_client_config;
use crate::tls::Pin;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// First wait after a failure; doubled per consecutive failure up to [`MAX_BACKOFF`].
pub const BASE_BACKOFF: Duration = Duration::from_secs(5);
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What is known of a node's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not measured yet.
    Unknown,
    Up,
    /// Failed `failures` times in a row; not used again before `until`.
    Down {
        until: Instant,
        failures: u32,
    },
}

/// One node's probe: TCP connect time and the whole SOCKS5 login exchange after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measurement {
    pub connect: Duration,
    pub handshake: Duration,
}

#[derive(Debug, Clone)]
pub struct Node {
    /// Stable while the node stays in the table (the router's id).
    pub id: usize,
    pub address: Address,
    /// Where it is dialled (`host:port`): its TLS endpoint when it has one.
    pub endpoint: String,
    /// The TLS endpoint's pin; None: the node is reached in clear.
    pub pin: Option<Pin>,
    /// For a TLS endpoint: the client config that checks `pin`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// `endpoint` resolved by the discovery thread.
    pub addr: Option<SocketAddr>,
    /// From the config or command line rather than the registry.
    pub extra: bool,
    pub health: Health,
    pub measured: Option<Measurement>,
    pub last_error: Option<String>,
    pub login: Option<Arc<Login>>,
    /// Unix time the credential in `login` expires.
    pub login_expires: u64,
    /// When the discovery thread should measure it next.
    pub probe_due: Option<Instant>,
}

impl Node {
    /// Usable for a new connection now (a node whose backoff ran out is given a chance).
    pub fn usable(&self, now: Instant) -> bool {
        self.addr.is_some()
            && self.login.is_some()
            && match self.health {
                Health::Down { until, .. } => now >= until,
                _ => true,
            }
    }

    /// Sort key: healthy and measured first, then unmeasured, then nodes whose backoff
    /// has run out; within each, TLS endpoints before plain ones (the member's leg is
    /// encrypted and the node authenticated), then fastest first.
    fn rank(&self) -> (u8, bool, Duration) {
        let plain = self.pin.is_none();
        match (self.health, self.measured) {
            (Health::Up, Some(m)) => (0, plain, m.connect + m.handshake),
            (Health::Up, None) => (1, plain, Duration::ZERO),
            (Health::Unknown, _) => (2, plain, Duration::ZERO),
            (Health::Down { failures, .. }, _) => {
                (3, plain, Duration::from_secs(u64::from(failures)))
            }
        }
    }

    pub fn state(&self, now: Instant) -> &'static str {
        match self.health {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down { until, .. } if now < until => "down",
            Health::Down { .. } => "retrying",
        }
    }
}

/// A node as discovery found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub address: Address,
    /// Where to dial it (see [`Found::from_endpoint`]).
    pub endpoint: String,
    pub pin: Option<Pin>,
    pub extra: bool,
}

impl Found {
    /// A node's registry entry as the member uses it: its TLS endpoint when it has one
    /// (preferred: the leg is encrypted and the node authenticated by its pin), else its
    /// plain one, unless `require_tls`.
    pub fn from_endpoint(
        address: Address,
        entry: &Endpoint,
        extra: bool,
        require_tls: bool,
    ) -> Option<Found> {
        let (endpoint, pin) = match (&entry.tls, &entry.plain) {
            (Some(t), _) => (t.addr.to_string(), Some(t.pin)),
            (None, Some(p)) if !require_tls => (p.to_string(), None),
            _ => return None,
        };
        Some(Found {
            address,
            endpoint,
            pin,
            extra,
        })
    }
}

/// How new connections are spread over the usable nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Spread {
    /// All through the best node (TLS first, then fastest): the lowest latency.
    #[default]
    Fastest,
    /// Each new connection through the next node of the best group (healthy, TLS
    /// first), in turn: many exit addresses for crawling, and the load shared.
    Rotate,
}

impl std::str::FromStr for Spread {
    type Err = String;

    fn from_str(s: &str) -> Result<Spread, String> {
        match s {
            "fastest" => Ok(Spread::Fastest),
            "rotate" => Ok(Spread::Rotate),
            _ => Err(format!("`{s}` is not one of \"fastest\", \"rotate\"")),
        }
    }
}

#[derive(Debug, Default)]
pub struct NodeTable {
    nodes: Vec<Node>,
    next_id: usize,
    spread: Spread,
    /// Connections handed out under [`Spread::Rotate`]: whose turn is next.
    turn: usize,
}

fn backoff(failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(10);
    (BASE_BACKOFF * factor).min(MAX_BACKOFF)
}

impl NodeTable {
    pub fn new(spread: Spread) -> NodeTable {
        NodeTable {
            spread,
            ..NodeTable::default()
        }
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn get_mut(&mut self, id: usize) -> Option<&mut Node> {
        self.nodes.iter_mut().find(|n| n.id == id)
    }

    /// Makes the table hold exactly `found`: new nodes are added unmeasured, nodes gone
    /// from the list are dropped, and a node whose endpoint changed starts over.
    pub fn sync(&mut self, found: &[Found]) {
        self.nodes.retain(|n| {
            found
                .iter()
                .any(|f| f.address == n.address && f.endpoint == n.endpoint && f.pin == n.pin)
        });
        for f in found {
            if let Some(n) = self.nodes.iter_mut().find(|n| n.address == f.address) {
                n.extra |= f.extra;
                continue;
            }
            self.nodes.push(Node {
                id: self.next_id,
                address: f.address,
                endpoint: f.endpoint.clone(),
                pin: f.pin,
                tls: f.pin.map(pinned_client_config),
                addr: None,
                extra: f.extra,
                health: Health::Unknown,
                measured: None,
                last_error: None,
                login: None,
                login_expires: 0,
                probe_due: None,
            });
            self.next_id += 1;
        }
    }

    /// The nodes in ranking order (best first), for `--list` and the log.
    pub fn ranked(&self) -> Vec<&Node> {
        let mut v: Vec<&Node> = self.nodes.iter().collect();
        v.sort_by_key(|n| n.rank());
        v
    }

    pub fn pick(&mut self, exclude: &[usize], now: Instant) -> Option<Hop> {
        let usable = || {
            self.nodes
                .iter()
                .filter(|n| n.usable(now) && !exclude.contains(&n.id))
        };
        let best = usable().min_by_key(|n| n.rank())?;
        let chosen = match self.spread {
            Spread::Fastest => best,
            Spread::Rotate => {
                // Every node as good as the best in health and TLS, whatever its speed.
                let group = |n: &Node| {
                    let (tier, plain, _) = n.rank();
                    (tier, plain)
                };
                let peers: Vec<&Node> = usable().filter(|n| group(n) == group(best)).collect();
                peers.get(self.turn % peers.len()).copied().unwrap_or(best)
            }
        };
        let hop = Hop {
            node: chosen.id,
            addr: chosen.addr?,
            login: Arc::clone(chosen.login.as_ref()?),
            tls: chosen.tls.clone(),
        };
        self.turn = self.turn.wrapping_add(1);
        Some(hop)
    }

    /// Records a success; `measured` is Some for a probe (sessions include the target's
    /// connect time, so only probes rank nodes).
    pub fn up(&mut self, id: usize, measured: Option<Measurement>) {
        let Some(n) = self.get_mut(id) else { return };
        if matches!(n.health, Health::Down { .. }) {
            log::info!("node {} ({}) is back up", n.address, n.endpoint);
        }
        if let Some(m) = measured {
            if n.measured.is_none() || n.health != Health::Up {
                log::info!(
                    "node {} ({}) up: connect {:.1} ms, handshake {:.1} ms",
                    n.address,
                    n.endpoint,
                    m.connect.as_secs_f64() * 1e3,
                    m.handshake.as_secs_f64() * 1e3
                );
            }
            n.measured = Some(m);
        }
        n.health = Health::Up;
        n.last_error = None;
    }

    /// Records a failure: the node is left alone for a backoff that doubles each time.
    pub fn down(&mut self, id: usize, error: &HopError, now: Instant) {
        let Some(n) = self.get_mut(id) else { return };
        let failures = match n.health {
            Health::Down { failures, .. } => failures.saturating_add(1),
            _ => 1,
        };
        // Another key than the registry pins: possibly an interception. Left alone for
        // the longest backoff, not retried within seconds.
        let wait = if *error == HopError::PinMismatch {
            MAX_BACKOFF
        } else {
            backoff(failures)
        };
        // Every node refusing the credential usually means the membership is not paid.
        let hint = if *error == HopError::AuthRejected {
            " (membership paid? see `aqueduct status`)"
        } else {
            ""
        };
        log::warn!(
            "node {} ({}) marked down for {}s: {error}{hint}",
            n.address,
            n.endpoint,
            wait.as_secs()
        );
        n.health = Health::Down {
            until: now + wait,
            failures,
        };
        n.last_error = Some(error.to_string());
        // Measured again once the backoff is over.
        n.probe_due = Some(now + wait);
    }
}

/// The table, shared between the loop and the discovery thread.
#[derive(Debug, Clone, Default)]
pub struct SharedTable(Arc<Mutex<NodeTable>>);

impl SharedTable {
    pub fn new(spread: Spread) -> SharedTable {
        SharedTable(Arc::new(Mutex::new(NodeTable::new(spread))))
    }

    /// A poisoned lock only means another thread panicked mid-update; the table is
    /// still a valid table, so it is used as is.
    pub fn lock(&self) -> MutexGuard<'_, NodeTable> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The engine's [`Router`] over the shared table.
pub struct TableRouter(pub SharedTable);

impl Router for TableRouter {
    fn pick(&mut self, exclude: &[usize], now: Instant) -> Option<Hop> {
        self.0.lock().pick(exclude, now)
    }

    fn report(&mut self, node: usize, result: Result<Duration, HopError>, now: Instant) {
        let mut table = self.0.lock();
        match result {
            Ok(_) => table.up(node, None),
            Err(e) => table.down(node, &e, now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(n: u8) -> Found {
        Found {
            address: Address([n; 20]),
            endpoint: format!("127.0.0.1:{}", 4000 + u16::from(n)),
            pin: None,
            extra: false,
        }
    }

    fn ready_table(n: u8) -> NodeTable {
        let mut t = NodeTable::default();
        t.sync(&(1..=n).map(found).collect::<Vec<_>>());
        for node in t.nodes.iter_mut() {
            node.addr = node.endpoint.parse().ok();
            node.login = Some(Arc::new(Login {
                username: "u".into(),
                password: "p".into(),
            }));
        }
        t
    }

    fn ms(n: u64) -> Measurement {
        Measurement {
            connect: Duration::from_millis(n),
            handshake: Duration::from_millis(n),
        }
    }

    #[test]
    fn rotate_hands_connections_to_every_healthy_node_in_turn_and_skips_a_down_one() {
        let mut t = ready_table(3);
        t.spread = Spread::Rotate;
        let now = Instant::now();
        t.up(0, Some(ms(30)));
        t.up(1, Some(ms(5)));
        t.up(2, Some(ms(90)));
        let picks: Vec<usize> = (0..6).map(|_| t.pick(&[], now).unwrap().node).collect();
        let mut seen = picks.clone();
        seen.sort_unstable();
        assert_eq!(seen, [0, 0, 1, 1, 2, 2], "{picks:?}");
        t.down(1, &HopError::Closed, now);
        let picks: Vec<usize> = (0..4).map(|_| t.pick(&[], now).unwrap().node).collect();
        assert!(
            !picks.contains(&1) && picks.contains(&0) && picks.contains(&2),
            "{picks:?}"
        );
        // An excluded node (a retry after it failed) is passed over.
        assert!((0..4).all(|_| t.pick(&[0], now).unwrap().node == 2));
        assert_eq!("rotate".parse::<Spread>(), Ok(Spread::Rotate));
        assert!("random"
            .parse::<Spread>()
            .unwrap_err()
            .contains("\"rotate\""));
    }

    #[test]
    fn the_fastest_healthy_node_is_picked_and_exclusions_respected() {
        let mut t = ready_table(3);
        let now = Instant::now();
        t.up(0, Some(ms(30)));
        t.up(1, Some(ms(5)));
        t.up(2, Some(ms(10)));
        assert_eq!(t.pick(&[], now).unwrap().node, 1);
        assert_eq!(t.pick(&[1], now).unwrap().node, 2);
        assert_eq!(t.pick(&[1, 2], now).unwrap().node, 0);
        assert!(t.pick(&[0, 1, 2], now).is_none());
    }

    #[test]
    fn a_failed_node_backs_off_exponentially_then_gets_another_chance() {
        let mut t = ready_table(2);
        let now = Instant::now();
        t.up(0, Some(ms(1)));
        t.up(1, Some(ms(50)));
        t.down(0, &HopError::Closed, now);
        assert_eq!(t.pick(&[], now).unwrap().node, 1);
        assert_eq!(t.ranked()[1].state(now), "down");
        let later = now + BASE_BACKOFF;
        assert_eq!(t.ranked()[1].state(later), "retrying");
        // Back in play after the backoff, but behind the healthy node.
        assert_eq!(t.pick(&[1], later).unwrap().node, 0);
        t.down(0, &HopError::AuthRejected, later);
        let Health::Down { until, failures } = t.get_mut(0).unwrap().health else {
            panic!("down")
        };
        assert_eq!(failures, 2);
        assert_eq!(until, later + 2 * BASE_BACKOFF);
        assert_eq!(backoff(1), BASE_BACKOFF);
        assert_eq!(backoff(40), MAX_BACKOFF);
        t.up(0, Some(ms(1)));
        assert_eq!(t.pick(&[], later).unwrap().node, 0);
    }

    #[test]
    fn a_tls_node_is_preferred_to_a_faster_plain_one() {
        let mut t = ready_table(2);
        let now = Instant::now();
        t.get_mut(1).unwrap().pin = Some(Pin::of_spki(b"key"));
        t.up(0, Some(ms(1)));
        t.up(1, Some(ms(40)));
        assert_eq!(t.pick(&[], now).unwrap().node, 1);
        // A pin mismatch keeps it away for the longest backoff.
        t.down(1, &HopError::PinMismatch, now);
        assert_eq!(t.pick(&[], now).unwrap().node, 0);
        let Health::Down { until, .. } = t.get_mut(1).unwrap().health else {
            panic!("down")
        };
        assert_eq!(until, now + MAX_BACKOFF);
    }

    #[test]
    fn unmeasured_nodes_come_after_measured_and_before_failed_ones() {
        let mut t = ready_table(3);
        let now = Instant::now();
        t.down(0, &HopError::Timeout, now);
        assert_eq!(t.pick(&[], now).unwrap().node, 1);
        t.up(2, Some(ms(100)));
        assert_eq!(t.pick(&[], now).unwrap().node, 2);
        // Without an address or a credential a node cannot be used at all.
        t.get_mut(2).unwrap().login = None;
        t.get_mut(1).unwrap().addr = None;
        assert!(t.pick(&[], now).is_none());
    }

    #[test]
    fn sync_keeps_what_is_known_and_forgets_what_is_gone() {
        let mut t = ready_table(3);
        t.up(1, Some(ms(7)));
        let mut list = vec![found(2), found(3), found(4)];
        list[1].endpoint = "127.0.0.1:9999".into();
        t.sync(&list);
        let ids: Vec<usize> = t.nodes().iter().map(|n| n.id).collect();
        // Node 1 (id 0) is gone, node 2 (id 1) kept, node 3 re-added with a new id.
        assert_eq!(ids, vec![1, 3, 4]);
        assert_eq!(t.get_mut(1).unwrap().measured, Some(ms(7)));
        assert_eq!(t.get_mut(3).unwrap().endpoint, "127.0.0.1:9999");
        assert_eq!(t.get_mut(3).unwrap().health, Health::Unknown);
    }
}
