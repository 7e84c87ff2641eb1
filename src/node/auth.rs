//! The chain-backed [`Authenticator`] (`[auth] mode = "chain"`), living on the event
//! loop. Everything here answers from memory: the credential check is local (parse,
//! expiry, node scope, signature), membership comes from the table the chain thread
//! pushes, and an address it does not know is asked of the chain thread while its
//! session waits ([`AuthAnswer::Pending`]). Nothing here touches the network.
//!
//! Keys are free, so anyone can sign a valid credential for a fresh address. Such an
//! address costs no RPC call of its own while the member table is current (synced up
//! to the head the chain thread read moments ago): an address the table does not list
//! waits for the next sync, which the chain thread is asked to run early (at most one a
//! second however many addresses wait), and is refused if that sync does not list it
//! either. So a member who has just paid gets in within about a second, and a flood of
//! fresh keys costs one poll a second. Only while the table is not current (catching
//! up, logs failing) are addresses looked up one by one, and then at most
//! [`LOOKUP_RATE`] a second overall, [`CLIENT_LOOKUP_RATE`] per client address (when
//! the engine names the client: [`ChainAuth::check_from`]), and `MAX_LOOKUPS` at once.

use super::members::MemberView;
use super::{LookupAnswer, ToChain, ToLoop};
use crate::clock::unix_now;
use crate::config::ChainAuthConfig;
use crate::credential::Verifier;
use crate::eth::Address;
use crate::proxy::auth::{Account, AuthAnswer, Authenticator, Rejected, Ticket};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a verified credential is trusted without a new signature recovery.
const VERIFIED_TTL: Duration = Duration::from_secs(300);
/// Caches are pruned of stale entries once they hold more than this.
const CACHE_PRUNE_AT: usize = 4096;
/// How often live sessions are checked against their member's access end.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Addresses being looked up at once. Anyone can sign for a fresh address, so a flood
/// of them is refused here rather than queued against the RPC.
const MAX_LOOKUPS: usize = 64;
/// Lookups (an `isMember` and a `memberUntil` call each) started per second, over all
/// clients, while the member table is not current, and how many may start at once.
/// Tight: they are only needed until the first sync reaches the head.
pub const LOOKUP_RATE: Limit = Limit {
    per_sec: 4.0,
    burst: 16.0,
};
/// The same per client address (an IPv6 client counts by its /64).
pub const CLIENT_LOOKUP_RATE: Limit = Limit {
    per_sec: 0.5,
    burst: 4.0,
};
/// Sessions waiting for the next sync of a current table; more are refused at once.
const MAX_AWAITING_SYNC: usize = 4096;
/// A session waits this long at most for that sync (it normally comes within seconds;
/// a table that stops being refreshed refuses its waiters sooner).
const AWAIT_SYNC_MAX: Duration = Duration::from_secs(30);
/// At most this often a warning sums up the lookups the rate limits refused.
const LIMITED_LOG_EVERY: Duration = Duration::from_secs(10);

/// A token bucket's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub per_sec: f64,
    pub burst: f64,
}

/// A token bucket: `tokens` as of `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(limit: Limit, now: Instant) -> Bucket {
        Bucket {
            tokens: limit.burst,
            at: now,
        }
    }

    fn refill(&mut self, limit: Limit, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.per_sec).min(limit.burst);
        self.at = now;
    }

    /// Takes one token if there is one.
    fn take(&mut self, limit: Limit, now: Instant) -> bool {
        self.refill(limit, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn is_full(&mut self, limit: Limit, now: Instant) -> bool {
        self.refill(limit, now);
        self.tokens >= limit.burst
    }
}

/// The key a client's lookups are counted under: its IPv4 address, or the /64 of an
/// IPv6 one (one host usually holds a whole /64).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Whether the table from the chain thread lists every member up to a recent head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    /// Not (yet) synced to the head: unknown addresses are looked up.
    Behind,
    /// Synced to `block`, the head when last read; trusted until `until`.
    Current { block: u64, until: Instant },
    /// A new table came that no `Synced` has vouched for yet (it may be one chunk of a
    /// rescan): not trusted, but not yet worth a log line either.
    Updating { block: u64, until: Instant },
}

/// What the chain said of one address.
#[derive(Debug, Clone, Copy)]
struct Answer {
    /// `Some(until)` for a member, `None` for "not a member".
    until: Option<u64>,
    at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Member,
    /// The chain said so (a cached lookup).
    NotMember,
    /// Not in the current table: not a member as of the last sync.
    Unlisted,
    Unknown,
}

