//! The in-loop stub resolver: UDP queries to the configured nameservers, driven by the
//! engine's mio loop, so no lookup ever blocks the loop or waits behind another.
//!
//! A lookup asks A and AAAA at once, each with its own random ID, and ends when both have an
//! outcome (or at once on NXDOMAIN). Each question is sent to nameserver 0, then after
//! `timeout` to nameserver 1, and so on, `attempts` rounds in all, as glibc does; SERVFAIL and
//! REFUSED move on to the next server at once. Concurrent lookups of one name share the
//! queries; answers are cached (see [`Cache`]).
//!
//! A response is believed only if its ID is one in flight, it comes from a nameserver that
//! question was sent to (address and port), it is a response (QR) to a standard query, and it
//! echoes our question (name, type, class IN). Anything else is dropped with a debug line.
//! One socket per address family is used for all queries, so the source port is fixed while
//! the node runs: the 16-bit random ID and these checks are the spoofing defence.
//!
//! Truncated (TC) answers: the complete address records present are used; a TC answer with
//! none gives `ServerFailure`. There is no TCP fallback: answers for A and AAAA fit in 512
//! bytes for all but unusual names, and the loop would need a TCP state machine for the rest.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Interest, Registry, Token};

use super::cache::Cache;
use super::conf::{normalise, Hosts, ResolverConfig};
use super::rng::Random;
use super::wire::{self, Name, QType, MAX_QUERY_LEN};
use super::{Addrs, DnsError, Lookup};

/// Room for any UDP answer a server sends without EDNS (512) with a wide margin.
const RECV_BUF_LEN: usize = 4096;
/// `sent_to` is a bitmask of nameserver indexes.
const MAX_SERVERS: usize = 8;
/// Random draws before concluding the ID space is exhausted (it is 65536 wide).
const MAX_ID_DRAWS: usize = 64;
/// Longest wait for one server; resolv.conf itself allows at most 30 s.
const MAX_TIMEOUT: Duration = Duration::from_secs(60);
const A: usize = 0;
const AAAA: usize = 1;

/// One of the two questions of a lookup.
#[derive(Debug, Clone, Copy)]
struct Query {
    qtype: QType,
    id: u16,
    /// Transmissions so far; transmission `n` goes to nameserver `n % servers`.
    sent: u32,
    /// Bit `i`: this ID was sent to nameserver `i`; only those may answer it.
    sent_to: u8,
    deadline: Option<Instant>,
    /// The failure to report if no server answers better (SERVFAIL, REFUSED, send errors).
    last_error: Option<DnsError>,
    /// Addresses and their TTL, or why there are none.
    outcome: Option<Result<(Addrs, u32), DnsError>>,
}

impl Query {
    fn new(qtype: QType) -> Query {
        Query {
            qtype,
            id: 0,
            sent: 0,
            sent_to: 0,
            deadline: None,
            last_error: None,
            outcome: None,
        }
    }
}

/// A lookup in flight and the sessions waiting for it.
struct Pending {
    key: Box<str>,
    qname: Name,
    owners: Vec<usize>,
    queries: [Query; 2],
}

/// The stub resolver; see the module documentation.
pub struct Resolver {
    nameservers: Vec<SocketAddr>,
    hosts: Hosts,
    timeout: Duration,
    attempts: u32,
    negative_ttl: Duration,
    max_ttl: Duration,
    sock_v4: Option<UdpSocket>,
    sock_v6: Option<UdpSocket>,
    token_v4: Token,
    token_v6: Token,
    cache: Cache,
    /// Slab of lookups in flight; `free` holds the empty slots.
    lookups: Vec<Option<Pending>>,
    free: Vec<usize>,
    by_name: HashMap<Box<str>, usize>,
    /// Query ID -> (lookup slot, question index).
    by_id: HashMap<u16, (usize, usize)>,
    by_owner: HashMap<usize, usize>,
    deadlines: BTreeSet<(Instant, u16)>,
    completed: Vec<(usize, Result<Addrs, DnsError>)>,
    rng: Random,
    buf: Vec<u8>,
}

