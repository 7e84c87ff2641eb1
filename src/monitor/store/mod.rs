//! The monitor's database: SQLite (rusqlite, bundled), one writer (the service's main
//! thread), readers on their own connections (dashboard, report).
//!
//! WAL mode with `synchronous=NORMAL`: a commit survives a killed process, and a
//! power cut loses at most the last commits, never consistency. The schema version is
//! `PRAGMA user_version`, upgraded by forward migrations in one transaction. Each probe
//! round is written in one transaction with its probes, so a monitor killed mid-round
//! loses that round and nothing else.
//!
//! Retention: rounds and probes for `retention_days` (90), hourly roll-ups per node
//! (probes, relayed, ok, latency p50/p95, mean throughput; void rounds excluded) for
//! `rollup_days` (365), heartbeats as long as the roll-ups.

use super::outcome::Outcome;
use super::probe::{Measured, ProbePath};
use crate::contract::{Heartbeat, NodeInfo};
use crate::eth::Address;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};
use std::path::Path;
use std::time::Duration;

pub type Result<T> = std::result::Result<T, rusqlite::Error>;

mod rows;
mod schema;
mod upkeep;
pub use rows::*;
use schema::MIGRATIONS;
pub use schema::SCHEMA_VERSION;
pub use upkeep::Retention;
use upkeep::*;

/// Keys of the `meta` table.
pub mod meta {
    /// Last block whose Heartbeat logs are stored.
    pub const HEARTBEATS_SYNCED_TO: &str = "heartbeats_synced_to";
    pub const GENESIS: &str = "genesis";
    pub const EPOCH_LENGTH: &str = "epoch_length";
    pub const SLOT_LENGTH: &str = "slot_length";
    /// Hours (unix / 3600) below this are rolled up.
    pub const ROLLED_UP_TO: &str = "rolled_up_to_hour";
    /// The chain's clock less the host's, in ms (see `clock`).
    pub const CLOCK_OFFSET_MS: &str = "clock_offset_ms";
    /// Epochs below this have had their withhold decision made.
    pub const WITHHOLD_DECIDED_TO: &str = "withhold_decided_to_epoch";
}

pub struct Store {
    conn: Connection,
}

fn micros(d: Option<Duration>) -> Option<i64> {
    d.map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn address(blob: Vec<u8>) -> Address {
    let mut a = [0u8; 20];
    if blob.len() == 20 {
        a.copy_from_slice(&blob);
    }
    Address(a)
}

/// Nearest-rank percentile of sorted values (`p` in 0..=100).
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted.get(rank - 1).copied()
}

const PROBE_COLUMNS: &str =
    "p.round, r.started_ms, r.void_reason IS NOT NULL, p.node, p.path, p.outcome, \
     p.connect_us, p.login_us, p.latency_us, p.download_bytes, p.download_us, p.egress, p.detail, \
     p.tls_us";

fn probe_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ProbeRow> {
    Ok(ProbeRow {
        round: r.get(0)?,
        at_ms: r.get(1)?,
        void: r.get(2)?,
        node: address(r.get(3)?),
        path: ProbePath::from_code(r.get(4)?),
        outcome: Outcome::from_code(r.get(5)?).unwrap_or(Outcome::RelayFailed),
        connect_us: r.get(6)?,
        login_us: r.get(7)?,
        latency_us: r.get(8)?,
        download_bytes: r.get(9)?,
        download_us: r.get(10)?,
        egress: r.get(11)?,
        detail: r.get(12)?,
        tls_us: r.get(13)?,
    })
}

