//! The member table as the chain thread keeps it: who has paid until when, folded from
//! `Subscribed` logs up to a block old enough not to be reorganised, and persisted so
//! that a restart resumes from there instead of rescanning from the deploy block.
//!
//! Logs newer than that block are not folded in: they are re-read on every poll and
//! laid on top ([`MemberView`]), so a log a reorg removes stops counting.
//!
//! The table is a sorted array of 28-byte rows, shared (behind an `Arc`) by the chain
//! thread and the loop: 100,000 members cost 2.8 MB once, where a hash map per thread
//! cost several times that.

use crate::eth::{hex, Address};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

/// One member: its address and, as little-endian bytes, the unix time (chain clock) its
/// access ends. Bytes, not a `u64`, so that a row is 28 bytes without padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    member: Address,
    until: [u8; 8],
}

impl Row {
    fn new(member: Address, until: u64) -> Row {
        Row {
            member,
            until: until.to_le_bytes(),
        }
    }

    fn until(&self) -> u64 {
        u64::from_le_bytes(self.until)
    }
}

/// Member address → unix time (chain clock) their access ends, sorted by address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members {
    rows: Vec<Row>,
}

impl Members {
    pub fn new() -> Members {
        Members::default()
    }

    /// The table of these logs (latest end wins), in one sort.
    pub fn from_logs(mut logs: Vec<(Address, u64)>) -> Members {
        logs.sort_unstable();
        // Sorted by (address, until): the last of each address has the latest end.
        let mut rows: Vec<Row> = Vec::with_capacity(logs.len());
        for (member, until) in logs {
            match rows.last_mut() {
                Some(last) if last.member == member => *last = Row::new(member, until),
                _ => rows.push(Row::new(member, until)),
            }
        }
        rows.shrink_to_fit();
        Members { rows }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn get(&self, member: &Address) -> Option<u64> {
        self.position(member).ok().map(|i| self.rows[i].until())
    }

    fn position(&self, member: &Address) -> Result<usize, usize> {
        self.rows.binary_search_by(|r| r.member.cmp(member))
    }

    pub fn iter(&self) -> impl Iterator<Item = (Address, u64)> + '_ {
        self.rows.iter().map(|r| (r.member, r.until()))
    }

    /// Members whose access ends after `now`.
    pub fn active(&self, now: u64) -> usize {
        self.rows.iter().filter(|r| r.until() > now).count()
    }

    /// Records one `Subscribed` log. Subscribing only ever extends access, so the latest
    /// end wins whatever order logs are applied in.
    pub fn insert(&mut self, member: Address, until: u64) {
        self.fold(vec![(member, until)]);
    }

    /// Records a batch of logs: known members in place, new ones merged in from the
    /// back, so the table grows by exactly the new rows and is never copied.
    pub fn fold(&mut self, logs: Vec<(Address, u64)>) {
        let mut fresh = Vec::new();
        for (member, until) in logs {
            match self.position(&member) {
                Ok(i) => {
                    let row = &mut self.rows[i];
                    *row = Row::new(member, row.until().max(until));
                }
                Err(_) => fresh.push((member, until)),
            }
        }
        if fresh.is_empty() {
            return;
        }
        let fresh = Members::from_logs(fresh).rows;
        let old = self.rows.len();
        self.rows.reserve_exact(fresh.len());
        self.rows.extend_from_slice(&fresh);
        // Merge the sorted old rows (0..old) and `fresh` into 0..old + fresh.len(),
        // largest first; no address is in both.
        let (mut i, mut j) = (old, fresh.len());
        let mut k = self.rows.len();
        while j > 0 {
            k -= 1;
            if i > 0 && self.rows[i - 1].member > fresh[j - 1].member {
                self.rows[k] = self.rows[i - 1];
                i -= 1;
            } else {
                self.rows[k] = fresh[j - 1];
                j -= 1;
            }
        }
    }
}

/// What the loop checks credentials against: the folded table, shared with the chain
/// thread, and the logs of the blocks still inside the reorg window on top.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberView {
    pub settled: Arc<Members>,
    pub recent: Arc<Members>,
}