impl Resolver {
    /// Registers its UDP sockets (one per address family in use) with these tokens.
    pub fn new(
        config: ResolverConfig,
        registry: &Registry,
        token_v4: Token,
        token_v6: Token,
    ) -> io::Result<Resolver> {
        let mut nameservers = config.nameservers;
        if nameservers.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "dns: no nameserver configured",
            ));
        }
        if nameservers.len() > MAX_SERVERS {
            log::warn!("dns: only the first {MAX_SERVERS} nameservers are used");
            nameservers.truncate(MAX_SERVERS);
        }
        let socket = |any: IpAddr, token: Token| -> io::Result<Option<UdpSocket>> {
            if !nameservers.iter().any(|s| s.is_ipv4() == any.is_ipv4()) {
                return Ok(None);
            }
            let mut sock = UdpSocket::bind(SocketAddr::new(any, 0))?;
            registry.register(&mut sock, token, Interest::READABLE)?;
            Ok(Some(sock))
        };
        let sock_v4 = socket(IpAddr::V4(Ipv4Addr::UNSPECIFIED), token_v4)?;
        let sock_v6 = socket(IpAddr::V6(Ipv6Addr::UNSPECIFIED), token_v6)?;
        Ok(Resolver {
            nameservers,
            hosts: config.hosts,
            // Bounded so `now + timeout` cannot overflow whatever the configuration says.
            timeout: config.timeout.clamp(Duration::from_millis(1), MAX_TIMEOUT),
            attempts: config.attempts.max(1),
            negative_ttl: config.negative_ttl,
            max_ttl: config.max_ttl,
            sock_v4,
            sock_v6,
            token_v4,
            token_v6,
            cache: Cache::new(config.cache_entries),
            lookups: Vec::new(),
            free: Vec::new(),
            by_name: HashMap::new(),
            by_id: HashMap::new(),
            by_owner: HashMap::new(),
            deadlines: BTreeSet::new(),
            completed: Vec::new(),
            rng: Random::new()?,
            buf: vec![0; RECV_BUF_LEN],
        })
    }

    /// Hosts file, cache and IP literals answer at once; otherwise a query is sent (coalesced
    /// with any in flight for the same name) and `owner`'s answer comes later from
    /// [`drain_completed`](Self::drain_completed). A new call for the same `owner` replaces
    /// its previous lookup.
    pub fn resolve(&mut self, name: &str, owner: usize, now: Instant) -> Lookup {
        self.cancel(owner);
        if let Some(ip) = ip_literal(name) {
            return Lookup::Done(Ok(Addrs::one(ip)));
        }
        let Some(key) = normalise(name) else {
            return Lookup::Done(Err(DnsError::BadName));
        };
        if let Some(addrs) = self.hosts.get(&key) {
            return Lookup::Done(Ok(*addrs));
        }
        if let Some(result) = self.cache.get(&key, now) {
            return Lookup::Done(result);
        }
        if let Some(&slot) = self.by_name.get(key.as_str()) {
            if let Some(p) = self.slot_mut(slot) {
                p.owners.push(owner);
                self.by_owner.insert(owner, slot);
                return Lookup::Pending;
            }
        }
        let Ok(qname) = Name::from_text(&key) else {
            return Lookup::Done(Err(DnsError::BadName));
        };
        let slot = self.insert(Pending {
            key: key.into(),
            qname,
            owners: Vec::new(),
            queries: [Query::new(QType::A), Query::new(QType::Aaaa)],
        });
        for qi in [A, AAAA] {
            self.start(slot, qi, now);
        }
        if let Some((_, result)) = self.take_if_done(slot, now) {
            return Lookup::Done(result);
        }
        if let Some(p) = self.slot_mut(slot) {
            p.owners.push(owner);
            self.by_owner.insert(owner, slot);
        }
        Lookup::Pending
    }

    /// Forgets `owner`: it gets no answer, including one completed but not yet drained. The
    /// queries stop when nobody else waits for them.
    pub fn cancel(&mut self, owner: usize) {
        if let Some(slot) = self.by_owner.remove(&owner) {
            let nobody_left = match self.slot_mut(slot) {
                Some(p) => {
                    p.owners.retain(|&o| o != owner);
                    p.owners.is_empty()
                }
                None => false,
            };
            if nobody_left {
                self.remove(slot);
            }
        }
        self.completed.retain(|&(o, _)| o != owner);
    }

    /// Reads every datagram on the socket of `token` until it would block.
    pub fn handle_readable(&mut self, token: Token, now: Instant) {
        loop {
            let sock = if token == self.token_v4 {
                self.sock_v4.as_ref()
            } else if token == self.token_v6 {
                self.sock_v6.as_ref()
            } else {
                None
            };
            let Some(sock) = sock else { return };
            match sock.recv_from(&mut self.buf) {
                Ok((len, from)) => self.on_datagram(len, from, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("dns: receive error: {e}");
                    return;
                }
            }
        }
    }

    /// Retransmits the questions whose deadline has passed, or gives up on them.
    pub fn handle_timeouts(&mut self, now: Instant) {
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            let Some(&(slot, qi)) = self.by_id.get(&id) else {
                continue;
            };
            if let Some(q) = self.query_mut(slot, qi) {
                q.deadline = None;
            }
            self.transmit(slot, qi, now);
            self.complete_if_done(slot, now);
        }
    }

    /// When [`handle_timeouts`](Self::handle_timeouts) next has work.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(t, _)| t)
    }

    /// Moves out the answers of lookups that finished since the last call.
    pub fn drain_completed(&mut self, out: &mut Vec<(usize, Result<Addrs, DnsError>)>) {
        out.append(&mut self.completed);
    }

    /// Lookups with queries in flight.
    pub fn in_flight(&self) -> usize {
        self.by_name.len()
    }

    fn slot_mut(&mut self, slot: usize) -> Option<&mut Pending> {
        self.lookups.get_mut(slot).and_then(Option::as_mut)
    }

    fn query_mut(&mut self, slot: usize, qi: usize) -> Option<&mut Query> {
        self.slot_mut(slot).and_then(|p| p.queries.get_mut(qi))
    }

    fn insert(&mut self, pending: Pending) -> usize {
        let key = pending.key.clone();
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(s) = self.lookups.get_mut(slot) {
                    *s = Some(pending);
                }
                slot
            }
            None => {
                self.lookups.push(Some(pending));
                self.lookups.len() - 1
            }
        };
        self.by_name.insert(key, slot);
        slot
    }

    /// Takes the lookup out of every index.
    fn remove(&mut self, slot: usize) -> Option<Pending> {
        let p = self.lookups.get_mut(slot)?.take()?;
        self.free.push(slot);
        self.by_name.remove(&p.key);
        for (qi, q) in p.queries.iter().enumerate() {
            if let Some(deadline) = q.deadline {
                self.deadlines.remove(&(deadline, q.id));
            }
            // The ID may already belong to a newer lookup once this question ended.
            if self.by_id.get(&q.id) == Some(&(slot, qi)) {
                self.by_id.remove(&q.id);
            }
        }
        for owner in &p.owners {
            self.by_owner.remove(owner);
        }
        Some(p)
    }

    /// Gives the question a fresh ID and sends it.
    fn start(&mut self, slot: usize, qi: usize, now: Instant) {
        let id = (0..MAX_ID_DRAWS)
            .map(|_| self.rng.next_u16())
            .find(|id| !self.by_id.contains_key(id));
        let Some(q) = self.query_mut(slot, qi) else {
            return;
        };
        match id {
            Some(id) => {
                q.id = id;
                self.by_id.insert(id, (slot, qi));
                self.transmit(slot, qi, now);
            }
            None => {
                log::warn!("dns: no free query ID; too many lookups in flight");
                q.outcome = Some(Err(DnsError::Io));
            }
        }
    }

    /// Sends the question to its next nameserver, or records the final failure when every
    /// server has had its attempts.
    fn transmit(&mut self, slot: usize, qi: usize, now: Instant) {
        let Some(p) = self.lookups.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let Some(q) = p.queries.get_mut(qi) else {
            return;
        };
        if let Some(old) = q.deadline.take() {
            self.deadlines.remove(&(old, q.id));
        }
        let mut packet = [0u8; MAX_QUERY_LEN];
        let len = wire::encode_query(q.id, &p.qname, q.qtype, &mut packet);
        let packet = packet.get(..len).unwrap_or(&[]);
        let servers = self.nameservers.len() as u32;
        while q.sent < servers.saturating_mul(self.attempts) {
            let index = (q.sent % servers) as usize;
            q.sent += 1;
            let Some(&server) = self.nameservers.get(index) else {
                continue;
            };
            let sock = if server.is_ipv4() {
                self.sock_v4.as_ref()
            } else {
                self.sock_v6.as_ref()
            };
            let Some(sock) = sock else { continue };
            match sock.send_to(packet, server) {
                Ok(_) => {}
                // A full send buffer loses the datagram like the network would; the timeout
                // moves on to the next server.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    log::debug!("dns: sending to {server}: {e}");
                    q.last_error.get_or_insert(DnsError::Io);
                    continue;
                }
            }
            q.sent_to |= 1 << index;
            let deadline = now + self.timeout;
            q.deadline = Some(deadline);
            self.deadlines.insert((deadline, q.id));
            return;
        }
        let error = match q.last_error {
            Some(DnsError::Io) | None if q.sent_to != 0 => DnsError::Timeout,
            Some(e) => e,
            None => DnsError::Io,
        };
        q.outcome = Some(Err(error));
        if self.by_id.get(&q.id) == Some(&(slot, qi)) {
            self.by_id.remove(&q.id);
        }
    }

    fn on_datagram(&mut self, len: usize, from: SocketAddr, now: Instant) {
        let msg = self.buf.get(..len).unwrap_or(&[]);
        let response = match wire::parse_response(msg) {
            Ok(r) => r,
            Err(e) => {
                log::debug!("dns: dropping malformed datagram from {from}: {e}");
                return;
            }
        };
        let Some(&(slot, qi)) = self.by_id.get(&response.id) else {
            log::debug!("dns: dropping answer with unknown ID from {from}");
            return;
        };
        let from_index = self
            .nameservers
            .iter()
            .position(|s| same_endpoint(*s, from));
        let Some(p) = self.lookups.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let Some(q) = p.queries.get_mut(qi) else {
            return;
        };
        let asked = from_index.is_some_and(|i| q.sent_to & (1 << i) != 0);
        if !asked {
            log::debug!("dns: dropping answer from {from}, which was not asked");
            return;
        }
        if response.qname != p.qname
            || response.qtype != q.qtype.code()
            || response.qclass != wire::CLASS_IN
        {
            log::debug!("dns: dropping answer from {from} to another question");
            return;
        }
        let retry_with = match response.rcode {
            wire::RCODE_NOERROR => {
                q.outcome = Some(if !response.addrs.is_empty() {
                    Ok((response.addrs, response.ttl))
                } else if response.truncated {
                    log::debug!("dns: truncated answer for {} without addresses", p.key);
                    Err(DnsError::ServerFailure)
                } else {
                    Err(DnsError::NoAddresses)
                });
                None
            }
            wire::RCODE_NXDOMAIN => {
                q.outcome = Some(Err(DnsError::NxDomain));
                None
            }
            wire::RCODE_REFUSED => Some(DnsError::Refused),
            _ => Some(DnsError::ServerFailure),
        };
        match retry_with {
            Some(error) => {
                q.last_error = Some(error);
                self.transmit(slot, qi, now);
            }
            None => {
                if let Some(deadline) = q.deadline.take() {
                    self.deadlines.remove(&(deadline, q.id));
                }
                self.by_id.remove(&response.id);
            }
        }
        self.complete_if_done(slot, now);
    }

    fn complete_if_done(&mut self, slot: usize, now: Instant) {
        if let Some((owners, result)) = self.take_if_done(slot, now) {
            self.completed
                .extend(owners.into_iter().map(|owner| (owner, result)));
        }
    }

    /// If the lookup has its answer, removes it, caches the answer and returns it with the
    /// owners to tell.
    fn take_if_done(
        &mut self,
        slot: usize,
        now: Instant,
    ) -> Option<(Vec<usize>, Result<Addrs, DnsError>)> {
        let p = self.lookups.get(slot)?.as_ref()?;
        let [a, aaaa] = [p.queries[A].outcome, p.queries[AAAA].outcome];
        let nxdomain = Some(Err(DnsError::NxDomain));
        let (result, ttl) = match (a, aaaa) {
            (Some(a), Some(aaaa)) => self.merge(a, aaaa),
            // The name does not exist: the other question cannot do better.
            _ if a == nxdomain || aaaa == nxdomain => {
                (Err(DnsError::NxDomain), Some(self.negative_ttl))
            }
            _ => return None,
        };
        let p = self.remove(slot)?;
        if let Some(ttl) = ttl {
            self.cache.insert(&p.key, result, ttl, now);
        }
        Some((p.owners, result))
    }

    /// One answer from the two questions' outcomes, and how long to cache it (`None`: not).
    fn merge(
        &self,
        a: Result<(Addrs, u32), DnsError>,
        aaaa: Result<(Addrs, u32), DnsError>,
    ) -> (Result<Addrs, DnsError>, Option<Duration>) {
        let mut addrs = Addrs::new();
        let mut ttl = u32::MAX;
        for (found, found_ttl) in [a, aaaa].into_iter().flatten() {
            for ip in found.iter() {
                addrs.push(ip);
            }
            ttl = ttl.min(found_ttl);
        }
        if !addrs.is_empty() {
            let ttl = Duration::from_secs(u64::from(ttl)).min(self.max_ttl);
            return (Ok(addrs), Some(ttl));
        }
        let errors = [a, aaaa].map(|r| r.err());
        if errors.contains(&Some(DnsError::NxDomain)) {
            return (Err(DnsError::NxDomain), Some(self.negative_ttl));
        }
        let error = errors
            .into_iter()
            .flatten()
            .find(|e| *e != DnsError::NoAddresses)
            .unwrap_or(DnsError::NoAddresses);
        let ttl = (error == DnsError::NoAddresses).then_some(self.negative_ttl);
        (Err(error), ttl)
    }
}

/// Whether a datagram from `from` comes from nameserver `server` (the scope id is not compared:
/// the kernel may report it differently from how resolv.conf spelled it).
fn same_endpoint(server: SocketAddr, from: SocketAddr) -> bool {
    server.port() == from.port() && canonical(server.ip()) == canonical(from.ip())
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `192.0.2.1`, `2001:db8::1` and `[2001:db8::1]` are addresses, not names.
fn ip_literal(name: &str) -> Option<IpAddr> {
    if let Ok(ip) = name.parse() {
        return Some(ip);
    }
    let inner = name.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}
