//! The schema: forward migrations, applied in order; `PRAGMA user_version` counts them.

/// Forward migrations; entry `i` takes the schema from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: rounds, probes, registry, heartbeats, hourly roll-ups, small key/values.
    "CREATE TABLE rounds (
        id INTEGER PRIMARY KEY,
        started_ms INTEGER NOT NULL,
        finished_ms INTEGER NOT NULL,
        nodes INTEGER NOT NULL,
        relayed INTEGER NOT NULL,
        void_reason TEXT
    );
    CREATE INDEX rounds_started ON rounds(started_ms);
    CREATE TABLE probes (
        round INTEGER NOT NULL,
        node BLOB NOT NULL,
        path INTEGER NOT NULL,
        outcome INTEGER NOT NULL,
        connect_us INTEGER,
        login_us INTEGER,
        latency_us INTEGER,
        download_bytes INTEGER NOT NULL,
        download_us INTEGER,
        egress TEXT,
        detail TEXT,
        PRIMARY KEY (node, round, path)
    ) WITHOUT ROWID;
    CREATE TABLE nodes (
        node BLOB PRIMARY KEY,
        endpoint TEXT NOT NULL,
        active INTEGER NOT NULL,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL
    );
    CREATE TABLE registry_snapshots (
        id INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        entries TEXT NOT NULL
    );
    CREATE TABLE heartbeats (
        node BLOB NOT NULL,
        slot INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        block INTEGER NOT NULL,
        PRIMARY KEY (node, slot)
    ) WITHOUT ROWID;
    CREATE TABLE hourly (
        node BLOB NOT NULL,
        hour INTEGER NOT NULL,
        probes INTEGER NOT NULL,
        relayed INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        latency_p50_us INTEGER,
        latency_p95_us INTEGER,
        kbps REAL,
        PRIMARY KEY (node, hour)
    ) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
    // 2: the usage counters heartbeats carry; what the monitor withheld (or would have).
    "ALTER TABLE heartbeats ADD COLUMN sessions INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE heartbeats ADD COLUMN bytes_relayed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE heartbeats ADD COLUMN members INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE withholds (
        node BLOB NOT NULL,
        epoch INTEGER NOT NULL,
        state INTEGER NOT NULL,
        probes INTEGER NOT NULL,
        relayed INTEGER NOT NULL,
        evidence BLOB NOT NULL,
        evidence_text TEXT NOT NULL,
        slots INTEGER,
        tx_hash BLOB,
        detail TEXT,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (node, epoch)
    ) WITHOUT ROWID;
    CREATE INDEX withholds_epoch ON withholds(epoch);",
    // 3: the TLS handshake's time, for probes of a node's TLS endpoint.
    "ALTER TABLE probes ADD COLUMN tls_us INTEGER;",
];

pub const SCHEMA_VERSION: usize = MIGRATIONS.len();