/// A session whose address the current table does not list, waiting for the sync that
/// answers poll request `request`.
#[derive(Debug, Clone, Copy)]
struct AwaitingSync {
    member: Address,
    ticket: Ticket,
    request: u64,
    since: Instant,
}

pub struct ChainAuth {
    verifier: Verifier,
    config: ChainAuthConfig,
    to_chain: Sender<ToChain>,
    from_chain: Receiver<ToLoop>,
    /// From `Subscribed` logs (the chain thread's table).
    members: MemberView,
    /// From single `isMember` lookups.
    answers: HashMap<Address, Answer>,
    /// SHA-256 of (username, password) → member and credential expiry: one signature
    /// recovery per credential, not per connection. Only digests are kept.
    verified: HashMap<[u8; 32], (Address, u64, Instant)>,
    /// Sessions waiting for a lookup, and the addresses asked about.
    waiting: Vec<(Address, Ticket)>,
    asked: HashSet<Address>,
    table: Table,
    awaiting_sync: Vec<AwaitingSync>,
    /// The early poll asked of the chain thread and not yet answered, and the number
    /// the next request gets.
    poll_asked: Option<u64>,
    next_poll_request: u64,
    /// Lookups allowed, overall and per client key.
    lookups: Bucket,
    client_lookups: HashMap<IpAddr, Bucket>,
    /// Lookups refused by the rate limits since the last warning about them.
    limited: u64,
    next_limited_log: Instant,
    /// Live sessions per member at this node.
    live: HashMap<Address, u32>,
    revoked: Vec<Account>,
    rpc_up: bool,
    chain_gone: bool,
    /// Chain time at an instant, from the chain thread's latest look at the head.
    clock: Option<(u64, Instant)>,
    next_sweep: Instant,
    serving: Arc<AtomicBool>,
}

fn digest(username: &[u8], password: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    // The length keeps ("ab","c") and ("a","bc") apart.
    h.update((username.len() as u64).to_be_bytes());
    h.update(username);
    h.update(password);
    h.finalize().into()
}

/// The username, for log lines, when it is an address (never a stray password).
fn shown(username: &[u8]) -> &str {
    std::str::from_utf8(username)
        .ok()
        .filter(|u| u.len() == 42 && u.starts_with("0x"))
        .filter(|u| u.bytes().skip(2).all(|b| b.is_ascii_hexdigit()))
        .unwrap_or("(not an address)")
}

impl ChainAuth {
    pub fn new(
        verifier: Verifier,
        config: ChainAuthConfig,
        members: MemberView,
        to_chain: Sender<ToChain>,
        from_chain: Receiver<ToLoop>,
        serving: Arc<AtomicBool>,
    ) -> ChainAuth {
        ChainAuth {
            verifier,
            config,
            to_chain,
            from_chain,
            members,
            answers: HashMap::new(),
            verified: HashMap::new(),
            waiting: Vec::new(),
            asked: HashSet::new(),
            table: Table::Behind,
            awaiting_sync: Vec::new(),
            poll_asked: None,
            next_poll_request: 1,
            lookups: Bucket::full(LOOKUP_RATE, Instant::now()),
            client_lookups: HashMap::new(),
            limited: 0,
            next_limited_log: Instant::now(),
            live: HashMap::new(),
            revoked: Vec::new(),
            rpc_up: true,
            chain_gone: false,
            clock: None,
            next_sweep: Instant::now(),
            serving,
        }
    }

    /// The chain's current time as best known: its head's timestamp plus the time
    /// since it was read; the local clock before the first look.
    fn chain_now(&self, now: Instant) -> u64 {
        match self.clock {
            Some((t, at)) => t.saturating_add(now.saturating_duration_since(at).as_secs()),
            None => unix_now(),
        }
    }

    /// The table lists every member up to a head read moments ago (and the RPC answers:
    /// in an outage nothing new can be learnt, and refusals say so).
    fn table_is_current(&self, now: Instant) -> bool {
        matches!(self.table, Table::Current { until, .. } if now < until)
            && self.rpc_up
            && !self.chain_gone
    }

    fn status(&self, member: Address, now: Instant) -> Status {
        let chain_now = self.chain_now(now);
        if self.members.get(&member).is_some_and(|u| u > chain_now) {
            return Status::Member;
        }
        match self.answers.get(&member) {
            Some(Answer { until: Some(u), .. }) if *u > chain_now => Status::Member,
            Some(Answer { until: None, at }) if now < *at + self.config.negative_cache => {
                Status::NotMember
            }
            // Every `Subscribed` log up to the head is in the table: not in it (or
            // ended) is not a member, and the RPC need not be asked.
            _ if self.table_is_current(now) => Status::Unlisted,
            _ => Status::Unknown,
        }
    }

