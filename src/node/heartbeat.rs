//! The heartbeat thread: one `imOnline` per slot while the node serves.
//!
//! Every round checks the chain before spending anything: the node must be active, the
//! slot must not have its heartbeat yet (`lastHeartbeatSlot`), no earlier transaction
//! from this key may still be pending, the call must estimate without reverting, and
//! the balance must pay for it. Since the check reads the chain, a restart or an RPC
//! outage cannot lead to a second heartbeat in a slot; a slot missed is simply missed.
//! Once a slot is settled (heartbeat on chain, node inactive, attempts used up), rounds
//! only read the head block until the next slot starts: one call per poll, not five.
//! It runs apart from the membership thread so that waiting for a receipt never delays
//! a member's lookup. Each heartbeat carries what the node served since the one before
//! ([`super::usage`]): sessions and distinct members counted as sessions are admitted,
//! and bytes from the node's own metrics endpoint (0 when it runs none).

use super::stats::ChainStats;
use super::usage::{self, UsageCounters};
use crate::contract::{calls, Contract, ContractError, HeartbeatCheck, Usage};
use crate::eth::rpc::{BlockId, CallRequest, Client, FeeData, RpcError};
use crate::eth::sender::{Sender, TxRequest};
use crate::eth::units::format_eth;
use crate::eth::{hex, Address};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A heartbeat should be affordable for this long at current fees, or a warning is logged.
const LOW_BALANCE_DAYS: u64 = 7;
const LOW_BALANCE_WARN_EVERY: Duration = Duration::from_secs(3600);
/// Attempts per slot after failed sends, so a persistent failure does not burn gas.
const MAX_ATTEMPTS_PER_SLOT: u32 = 3;

pub struct Heartbeats {
    pub client: Client,
    pub sender: Sender,
    pub contract: Address,
    pub poll_interval: Duration,
    pub serving: Arc<AtomicBool>,
    /// Set by the loop while the monthly allowance is used up: a node that does not
    /// serve is not paid, so it does not claim to be online.
    pub allowance_used_up: Arc<AtomicBool>,
    pub stats: Arc<ChainStats>,
    /// Polled between rounds; the thread ends when it is set.
    pub stop: Arc<AtomicBool>,
    /// Sessions and members served since the last heartbeat, counted by the loop.
    pub usage: Arc<UsageCounters>,
    /// The node's own `/metrics`, for the bytes relayed; none without `[metrics] listen`.
    pub metrics_url: Option<String>,
}

/// Why a round sent nothing; logged once each time it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Skip {
    NotServing,
    AllowanceUsedUp,
    NotActive,
    NotYet { from_epoch: u64 },
    PendingTx { latest: u64, pending: u64 },
    WouldRevert(String),
    Balance { balance: u128, cost: u128 },
    GaveUp,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::NotServing => f.write_str("the node is not serving (draining or unable to accept connections)"),
            Skip::AllowanceUsedUp => f.write_str(
                "the monthly allowance (limits.monthly_gb) is used up; heartbeats resume when the month turns",
            ),
            Skip::NotActive => f.write_str(
                "this node is not an active node of the contract (removed by the owner, or never added with `aqueduct add-node`)",
            ),
            Skip::NotYet { from_epoch } => write!(
                f,
                "this node was added in the current epoch and earns from epoch {from_epoch}; heartbeats start then"
            ),
            Skip::PendingTx { latest, pending } => write!(
                f,
                "a transaction from the node's key is still pending (nonces {latest}..{pending}); waiting for it"
            ),
            Skip::WouldRevert(why) => write!(f, "imOnline would revert: {why}"),
            Skip::Balance { balance, cost } => write!(
                f,
                "balance {} cannot pay one heartbeat (about {} at current fees); fund the node's address",
                format_eth(*balance),
                format_eth(*cost)
            ),
            Skip::GaveUp => write!(f, "{MAX_ATTEMPTS_PER_SLOT} failed attempts in this slot; waiting for the next one"),
        }
    }
}

struct State {
    /// The slot whose heartbeat is known to be on chain.
    done_slot: Option<u64>,
    attempts: (u64, u32),
    last_skip: Option<(Option<u64>, Skip)>,
    low_balance_warned: Option<Instant>,
    /// The contract's (genesis, slotLength), read once.
    timing: Option<(u64, u64)>,
    /// Nothing more can happen in this slot (its heartbeat is on chain, the node is not
    /// active, or attempts are used up): rounds only watch the head until the slot ends.
    quiet_slot: Option<u64>,
    /// The error of the last failed round, while rounds keep failing.
    failing: Option<String>,
    /// The node's bytes-relayed counter as of the last heartbeat that landed.
    bytes_reported: u64,
}