impl MemberView {
    pub fn get(&self, member: &Address) -> Option<u64> {
        match (self.settled.get(member), self.recent.get(member)) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// Members known, counting an address in both parts once.
    pub fn len(&self) -> usize {
        let only_recent = self
            .recent
            .iter()
            .filter(|(m, _)| self.settled.get(m).is_none())
            .count();
        self.settled.len() + only_recent
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Members whose access ends after `now`.
    pub fn active(&self, now: u64) -> usize {
        let settled = self.settled.active(now);
        // Recent logs that make an address active that the settled table does not.
        let lifted = self
            .recent
            .iter()
            .filter(|&(m, u)| u > now && self.settled.get(&m).is_none_or(|s| s <= now))
            .count();
        settled + lifted
    }
}

impl From<Members> for MemberView {
    fn from(settled: Members) -> MemberView {
        MemberView {
            settled: Arc::new(settled),
            recent: Arc::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    pub chain_id: u64,
    pub contract: Address,
    /// Logs of blocks up to and including this one are in `members`; `None`: none yet.
    pub synced_to: Option<u64>,
    /// Hash of block `synced_to`, to notice a reorg deeper than the configured depth.
    pub synced_hash: [u8; 32],
    pub members: Arc<Members>,
}

/// The file format; a version number lets a later format refuse an older file cleanly.
/// `M` is how the members are read or written: one row at a time either way, so a large
/// table never exists twice, or as text, in memory.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile<M> {
    version: u32,
    chain_id: u64,
    contract: String,
    synced_to: Option<u64>,
    synced_hash: String,
    /// `[address, until]` pairs, sorted by address so the file is stable.
    members: M,
}

const VERSION: u32 = 1;

/// Writes the table as `[address, until]` pairs, in address order.
struct WriteRows<'a>(&'a Members);

impl Serialize for WriteRows<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (member, until) in self.0.iter() {
            seq.serialize_element(&(member.to_lower_hex(), until))?;
        }
        seq.end()
    }
}

/// Reads `[address, until]` pairs into a table.
struct ReadRows(Members);

impl<'de> Deserialize<'de> for ReadRows {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ReadRows, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = ReadRows;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of [address, until] pairs")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ReadRows, A::Error> {
                let mut logs = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some((address, until)) = seq.next_element::<(String, u64)>()? {
                    let member = address
                        .parse()
                        .map_err(|_| de::Error::custom(format!("bad member address {address}")))?;
                    logs.push((member, until));
                }
                Ok(ReadRows(Members::from_logs(logs)))
            }
        }
        d.deserialize_seq(Pairs)
    }
}

impl MemberState {
    pub fn new(chain_id: u64, contract: Address) -> MemberState {
        MemberState {
            chain_id,
            contract,
            synced_to: None,
            synced_hash: [0; 32],
            members: Arc::default(),
        }
    }

    /// Forgets everything synced (after a reorg deeper than expected).
    pub fn reset(&mut self) {
        self.synced_to = None;
        self.synced_hash = [0; 32];
        self.members = Arc::default();
    }

    /// Folds logs of final blocks into the table. The loop may still hold the table it
    /// was last sent; then the new one is a copy, and the old one goes when the loop
    /// takes the next.
    pub fn fold(&mut self, logs: Vec<(Address, u64)>) {
        if !logs.is_empty() {
            Arc::make_mut(&mut self.members).fold(logs);
        }
    }

    /// The folded table with the not-yet-final logs on top.
    pub fn view(&self, recent: &Arc<Members>) -> MemberView {
        MemberView {
            settled: Arc::clone(&self.members),
            recent: Arc::clone(recent),
        }
    }

    /// Reads a state file. `Ok(None)` when there is none yet.
    pub fn load(path: &Path) -> Result<Option<MemberState>, String> {
        let Some(file) = crate::state_file::read_json(
            path,
            "a member state file",
            VERSION,
            |f: &StateFile<ReadRows>| f.version,
        )?
        else {
            return Ok(None);
        };
        let bad = |what: &str| format!("{}: bad {what}", path.display());
        let contract = file.contract.parse().map_err(|_| bad("contract"))?;
        let synced_hash = hex::decode_array(&file.synced_hash).map_err(|_| bad("synced_hash"))?;
        Ok(Some(MemberState {
            chain_id: file.chain_id,
            contract,
            synced_to: file.synced_to,
            synced_hash,
            members: Arc::new(file.members.0),
        }))
    }

