//! The chain thread's membership side: keeps the member table synced from `Subscribed`
//! logs, answers the loop's single-address lookups, and tells the loop the chain's
//! clock and whether the RPC answers. Blocking calls only; the loop hears from it
//! through a channel and the server's `Waker`.

use super::members::{MemberState, MemberView, Members};
use super::stats::ChainStats;
use super::{LookupAnswer, ToChain, ToLoop};
use crate::contract::{Contract, ContractError};
use crate::eth::rpc::{Block, BlockId, Client, RpcError};
use crate::eth::Address;
use mio::Waker;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Membership {
    pub client: Client,
    pub contract: Address,
    pub deploy_block: u64,
    /// Blocks per eth_getLogs range while catching up; the state is saved after each.
    pub log_chunk: u64,
    pub reorg_depth: u64,
    pub poll_interval: Duration,
    pub state_file: PathBuf,
    pub state: MemberState,
    pub to_loop: Sender<ToLoop>,
    pub requests: Receiver<ToChain>,
    pub waker: Arc<Waker>,
    pub stats: Arc<ChainStats>,
}

/// How much longer than two polls the loop trusts a synced table.
const SYNCED_MARGIN: Duration = Duration::from_secs(5);
/// Polls the loop asks for come no closer together than this: one a second, however
/// many sessions wait for one.
const MIN_POLL_GAP: Duration = Duration::from_secs(1);

/// A sync that read at least this many logs hands freed heap memory back afterwards.
const TRIM_AFTER_LOGS: usize = 1000;

/// The loop has gone (the node is exiting): the thread stops.
struct Stop;

struct Run {
    m: Membership,
    /// `Subscribed` logs of blocks after `state.synced_to`, re-read every poll.
    recent: Arc<Members>,
    /// The table last sent to the loop.
    sent: Option<MemberView>,
    rpc_up: bool,
    save_failed: bool,
    chain_time: u64,
    /// The last error logged, so a persistent one is not logged every poll.
    last_error: Option<String>,
    /// Hash of the head the last complete sync read up to.
    synced_head: Option<[u8; 32]>,
    /// The latest `ToChain::Poll` received, and the one the latest poll answers.
    poll_requested: u64,
    poll_answered: u64,
}

