//! Everything `[limits]` asks of the running loop, in one value the server owns: the
//! rate [`Limiter`], the monthly [`Allowance`] and its file, the per-member
//! [`DailyQuota`], `yield_to_host`'s sampling, refusal counters and their metrics.
//!
//! The server asks [`Controls::admit`] before a session dials, charges bytes as they are
//! read, and calls [`Controls::housekeeping`] at [`Controls::next_deadline`]: once a
//! [`super::TICK`] while members are shaped, once a second for the rest.

use super::allowance::{format_day, Allowance, Change, Level};
use super::daily::DailyQuota;
use super::host::HostYield;
use super::settings::OperatorLimits;
use super::{netdev, Grant, Limiter, RateSettings, Slot};
use crate::clock::unix_now;
use crate::proxy::metrics::family;
use crate::proxy::outcome::LimitRefusal;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HOUSEKEEPING: Duration = Duration::from_secs(1);

struct Yielding {
    host: HostYield,
    interfaces: Vec<String>,
    counters_file: PathBuf,
    /// The last read of the counters failed: logged once, not every second.
    failing: bool,
}

pub struct Controls {
    pub limiter: Limiter,
    allowance: Option<(Allowance, PathBuf)>,
    daily: Option<DailyQuota>,
    yielding: Option<Yielding>,
    /// Shared with the heartbeat thread: set while the allowance is used up.
    used_up: Arc<AtomicBool>,
    refusals: [u64; LimitRefusal::ALL.len()],
    next_housekeeping: Instant,
    /// Unix time as of the last housekeeping (the daily quota's day).
    unix: u64,
    save_failed: bool,
    /// How long live sessions may go on once the allowance is used up.
    grace: Duration,
    /// When those still open are closed; `Some` once armed for this period.
    cutoff: Option<Instant>,
}

fn rates(cfg: &OperatorLimits) -> RateSettings {
    RateSettings {
        max_rate: cfg.max_rate,
        per_member_rate: cfg.per_member_rate,
    }
}

impl Controls {
    /// No limits at all: every grant in full, nothing counted but bytes.
    pub fn unlimited(now: Instant) -> Controls {
        Controls::new(&OperatorLimits::default(), now)
    }

    /// The monthly count lives in `cfg.monthly`'s file (the embedder fills in its default).
    pub fn new(cfg: &OperatorLimits, now: Instant) -> Controls {
        let unix = unix_now();
        let mut c = Controls {
            limiter: Limiter::new(rates(cfg), now),
            allowance: None,
            daily: None,
            yielding: None,
            used_up: Arc::new(AtomicBool::new(false)),
            refusals: [0; LimitRefusal::ALL.len()],
            next_housekeeping: now + HOUSEKEEPING,
            unix,
            save_failed: false,
            grace: Duration::from_secs(30),
            cutoff: None,
        };
        c.apply(cfg, now);
        c
    }

    /// New settings (start-up or a reload): counts are kept, limits change.
    pub fn apply(&mut self, cfg: &OperatorLimits, now: Instant) {
        self.limiter.set_settings(rates(cfg), now);
        let allowance_file = cfg.monthly.as_ref().and_then(|m| m.file.clone());
        self.allowance = match (cfg.monthly.as_ref(), self.allowance.take()) {
            (None, _) => None,
            (Some(m), Some((mut a, path))) => {
                a.set_limit(m.bytes, m.starts_on, self.unix);
                Some((a, allowance_file.unwrap_or(path)))
            }
            (Some(m), None) => {
                let path = allowance_file.unwrap_or_else(|| PathBuf::from("allowance.json"));
                let saved = Allowance::load(&path).unwrap_or_else(|e| {
                    log::warn!("{e}; counting the monthly allowance from zero");
                    None
                });
                let a = Allowance::new(m.bytes, m.starts_on, saved, self.unix, now);
                log::info!(
                    "monthly allowance: {} of {} bytes used since {} ({}), kept in {}",
                    a.used(),
                    a.limit(),
                    format_day(a.period_start()),
                    percent(a.used(), a.limit()),
                    path.display()
                );
                Some((a, path))
            }
        };
        self.publish_used_up();
        self.daily = match (cfg.per_member_daily, self.daily.take()) {
            (None, _) => None,
            (Some(limit), Some(mut q)) => {
                q.set_limit(limit);
                Some(q)
            }
            (Some(limit), None) => Some(DailyQuota::new(limit)),
        };
        self.yielding = cfg.yield_to_host.as_ref().map(|y| {
            let loopback = y.interfaces.iter().any(|i| i == "lo");
            Yielding {
                host: HostYield::new(y.link, y.reserve, loopback),
                interfaces: y.interfaces.clone(),
                counters_file: y.counters_file.clone(),
                failing: false,
            }
        });
        let host_ceiling = self.yielding.as_ref().map(|y| y.host.ceiling());
        self.limiter.set_host_ceiling(host_ceiling, now);
    }