impl Heartbeats {
    pub fn run(mut self) {
        let mut st = State {
            done_slot: None,
            attempts: (0, 0),
            last_skip: None,
            low_balance_warned: None,
            timing: None,
            quiet_slot: None,
            failing: None,
            bytes_reported: 0,
        };
        log::info!(
            "heartbeats: sending imOnline once per slot from {}",
            self.sender.address()
        );
        while !self.stop.load(Ordering::Relaxed) {
            if !self.serving.load(Ordering::Relaxed) {
                self.skipped(&mut st, None, Skip::NotServing);
            } else if self.allowance_used_up.load(Ordering::Relaxed) {
                self.skipped(&mut st, None, Skip::AllowanceUsedUp);
            } else {
                match self.round(&mut st) {
                    Ok(()) => {
                        if st.failing.take().is_some() {
                            log::info!("heartbeats: the chain answers again");
                        }
                    }
                    Err(e) => {
                        self.stats.rpc_errors.fetch_add(1, Ordering::Relaxed);
                        // Once per kind of failure, not once per poll through an outage.
                        let text = e.to_string();
                        if st.failing.as_deref() != Some(text.as_str()) {
                            log::warn!(
                                "heartbeats: {text}; trying again every {}s",
                                self.poll_interval.as_secs()
                            );
                            st.failing = Some(text);
                        }
                    }
                }
            }
            std::thread::sleep(self.poll_interval);
        }
    }

    fn skipped(&self, st: &mut State, slot: Option<u64>, why: Skip) {
        let entry = Some((slot, why.clone()));
        if st.last_skip == entry {
            return;
        }
        if slot.is_some() {
            self.stats
                .heartbeats_skipped
                .fetch_add(1, Ordering::Relaxed);
        }
        match slot {
            Some(slot) => log::warn!("heartbeat for slot {slot} skipped: {why}"),
            None => log::warn!("heartbeats paused: {why}"),
        }
        st.last_skip = entry;
    }

    /// The slot of the chain's head, as the contract computes it, in one call.
    fn head_slot(&self, st: &mut State) -> Result<u64, ContractError> {
        let (genesis, length) = match st.timing {
            Some(t) => t,
            None => {
                let contract = Contract::new(&self.client, self.contract);
                let t = (contract.genesis()?, contract.slot_length()?.max(1));
                *st.timing.insert(t)
            }
        };
        let head = self
            .client
            .block(BlockId::Latest)?
            .ok_or_else(|| RpcError::BadResponse {
                method: "eth_getBlockByNumber".into(),
                message: "no latest block".into(),
            })?;
        Ok(head.timestamp.saturating_sub(genesis) / length)
    }