impl Membership {
    /// Runs until the loop drops its end of the channel.
    pub fn run(self) {
        let mut run = Run {
            m: self,
            recent: Arc::default(),
            sent: None,
            rpc_up: true,
            save_failed: false,
            chain_time: crate::clock::unix_now(),
            last_error: None,
            synced_head: None,
            poll_requested: 0,
            poll_answered: 0,
        };
        let mut next_poll = Instant::now();
        let mut last_poll: Option<Instant> = None;
        loop {
            // A poll that is due goes first: a stream of lookups must not hold off the
            // sync that makes them unnecessary.
            let now = Instant::now();
            if now >= next_poll {
                if run.poll().is_err() {
                    return;
                }
                last_poll = Some(now);
                next_poll = now + run.m.poll_interval;
                if run.poll_requested > run.poll_answered {
                    // Asked for while this poll ran, after it read the head.
                    next_poll = next_poll.min(now + MIN_POLL_GAP);
                }
                continue;
            }
            match run.m.requests.recv_timeout(next_poll - now) {
                Ok(ToChain::Lookup(member)) => {
                    if run.lookup(member).is_err() {
                        return;
                    }
                }
                Ok(ToChain::Poll(n)) => {
                    run.poll_requested = run.poll_requested.max(n);
                    let soonest = last_poll.map_or(now, |t| t + MIN_POLL_GAP);
                    next_poll = next_poll.min(soonest);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

impl Run {
    fn send(&self, msg: ToLoop) -> Result<(), Stop> {
        self.m.to_loop.send(msg).map_err(|_| Stop)?;
        // A failed wake-up only delays the answer to the loop's next turn.
        let _ = self.m.waker.wake();
        Ok(())
    }

    fn rpc_failed(&mut self, what: &str, e: &ContractError) -> Result<(), Stop> {
        self.m.stats.rpc_errors.fetch_add(1, Ordering::Relaxed);
        let unreachable = matches!(e, ContractError::Rpc(r) if r.is_unreachable());
        if unreachable && self.rpc_up {
            log::warn!(
                "chain RPC unreachable ({what}: {e}): members already known are served until their access ends; unknown addresses are refused until it answers"
            );
            self.rpc_up = false;
            return self.send(ToLoop::Rpc { up: false });
        }
        let text = format!("{what}: {e}");
        if !unreachable && self.last_error.as_deref() != Some(text.as_str()) {
            log::warn!("chain: {text}");
        }
        self.last_error = Some(text);
        Ok(())
    }

    fn rpc_ok(&mut self) -> Result<(), Stop> {
        self.last_error = None;
        if !self.rpc_up {
            log::info!("chain RPC answers again: unknown addresses are checked again");
            self.rpc_up = true;
            return self.send(ToLoop::Rpc { up: true });
        }
        Ok(())
    }

    /// One `isMember`/`memberUntil` pair for an address the loop does not know.
    fn lookup(&mut self, member: Address) -> Result<(), Stop> {
        let contract = Contract::new(&self.m.client, self.m.contract);
        let answer = match contract
            .is_member(member)
            .and_then(|is| Ok((is, contract.member_until(member)?)))
        {
            Ok((true, until)) => {
                self.rpc_ok()?;
                LookupAnswer::Member { until }
            }
            Ok((false, _)) => {
                self.rpc_ok()?;
                LookupAnswer::NotMember
            }
            Err(e) => {
                self.rpc_failed(&format!("isMember({member})"), &e)?;
                LookupAnswer::Unavailable
            }
        };
        log::debug!("chain: lookup of {member}: {answer:?}");
        self.send(ToLoop::Lookup { member, answer })
    }

    /// Answers the lookups that queued while a long sync ran.
    fn serve_requests(&mut self) -> Result<(), Stop> {
        loop {
            match self.m.requests.try_recv() {
                Ok(ToChain::Lookup(member)) => self.lookup(member)?,
                // Answered by the poll after this one (see `Membership::run`).
                Ok(ToChain::Poll(n)) => self.poll_requested = self.poll_requested.max(n),
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Disconnected) => return Err(Stop),
            }
        }
    }

    fn poll(&mut self) -> Result<(), Stop> {
        // The loop checks live sessions against their members' access on each turn; an
        // idle loop must still get one per poll, outage or not.
        let _ = self.m.waker.wake();
        // Requests received so far are answered by a head read from now on (or, if
        // this poll fails, by the table lapsing in the loop).
        let answering = self.poll_requested;
        self.poll_answered = answering;
        let head = match self.m.client.block(BlockId::Latest) {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(()),
            Err(e) => return self.rpc_failed("reading the latest block", &e.into()),
        };
        self.rpc_ok()?;
        // A chain without recent blocks (a quiet dev chain) has a stale head: its clock
        // is then at least the local one.
        self.chain_time = head.timestamp.max(crate::clock::unix_now());
        self.send(ToLoop::Clock(self.chain_time))?;
        if self.synced_head == Some(head.hash) {
            // The same chain as last time: nothing new to read, the table is current.
            return self.synced(&head, answering);
        }
        match self.sync(&head) {
            Ok(()) => {
                self.synced_head = Some(head.hash);
                self.synced(&head, answering)
            }
            Err(SyncError::Stop) => Err(Stop),
            Err(SyncError::Chain(e)) => self.rpc_failed("syncing members", &e),
        }
    }

    /// Tells the loop that the table it has covers the head just read. It stays
    /// trusted for two polls and a margin, so one slow poll does not send every
    /// unknown address to the RPC.
    fn synced(&self, head: &Block, answering: u64) -> Result<(), Stop> {
        self.send(ToLoop::Synced {
            block: head.number,
            valid_for: 2 * self.m.poll_interval + SYNCED_MARGIN,
            answers: answering,
        })
    }

    fn sync(&mut self, head: &Block) -> Result<(), SyncError> {
        let depth = self.m.reorg_depth;
        let safe = head.number.saturating_sub(depth);
        if let Some(n) = self.m.state.synced_to {
            let still = n <= head.number
                && self
                    .m
                    .client
                    .block(BlockId::Number(n))
                    .map_err(ContractError::from)?
                    .is_some_and(|b| b.hash == self.m.state.synced_hash);
            if !still {
                log::warn!(
                    "chain: block {n} is no longer on the chain (a reorg deeper than chain.reorg_depth = {depth}); rescanning members from block {}",
                    self.m.deploy_block
                );
                self.m.state.reset();
            }
        }
        let mut from = self
            .m
            .state
            .synced_to
            .map_or(self.m.deploy_block, |n| n.saturating_add(1));
        let chunk = self.m.log_chunk.max(1);
        if safe.saturating_sub(from) > 10 * chunk.max(5_000) {
            log::info!(
                "chain: scanning Subscribed logs from block {from} to {safe}; this takes a while{}",
                if self.m.deploy_block == 0 {
                    " (set chain.deploy_block to the block printed by `aqueduct deploy` to skip the blocks before it)"
                } else {
                    ""
                }
            );
        }
        let mut read = 0usize;
        while from <= safe {
            let to = from.saturating_add(chunk - 1).min(safe);
            let logs = self.subscribed(from, to)?;
            read += logs.len();
            self.m.state.fold(logs);
            let Some(block) = self
                .m
                .client
                .block(BlockId::Number(to))
                .map_err(ContractError::from)?
            else {
                return Err(SyncError::Chain(ContractError::Rpc(
                    RpcError::BadResponse {
                        method: "eth_getBlockByNumber".into(),
                        message: format!("block {to} is missing below the head"),
                    },
                )));
            };
            self.m.state.synced_to = Some(to);
            self.m.state.synced_hash = block.hash;
            self.save();
            let Some(next) = to.checked_add(1) else {
                break;
            };
            from = next;
            if from <= safe {
                log::debug!("chain: members synced to block {to} of {safe}");
                self.publish()?;
                self.serve_requests()?;
            }
        }
        let recent = if from <= head.number {
            self.subscribed(from, head.number)?
        } else {
            Vec::new()
        };
        read += recent.len();
        let recent = Members::from_logs(recent);
        if *self.recent != recent {
            self.recent = Arc::new(recent);
        }
        self.publish()?;
        // A large sync read megabytes of JSON and replaced the table: give the freed
        // pages back, or the node keeps its peak for good.
        if read >= TRIM_AFTER_LOGS {
            crate::heap::trim();
        }
        Ok(())
    }

    fn subscribed(&self, from: u64, to: u64) -> Result<Vec<(Address, u64)>, ContractError> {
        Contract::new(&self.m.client, self.m.contract).subscriptions(from, to)
    }

    fn save(&mut self) {
        match self.m.state.save(&self.m.state_file) {
            Ok(()) => self.save_failed = false,
            Err(e) => {
                if !self.save_failed {
                    log::warn!(
                        "cannot write chain.state_file {}: {e}; a restart will rescan members",
                        self.m.state_file.display()
                    );
                }
                self.save_failed = true;
            }
        }
    }

    /// Sends the table to the loop when it changed.
    fn publish(&mut self) -> Result<(), SyncError> {
        let table = self.m.state.view(&self.recent);
        let active = table.active(self.chain_time);
        self.m
            .stats
            .members_known
            .store(active as u64, Ordering::Relaxed);
        if self.sent.as_ref() != Some(&table) {
            log::debug!("chain: {} members known ({active} active)", table.len());
            // Arcs: the loop and this thread share one table.
            self.sent = Some(table.clone());
            self.send(ToLoop::Members(table))
                .map_err(|_| SyncError::Stop)?;
        }
        Ok(())
    }
}

enum SyncError {
    Stop,
    Chain(ContractError),
}

impl From<ContractError> for SyncError {
    fn from(e: ContractError) -> SyncError {
        SyncError::Chain(e)
    }
}

impl From<Stop> for SyncError {
    fn from(_: Stop) -> SyncError {
        SyncError::Stop
    }
}
