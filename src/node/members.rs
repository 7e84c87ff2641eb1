//! The member table as the chain thread keeps it: who has paid until when, folded from
//! `Subscribed` logs up to a block old enough not to be reorganised, and persisted so
//! that a restart resumes from there instead of rescanning from the deploy block.
//!
//! Logs newer than that block are not folded in: they are re-read on every poll and
//! merged on top ([`MemberState::merged`]), so a log a reorg removes stops counting.

use crate::eth::{hex, Address};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Member address → unix time (chain clock) their access ends.
pub type Members = HashMap<Address, u64>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    pub chain_id: u64,
    pub contract: Address,
    /// Logs of blocks up to and including this one are in `members`; `None`: none yet.
    pub synced_to: Option<u64>,
    /// Hash of block `synced_to`, to notice a reorg deeper than the configured depth.
    pub synced_hash: [u8; 32],
    pub members: Members,
}

/// The file format; a version number lets a later format refuse an older file cleanly.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    chain_id: u64,
    contract: String,
    synced_to: Option<u64>,
    synced_hash: String,
    /// `[address, until]` pairs, sorted by address so the file is stable.
    members: Vec<(String, u64)>,
}

const VERSION: u32 = 1;

impl MemberState {
    pub fn new(chain_id: u64, contract: Address) -> MemberState {
        MemberState {
            chain_id,
            contract,
            synced_to: None,
            synced_hash: [0; 32],
            members: Members::new(),
        }
    }

    /// Forgets everything synced (after a reorg deeper than expected).
    pub fn reset(&mut self) {
        self.synced_to = None;
        self.synced_hash = [0; 32];
        self.members.clear();
    }

    /// Records one `Subscribed` log. Subscribing only ever extends access, so the latest
    /// end wins whatever order logs are applied in.
    pub fn apply(members: &mut Members, member: Address, until: u64) {
        let entry = members.entry(member).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// The folded table with the not-yet-final logs on top.
    pub fn merged(&self, recent: &[(Address, u64)]) -> Members {
        let mut all = self.members.clone();
        for &(member, until) in recent {
            MemberState::apply(&mut all, member, until);
        }
        all
    }

    /// Reads a state file. `Ok(None)` when there is none yet.
    pub fn load(path: &Path) -> Result<Option<MemberState>, String> {
        let Some(file) =
            crate::state_file::read_json(path, "a member state file", VERSION, |f: &StateFile| {
                f.version
            })?
        else {
            return Ok(None);
        };
        let bad = |what: &str| format!("{}: bad {what}", path.display());
        let contract = file.contract.parse().map_err(|_| bad("contract"))?;
        let synced_hash = hex::decode_array(&file.synced_hash).map_err(|_| bad("synced_hash"))?;
        let mut members = Members::with_capacity(file.members.len());
        for (address, until) in file.members {
            let address = address.parse().map_err(|_| bad("member address"))?;
            MemberState::apply(&mut members, address, until);
        }
        Ok(Some(MemberState {
            chain_id: file.chain_id,
            contract,
            synced_to: file.synced_to,
            synced_hash,
            members,
        }))
    }

    /// Writes the whole state under a temporary name, syncs it, then renames it over
    /// the old file: a crash leaves either the old or the new state, never half of one.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut members: Vec<(String, u64)> = self
            .members
            .iter()
            .map(|(a, u)| (a.to_lower_hex(), *u))
            .collect();
        members.sort();
        let file = StateFile {
            version: VERSION,
            chain_id: self.chain_id,
            contract: self.contract.to_lower_hex(),
            synced_to: self.synced_to,
            synced_hash: hex::encode_prefixed(&self.synced_hash),
            members,
        };
        let text = serde_json::to_string(&file).map_err(std::io::Error::other)?;
        crate::state_file::write_atomically(path, text.as_bytes(), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(b: u8) -> Address {
        Address([b; 20])
    }

    #[test]
    fn latest_end_wins_in_any_order() {
        let mut m = Members::new();
        MemberState::apply(&mut m, a(1), 200);
        MemberState::apply(&mut m, a(1), 100);
        MemberState::apply(&mut m, a(2), 50);
        assert_eq!(m.get(&a(1)), Some(&200));
        assert_eq!(m.get(&a(2)), Some(&50));
    }

    #[test]
    fn recent_logs_count_only_while_they_are_re_read() {
        let mut s = MemberState::new(1, a(9));
        MemberState::apply(&mut s.members, a(1), 100);
        let with = s.merged(&[(a(1), 300), (a(3), 10)]);
        assert_eq!(with.get(&a(1)), Some(&300));
        assert_eq!(with.get(&a(3)), Some(&10));
        // The next poll no longer sees those logs (a reorg removed them).
        let without = s.merged(&[]);
        assert_eq!(without.get(&a(1)), Some(&100));
        assert_eq!(without.get(&a(3)), None);
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
        MemberState::apply(&mut s.members, a(1), 100);
        MemberState::apply(&mut s.members, a(2), 200);
        s.save(&path).unwrap();
        assert_eq!(MemberState::load(&path).unwrap(), Some(s));
        assert!(!dir.join("state.json.tmp").exists());
        std::fs::write(&path, "{\"version\": 99}").unwrap();
        assert!(MemberState::load(&path).is_err());
        std::fs::write(&path, "garbage").unwrap();
        assert!(MemberState::load(&path).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