    /// One lookup's worth of both rate limits, for a client (when the engine names it).
    fn may_look_up(&mut self, client: Option<IpAddr>, now: Instant) -> bool {
        let mut bucket = None;
        if let Some(ip) = client {
            if self.client_lookups.len() >= CACHE_PRUNE_AT {
                self.client_lookups
                    .retain(|_, b| !b.is_full(CLIENT_LOOKUP_RATE, now));
            }
            if self.client_lookups.len() >= CACHE_PRUNE_AT {
                // Still full of busy clients: the overall limit alone holds them.
                self.client_lookups.clear();
            }
            let b = self
                .client_lookups
                .entry(client_key(ip))
                .or_insert_with(|| Bucket::full(CLIENT_LOOKUP_RATE, now));
            b.refill(CLIENT_LOOKUP_RATE, now);
            if b.tokens < 1.0 {
                return false;
            }
            bucket = Some(b);
        }
        // The client's token is spent only when the overall limit lets the lookup run.
        if !self.lookups.take(LOOKUP_RATE, now) {
            return false;
        }
        if let Some(b) = bucket {
            b.tokens -= 1.0;
        }
        true
    }

    /// The member a credential proves, from the cache or a full check.
    fn verify(&mut self, username: &[u8], password: &[u8], now: Instant) -> Option<Address> {
        let wall = unix_now();
        let key = digest(username, password);
        if let Some(&(member, expires, at)) = self.verified.get(&key) {
            if expires > wall && now < at + VERIFIED_TTL {
                return Some(member);
            }
        }
        let checked = crate::credential::parse(username, password)
            .and_then(|cred| Ok((self.verifier.verify(&cred, wall)?, cred.expires)));
        match checked {
            Ok((member, expires)) => {
                self.prune(now);
                self.verified.insert(key, (member, expires, now));
                Some(member)
            }
            Err(e) => {
                log::info!("credential of {} refused: {e}", shown(username));
                None
            }
        }
    }

    fn prune(&mut self, now: Instant) {
        if self.verified.len() >= CACHE_PRUNE_AT {
            let wall = unix_now();
            self.verified
                .retain(|_, (_, expires, at)| *expires > wall && now < *at + VERIFIED_TTL);
            if self.verified.len() >= CACHE_PRUNE_AT {
                self.verified.clear();
            }
        }
        if self.answers.len() >= CACHE_PRUNE_AT {
            let chain_now = self.chain_now(now);
            let ttl = self.config.negative_cache;
            self.answers.retain(|_, a| match a.until {
                Some(u) => u > chain_now,
                None => now < a.at + ttl,
            });
        }
    }

    fn refusal_reason(&self, member: Address, status: Status) -> String {
        match status {
            Status::NotMember | Status::Unlisted => format!("{member} is not a paying member"),
            _ if !self.rpc_up || self.chain_gone => format!(
                "cannot check {member}: the chain RPC is unreachable, and unknown addresses are refused until it answers"
            ),
            _ => format!("could not learn whether {member} is a member"),
        }
    }

    fn handle(
        &mut self,
        msg: ToLoop,
        now: Instant,
        out: &mut Vec<(Ticket, Result<Account, Rejected>)>,
    ) {
        match msg {
            ToLoop::Members(members) => {
                self.members = members;
                if let Table::Current { block, until } = self.table {
                    self.table = Table::Updating { block, until };
                }
            }
            ToLoop::Synced {
                block,
                valid_for,
                answers,
            } => {
                if self.table == Table::Behind {
                    log::info!(
                        "member table current to block {block}: addresses it does not list are refused without asking the RPC"
                    );
                }
                self.table = Table::Current {
                    block,
                    until: now + valid_for,
                };
                if self.poll_asked.is_some_and(|n| n <= answers) {
                    self.poll_asked = None;
                }
                self.settle_awaiting(|a| a.request <= answers, now, out);
            }
            ToLoop::Clock(t) => self.clock = Some((t, now)),
            ToLoop::Rpc { up } => {
                self.rpc_up = up;
                if !up {
                    self.settle_awaiting(|_| true, now, out);
                }
            }
            ToLoop::Lookup { member, answer } => {
                self.asked.remove(&member);
                match answer {
                    LookupAnswer::Member { until } => {
                        self.answers.insert(
                            member,
                            Answer {
                                until: Some(until),
                                at: now,
                            },
                        );
                    }
                    LookupAnswer::NotMember => {
                        self.answers.insert(
                            member,
                            Answer {
                                until: None,
                                at: now,
                            },
                        );
                    }
                    LookupAnswer::Unavailable => {}
                }
                let status = self.status(member, now);
                let verdict = if status == Status::Member {
                    Ok(Account::new(&member.to_string()))
                } else {
                    log::info!("refused: {}", self.refusal_reason(member, status));
                    Err(Rejected)
                };
                self.waiting.retain(|(m, ticket)| {
                    if *m == member {
                        out.push((*ticket, verdict.clone()));
                        false
                    } else {
                        true
                    }
                });
            }
        }
    }

