//! Keeping the database small: hourly roll-ups of closed hours and pruning by age.

use super::*;

/// How long rows are kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub probe_days: u64,
    pub rollup_days: u64,
}

/// `0, 5, 6`: the codes of the outcomes that count as relayed.
pub(super) fn relayed_codes() -> String {
    crate::monitor::outcome::ALL
        .iter()
        .filter(|o| o.relayed())
        .map(|o| o.code().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn set_meta(conn: &Connection, key: &str, value: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

pub(super) fn summarise_hour<'a>(
    hour: i64,
    probes: impl Iterator<Item = &'a ProbeRow>,
) -> Option<HourRow> {
    let mut n = 0;
    let (mut relayed, mut ok) = (0, 0);
    let mut lat = Vec::new();
    let mut kbps = Vec::new();
    for p in probes {
        n += 1;
        relayed += i64::from(p.outcome.relayed());
        ok += i64::from(p.outcome == Outcome::Ok);
        if let Some(l) = p.latency_us {
            lat.push(l);
        }
        if let Some(k) = p.kbps() {
            kbps.push(k);
        }
    }
    if n == 0 {
        return None;
    }
    lat.sort_unstable();
    Some(HourRow {
        hour,
        probes: n,
        relayed,
        ok,
        latency_p50_us: percentile(&lat, 50),
        latency_p95_us: percentile(&lat, 95),
        kbps: (!kbps.is_empty()).then(|| kbps.iter().sum::<f64>() / kbps.len() as f64),
    })
}

/// The first round that started at or after `since_ms` (one past the last if none):
/// probes are keyed (node, round), so time windows become round ranges.
pub(super) fn round_since(conn: &Connection, since_ms: i64) -> Result<i64> {
    conn.query_row(
        "SELECT COALESCE(MIN(id), (SELECT COALESCE(MAX(id), 0) + 1 FROM rounds)) FROM rounds WHERE started_ms >= ?1",
        [since_ms],
        |r| r.get(0),
    )
}

/// Rolls up every hour before `current_hour` not rolled up yet (socks probes of
/// rounds that were not void); true when an hour ended since the last call.
pub(super) fn roll_up(tx: &Transaction<'_>, current_hour: i64) -> Result<bool> {
    let from: Option<i64> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [meta::ROLLED_UP_TO],
            |r| r.get(0),
        )
        .optional()?;
    let from = match from {
        Some(h) => h,
        None => tx
            .query_row("SELECT MIN(started_ms) FROM rounds", [], |r| {
                r.get::<_, Option<i64>>(0)
            })?
            .map_or(current_hour, |ms| ms / 3_600_000),
    };
    if from >= current_hour {
        if from > current_hour {
            // The clock went back: start again from here.
            set_meta(tx, meta::ROLLED_UP_TO, current_hour)?;
        } else {
            set_meta(tx, meta::ROLLED_UP_TO, from)?;
        }
        return Ok(false);
    }
    let rows: Vec<ProbeRow> = {
        let mut q = tx.prepare(&format!(
            "SELECT {PROBE_COLUMNS} FROM nodes n CROSS JOIN probes p ON p.node = n.node AND p.round >= ?1 AND p.round < ?2 \
             JOIN rounds r ON r.id = p.round WHERE r.void_reason IS NULL AND p.path = 0 \
             ORDER BY p.node, p.round"
        ))?;
        let rows = q.query_map(
            params![
                round_since(tx, from * 3_600_000)?,
                round_since(tx, current_hour * 3_600_000)?
            ],
            probe_row,
        )?;
        rows.collect::<Result<_>>()?
    };
    let mut insert = tx.prepare(
        "INSERT OR REPLACE INTO hourly (node, hour, probes, relayed, ok, latency_p50_us, latency_p95_us, kbps) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut i = 0;
    while i < rows.len() {
        let Some(first) = rows.get(i) else { break };
        let (node, hour) = (first.node, first.at_ms / 3_600_000);
        let j = rows
            .iter()
            .skip(i)
            .position(|p| p.node != node || p.at_ms / 3_600_000 != hour)
            .map_or(rows.len(), |k| i + k);
        if let Some(h) = summarise_hour(hour, rows.get(i..j).unwrap_or_default().iter()) {
            insert.execute(params![
                &node.0[..],
                h.hour,
                h.probes,
                h.relayed,
                h.ok,
                h.latency_p50_us,
                h.latency_p95_us,
                h.kbps
            ])?;
        }
        i = j;
    }
    set_meta(tx, meta::ROLLED_UP_TO, current_hour)?;
    Ok(true)
}

pub(super) fn prune(tx: &Transaction<'_>, now_ms: i64, r: &Retention) -> Result<()> {
    let day_ms = 86_400_000i64;
    let probe_cut = now_ms - i64::try_from(r.probe_days).unwrap_or(i64::MAX / day_ms) * day_ms;
    let rollup_cut = now_ms - i64::try_from(r.rollup_days).unwrap_or(i64::MAX / day_ms) * day_ms;
    // Node by node along each primary key (node first), never a scan of a whole table.
    tx.execute(
        "DELETE FROM probes WHERE node IN (SELECT node FROM nodes) AND round < ?1",
        [round_since(tx, probe_cut)?],
    )?;
    tx.execute("DELETE FROM rounds WHERE started_ms < ?1", [probe_cut])?;
    tx.execute(
        "DELETE FROM hourly WHERE node IN (SELECT node FROM nodes) AND hour < ?1",
        [rollup_cut / 3_600_000],
    )?;
    tx.execute(
        "DELETE FROM registry_snapshots WHERE at_ms < ?1",
        [rollup_cut],
    )?;
    // Heartbeat slots are chain time: cut by the chain's genesis and slot length.
    let genesis: Option<i64> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [meta::GENESIS],
            |r| r.get(0),
        )
        .optional()?;
    let slot_len: Option<i64> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [meta::SLOT_LENGTH],
            |r| r.get(0),
        )
        .optional()?;
    if let (Some(g), Some(len)) = (genesis, slot_len.filter(|l| *l > 0)) {
        let cut_slot = (rollup_cut / 1000 - g) / len;
        if cut_slot > 0 {
            tx.execute(
                "DELETE FROM heartbeats WHERE node IN (SELECT node FROM nodes) AND slot < ?1",
                [cut_slot],
            )?;
        }
    }
    Ok(())
}