    /// Writes the whole state under a temporary name, syncs it, then renames it over
    /// the old file: a crash leaves either the old or the new state, never half of one.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let file = StateFile {
            version: VERSION,
            chain_id: self.chain_id,
            contract: self.contract.to_lower_hex(),
            synced_to: self.synced_to,
            synced_hash: hex::encode_prefixed(&self.synced_hash),
            members: WriteRows(&self.members),
        };
        crate::state_file::write_atomically_with(path, true, |f| {
            let mut w = BufWriter::new(f);
            serde_json::to_writer(&mut w, &file).map_err(std::io::Error::other)?;
            w.into_inner().map_err(|e| e.into_error()).map(drop)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn a(b: u8) -> Address {
        Address([b; 20])
    }

    #[test]
    fn latest_end_wins_in_any_order() {
        let mut m = Members::new();
        m.insert(a(1), 200);
        m.insert(a(1), 100);
        m.insert(a(2), 50);
        assert_eq!(m.get(&a(1)), Some(200));
        assert_eq!(m.get(&a(2)), Some(50));
        assert_eq!(m.get(&a(3)), None);
        assert_eq!(m.len(), 2);
        let batch = Members::from_logs(vec![(a(1), 100), (a(2), 50), (a(1), 200)]);
        assert_eq!(batch, m);
    }

    #[test]
    fn folding_batches_gives_the_table_of_all_their_logs() {
        // A small deterministic generator: the same runs every time, many shapes.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..50 {
            let mut table = Members::new();
            let mut model: HashMap<Address, u64> = HashMap::new();
            for _ in 0..(round % 7 + 1) {
                let batch: Vec<(Address, u64)> = (0..next() % 40)
                    .map(|_| {
                        let mut addr = [0u8; 20];
                        // Few distinct addresses, so batches hit known members too.
                        addr[19] = (next() % 60) as u8;
                        addr[0] = (next() % 3) as u8;
                        (Address(addr), next() % 1000)
                    })
                    .collect();
                for &(m, u) in &batch {
                    let e = model.entry(m).or_insert(u);
                    *e = (*e).max(u);
                }
                table.fold(batch);
                let mut want: Vec<(Address, u64)> = model.iter().map(|(m, u)| (*m, *u)).collect();
                want.sort();
                assert_eq!(table.iter().collect::<Vec<_>>(), want, "round {round}");
            }
            for (m, u) in &model {
                assert_eq!(table.get(m), Some(*u));
            }
        }
    }

    #[test]
    fn a_member_costs_28_bytes() {
        assert_eq!(std::mem::size_of::<Row>(), 28);
        let t = Members::from_logs(
            (0..1000u32)
                .map(|i| {
                    let mut addr = [0u8; 20];
                    addr[16..].copy_from_slice(&i.to_be_bytes());
                    (Address(addr), 5)
                })
                .collect(),
        );
        assert_eq!(t.rows.capacity(), 1000);
    }

    #[test]
    fn recent_logs_count_only_while_they_are_re_read() {
        let mut s = MemberState::new(1, a(9));
        s.fold(vec![(a(1), 100), (a(4), 100)]);
        let recent = Arc::new(Members::from_logs(vec![
            (a(1), 300),
            (a(3), 10),
            (a(4), 50),
        ]));
        let with = s.view(&recent);
        assert_eq!(with.get(&a(1)), Some(300));
        assert_eq!(with.get(&a(3)), Some(10));
        assert_eq!(with.get(&a(4)), Some(100));
        assert_eq!(with.len(), 3);
        // At time 99: a(1) and a(4) are active; a(3) ended at 10.
        assert_eq!(with.active(99), 2);
        // At 200 only a(1), by its recent log.
        assert_eq!(with.active(200), 1);
        // The next poll no longer sees those logs (a reorg removed them).
        let without = s.view(&Arc::default());
        assert_eq!(without.get(&a(1)), Some(100));
        assert_eq!(without.get(&a(3)), None);
        assert_eq!(without.active(200), 0);
    }

    #[test]
    fn folding_while_the_loop_holds_the_table_leaves_its_copy_alone() {
        let mut s = MemberState::new(1, a(9));
        s.fold(vec![(a(1), 100)]);
        let sent = s.view(&Arc::default());
        s.fold(vec![(a(2), 100)]);
        assert_eq!(sent.get(&a(2)), None);
        assert_eq!(s.members.get(&a(2)), Some(100));
    }

    #[test]
    fn state_survives_a_save_and_load() {
        let dir = std::env::temp_dir().join(format!("aqueduct-members-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        assert_eq!(MemberState::load(&path).unwrap(), None);
        let mut s = MemberState::new(31337, a(9));
        s.synced_to = Some(42);
        s.synced_hash = [7; 32];
        s.fold(vec![(a(2), 200), (a(1), 100)]);
        s.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        // The format is unchanged: sorted [address, until] pairs.
        assert!(
            text.contains(&format!(
                "\"members\":[[\"{}\",100],[\"{}\",200]]",
                a(1).to_lower_hex(),
                a(2).to_lower_hex()
            )),
            "{text}"
        );
        assert_eq!(MemberState::load(&path).unwrap(), Some(s));
        assert!(!dir.join("state.json.tmp").exists());
        std::fs::write(&path, "{\"version\": 99}").unwrap();
        assert!(MemberState::load(&path).is_err());
        std::fs::write(&path, "garbage").unwrap();
        assert!(MemberState::load(&path).is_err());
        let bad = text.replace(&a(1).to_lower_hex(), "0xnothex");
        std::fs::write(&path, bad).unwrap();
        let e = MemberState::load(&path).unwrap_err();
        assert!(e.contains("bad member address 0xnothex"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