    /// Answers the sessions waiting for a sync that `ready` picks: served if the table
    /// now lists them, refused otherwise.
    fn settle_awaiting(
        &mut self,
        ready: impl Fn(&AwaitingSync) -> bool,
        now: Instant,
        out: &mut Vec<(Ticket, Result<Account, Rejected>)>,
    ) {
        let mut i = 0;
        while i < self.awaiting_sync.len() {
            if !ready(&self.awaiting_sync[i]) {
                i += 1;
                continue;
            }
            let AwaitingSync { member, ticket, .. } = self.awaiting_sync.swap_remove(i);
            match self.status(member, now) {
                Status::Member => out.push((ticket, Ok(Account::new(&member.to_string())))),
                status => {
                    log::info!("refused: {}", self.refusal_reason(member, status));
                    out.push((ticket, Err(Rejected)));
                }
            }
        }
    }

    /// Holds a session the current table does not list until the next sync, asking the
    /// chain thread to run it early (one request in flight, whoever waits).
    fn await_sync(&mut self, member: Address, ticket: Ticket, now: Instant) -> AuthAnswer {
        if self.awaiting_sync.len() >= MAX_AWAITING_SYNC {
            log::info!("refused: {}", self.refusal_reason(member, Status::Unlisted));
            return AuthAnswer::Done(Err(Rejected));
        }
        let request = match self.poll_asked {
            Some(n) => n,
            None => {
                let n = self.next_poll_request;
                if self.to_chain.send(ToChain::Poll(n)).is_err() {
                    self.chain_gone = true;
                    log::error!("the chain thread has stopped; refusing {member}");
                    return AuthAnswer::Done(Err(Rejected));
                }
                self.next_poll_request += 1;
                self.poll_asked = Some(n);
                n
            }
        };
        self.awaiting_sync.push(AwaitingSync {
            member,
            ticket,
            request,
            since: now,
        });
        AuthAnswer::Pending
    }

    /// [`Authenticator::check`] for a session from `client`: its lookups count against
    /// that client's limit as well as the overall one. (The engine's `check` does not name
    /// the client yet; until it does, only the overall limit applies.)
    pub fn check_from(
        &mut self,
        client: Option<IpAddr>,
        username: &[u8],
        password: &[u8],
        ticket: Ticket,
    ) -> AuthAnswer {
        self.check_at(client, username, password, ticket, Instant::now())
    }

    fn check_at(
        &mut self,
        client: Option<IpAddr>,
        username: &[u8],
        password: &[u8],
        ticket: Ticket,
        now: Instant,
    ) -> AuthAnswer {
        // The signature first: a lookup is only ever spent on an address whose key
        // signed this very credential.
        let Some(member) = self.verify(username, password, now) else {
            return AuthAnswer::Done(Err(Rejected));
        };
        let status = self.status(member, now);
        match status {
            Status::Member => return AuthAnswer::Done(Ok(Account::new(&member.to_string()))),
            Status::Unlisted => return self.await_sync(member, ticket, now),
            Status::Unknown if self.rpc_up && !self.chain_gone => {}
            _ => {
                log::info!("refused: {}", self.refusal_reason(member, status));
                return AuthAnswer::Done(Err(Rejected));
            }
        }
        if !self.asked.contains(&member) {
            if self.asked.len() >= MAX_LOOKUPS {
                log::warn!(
                    "refused: {MAX_LOOKUPS} unknown addresses are already being looked up; {member} may try again shortly"
                );
                return AuthAnswer::Done(Err(Rejected));
            }
            if !self.may_look_up(client, now) {
                self.limited += 1;
                log::debug!(
                    "refused: {member} is not in the member table, which is still syncing, and lookups are rate-limited"
                );
                return AuthAnswer::Done(Err(Rejected));
            }
            if self.to_chain.send(ToChain::Lookup(member)).is_err() {
                self.chain_gone = true;
                log::error!("the chain thread has stopped; refusing {member}");
                return AuthAnswer::Done(Err(Rejected));
            }
            self.asked.insert(member);
        }
        self.waiting.push((member, ticket));
        AuthAnswer::Pending
    }

