//! The chain-backed [`Authenticator`] (`[auth] mode = "chain"`), living on the event
//! loop. Everything here answers from memory: the credential check is local (parse,
//! expiry, node scope, signature), membership comes from the table the chain thread
//! pushes, and an address it does not know is asked of the chain thread while its
//! session waits ([`AuthAnswer::Pending`]). Nothing here touches the network.

use super::members::Members;
use super::{LookupAnswer, ToChain, ToLoop};
use crate::config::ChainAuthConfig;
use crate::credential::Verifier;
use crate::eth::Address;
use crate::proxy::auth::{Account, AuthAnswer, Authenticator, Rejected, Ticket};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a verified credential is trusted without a new signature recovery.
const VERIFIED_TTL: Duration = Duration::from_secs(300);
/// Caches are pruned of stale entries once they hold more than this.
const CACHE_PRUNE_AT: usize = 4096;
/// How often live sessions are checked against their member's access end.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Addresses being looked up at once. Anyone can sign for a fresh address, so a flood
/// of them is refused here rather than queued against the RPC.
const MAX_LOOKUPS: usize = 64;

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
    NotMember,
    Unknown,
}

pub struct ChainAuth {
    verifier: Verifier,
    config: ChainAuthConfig,
    to_chain: Sender<ToChain>,
    from_chain: Receiver<ToLoop>,
    /// From `Subscribed` logs (the chain thread's table).
    members: Members,
    /// From single `isMember` lookups.
    answers: HashMap<Address, Answer>,
    /// SHA-256 of (username, password) → member and credential expiry: one signature
    /// recovery per credential, not per connection. Only digests are kept.
    verified: HashMap<[u8; 32], (Address, u64, Instant)>,
    /// Sessions waiting for a lookup, and the addresses asked about.
    waiting: Vec<(Address, Ticket)>,
    asked: HashSet<Address>,
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

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
        members: Members,
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

    fn status(&self, member: Address, now: Instant) -> Status {
        let chain_now = self.chain_now(now);
        if self.members.get(&member).is_some_and(|&u| u > chain_now) {
            return Status::Member;
        }
        match self.answers.get(&member) {
            Some(Answer { until: Some(u), .. }) if *u > chain_now => Status::Member,
            Some(Answer { until: None, at }) if now < *at + self.config.negative_cache => {
                Status::NotMember
            }
            _ => Status::Unknown,
        }
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
            Status::NotMember => format!("{member} is not a paying member"),
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
            ToLoop::Members(members) => self.members = members,
            ToLoop::Clock(t) => self.clock = Some((t, now)),
            ToLoop::Rpc { up } => self.rpc_up = up,
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

    /// Members whose access ended lose their live sessions.
    fn sweep(&mut self, now: Instant) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + SWEEP_EVERY;
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
        let now = Instant::now();
        let Some(member) = self.verify(username, password, now) else {
            return AuthAnswer::Done(Err(Rejected));
        };
        let status = self.status(member, now);
        match status {
            Status::Member => return AuthAnswer::Done(Ok(Account::new(&member.to_string()))),
            Status::Unknown if self.rpc_up && !self.chain_gone => {}
            _ => {
                log::info!("refused: {}", self.refusal_reason(member, status));
                return AuthAnswer::Done(Err(Rejected));
            }
        }
        if !self.asked.contains(&member) && self.asked.len() >= MAX_LOOKUPS {
            log::warn!(
                "refused: {MAX_LOOKUPS} unknown addresses are already being looked up; {member} may try again shortly"
            );
            return AuthAnswer::Done(Err(Rejected));
        }
        if self.asked.insert(member) && self.to_chain.send(ToChain::Lookup(member)).is_err() {
            self.asked.remove(&member);
            self.chain_gone = true;
            log::error!("the chain thread has stopped; refusing {member}");
            return AuthAnswer::Done(Err(Rejected));
        }
        self.waiting.push((member, ticket));
        AuthAnswer::Pending
    }

    fn cancel(&mut self, ticket: Ticket) {
        self.waiting.retain(|(_, t)| *t != ticket);
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
                    break;
                }
            }
        }
        self.sweep(now);
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
            members,
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
            let k = PrivateKey::from_bytes(&[u8::try_from(i + 1).unwrap(); 32]).unwrap();
            let (u, p) = cred(&k);
            assert!(done(r.auth.check(u.as_bytes(), p.as_bytes(), ticket(i))).is_none());
        }
        let (u, p) = cred(&key(200));
        let refused = r.auth.check(u.as_bytes(), p.as_bytes(), ticket(999));
        assert_eq!(done(refused), Some(Err(Rejected)));
        assert_eq!(r.asks.try_iter().count(), MAX_LOOKUPS);
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
}
