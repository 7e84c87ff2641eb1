//! What a node served between two heartbeats, for the usage counters `imOnline` carries:
//! sessions members opened and distinct members, counted by a thin wrapper around the
//! authenticator on the loop thread (atomics only, no lock), and payload bytes, read from
//! the node's own metrics endpoint when it runs one (the loop keeps its byte counters to
//! itself). Self-reported telemetry: a member seen just as a heartbeat is sent may be
//! counted in two reports.

use crate::proxy::auth::{Account, AuthAnswer, Authenticator, Rejected, Ticket};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Distinct members remembered per heartbeat interval; beyond it the count stops growing
/// (a lower bound), so a flood of accounts cannot grow the set without bound.
const MAX_MEMBERS_TRACKED: usize = 65_536;

/// Shared between the loop (which counts) and the heartbeat thread (which reports).
#[derive(Debug, Default)]
pub struct UsageCounters {
    sessions: AtomicU64,
    members: AtomicU64,
    /// Advanced after each report: the loop then starts a new set of members seen.
    interval: AtomicU64,
}

impl UsageCounters {
    /// Sessions and distinct members since the last report.
    pub fn pending(&self) -> (u64, u64) {
        (
            self.sessions.load(Ordering::Relaxed),
            self.members.load(Ordering::Relaxed),
        )
    }

    /// A heartbeat carrying `sessions` and `members` landed: they are not reported again.
    pub fn reported(&self, sessions: u64, members: u64) {
        self.sessions.fetch_sub(sessions, Ordering::Relaxed);
        self.interval.fetch_add(1, Ordering::Relaxed);
        self.members.fetch_sub(members, Ordering::Relaxed);
    }
}

/// The node's authenticator, counting every admitted session and each member's first one
/// in the interval.
pub struct Counting {
    inner: Box<dyn Authenticator>,
    counters: Arc<UsageCounters>,
    seen: HashSet<String>,
    seen_interval: u64,
}

impl Counting {
    pub fn new(inner: Box<dyn Authenticator>, counters: Arc<UsageCounters>) -> Counting {
        Counting {
            inner,
            counters,
            seen: HashSet::new(),
            seen_interval: 0,
        }
    }
}

impl Authenticator for Counting {
    fn required(&self) -> bool {
        self.inner.required()
    }
    fn check(&mut self, username: &[u8], password: &[u8], ticket: Ticket) -> AuthAnswer {
        self.inner.check(username, password, ticket)
    }
    fn cancel(&mut self, ticket: Ticket) {
        self.inner.cancel(ticket)
    }
    fn drain_completed(&mut self, out: &mut Vec<(Ticket, Result<Account, Rejected>)>) {
        self.inner.drain_completed(out)
    }
    fn admit(&mut self, account: &Account) -> bool {
        if !self.inner.admit(account) {
            return false;
        }
        self.counters.sessions.fetch_add(1, Ordering::Relaxed);
        let interval = self.counters.interval.load(Ordering::Relaxed);
        if interval != self.seen_interval {
            self.seen.clear();
            self.seen_interval = interval;
        }
        if self.seen.len() < MAX_MEMBERS_TRACKED && self.seen.insert(account.name().to_owned()) {
            self.counters.members.fetch_add(1, Ordering::Relaxed);
        }
        true
    }
    fn release(&mut self, account: &Account) {
        self.inner.release(account)
    }
    fn drain_revoked(&mut self, out: &mut Vec<Account>) {
        self.inner.drain_revoked(out)
    }
    fn set_serving(&mut self, serving: bool) {
        self.inner.set_serving(serving)
    }
}

/// `http://ADDR/metrics` for a node's metrics listener; one on every address answers on
/// loopback too.
pub fn metrics_url(mut addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}/metrics")
}

/// Fetches and parses a node's metrics; an error says why the node did not answer.
pub fn scrape(url: &str) -> Result<HashMap<String, f64>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(format!("HTTP {status}"));
    }
    let text = response
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .map_err(|e| e.to_string())?;
    Ok(parse_samples(&text))
}

/// Prometheus text: `series value` per line; comments and malformed lines are skipped.
pub fn parse_samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// Payload bytes relayed by finished sessions, both ways, from a metrics scrape.
pub fn bytes_relayed(samples: &HashMap<String, f64>) -> Option<u64> {
    let up = samples.get("aqueduct_bytes_total{direction=\"up\"}")?;
    let down = samples.get("aqueduct_bytes_total{direction=\"down\"}")?;
    Some((*up as u64).saturating_add(*down as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::auth::NoAuth;

    fn admit(c: &mut Counting, name: &str) -> bool {
        c.admit(&Account::new(name))
    }

    #[test]
    fn sessions_and_distinct_members_are_counted_per_interval() {
        let counters = Arc::new(UsageCounters::default());
        let mut c = Counting::new(Box::new(NoAuth), Arc::clone(&counters));
        for name in ["0xa", "0xb", "0xa", "0xa"] {
            assert!(admit(&mut c, name));
        }
        assert_eq!(counters.pending(), (4, 2));
        counters.reported(4, 2);
        assert_eq!(counters.pending(), (0, 0));
        // A new interval: a member seen before counts again, once.
        assert!(admit(&mut c, "0xa"));
        assert!(admit(&mut c, "0xa"));
        assert_eq!(counters.pending(), (2, 1));
        // What arrived after the report was read stays for the next one.
        let (s, m) = counters.pending();
        assert!(admit(&mut c, "0xc"));
        counters.reported(s, m);
        assert_eq!(counters.pending(), (1, 1));
    }

    /// An authenticator that refuses every session at admission (a per-member cap).
    struct Full;
    impl Authenticator for Full {
        fn required(&self) -> bool {
            true
        }
        fn check(&mut self, _: &[u8], _: &[u8], _: Ticket) -> AuthAnswer {
            AuthAnswer::Done(Err(Rejected))
        }
        fn admit(&mut self, _: &Account) -> bool {
            false
        }
    }

    #[test]
    fn refused_sessions_are_not_counted() {
        let counters = Arc::new(UsageCounters::default());
        let mut c = Counting::new(Box::new(Full), Arc::clone(&counters));
        assert!(!admit(&mut c, "0xa"));
        assert_eq!(counters.pending(), (0, 0));
        assert!(c.required());
    }

    #[test]
    fn bytes_come_from_the_metrics_text() {
        let m = parse_samples(
            "# TYPE aqueduct_bytes_total counter\naqueduct_bytes_total{direction=\"up\"} 120\naqueduct_bytes_total{direction=\"down\"} 3000\nbad line\n",
        );
        assert_eq!(bytes_relayed(&m), Some(3120));
        assert_eq!(bytes_relayed(&HashMap::new()), None);
        assert_eq!(
            metrics_url("0.0.0.0:9464".parse().unwrap()),
            "http://127.0.0.1:9464/metrics"
        );
        assert_eq!(
            metrics_url("[::]:9464".parse().unwrap()),
            "http://[::1]:9464/metrics"
        );
    }
}