    /// Members whose access ended lose their live sessions; a table that stopped being
    /// refreshed and the lookups refused are said in the log.
    fn sweep(&mut self, now: Instant, out: &mut Vec<(Ticket, Result<Account, Rejected>)>) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + SWEEP_EVERY;
        if let Table::Current { block, until } | Table::Updating { block, until } = self.table {
            if now >= until {
                log::info!(
                    "member table not refreshed since block {block}: addresses it does not list are looked up again (at most {}/s)",
                    LOOKUP_RATE.per_sec
                );
                self.table = Table::Behind;
                // The sync they wait for may never come.
                self.poll_asked = None;
                self.settle_awaiting(|_| true, now, out);
            }
        }
        self.settle_awaiting(|a| now >= a.since + AWAIT_SYNC_MAX, now, out);
        if self.limited > 0 && now >= self.next_limited_log {
            log::warn!(
                "refused {} lookup(s) of addresses not in the member table: at most {}/s while the table is not current",
                self.limited,
                LOOKUP_RATE.per_sec,
            );
            self.limited = 0;
            self.next_limited_log = now + LIMITED_LOG_EVERY;
        }
        let ended: Vec<(Address, u32)> = self
            .live
            .iter()
            .filter(|(m, _)| self.status(**m, now) != Status::Member)
            .map(|(m, n)| (*m, *n))
            .collect();
        for (member, sessions) in ended {
            log::info!(
                "access of {member} ended (chain time {}); closing its {sessions} session(s)",
                self.chain_now(now)
            );
            self.revoked.push(Account::new(&member.to_string()));
        }
    }
}

impl Authenticator for ChainAuth {
    fn required(&self) -> bool {
        true
    }

    fn check(&mut self, username: &[u8], password: &[u8], ticket: Ticket) -> AuthAnswer {
        self.check_from(None, username, password, ticket)
    }

    fn cancel(&mut self, ticket: Ticket) {
        self.waiting.retain(|(_, t)| *t != ticket);
        self.awaiting_sync.retain(|a| a.ticket != ticket);
    }

