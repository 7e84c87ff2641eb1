//! Pay follows service. When an epoch ends, the nodes that relayed less than
//! `flag_below` of the monitor's counted probes in it (void rounds excluded, and no
//! counted probe is no evidence) are decided on; the chain thread for withholds asks the
//! contract how many slots each heartbeated in that epoch and, with `[monitor] withhold =
//! true`, sends `withhold(node, epoch, reason, evidence)` from the monitor's key while
//! the epoch's challenge window (the epoch after it) is open. With `withhold = false`
//! the same decision is logged and stored as a dry run.
//!
//! Idempotent across restarts: the decision is stored (as pending) before the chain is
//! asked, answers are stored as they come, and a restart re-asks only what is not final.
//! A pending withhold that was in fact mined before a crash finds no slots left.
//!
//! The main thread (the one database writer) decides and records; [`run_thread`] is the
//! only code here that blocks on the chain.

use super::chain::{Chain, Timing};
use super::stats::{self, Policy};
use super::store::{meta, Result, Store, WithholdRow, WithholdState};
use crate::eth::rpc::RpcError;
use crate::eth::sender::{SendError, Sender};
use crate::eth::{hex, Address};
use std::sync::mpsc::Receiver;

/// The reason code `withhold` carries: the node failed the monitor's probes.
pub const REASON_FAILED_PROBES: u8 = 1;

/// One decision for the withhold thread to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub node: Address,
    pub epoch: u64,
    pub evidence: [u8; 32],
    /// `withhold = false`: ask the slots, send nothing.
    pub dry_run: bool,
}

/// What the chain said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Sent {
        slots: u64,
        tx_hash: [u8; 32],
    },
    DryRun {
        slots: u64,
    },
    NoSlots,
    /// The contract's epoch is not the one after yet (the clocks disagree by a block).
    TooEarly {
        current: u64,
    },
    Missed {
        current: u64,
    },
    Failed(String),
}

/// An answer for the main thread to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub node: Address,
    pub epoch: u64,
    pub answer: Answer,
}

/// Decides for the epoch just ended (`epoch`), once: stores a pending row for every node
/// that failed its probes in it, unless a row exists already. Returns the rows of that
/// epoch still to be carried out (pending or failed), for the caller to hand over.
pub fn decide(
    store: &mut Store,
    t: &Timing,
    epoch: u64,
    policy: &Policy,
    now_ms: i64,
) -> Result<Vec<WithholdRow>> {
    // The probes of an epoch are read once, by the first round after it: later rounds
    // only carry on with what that decision left unfinished.
    let decided_to = store.meta(meta::WITHHOLD_DECIDED_TO)?.unwrap_or(0);
    let epoch_i = i64::try_from(epoch).unwrap_or(i64::MAX);
    if decided_to <= epoch_i {
        decide_once(store, t, epoch, policy, now_ms)?;
        store.set_meta(meta::WITHHOLD_DECIDED_TO, epoch_i.saturating_add(1))?;
    }
    Ok(store
        .withholds_of_epoch(epoch)?
        .into_iter()
        .filter(|w| !w.state.is_final())
        .collect())
}

fn decide_once(
    store: &mut Store,
    t: &Timing,
    epoch: u64,
    policy: &Policy,
    now_ms: i64,
) -> Result<()> {
    let known = store.withholds_of_epoch(epoch)?;
    for c in stats::failing_in_epoch(store, t, epoch, policy)? {
        if known.iter().any(|w| w.node == c.address) {
            continue;
        }
        store.save_withhold(&WithholdRow {
            node: c.address,
            epoch,
            state: WithholdState::Pending,
            probes: c.probes,
            relayed: c.relayed,
            evidence: c.evidence_hash,
            evidence_text: c.evidence_text.clone(),
            slots: None,
            tx_hash: None,
            detail: None,
            updated_ms: now_ms,
        })?;
    }
    Ok(())
}

/// Stores what the chain answered and logs it with its evidence.
pub fn record(store: &mut Store, done: &Done, now_ms: i64) -> Result<()> {
    let Some(mut row) = store
        .withholds_of_epoch(done.epoch)?
        .into_iter()
        .find(|w| w.node == done.node)
    else {
        return Ok(());
    };
    let evidence = hex::encode_prefixed(&row.evidence);
    let what = format!(
        "node {} epoch {}: relayed {} of {} counted probes (evidence {evidence})",
        row.node, row.epoch, row.relayed, row.probes
    );
    let (state, detail) = match &done.answer {
        Answer::Sent { slots, tx_hash } => {
            row.slots = Some(i64::try_from(*slots).unwrap_or(i64::MAX));
            row.tx_hash = Some(*tx_hash);
            log::warn!(
                "withheld {what}: {slots} slots, tx {}",
                hex::encode_prefixed(tx_hash)
            );
            (WithholdState::Sent, None)
        }
        Answer::DryRun { slots } => {
            row.slots = Some(i64::try_from(*slots).unwrap_or(i64::MAX));
            log::warn!(
                "would withhold {what}: {slots} slots (dry run: [monitor] withhold = false)"
            );
            (WithholdState::DryRun, None)
        }
        Answer::NoSlots => {
            log::info!("nothing to withhold for {what}: no slots left in the epoch (no heartbeat, or withheld already)");
            (WithholdState::NoSlots, None)
        }
        Answer::Missed { current } => {
            log::warn!("cannot withhold {what}: the chain is in epoch {current}, the challenge window has closed");
            (
                WithholdState::Missed,
                Some(format!(
                    "challenge window closed (chain in epoch {current})"
                )),
            )
        }
        Answer::TooEarly { current } => (
            WithholdState::Failed,
            Some(format!(
                "the chain is still in epoch {current}: retried next round"
            )),
        ),
        Answer::Failed(why) => {
            log::warn!("withhold of {what} failed, retried next round: {why}");
            (WithholdState::Failed, Some(why.clone()))
        }
    };
    row.state = state;
    row.detail = detail;
    row.updated_ms = now_ms;
    store.save_withhold(&row)
}

