//! `monthly_gb`: the monthly allowance ledger. Bytes relayed this period (from the day
//! of month `month_starts_on`, UTC, to the same day next month; a day past a month's end
//! means its last day) are counted across restarts in a small file in the node's state
//! directory, flushed at least once a minute and on exit.
//!
//! The file is its own, not the member state file: that one is rewritten whole by the
//! chain thread, and two writers of one file would lose each other's updates.
//!
//! Thresholds are values ([`Level`]): the loop logs and counts a crossing, refuses new
//! sessions at [`Level::UsedUp`], and the heartbeat thread stops while it lasts.

use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, Instant};

/// How often used bytes are written out while they change.
pub const FLUSH_EVERY: Duration = Duration::from_secs(60);

/// How much of the allowance is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Below80,
    At80,
    At95,
    UsedUp,
}

impl Level {
    pub fn of(used: u64, limit: u64) -> Level {
        let used = u128::from(used) * 100;
        let limit = u128::from(limit);
        if used >= limit * 100 {
            Level::UsedUp
        } else if used >= limit * 95 {
            Level::At95
        } else if used >= limit * 80 {
            Level::At80
        } else {
            Level::Below80
        }
    }

    pub fn percent(self) -> u8 {
        match self {
            Level::Below80 => 0,
            Level::At80 => 80,
            Level::At95 => 95,
            Level::UsedUp => 100,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Periods over the calendar
// ---------------------------------------------------------------------------------------

pub use crate::calendar::{civil_from_days, days_from_civil, Date};

fn days_in_month(y: i64, m: u32) -> u32 {
    let next = if m == 12 {
        (y + 1, 1, 1)
    } else {
        (y, m + 1, 1)
    };
    (days_from_civil(next) - days_from_civil((y, m, 1))) as u32
}

/// The day a period starts in month (y, m).
fn start_in(y: i64, m: u32, starts_on: u32) -> Date {
    (y, m, starts_on.min(days_in_month(y, m)))
}

/// The period holding unix time `unix`: (first day, first day of the next), as days
/// since 1970-01-01.
pub fn period(unix: u64, starts_on: u32) -> (i64, i64) {
    let today = (unix / 86_400) as i64;
    let (y, m, _) = civil_from_days(today);
    let this = days_from_civil(start_in(y, m, starts_on));
    let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    if today >= this {
        (this, days_from_civil(start_in(ny, nm, starts_on)))
    } else {
        (days_from_civil(start_in(py, pm, starts_on)), this)
    }
}

pub fn format_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

fn parse_day(s: &str) -> Option<i64> {
    let mut it = s.splitn(3, '-');
    let y = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok().filter(|m| (1..=12).contains(m))?;
    let d = it.next()?.parse().ok().filter(|d| (1..=31).contains(d))?;
    Some(days_from_civil((y, m, d)))
}

// ---------------------------------------------------------------------------------------
// The ledger
// ---------------------------------------------------------------------------------------

/// What happened when bytes were added or the clock moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A threshold was crossed upwards.
    Reached(Level),
    /// A new period began: the count is back to zero.
    NewPeriod,
}

#[derive(Debug, Clone)]
pub struct Allowance {
    limit: u64,
    starts_on: u32,
    period_start: i64,
    period_end: i64,
    used: u64,
    level: Level,
    /// Whether `used` changed since the last write.
    dirty: bool,
    last_flush: Instant,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    /// The first day of the period `used_bytes` belongs to, `YYYY-MM-DD`.
    period_start: String,
    used_bytes: u64,
}

const VERSION: u32 = 1;

impl Allowance {
    /// A ledger for `limit` bytes a period, picking up `saved` (from [`Allowance::load`])
    /// when it belongs to the period holding `unix`.
    pub fn new(
        limit: u64,
        starts_on: u32,
        saved: Option<(i64, u64)>,
        unix: u64,
        now: Instant,
    ) -> Allowance {
        let (period_start, period_end) = period(unix, starts_on);
        let used = match saved {
            Some((start, used)) if start == period_start => used,
            _ => 0,
        };
        Allowance {
            limit,
            starts_on,
            period_start,
            period_end,
            used,
            level: Level::of(used, limit),
            dirty: false,
            last_flush: now,
        }
    }

    /// Keeps the count, with a new limit or first day (a reload). A level crossed by the
    /// change is reported by the next [`Allowance::add`] or [`Allowance::clock`].
    pub fn set_limit(&mut self, limit: u64, starts_on: u32, unix: u64) {
        self.limit = limit;
        if starts_on != self.starts_on {
            self.starts_on = starts_on;
            let (start, end) = period(unix, starts_on);
            self.period_end = end;
            self.period_start = start;
        }
        self.level = self.level.min(Level::of(self.used, limit));
    }

    pub fn used(&self) -> u64 {
        self.used
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn level(&self) -> Level {
        self.level
    }

    pub fn used_up(&self) -> bool {
        self.level == Level::UsedUp
    }

    /// Unix time the count goes back to zero.
    pub fn resets_at(&self) -> u64 {
        (self.period_end.max(0) as u64) * 86_400
    }

    pub fn period_start(&self) -> i64 {
        self.period_start
    }

    /// Moves the period on when `unix` is past its end.
    pub fn clock(&mut self, unix: u64) -> Option<Change> {
        if (unix / 86_400) as i64 >= self.period_end {
            let (start, end) = period(unix, self.starts_on);
            self.period_start = start;
            self.period_end = end;
            self.used = 0;
            self.level = Level::Below80;
            self.dirty = true;
            return Some(Change::NewPeriod);
        }
        let level = Level::of(self.used, self.limit);
        if level > self.level {
            self.level = level;
            return Some(Change::Reached(level));
        }
        None
    }

    /// Counts bytes relayed; returns the highest threshold crossed, if any.
    pub fn add(&mut self, bytes: u64) -> Option<Change> {
        if bytes == 0 {
            return None;
        }
        self.used = self.used.saturating_add(bytes);
        self.dirty = true;
        let level = Level::of(self.used, self.limit);
        if level > self.level {
            self.level = level;
            return Some(Change::Reached(level));
        }
        None
    }

    /// Whether a periodic write is due.
    pub fn flush_due(&self, now: Instant) -> bool {
        self.dirty && now.saturating_duration_since(self.last_flush) >= FLUSH_EVERY
    }

    /// Writes the count; `sync` on exit only: the periodic write leaves it to the page
    /// cache (a tiny write on the loop thread, no disk flush), which a crash of the
    /// process does not lose.
    pub fn save(&mut self, path: &Path, now: Instant, sync: bool) -> std::io::Result<()> {
        let file = File {
            version: VERSION,
            period_start: format_day(self.period_start),
            used_bytes: self.used,
        };
        let text = serde_json::to_string(&file).map_err(std::io::Error::other)?;
        crate::state_file::write_atomically(path, text.as_bytes(), sync)?;
        self.dirty = false;
        self.last_flush = now;
        Ok(())
    }

    /// Reads a saved count: `Ok(None)` when there is no file yet.
    pub fn load(path: &Path) -> Result<Option<(i64, u64)>, String> {
        let Some(file) =
            crate::state_file::read_json(path, "an allowance file", VERSION, |f: &File| f.version)?
        else {
            return Ok(None);
        };
        let start = parse_day(&file.period_start)
            .ok_or_else(|| format!("{}: bad period_start", path.display()))?;
        Ok(Some((start, file.used_bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(date: Date, hour: u64) -> u64 {
        days_from_civil(date) as u64 * 86_400 + hour * 3600
    }

    #[test]
    fn the_calendar_round_trips() {
        assert_eq!(days_from_civil((1970, 1, 1)), 0);
        assert_eq!(days_from_civil((2000, 3, 1)), 11_017);
        for day in [-800_000, -1, 0, 59, 60, 11_016, 20_000, 2_000_000] {
            assert_eq!(days_from_civil(civil_from_days(day)), day);
        }
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2026, 12), 31);
        assert_eq!(format_day(days_from_civil((2026, 12, 2))), "2026-12-02");
        assert_eq!(
            parse_day("2026-12-02"),
            Some(days_from_civil((2026, 12, 2)))
        );
        assert_eq!(parse_day("2026-13-02"), None);
    }

    #[test]
    fn a_period_runs_from_the_start_day_to_the_same_day_next_month() {
        let d = days_from_civil;
        assert_eq!(
            period(unix((2026, 12, 2), 5), 1),
            (d((2026, 12, 1)), d((2027, 1, 1)))
        );
        assert_eq!(
            period(unix((2026, 12, 2), 5), 15),
            (d((2026, 11, 15)), d((2026, 12, 15)))
        );
        assert_eq!(
            period(unix((2026, 12, 15), 0), 15),
            (d((2026, 12, 15)), d((2027, 1, 15)))
        );
        // The 31st in a short month means its last day.
        assert_eq!(
            period(unix((2027, 2, 28), 1), 31),
            (d((2027, 2, 28)), d((2027, 3, 31)))
        );
        assert_eq!(
            period(unix((2027, 2, 27), 1), 31),
            (d((2027, 1, 31)), d((2027, 2, 28)))
        );
        assert_eq!(
            period(unix((2027, 1, 10), 1), 20),
            (d((2026, 12, 20)), d((2027, 1, 20)))
        );
    }

    #[test]
    fn thresholds_are_reported_once_each_and_the_month_turning_resets() {
        let t0 = Instant::now();
        let now = unix((2026, 12, 2), 12);
        let mut a = Allowance::new(1000, 1, None, now, t0);
        assert_eq!(a.add(700), None);
        assert_eq!(a.add(100), Some(Change::Reached(Level::At80)));
        assert_eq!(a.add(10), None);
        // A jump over two thresholds reports the higher.
        assert_eq!(a.add(190), Some(Change::Reached(Level::UsedUp)));
        assert!(a.used_up());
        assert_eq!(a.clock(now + 3600), None);
        assert_eq!(a.resets_at(), unix((2027, 1, 1), 0));
        assert_eq!(a.clock(unix((2027, 1, 1), 0)), Some(Change::NewPeriod));
        assert!(!a.used_up());
        assert_eq!(a.used(), 0);
        assert_eq!(a.resets_at(), unix((2027, 2, 1), 0));
        assert_eq!(Level::of(949, 1000), Level::At80);
        assert_eq!(Level::of(950, 1000), Level::At95);
        assert_eq!(Level::of(u64::MAX, u64::MAX), Level::UsedUp);
    }

    #[test]
    fn the_count_survives_a_restart_within_the_period_only() {
        let dir = std::env::temp_dir().join(format!("aqueduct-allowance-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("allowance.json");
        assert_eq!(Allowance::load(&path), Ok(None));
        let t0 = Instant::now();
        let now = unix((2026, 12, 2), 12);
        let mut a = Allowance::new(1000, 1, None, now, t0);
        a.add(960);
        assert!(!a.flush_due(t0 + Duration::from_secs(59)));
        assert!(a.flush_due(t0 + FLUSH_EVERY));
        a.save(&path, t0 + FLUSH_EVERY, false).unwrap();
        assert!(!a.flush_due(t0 + 2 * FLUSH_EVERY), "nothing new to write");
        let saved = Allowance::load(&path).unwrap();
        let again = Allowance::new(1000, 1, saved, now + 3600, t0);
        assert_eq!(again.used(), 960);
        assert_eq!(
            again.level(),
            Level::At95,
            "no second warning after a restart"
        );
        let next_month = Allowance::new(1000, 1, saved, unix((2027, 1, 3), 0), t0);
        assert_eq!(next_month.used(), 0);
        std::fs::write(&path, "{\"version\":2}").unwrap();
        assert!(Allowance::load(&path).is_err());
        std::fs::write(
            &path,
            "{\"version\":1,\"period_start\":\"x\",\"used_bytes\":1}",
        )
        .unwrap();
        assert!(Allowance::load(&path).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