    fn drain_completed(&mut self, out: &mut Vec<(Ticket, Result<Account, Rejected>)>) {
        let now = Instant::now();
        loop {
            match self.from_chain.try_recv() {
                Ok(msg) => self.handle(msg, now, out),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    if !self.chain_gone {
                        log::error!(
                            "the chain thread has stopped: known members are still served until their access ends; unknown addresses are refused"
                        );
                        self.chain_gone = true;
                    }
                    // Nobody will answer these any more.
                    for (member, ticket) in std::mem::take(&mut self.waiting) {
                        log::info!("refused: {}", self.refusal_reason(member, Status::Unknown));
                        out.push((ticket, Err(Rejected)));
                    }
                    self.asked.clear();
                    self.settle_awaiting(|_| true, now, out);
                    break;
                }
            }
        }
        self.sweep(now, out);
    }

    fn admit(&mut self, account: &Account) -> bool {
        let Ok(member) = account.name().parse::<Address>() else {
            return false;
        };
        let live = self.live.entry(member).or_insert(0);
        if *live >= self.config.max_sessions_per_member {
            log::warn!(
                "{member} already has {live} sessions at this node (auth.max_sessions_per_member); refusing another",
            );
            return false;
        }
        *live += 1;
        true
    }

    fn release(&mut self, account: &Account) {
        let Ok(member) = account.name().parse::<Address>() else {
            return;
        };
        if let Some(live) = self.live.get_mut(&member) {
            *live = live.saturating_sub(1);
            if *live == 0 {
                self.live.remove(&member);
            }
        }
    }

    fn drain_revoked(&mut self, out: &mut Vec<Account>) {
        out.append(&mut self.revoked);
    }

    fn set_serving(&mut self, serving: bool) {
        self.serving.store(serving, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::{self, NodeScope};
    use crate::eth::signer::PrivateKey;
    use crate::node::members::Members;
    use std::sync::mpsc;

    const CONTRACT: Address = Address([0x11; 20]);
    const NODE: Address = Address([0x22; 20]);

    struct Rig {
        auth: ChainAuth,
        asks: Receiver<ToChain>,
        tell: Sender<ToLoop>,
    }

    fn rig(members: Members) -> Rig {
        let (to_chain, asks) = mpsc::channel();
        let (tell, from_chain) = mpsc::channel();
        let verifier = Verifier {
            chain_id: 31337,
            contract: CONTRACT,
            node: NODE,
            max_lifetime: 86400,
        };
        let config = ChainAuthConfig {
            max_credential_lifetime: Duration::from_secs(86400),
            max_sessions_per_member: 2,
            negative_cache: Duration::from_secs(60),
        };
        let auth = ChainAuth::new(
            verifier,
            config,
            members.into(),
            to_chain,
            from_chain,
            Arc::new(AtomicBool::new(true)),
        );
        Rig { auth, asks, tell }
    }

    fn key(b: u8) -> PrivateKey {
        PrivateKey::from_bytes(&[b; 32]).unwrap()
    }

    fn cred(k: &PrivateKey) -> (String, String) {
        credential::sign(k, 31337, CONTRACT, NodeScope::Any, unix_now() + 3600)
    }

    fn ticket(key: usize) -> Ticket {
        Ticket { key, generation: 1 }
    }

    fn done(a: AuthAnswer) -> Option<Result<Account, Rejected>> {
        match a {
            AuthAnswer::Done(r) => Some(r),
            AuthAnswer::Pending => None,
        }
    }

    #[test]
    fn known_member_is_let_in_at_once_and_others_are_looked_up_once() {
        let member = key(1);
        let stranger = key(2);
        let mut members = Members::new();
        members.insert(member.address(), unix_now() + 1000);
        let mut r = rig(members);
        let (u, p) = cred(&member);
        let ok = done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(0))).unwrap();
        assert_eq!(ok.unwrap().name(), member.address().to_string());

        let (u, p) = cred(&stranger);
        assert!(done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(1))).is_none());
        assert!(done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(2))).is_none());
        // Two sessions, one question.
        assert!(matches!(r.asks.try_recv(), Ok(ToChain::Lookup(a)) if a == stranger.address()));
        assert!(r.asks.try_recv().is_err());
        r.tell
            .send(ToLoop::Lookup {
                member: stranger.address(),
                answer: LookupAnswer::NotMember,
            })
            .unwrap();
        let mut out = Vec::new();
        r.auth.drain_completed(&mut out);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|(_, v)| v.is_err()));
        // The negative answer is remembered: refused at once, nothing asked.
        assert_eq!(
            done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(3))),
            Some(Err(Rejected))
        );
        assert!(r.asks.try_recv().is_err());
    }

    #[test]
    fn bad_credentials_are_refused_without_asking_the_chain() {
        let mut r = rig(Members::new());
        let (u, p) = cred(&key(1));
        let mut tampered = p.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        for (user, pass) in [
            (u.as_bytes(), &tampered[..]),
            (b"alice".as_slice(), p.as_bytes()),
            (u.as_bytes(), b"1:*:00".as_slice()),
        ] {
            assert_eq!(
                done(r.auth.check(user, pass, ticket(0))),
                Some(Err(Rejected))
            );
        }
        assert!(r.asks.try_recv().is_err());
    }

    #[test]
    fn a_verified_credential_is_not_verified_again_until_it_expires() {
        let member = key(5);
        let mut members = Members::new();
        members.insert(member.address(), unix_now() + 1000);
        let mut r = rig(members);
        let (u, p) = cred(&member);
        assert!(done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(0)))
            .unwrap()
            .is_ok());
        // Were it checked again, this verifier would refuse it: the cache answers.
        r.auth.verifier.contract = Address([0x33; 20]);
        assert!(done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(1)))
            .unwrap()
            .is_ok());
        assert_eq!(r.auth.verified.len(), 1);
        // Once the cached expiry passes, the full check runs (and now fails).
        for entry in r.auth.verified.values_mut() {
            entry.1 = unix_now() - 1;
        }
        assert_eq!(
            done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(2))),
            Some(Err(Rejected))
        );
    }

    #[test]
    fn lookups_in_flight_are_bounded() {
        let mut r = rig(Members::new());
        for i in 0..MAX_LOOKUPS {
            // However slowly they start, as the rate limit would have them.
            r.auth.lookups = Bucket::full(LOOKUP_RATE, Instant::now());
            let k = PrivateKey::from_bytes(&[u8::try_from(i + 1).unwrap(); 32]).unwrap();
            let (u, p) = cred(&k);
            assert!(done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(i))).is_none());
        }
        let (u, p) = cred(&key(200));
        let refused = r.auth.check(u.as_bytes(), p.as_bytes(), ticket(999));
        assert_eq!(done(refused), Some(Err(Rejected)));
        assert_eq!(r.asks.try_iter().count(), MAX_LOOKUPS);
        assert_eq!(r.auth.limited, 0, "the cap refused it, not the rate");
    }

    #[test]
    fn unknown_addresses_are_refused_while_the_rpc_is_down() {
        let mut r = rig(Members::new());
        r.tell.send(ToLoop::Rpc { up: false }).unwrap();
        r.auth.drain_completed(&mut Vec::new());
        let (u, p) = cred(&key(3));
        assert_eq!(
            done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(0))),
            Some(Err(Rejected))
        );
        assert!(r.asks.try_recv().is_err());
    }

    #[test]
    fn per_member_cap_and_revocation_when_access_ends() {
        let member = key(4);
        let account = Account::new(&member.address().to_string());
        let mut members = Members::new();
        members.insert(member.address(), 1_000_000);
        let mut r = rig(members);
        r.tell.send(ToLoop::Clock(999_000)).unwrap();
        r.auth.drain_completed(&mut Vec::new());
        assert!(r.auth.admit(&account));
        assert!(r.auth.admit(&account));
        assert!(!r.auth.admit(&account), "cap of 2");
        r.auth.release(&account);
        assert!(r.auth.admit(&account));
        let mut revoked = Vec::new();
        r.auth.drain_revoked(&mut revoked);
        assert!(revoked.is_empty());
        // The chain's clock passes the end of the membership.
        r.tell.send(ToLoop::Clock(1_000_000)).unwrap();
        r.auth.next_sweep = Instant::now();
        r.auth.drain_completed(&mut Vec::new());
        r.auth.drain_revoked(&mut revoked);
        assert_eq!(revoked, vec![account]);
    }

    /// The chain thread's word that the table is current, answering poll requests up
    /// to `answers`; returns what it settled.
    fn synced(
        r: &mut Rig,
        block: u64,
        valid_for: Duration,
        answers: u64,
    ) -> Vec<(Ticket, Result<Account, Rejected>)> {
        r.tell
            .send(ToLoop::Synced {
                block,
                valid_for,
                answers,
            })
            .unwrap();
        let mut out = Vec::new();
        r.auth.drain_completed(&mut out);
        out
    }

    #[test]
    fn a_current_table_answers_unknown_addresses_without_a_lookup() {
        let member = key(1);
        let mut r = rig(Members::new());
        let mut table = Members::new();
        table.insert(member.address(), unix_now() + 1000);
        r.tell.send(ToLoop::Members(table.clone().into())).unwrap();
        assert!(synced(&mut r, 10, Duration::from_secs(60), 0).is_empty());
        // Fresh keys wait for the next sync: one early poll asked for all of them.
        for i in 0..100u8 {
            let (u, p) = cred(&key(100 + i));
            assert!(done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(i.into()))).is_none());
        }
        assert_eq!(
            r.asks.try_iter().collect::<Vec<_>>(),
            vec![ToChain::Poll(1)]
        );
        // A member the table lists is served at once meanwhile.
        let (u, p) = cred(&member);
        assert!(done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(500)))
            .unwrap()
            .is_ok());
        // A regular poll that read the head before the request answers nobody.
        assert!(synced(&mut r, 10, Duration::from_secs(60), 0).is_empty());
        let refused = synced(&mut r, 11, Duration::from_secs(60), 1);
        assert_eq!(refused.len(), 100);
        assert!(refused.iter().all(|(_, v)| v.is_err()));
        assert!(r.asks.try_recv().is_err(), "no lookup at all");

        // Someone who has just paid: the sync they wait for lists them.
        let payer = key(2);
        let (u, p) = cred(&payer);
        assert!(done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(501))).is_none());
        assert_eq!(
            r.asks.try_iter().collect::<Vec<_>>(),
            vec![ToChain::Poll(2)]
        );
        table.insert(payer.address(), unix_now() + 1000);
        r.tell.send(ToLoop::Members(table.clone().into())).unwrap();
        let served = synced(&mut r, 12, Duration::from_secs(60), 2);
        assert_eq!(served.len(), 1);
        assert_eq!(served[0].0, ticket(501));
        assert_eq!(
            served[0].1.as_ref().unwrap().name(),
            payer.address().to_string()
        );

        // A new table that no sync has vouched for yet (one chunk of a rescan, say) is
        // not trusted to say who is not a member: that address is looked up.
        r.tell.send(ToLoop::Members(table.into())).unwrap();
        r.auth.drain_completed(&mut Vec::new());
        let (u, p) = cred(&key(3));
        assert!(done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(502))).is_none());
        assert!(matches!(r.asks.try_recv(), Ok(ToChain::Lookup(a)) if a == key(3).address()));

        // No sync for longer than the chain thread vouched: waiters are refused, and
        // the next address is looked up.
        assert!(synced(&mut r, 13, Duration::from_secs(60), 2).is_empty());
        let (u, p) = cred(&key(4));
        assert!(done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(503))).is_none());
        assert_eq!(
            r.asks.try_iter().collect::<Vec<_>>(),
            vec![ToChain::Poll(3)]
        );
        r.auth.table = Table::Current {
            block: 13,
            until: Instant::now(),
        };
        r.auth.next_sweep = Instant::now();
        let mut out = Vec::new();
        r.auth.drain_completed(&mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].1.is_err());
        let (u, p) = cred(&key(5));
        assert!(done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(504))).is_none());
        assert!(matches!(r.asks.try_recv(), Ok(ToChain::Lookup(a)) if a == key(5).address()));

        // With the RPC down nothing new can be learnt: the table does not answer.
        synced(&mut r, 14, Duration::from_secs(60), 3);
        assert!(r.auth.table_is_current(Instant::now()));
        r.tell.send(ToLoop::Rpc { up: false }).unwrap();
        r.auth.drain_completed(&mut Vec::new());
        assert!(!r.auth.table_is_current(Instant::now()));
    }

    #[test]
    fn sessions_waiting_for_a_sync_are_bounded_and_can_go_away() {
        let mut r = rig(Members::new());
        synced(&mut r, 1, Duration::from_secs(60), 0);
        let (u, p) = cred(&key(1));
        for i in 0..MAX_AWAITING_SYNC {
            assert!(done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(i))).is_none());
        }
        assert_eq!(
            done(
                r.auth
                    .check(u.as_bytes(), p.as_bytes(), ticket(MAX_AWAITING_SYNC))
            ),
            Some(Err(Rejected))
        );
        r.auth.cancel(ticket(0));
        assert_eq!(
            synced(&mut r, 2, Duration::from_secs(60), 1).len(),
            MAX_AWAITING_SYNC - 1
        );
        assert_eq!(r.asks.try_iter().count(), 1, "one poll asked for all");
    }

    #[test]
    fn lookups_are_rate_limited_overall_and_per_client() {
        let mut r = rig(Members::new());
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let mut next = 0u8;
        // One instant for the whole test: nothing refills while it runs.
        let t0 = Instant::now();
        let mut try_one = |r: &mut Rig, client: Option<IpAddr>| {
            next += 1;
            let (u, p) = cred(&key(next));
            let t = ticket(next.into());
            done(r.auth.check_at(client, u.as_bytes(), p.as_bytes(), t, t0))
        };
        // One client: its own burst, then refused.
        for _ in 0..CLIENT_LOOKUP_RATE.burst as usize {
            assert!(try_one(&mut r, ip("192.0.2.1")).is_none());
        }
        assert_eq!(try_one(&mut r, ip("192.0.2.1")), Some(Err(Rejected)));
        // An IPv6 client counts by its /64.
        for _ in 0..CLIENT_LOOKUP_RATE.burst as usize {
            assert!(try_one(&mut r, ip("2001:db8:1:2::1")).is_none());
        }
        assert_eq!(
            try_one(&mut r, ip("2001:db8:1:2::ffff")),
            Some(Err(Rejected))
        );
        // Other clients share what is left of the overall burst.
        let used = 2 * CLIENT_LOOKUP_RATE.burst as usize;
        for i in used..LOOKUP_RATE.burst as usize {
            assert!(try_one(&mut r, ip(&format!("198.51.100.{i}"))).is_none());
        }
        assert_eq!(try_one(&mut r, ip("203.0.113.9")), Some(Err(Rejected)));
        assert_eq!(try_one(&mut r, None), Some(Err(Rejected)));
        assert_eq!(r.asks.try_iter().count(), LOOKUP_RATE.burst as usize);
        assert_eq!(r.auth.limited, 4);
    }

    #[test]
    fn buckets_refill_at_their_rate_up_to_their_burst() {
        let t0 = Instant::now();
        let limit = Limit {
            per_sec: 2.0,
            burst: 3.0,
        };
        let mut b = Bucket::full(limit, t0);
        assert!((0..3).all(|_| b.take(limit, t0)));
        assert!(!b.take(limit, t0));
        assert!(b.take(limit, t0 + Duration::from_millis(500)));
        assert!(!b.take(limit, t0 + Duration::from_millis(600)));
        // A long pause refills to the burst, no further.
        let later = t0 + Duration::from_secs(3600);
        assert!(b.is_full(limit, later));
        assert_eq!((0..10).filter(|_| b.take(limit, later)).count(), 3);
    }
}