fn revert_named(e: &RpcError, name: &str) -> bool {
    matches!(e, RpcError::Rpc { revert: Some(r), .. } if r.starts_with(name))
}

/// Carries out one job (blocking chain calls).
pub fn carry_out(chain: &Chain, sender: &mut Sender, job: &Job) -> Answer {
    let current = match chain.current_epoch() {
        Ok(c) => c,
        Err(e) => return Answer::Failed(format!("currentEpoch: {e}")),
    };
    if current <= job.epoch {
        return Answer::TooEarly { current };
    }
    if current > job.epoch + 1 {
        return Answer::Missed { current };
    }
    let slots = match chain.heartbeats_in_epoch(job.node, job.epoch) {
        Ok(0) => return Answer::NoSlots,
        Ok(s) => s,
        Err(e) => return Answer::Failed(format!("heartbeatsInEpoch: {e}")),
    };
    if job.dry_run {
        return Answer::DryRun { slots };
    }
    match chain.withhold(
        sender,
        job.node,
        job.epoch,
        REASON_FAILED_PROBES,
        job.evidence,
    ) {
        Ok(r) => Answer::Sent {
            slots,
            tx_hash: r.transaction_hash,
        },
        Err(SendError::Rpc(e)) if revert_named(&e, "NothingToWithhold") => Answer::NoSlots,
        Err(SendError::Rpc(e)) if revert_named(&e, "OutsideChallengeWindow") => Answer::Missed {
            current: current + 1,
        },
        Err(e) => Answer::Failed(e.to_string()),
    }
}

/// The withhold thread's body: one job at a time until the main thread is gone.
pub fn run_thread(
    chain: Chain,
    mut sender: Sender,
    jobs: Receiver<Job>,
    mut answer: impl FnMut(Done) -> bool,
) {
    for job in jobs {
        let done = Done {
            node: job.node,
            epoch: job.epoch,
            answer: carry_out(&chain, &mut sender, &job),
        };
        if !answer(done) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::stats::tests::fixture;

    const POLICY: Policy = Policy {
        flag_below: 0.5,
        remove_below: 0.5,
        min_probes: 1,
    };

    fn done(node: Address, answer: Answer) -> Done {
        Done {
            node,
            epoch: 0,
            answer,
        }
    }

    #[test]
    fn a_decision_is_stored_once_and_ends_with_its_final_answer() {
        let (mut s, t) = fixture("withhold-decide");
        // Nodes 2 and 3 relayed none of epoch 0's counted probes; node 1 all of them.
        let todo = decide(&mut s, &t, 0, &POLICY, 5).unwrap();
        let nodes: Vec<Address> = todo.iter().map(|w| w.node).collect();
        assert_eq!(nodes, [Address([2; 20]), Address([3; 20])]);
        assert!(todo.iter().all(|w| w.state == WithholdState::Pending));
        assert_eq!((todo[0].probes, todo[0].relayed), (3, 0));
        assert_eq!(
            todo[0].evidence,
            crate::eth::keccak256(todo[0].evidence_text.as_bytes())
        );
        // Deciding again (a restart) adds nothing and hands back the same unfinished rows.
        assert_eq!(decide(&mut s, &t, 0, &POLICY, 6).unwrap(), todo);

        let hash = [7u8; 32];
        record(
            &mut s,
            &done(
                Address([2; 20]),
                Answer::Sent {
                    slots: 3,
                    tx_hash: hash,
                },
            ),
            7,
        )
        .unwrap();
        record(
            &mut s,
            &done(Address([3; 20]), Answer::Failed("rpc down".into())),
            7,
        )
        .unwrap();
        // The sent one is final; the failed one is retried.
        let todo = decide(&mut s, &t, 0, &POLICY, 8).unwrap();
        assert_eq!(todo.len(), 1);
        assert_eq!(todo[0].node, Address([3; 20]));
        assert_eq!(todo[0].detail.as_deref(), Some("rpc down"));
        record(&mut s, &done(Address([3; 20]), Answer::NoSlots), 9).unwrap();
        assert!(decide(&mut s, &t, 0, &POLICY, 10).unwrap().is_empty());

        let rows = s.withholds(None, 10).unwrap();
        let sent = rows.iter().find(|w| w.node == Address([2; 20])).unwrap();
        assert_eq!(
            (sent.state, sent.slots, sent.tx_hash),
            (WithholdState::Sent, Some(3), Some(hash))
        );
        assert!(
            sent.evidence_text.contains("auth_refused"),
            "the evidence is kept"
        );
        // An epoch without probes decides nothing.
        assert!(decide(&mut s, &t, 4, &POLICY, 11).unwrap().is_empty());
    }

    #[test]
    fn every_state_round_trips_through_its_code() {
        for st in WithholdState::ALL {
            assert_eq!(WithholdState::from_code(st.code()), st);
        }
        assert!(WithholdState::Sent.is_final() && WithholdState::DryRun.is_final());
        assert!(!WithholdState::Failed.is_final() && !WithholdState::Pending.is_final());
    }
}