impl Store {
    /// Opens (creating if needed) and migrates the database for writing.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        // journal_mode answers with a row; WAL persists in the file once set.
        let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;")?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing database for reading (dashboard, report): it never writes.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.execute_batch("PRAGMA busy_timeout = 5000;")?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version as usize != SCHEMA_VERSION {
            return Err(rusqlite::Error::InvalidQuery);
        }
        Ok(Store { conn })
    }

    fn migrate(&mut self) -> Result<()> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > SCHEMA_VERSION {
            // A newer monitor wrote this file: refuse rather than misread it.
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
                Some(format!(
                    "database schema {version} is newer than this monitor's ({SCHEMA_VERSION})"
                )),
            ));
        }
        let tx = self.conn.transaction()?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        }
        tx.commit()
    }

    pub fn schema_version(&self) -> Result<i64> {
        self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))
    }

    pub fn meta(&self, key: &str) -> Result<Option<i64>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
    }

    pub fn set_meta(&mut self, key: &str, value: i64) -> Result<()> {
        set_meta(&self.conn, key, value)
    }

    /// Now on the monitor's clock, the chain's (see [`super::clock`]), in ms.
    pub fn now_ms(&self) -> Result<i64> {
        Ok(super::clock::chain_ms(
            self.meta(meta::CLOCK_OFFSET_MS)?.unwrap_or(0),
        ))
    }

    /// Writes one round and its probes in one transaction, then rolls up the hours
    /// that ended (and prunes past retention) in the same transaction.
    pub fn record_round(&mut self, round: &RoundRecord, retention: &Retention) -> Result<i64> {
        let tx = self.conn.transaction()?;
        let relayed = round
            .probes
            .iter()
            .filter(|p| p.path == ProbePath::Socks && p.outcome.relayed())
            .count() as i64;
        let nodes = round
            .probes
            .iter()
            .filter(|p| p.path == ProbePath::Socks)
            .count() as i64;
        tx.execute(
            "INSERT INTO rounds (started_ms, finished_ms, nodes, relayed, void_reason) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![round.started_ms, round.finished_ms, nodes, relayed, round.void_reason],
        )?;
        let id = tx.last_insert_rowid();
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO probes (round, node, path, outcome, connect_us, login_us, latency_us, \
                 download_bytes, download_us, egress, detail, tls_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for p in &round.probes {
                insert.execute(params![
                    id,
                    &p.node.0[..],
                    p.path.code(),
                    p.outcome.code(),
                    micros(p.connect),
                    micros(p.login),
                    micros(p.latency),
                    i64::try_from(p.download_bytes).unwrap_or(i64::MAX),
                    micros(p.download),
                    p.egress.map(|e| e.to_string()),
                    (!p.detail.is_empty()).then_some(p.detail.as_str()),
                    micros(p.tls),
                ])?;
            }
        }
        // Once an hour: roll the hours that ended up, and drop what retention says.
        if roll_up(&tx, round.finished_ms / 1000 / 3600)? {
            prune(&tx, round.finished_ms, retention)?;
        }
        tx.commit()?;
        Ok(id)
    }

    /// Stores the registry as read now; a snapshot row only when it changed.
    pub fn save_registry(&mut self, at_ms: i64, nodes: &[NodeInfo]) -> Result<()> {
        let tx = self.conn.transaction()?;
        let entries = serde_json::Value::Array(
            nodes
                .iter()
                .map(|n| serde_json::json!([n.node.to_lower_hex(), n.endpoint, n.active]))
                .collect(),
        )
        .to_string();
        let last: Option<String> = tx
            .query_row(
                "SELECT entries FROM registry_snapshots ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if last.as_deref() != Some(entries.as_str()) {
            tx.execute(
                "INSERT INTO registry_snapshots (at_ms, entries) VALUES (?1, ?2)",
                params![at_ms, entries],
            )?;
        }
        for n in nodes {
            tx.execute(
                "INSERT INTO nodes (node, endpoint, active, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT(node) DO UPDATE SET endpoint = excluded.endpoint, active = excluded.active, last_seen_ms = excluded.last_seen_ms",
                params![&n.node.0[..], n.endpoint, n.active, at_ms],
            )?;
        }
        tx.commit()
    }

    /// Stores heartbeats (re-read ones replace themselves) and the block they reach.
    pub fn save_heartbeats(&mut self, beats: &[Heartbeat], synced_to: u64) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO heartbeats (node, slot, epoch, block, sessions, bytes_relayed, members) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            for b in beats {
                insert.execute(params![
                    &b.node.0[..],
                    int(b.slot),
                    int(b.epoch),
                    int(b.block_number),
                    int(b.usage.sessions),
                    int(b.usage.bytes_relayed),
                    int(b.usage.members),
                ])?;
            }
        }
        set_meta(
            &tx,
            meta::HEARTBEATS_SYNCED_TO,
            i64::try_from(synced_to).unwrap_or(i64::MAX),
        )?;
        tx.commit()
    }

    // --- reads ---

    pub fn nodes(&self) -> Result<Vec<NodeRow>> {
        let mut q = self.conn.prepare_cached(
            "SELECT node, endpoint, active, first_seen_ms, last_seen_ms FROM nodes ORDER BY first_seen_ms, node",
        )?;
        let rows = q.query_map([], |r| {
            Ok(NodeRow {
                node: address(r.get(0)?),
                endpoint: r.get(1)?,
                active: r.get(2)?,
                first_seen_ms: r.get(3)?,
                last_seen_ms: r.get(4)?,
            })
        })?;
        rows.collect()
    }

    /// The latest rounds, newest first.
    pub fn rounds(&self, limit: i64) -> Result<Vec<RoundRow>> {
        let mut q = self.conn.prepare_cached(
            "SELECT id, started_ms, finished_ms, nodes, relayed, void_reason FROM rounds ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = q.query_map([limit], |r| {
            Ok(RoundRow {
                id: r.get(0)?,
                started_ms: r.get(1)?,
                finished_ms: r.get(2)?,
                nodes: r.get(3)?,
                relayed: r.get(4)?,
                void_reason: r.get(5)?,
            })
        })?;
        rows.collect()
    }

    pub fn round_count(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM rounds", [], |r| r.get(0))
    }

    /// Every probe of one node since `since_ms`, oldest first.
    pub fn probes(&self, node: Address, since_ms: i64) -> Result<Vec<ProbeRow>> {
        let first = round_since(&self.conn, since_ms)?;
        let mut q = self.conn.prepare_cached(&format!(
            "SELECT {PROBE_COLUMNS} FROM probes p JOIN rounds r ON r.id = p.round \
             WHERE p.node = ?1 AND p.round >= ?2 ORDER BY p.round, p.path"
        ))?;
        let rows = q.query_map(params![&node.0[..], first], probe_row)?;
        rows.collect()
    }

    /// Every probe of one round (of the nodes the registry listed).
    pub fn round_probes(&self, round: i64) -> Result<Vec<ProbeRow>> {
        // Node by node along the primary key: probes has no index by round alone.
        let mut q = self.conn.prepare_cached(&format!(
            "SELECT {PROBE_COLUMNS} FROM nodes n CROSS JOIN probes p ON p.node = n.node AND p.round = ?1 \
             JOIN rounds r ON r.id = p.round ORDER BY p.node, p.path"
        ))?;
        let rows = q.query_map([round], probe_row)?;
        rows.collect()
    }

    /// Slots of `node`'s heartbeats with `slot >= from_slot`, ascending, with their epochs.
    pub fn heartbeats(&self, node: Address, from_slot: i64) -> Result<Vec<(i64, i64)>> {
        let mut q = self.conn.prepare_cached(
            "SELECT slot, epoch FROM heartbeats WHERE node = ?1 AND slot >= ?2 ORDER BY slot",
        )?;
        let rows = q.query_map(params![&node.0[..], from_slot], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        rows.collect()
    }

    /// Usage `node` reported in its heartbeats of slots `from_slot..=to_slot`.
    pub fn reported_usage(
        &self,
        node: Address,
        from_slot: i64,
        to_slot: i64,
    ) -> Result<ReportedUsage> {
        self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(sessions), 0), COALESCE(SUM(bytes_relayed), 0), COALESCE(MAX(members), 0) \
             FROM heartbeats WHERE node = ?1 AND slot >= ?2 AND slot <= ?3",
            params![&node.0[..], from_slot, to_slot],
            |r| {
                Ok(ReportedUsage {
                    heartbeats: r.get(0)?,
                    sessions: r.get(1)?,
                    bytes_relayed: r.get(2)?,
                    members_max: r.get(3)?,
                })
            },
        )
    }

    /// Records a withhold decision (or its new state); the evidence stays as first written.
    pub fn save_withhold(&mut self, w: &WithholdRow) -> Result<()> {
        self.conn.execute(
            "INSERT INTO withholds (node, epoch, state, probes, relayed, evidence, evidence_text, slots, tx_hash, detail, updated_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT(node, epoch) DO UPDATE SET state = excluded.state, slots = excluded.slots, \
             tx_hash = excluded.tx_hash, detail = excluded.detail, updated_ms = excluded.updated_ms",
            params![
                &w.node.0[..],
                i64::try_from(w.epoch).unwrap_or(i64::MAX),
                w.state.code(),
                w.probes,
                w.relayed,
                &w.evidence[..],
                w.evidence_text,
                w.slots,
                w.tx_hash.as_ref().map(|h| &h[..]),
                w.detail,
                w.updated_ms,
            ],
        )?;
        Ok(())
    }

    /// The withhold decisions of one epoch.
    pub fn withholds_of_epoch(&self, epoch: u64) -> Result<Vec<WithholdRow>> {
        self.withholds_where(
            "epoch = ?1",
            params![i64::try_from(epoch).unwrap_or(i64::MAX), i64::MAX],
        )
    }

    /// Withhold decisions, newest epoch first; of one node when `node` is given.
    pub fn withholds(&self, node: Option<Address>, limit: i64) -> Result<Vec<WithholdRow>> {
        self.withholds_where(
            "?1 IS NULL OR node = ?1",
            params![node.as_ref().map(|n| &n.0[..]), limit],
        )
    }

    fn withholds_where(
        &self,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<WithholdRow>> {
        let mut q = self.conn.prepare_cached(&format!(
            "SELECT node, epoch, state, probes, relayed, evidence, evidence_text, slots, tx_hash, detail, updated_ms \
             FROM withholds WHERE {filter} ORDER BY epoch DESC, node LIMIT ?2"
        ))?;
        let rows = q.query_map(args, |r| {
            let hash = |b: Option<Vec<u8>>| b.and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok());
            Ok(WithholdRow {
                node: address(r.get(0)?),
                epoch: r.get::<_, i64>(1)?.max(0) as u64,
                state: WithholdState::from_code(r.get(2)?),
                probes: r.get(3)?,
                relayed: r.get(4)?,
                evidence: hash(r.get(5)?).unwrap_or_default(),
                evidence_text: r.get(6)?,
                slots: r.get(7)?,
                tx_hash: hash(r.get(8)?),
                detail: r.get(9)?,
                updated_ms: r.get(10)?,
            })
        })?;
        rows.collect()
    }

    /// Stored hourly roll-ups of `node` from `from_hour`, ascending.
    pub fn hourly(&self, node: Address, from_hour: i64) -> Result<Vec<HourRow>> {
        let mut q = self.conn.prepare_cached(
            "SELECT hour, probes, relayed, ok, latency_p50_us, latency_p95_us, kbps FROM hourly \
             WHERE node = ?1 AND hour >= ?2 ORDER BY hour",
        )?;
        let rows = q.query_map(params![&node.0[..], from_hour], |r| {
            Ok(HourRow {
                hour: r.get(0)?,
                probes: r.get(1)?,
                relayed: r.get(2)?,
                ok: r.get(3)?,
                latency_p50_us: r.get(4)?,
                latency_p95_us: r.get(5)?,
                kbps: r.get(6)?,
            })
        })?;
        rows.collect()
    }

    /// One hour of one node computed from its probes now (the current hour is not
    /// rolled up until it ends).
    pub fn hour_live(&self, node: Address, hour: i64) -> Result<Option<HourRow>> {
        let rows = self.probes(node, hour * 3_600_000)?;
        Ok(summarise_hour(
            hour,
            rows.iter().filter(|p| {
                p.at_ms < (hour + 1) * 3_600_000 && !p.void && p.path == ProbePath::Socks
            }),
        ))
    }

    /// (Non-void SOCKS5 probes, of which relayed) of `node` since `since_ms`: the
    /// rolled-up hours from `hourly`, the rest from the probes themselves.
    pub fn uptime_counts(&self, node: Address, since_ms: i64) -> Result<(i64, i64)> {
        let rolled = self.meta(meta::ROLLED_UP_TO)?.unwrap_or(0);
        let (h_probes, h_relayed): (i64, i64) = self.conn.query_row(
            "SELECT COALESCE(SUM(probes), 0), COALESCE(SUM(relayed), 0) FROM hourly \
             WHERE node = ?1 AND hour >= ?2 AND hour < ?3",
            params![&node.0[..], since_ms / 3_600_000, rolled],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let (l_probes, l_relayed): (i64, i64) = self.conn.query_row(
            &format!(
                "SELECT COUNT(*), COALESCE(SUM(p.outcome IN ({})), 0) FROM probes p JOIN rounds r ON r.id = p.round \
                 WHERE p.node = ?1 AND p.round >= ?2 AND p.path = 0 AND r.void_reason IS NULL",
                relayed_codes()
            ),
            params![
                &node.0[..],
                round_since(&self.conn, since_ms.max(rolled * 3_600_000))?
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((h_probes + l_probes, h_relayed + l_relayed))
    }

    /// The latest probe of `node` since `since_ms`, in a round that counted, whose
    /// outcome was not `ok`.
    pub fn last_failure(&self, node: Address, since_ms: i64) -> Result<Option<ProbeRow>> {
        let first = round_since(&self.conn, since_ms)?;
        let mut q = self.conn.prepare_cached(&format!(
            "SELECT {PROBE_COLUMNS} FROM probes p JOIN rounds r ON r.id = p.round \
             WHERE p.node = ?1 AND p.round >= ?2 AND p.outcome != 0 AND r.void_reason IS NULL \
             ORDER BY p.round DESC LIMIT 1"
        ))?;
        q.query_row(params![&node.0[..], first], probe_row)
            .optional()
    }

    /// Bytes the database file and its WAL take now.
    pub fn file_bytes(path: &Path) -> u64 {
        let wal = path.with_extension(
            path.extension()
                .map(|e| format!("{}-wal", e.to_string_lossy()))
                .unwrap_or_else(|| "wal".into()),
        );
        [path.to_path_buf(), wal]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Folds the WAL into the main file (for size measurements and backups).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("aq-store-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("m.db")
    }

    fn probe(node: u8, outcome: Outcome, latency_ms: u64) -> Measured {
        Measured {
            node: Address([node; 20]),
            path: ProbePath::Socks,
            outcome,
            detail: if outcome == Outcome::Ok {
                String::new()
            } else {
                "why".into()
            },
            connect: Some(Duration::from_millis(1)),
            tls: None,
            login: Some(Duration::from_millis(2)),
            latency: outcome.relayed().then(|| Duration::from_millis(latency_ms)),
            download_bytes: 1 << 20,
            download: Some(Duration::from_millis(100)),
            egress: Some("127.0.0.1".parse().unwrap()),
        }
    }

    /// Registers nodes `bytes` (probes are pruned and rolled up node by node).
    fn register(s: &mut Store, bytes: &[u8]) {
        let infos: Vec<NodeInfo> = bytes
            .iter()
            .map(|b| NodeInfo {
                node: Address([*b; 20]),
                endpoint: "127.0.0.1:1".into(),
                active: true,
            })
            .collect();
        s.save_registry(0, &infos).unwrap();
    }

    const KEEP: Retention = Retention {
        probe_days: 90,
        rollup_days: 365,
    };

    #[test]
    fn migrates_once_and_reopens() {
        let path = temp("migrate");
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION as i64);
        let mode: String = s
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(s);
        let s = Store::open(&path).unwrap();
        assert_eq!(s.round_count().unwrap(), 0);
        // A newer schema is refused, not misread.
        s.conn.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(s);
        assert!(Store::open(&path).is_err());
    }

    #[test]
    fn a_schema_2_database_gains_the_tls_time_and_keeps_its_rows() {
        let path = temp("schema2");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..2] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                "PRAGMA user_version = 2;
                 INSERT INTO rounds (id, started_ms, finished_ms, nodes, relayed) VALUES (1, 0, 1, 1, 1);
                 INSERT INTO probes (round, node, path, outcome, download_bytes) VALUES (1, x'0101010101010101010101010101010101010101', 0, 0, 0);",
            )
            .unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        register(&mut s, &[1]);
        let old = s.probes(Address([1; 20]), -1).unwrap();
        assert_eq!((old.len(), old[0].tls_us), (1, None));
        let tls = Measured {
            outcome: Outcome::PinMismatch,
            tls: Some(Duration::from_micros(1500)),
            ..probe(1, Outcome::PinMismatch, 0)
        };
        let record = RoundRecord {
            started_ms: 10,
            finished_ms: 20,
            void_reason: None,
            probes: vec![tls],
        };
        s.record_round(&record, &KEEP).unwrap();
        let rows = s.probes(Address([1; 20]), -1).unwrap();
        let new = rows.last().unwrap();
        assert_eq!(
            (new.outcome, new.tls_us),
            (Outcome::PinMismatch, Some(1500))
        );
    }

    #[test]
    fn rounds_roll_up_by_hour_excluding_void_ones() {
        let path = temp("rollup");
        let mut s = Store::open(&path).unwrap();
        register(&mut s, &[1, 2]);
        let hour = 500_000i64;
        let at = |min: i64| (hour * 3600 + min * 60) * 1000;
        for (min, void) in [(0, false), (10, false), (20, true)] {
            let probes = vec![
                probe(1, Outcome::Ok, 10 + min as u64),
                probe(2, if void { Outcome::Ok } else { Outcome::Timeout }, 0),
            ];
            s.record_round(
                &RoundRecord {
                    started_ms: at(min),
                    finished_ms: at(min) + 500,
                    void_reason: void.then(|| "2 of 2 failed".to_string()),
                    probes,
                },
                &KEEP,
            )
            .unwrap();
        }
        assert!(s.hourly(Address([1; 20]), 0).unwrap().is_empty());
        // The next hour's first round rolls the last hour up.
        s.record_round(
            &RoundRecord {
                started_ms: at(61),
                finished_ms: at(61) + 10,
                void_reason: None,
                probes: vec![probe(1, Outcome::Ok, 5)],
            },
            &KEEP,
        )
        .unwrap();
        let h1 = s.hourly(Address([1; 20]), 0).unwrap();
        assert_eq!(h1.len(), 1);
        assert_eq!((h1[0].hour, h1[0].probes, h1[0].ok), (hour, 2, 2));
        assert_eq!(h1[0].latency_p50_us, Some(10_000));
        assert_eq!(h1[0].latency_p95_us, Some(20_000));
        let h2 = s.hourly(Address([2; 20]), 0).unwrap();
        assert_eq!(
            (h2[0].probes, h2[0].relayed),
            (2, 0),
            "the void round is left out"
        );
        let live = s.hour_live(Address([1; 20]), hour + 1).unwrap().unwrap();
        assert_eq!(live.probes, 1);
        // Rows read back as written.
        let rows = s.probes(Address([2; 20]), 0).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].outcome, Outcome::Timeout);
        assert_eq!(rows[0].detail.as_deref(), Some("why"));
        assert!(rows[2].void);
    }

    #[test]
    fn retention_drops_old_probes_but_keeps_rollups() {
        let path = temp("retention");
        let mut s = Store::open(&path).unwrap();
        register(&mut s, &[1]);
        let day = 86_400_000i64;
        let t0 = 1_700_000_000_000i64;
        let short = Retention {
            probe_days: 1,
            rollup_days: 3,
        };
        for d in 0..5 {
            s.record_round(
                &RoundRecord {
                    started_ms: t0 + d * day,
                    finished_ms: t0 + d * day,
                    void_reason: None,
                    probes: vec![probe(1, Outcome::Ok, 1)],
                },
                &short,
            )
            .unwrap();
        }
        assert_eq!(
            s.round_count().unwrap(),
            2,
            "rounds older than a day are gone"
        );
        let hours = s.hourly(Address([1; 20]), 0).unwrap();
        assert_eq!(hours.len(), 3, "{hours:?}");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=20).collect();
        assert_eq!(percentile(&v, 50), Some(10));
        assert_eq!(percentile(&v, 95), Some(19));
        assert_eq!(percentile(&[7], 95), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }
}