    /// How long live sessions may finish once the allowance is used up (the node's
    /// `timeouts.shutdown_grace`).
    pub fn set_grace(&mut self, grace: Duration) {
        self.grace = grace;
    }

    /// When the sessions still open under a used-up allowance are to be closed.
    pub fn cutoff(&self) -> Option<Instant> {
        self.cutoff.filter(|_| self.allowance_used_up())
    }

    /// Whether the cutoff has just passed (once a period): the sessions still open are to
    /// be closed. New ones are refused anyway, so it is not armed again this period.
    pub fn take_cutoff(&mut self, now: Instant) -> bool {
        if self.cutoff().is_none_or(|t| now < t) {
            return false;
        }
        self.cutoff = Some(now + Duration::from_secs(400 * 86_400));
        true
    }

    /// The flag the heartbeat thread reads.
    pub fn used_up_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.used_up)
    }

    fn publish_used_up(&self) {
        let used_up = self.allowance.as_ref().is_some_and(|(a, _)| a.used_up());
        self.used_up.store(used_up, Ordering::Relaxed);
    }

    /// Whether the allowance is used up (new sessions are refused).
    pub fn allowance_used_up(&self) -> bool {
        self.allowance.as_ref().is_some_and(|(a, _)| a.used_up())
    }

    /// The key of a member: its account, or without auth the client's address.
    pub fn member_key(&self, account: Option<&str>, client: std::net::IpAddr) -> u64 {
        match account {
            Some(name) => self.limiter.key_of(name),
            None => self.limiter.key_of(client),
        }
    }

    /// May a new session of `member` open? A refusal is counted.
    pub fn admit(&mut self, member: &str) -> Result<(), LimitRefusal> {
        self.admit_key(self.limiter.key_of(member))
    }

    /// [`Controls::admit`] by the member's key.
    pub fn admit_key(&mut self, key: u64) -> Result<(), LimitRefusal> {
        let refusal = if self.allowance_used_up() {
            Some(LimitRefusal::MonthlyAllowance)
        } else if self
            .daily
            .as_mut()
            .is_some_and(|q| !q.allows(key, self.unix))
        {
            Some(LimitRefusal::DailyQuota)
        } else {
            None
        };
        match refusal {
            Some(r) => {
                self.refusals[r as usize] += 1;
                Err(r)
            }
            None => Ok(()),
        }
    }

    pub fn join(&mut self, member: &str, now: Instant) -> Slot {
        self.limiter.join(member, now)
    }

    pub fn join_key(&mut self, key: u64, now: Instant) -> Slot {
        self.limiter.join_key(key, now)
    }

    pub fn leave(&mut self, slot: Slot) {
        self.limiter.leave(slot)
    }

    pub fn grant(&mut self, slot: Slot, want: usize, now: Instant) -> Grant {
        self.limiter.grant(slot, want, now)
    }

    /// `n` bytes read by a session of `slot`.
    pub fn charge(&mut self, slot: Slot, n: usize) {
        if n == 0 {
            return;
        }
        self.limiter.charge(slot, n);
        if let Some(q) = self.daily.as_mut() {
            if let Some(key) = self.limiter.key(slot) {
                q.add(key, n as u64, self.unix);
            }
        }
        if let Some((a, _)) = self.allowance.as_mut() {
            if let Some(change) = a.add(n as u64) {
                log_change(change, a);
                self.publish_used_up();
            }
        }
    }

    /// When [`Controls::housekeeping`] should run next.
    pub fn next_deadline(&self) -> Option<Instant> {
        let slow = (self.allowance.is_some() || self.daily.is_some() || self.yielding.is_some())
            .then_some(self.next_housekeeping);
        [self.limiter.next_tick(), slow, self.cutoff()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Recomputes member rates; once a second also samples the host, moves the month on
    /// and writes the allowance when due.
    pub fn housekeeping(&mut self, now: Instant) {
        if self.limiter.next_tick().is_some_and(|t| now >= t) {
            self.limiter.tick(now);
        }
        if now < self.next_housekeeping {
            return;
        }
        self.next_housekeeping = now + HOUSEKEEPING;
        self.unix = unix_now();
        if let Some(y) = self.yielding.as_mut() {
            match netdev::read(&y.counters_file) {
                Ok(interfaces) => {
                    y.failing = false;
                    let counters = netdev::totals(&interfaces, &y.interfaces);
                    let ceiling = y.host.sample(now, counters, self.limiter.relayed());
                    self.limiter.set_host_ceiling(Some(ceiling), now);
                }
                Err(e) if !y.failing => {
                    y.failing = true;
                    log::warn!("yield_to_host: {e}; keeping the last ceiling");
                }
                Err(_) => {}
            }
        }
        if let Some((a, _)) = self.allowance.as_mut() {
            if let Some(change) = a.clock(self.unix) {
                log_change(change, a);
            }
        }
        self.publish_used_up();
        match (self.allowance_used_up(), self.cutoff) {
            (true, None) => self.cutoff = Some(now + self.grace),
            (false, Some(_)) => self.cutoff = None,
            _ => {}
        }
        self.flush(now, false);
    }

    /// Writes the allowance when a minute has passed with changes, or at once with
    /// `force` (on exit, synced to disk).
    pub fn flush(&mut self, now: Instant, force: bool) {
        let Some((a, path)) = self.allowance.as_mut() else {
            return;
        };
        if !force && !a.flush_due(now) {
            return;
        }
        match a.save(path, now, force) {
            Ok(()) => self.save_failed = false,
            Err(e) if !self.save_failed => {
                self.save_failed = true;
                log::warn!(
                    "cannot write the monthly allowance to {}: {e}",
                    path.display()
                );
            }
            Err(_) => {}
        }
    }

    /// The `[limits]` families for `/metrics`.
    pub fn render(&self, out: &mut String) {
        family(
            out,
            "aqueduct_relayed_bytes_total",
            "counter",
            "Bytes relayed, both directions, counted as they move.",
        );
        let _ = writeln!(
            out,
            "aqueduct_relayed_bytes_total {}",
            self.limiter.relayed()
        );
        let (ceiling, reason) = self.limiter.ceiling();
        // A used-up allowance admits nobody: whatever the rate, that is the reason.
        let (label, value) = if self.allowance_used_up() {
            ("allowance_used_up", 0)
        } else {
            (reason.label(), ceiling.unwrap_or(0))
        };
        family(
            out,
            "aqueduct_ceiling_bytes_per_second",
            "gauge",
            "The node's rate ceiling now (0: none, or nothing admitted), labelled with why: unlimited, configured, yielding, allowance_used_up.",
        );
        let _ = writeln!(
            out,
            "aqueduct_ceiling_bytes_per_second{{reason=\"{label}\"}} {value}"
        );
        family(
            out,
            "aqueduct_members_active",
            "gauge",
            "Members with open tunnels.",
        );
        let _ = writeln!(out, "aqueduct_members_active {}", self.limiter.members());
        family(
            out,
            "aqueduct_limit_refusals_total",
            "counter",
            "Sessions refused by an operator limit, by limit.",
        );
        for r in LimitRefusal::ALL {
            let _ = writeln!(
                out,
                "aqueduct_limit_refusals_total{{limit=\"{}\"}} {}",
                r.label(),
                self.refusals[r as usize]
            );
        }
        if let Some((a, _)) = self.allowance.as_ref() {
            family(
                out,
                "aqueduct_allowance_used_bytes",
                "gauge",
                "Bytes of the monthly allowance used this period.",
            );
            let _ = writeln!(out, "aqueduct_allowance_used_bytes {}", a.used());
            family(
                out,
                "aqueduct_allowance_bytes",
                "gauge",
                "The monthly allowance (limits.monthly_gb).",
            );
            let _ = writeln!(out, "aqueduct_allowance_bytes {}", a.limit());
            family(
                out,
                "aqueduct_allowance_level_percent",
                "gauge",
                "The highest threshold reached this period: 0, 80, 95 or 100.",
            );
            let _ = writeln!(
                out,
                "aqueduct_allowance_level_percent {}",
                a.level().percent()
            );
            family(
                out,
                "aqueduct_allowance_resets_at_seconds",
                "gauge",
                "Unix time the allowance starts again.",
            );
            let _ = writeln!(
                out,
                "aqueduct_allowance_resets_at_seconds {}",
                a.resets_at()
            );
        }
    }
}

fn percent(used: u64, limit: u64) -> String {
    format!("{:.1}%", used as f64 * 100.0 / limit.max(1) as f64)
}

fn log_change(change: Change, a: &Allowance) {
    let resets = format_day(a.resets_at() as i64 / 86_400);
    match change {
        Change::Reached(Level::UsedUp) => log::warn!(
            "monthly allowance used up ({} of {} bytes): refusing new sessions and pausing heartbeats until {resets}",
            a.used(),
            a.limit()
        ),
        Change::Reached(level) => log::warn!(
            "monthly allowance {}% used ({} of {} bytes); it resets on {resets}",
            level.percent(),
            a.used(),
            a.limit()
        ),
        Change::NewPeriod => log::info!(
            "a new allowance period began: counting from zero until {resets}; serving again"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::limits::settings::Monthly;

    #[test]
    fn the_allowance_refuses_at_100_percent_raises_the_flag_and_survives_a_restart() {
        let dir = std::env::temp_dir().join(format!("aqueduct-controls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("allowance.json");
        let _ = std::fs::remove_file(&path);
        let cfg = OperatorLimits {
            monthly: Some(Monthly {
                bytes: 1000,
                starts_on: 1,
                file: Some(path.clone()),
            }),
            ..OperatorLimits::default()
        };
        let t0 = Instant::now();
        let mut c = Controls::new(&cfg, t0);
        let flag = c.used_up_flag();
        assert_eq!(c.admit("a"), Ok(()));
        let slot = c.join("a", t0);
        c.charge(slot, 999);
        assert_eq!(c.admit("a"), Ok(()));
        assert!(!flag.load(Ordering::Relaxed));
        c.charge(slot, 1);
        assert_eq!(c.admit("b"), Err(LimitRefusal::MonthlyAllowance));
        assert!(flag.load(Ordering::Relaxed), "heartbeats stop");
        c.flush(t0, true);
        let mut again = Controls::new(&cfg, t0);
        assert_eq!(again.admit("a"), Err(LimitRefusal::MonthlyAllowance));
        assert!(again.used_up_flag().load(Ordering::Relaxed));
        let mut text = String::new();
        again.render(&mut text);
        assert!(
            text.contains("aqueduct_allowance_used_bytes 1000\n"),
            "{text}"
        );
        assert!(text.contains("aqueduct_limit_refusals_total{limit=\"monthly_allowance\"} 1\n"));
        assert!(text.contains("aqueduct_allowance_level_percent 100\n"));
        assert!(
            text.contains("aqueduct_ceiling_bytes_per_second{reason=\"allowance_used_up\"} 0\n")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_daily_quota_refuses_one_member_only() {
        let cfg = OperatorLimits {
            per_member_daily: Some(100),
            ..OperatorLimits::default()
        };
        let t0 = Instant::now();
        let mut c = Controls::new(&cfg, t0);
        let slot = c.join("a", t0);
        c.charge(slot, 100);
        assert_eq!(c.admit("a"), Err(LimitRefusal::DailyQuota));
        assert_eq!(c.admit("b"), Ok(()));
        assert!(c.next_deadline().is_some(), "the day must be watched");
        assert_eq!(Controls::unlimited(t0).next_deadline(), None);
    }
}