    fn round(&mut self, st: &mut State) -> Result<(), ContractError> {
        if let Some(quiet) = st.quiet_slot {
            if self.head_slot(st)? == quiet {
                return Ok(());
            }
            st.quiet_slot = None;
        }
        let node = self.sender.address();
        let contract = Contract::new(&self.client, self.contract);
        let slot = match contract.heartbeat_check(node)? {
            HeartbeatCheck::NotActive => {
                let slot = contract.current_slot()?;
                self.skipped(st, Some(slot), Skip::NotActive);
                st.quiet_slot = Some(slot);
                return Ok(());
            }
            HeartbeatCheck::NotYet { from_epoch } => {
                let slot = contract.current_slot()?;
                self.skipped(st, Some(slot), Skip::NotYet { from_epoch });
                st.quiet_slot = Some(slot);
                return Ok(());
            }
            HeartbeatCheck::AlreadySent { slot } => {
                if st.done_slot != Some(slot) {
                    log::info!("heartbeat for slot {slot} is on chain");
                    st.done_slot = Some(slot);
                }
                st.quiet_slot = Some(slot);
                return Ok(());
            }
            HeartbeatCheck::Due { slot } => slot,
        };
        if st.attempts.0 != slot {
            st.attempts = (slot, 0);
        }
        if st.attempts.1 >= MAX_ATTEMPTS_PER_SLOT {
            self.skipped(st, Some(slot), Skip::GaveUp);
            st.quiet_slot = Some(slot);
            return Ok(());
        }
        let latest = self.latest_nonce(node)?;
        let pending = self.client.pending_nonce(node)?;
        if pending > latest {
            self.skipped(st, Some(slot), Skip::PendingTx { latest, pending });
            return Ok(());
        }
        let (served, bytes_total) = self.served(st);
        let call = CallRequest {
            from: Some(node),
            ..CallRequest::new(self.contract, calls::im_online(&served))
        };
        let gas = match self.client.estimate_gas(&call) {
            Ok(g) => g,
            Err(e) if e.revert().is_some() || e.rpc_message().is_some() => {
                self.skipped(st, Some(slot), Skip::WouldRevert(e.to_string()));
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let fees = self.client.fee_data()?;
        let balance = self.client.balance(node)?;
        // In gwei: a u64 holds 18 billion ETH that way, and gwei is finer than any alert.
        let gwei = u64::try_from(balance / 1_000_000_000).unwrap_or(u64::MAX);
        self.stats.balance_gwei.store(gwei, Ordering::Relaxed);
        let worst = u128::from(gas).saturating_mul(fees.max_fee());
        if balance < worst {
            self.skipped(
                st,
                Some(slot),
                Skip::Balance {
                    balance,
                    cost: worst,
                },
            );
            return Ok(());
        }
        self.warn_if_low(st, &contract, balance, gas, fees);
        st.attempts.1 += 1;
        // One send per slot: reading the nonce afresh costs one call and means a chain
        // that lost our last transaction (a restarted dev chain, a reorg) leaves no gap.
        self.sender.resync_nonce();
        let request = TxRequest::call(self.contract, calls::im_online(&served));
        match self.sender.send(&self.client, &request) {
            Ok(receipt) => {
                self.usage.reported(served.sessions, served.members);
                if let Some(total) = bytes_total {
                    st.bytes_reported = total;
                }
                self.stats.heartbeats_sent.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .last_heartbeat_unix
                    .store(crate::clock::unix_now(), Ordering::Relaxed);
                log::info!(
                    "heartbeat sent for slot {slot}: tx {} in block {}; served since the last: {} sessions, {} members, {} bytes",
                    hex::encode_prefixed(&receipt.transaction_hash),
                    receipt.block_number,
                    served.sessions,
                    served.members,
                    served.bytes_relayed,
                );
                st.done_slot = Some(slot);
                st.quiet_slot = Some(slot);
                st.last_skip = None;
            }
            Err(e) => {
                self.stats.heartbeats_failed.fetch_add(1, Ordering::Relaxed);
                log::warn!("heartbeat for slot {slot} failed: {e}");
                // The next round re-reads the nonce and the chain before anything else.
                self.sender.resync_nonce();
            }
        }
        Ok(())
    }

    /// What to report as served since the last heartbeat that landed, and the bytes
    /// counter it is measured from (none when the metrics endpoint did not answer: its
    /// bytes are then reported with a later heartbeat).
    fn served(&self, st: &State) -> (Usage, Option<u64>) {
        let (sessions, members) = self.usage.pending();
        let total = self
            .metrics_url
            .as_deref()
            .and_then(|url| usage::scrape(url).ok())
            .and_then(|m| usage::bytes_relayed(&m));
        let bytes_relayed = total.map_or(0, |t| t.saturating_sub(st.bytes_reported));
        let served = Usage {
            sessions,
            bytes_relayed,
            members,
        };
        (served, total)
    }

    fn latest_nonce(&self, node: Address) -> Result<u64, RpcError> {
        let v = self.client.request(
            "eth_getTransactionCount",
            json!([node.to_lower_hex(), "latest"]),
        )?;
        v.as_str()
            .and_then(|s| u64::from_str_radix(hex::strip_prefix(s), 16).ok())
            .ok_or_else(|| RpcError::BadResponse {
                method: "eth_getTransactionCount".into(),
                message: format!("not a quantity: {v}"),
            })
    }

    /// Warns (at most hourly) when the balance pays for fewer than a week of heartbeats.
    fn warn_if_low(
        &self,
        st: &mut State,
        contract: &Contract<'_>,
        balance: u128,
        gas: u64,
        fees: FeeData,
    ) {
        if st
            .low_balance_warned
            .is_some_and(|t| t.elapsed() < LOW_BALANCE_WARN_EVERY)
        {
            return;
        }
        let slot_length = match st.timing {
            Some((_, length)) => length,
            None => match contract.slot_length() {
                Ok(length) if length > 0 => length,
                _ => return,
            },
        };
        let price = match fees {
            FeeData::Eip1559 {
                base_fee,
                priority_fee,
            } => base_fee.saturating_add(priority_fee),
            FeeData::Legacy { gas_price } => gas_price,
        };
        let per_week = u128::from(LOW_BALANCE_DAYS * 86400 / slot_length);
        let needed = u128::from(gas)
            .saturating_mul(price)
            .saturating_mul(per_week);
        if balance < needed {
            log::warn!(
                "low balance: {} pays for fewer than {LOW_BALANCE_DAYS} days of heartbeats ({per_week} at about {} each); fund {}",
                format_eth(balance),
                format_eth(u128::from(gas).saturating_mul(price)),
                self.sender.address()
            );
            st.low_balance_warned = Some(Instant::now());
        }
    }
}
