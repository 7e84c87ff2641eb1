//! The stub resolver against fake nameservers on loopback, driven by a real mio `Poll`.
//!
//! The fake server is a UDP socket on 127.0.0.1:0 (or [::1]:0) in a thread, answering from a
//! fixed zone. Ordering tests use causality, not time: the "slow" name is only answered after
//! the "fast" one has been.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aqueduct::proxy::dns::{Addrs, DnsError, Hosts, Lookup, Resolver, ResolverConfig};
use mio::{Events, Poll, Token};

const TOKEN_V4: Token = Token(0);
const TOKEN_V6: Token = Token(1);

// ---------------------------------------------------------------------------------------------
// Fake nameserver
// ---------------------------------------------------------------------------------------------

const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;

enum Reply {
    Answer {
        rcode: u16,
        tc: bool,
        records: Vec<Vec<u8>>,
    },
    Silent,
}

fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// A record owned by the question name (a compression pointer to offset 12).
fn rr(rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    rr_owned(&[0xc0, 0x0c], rtype, ttl, rdata)
}

fn rr_owned(owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut r = owner.to_vec();
    r.extend_from_slice(&rtype.to_be_bytes());
    r.extend_from_slice(&1u16.to_be_bytes());
    r.extend_from_slice(&ttl.to_be_bytes());
    r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    r.extend_from_slice(rdata);
    r
}

fn a(ip: [u8; 4]) -> Vec<u8> {
    rr(TYPE_A, 300, &ip)
}

fn aaaa(ip: &str) -> Vec<u8> {
    let ip: std::net::Ipv6Addr = ip.parse().unwrap();
    rr(TYPE_AAAA, 300, &ip.octets())
}

fn answer(records: Vec<Vec<u8>>) -> Reply {
    Reply::Answer {
        rcode: 0,
        tc: false,
        records,
    }
}

fn rcode(rcode: u16) -> Reply {
    Reply::Answer {
        rcode,
        tc: false,
        records: Vec::new(),
    }
}

/// The zone every fake server serves.
fn zone(name: &str, qtype: u16) -> Reply {
    match (name, qtype) {
        ("dual.test", TYPE_A) => answer(vec![a([192, 0, 2, 1]), a([192, 0, 2, 2])]),
        ("dual.test", TYPE_AAAA) => answer(vec![aaaa("2001:db8::1")]),
        ("v4only.test", TYPE_A) => answer(vec![a([192, 0, 2, 4])]),
        ("v4only.test", TYPE_AAAA) => answer(Vec::new()),
        ("v6only.test", TYPE_A) => answer(Vec::new()),
        ("v6only.test", TYPE_AAAA) => answer(vec![aaaa("2001:db8::6")]),
        ("nodata.test", _) => answer(Vec::new()),
        ("nx.test", _) => rcode(3),
        ("fail.test", _) => rcode(2),
        ("refused.test", _) => rcode(5),
        ("halfnx.test", TYPE_A) => rcode(3),
        ("halfnx.test", TYPE_AAAA) => Reply::Silent,
        ("halffail.test", TYPE_A) => answer(vec![a([192, 0, 2, 8])]),
        ("halffail.test", TYPE_AAAA) => rcode(2),
        ("cname.test", TYPE_A) => {
            let target = wire_name("dual.test");
            answer(vec![
                rr(TYPE_CNAME, 60, &target),
                rr_owned(&target, TYPE_A, 30, &[192, 0, 2, 1]),
            ])
        }
        ("cname.test", TYPE_AAAA) => {
            let target = wire_name("dual.test");
            answer(vec![rr(TYPE_CNAME, 60, &target)])
        }
        ("tc.test", TYPE_A) => Reply::Answer {
            rcode: 0,
            tc: true,
            records: vec![a([192, 0, 2, 9])],
        },
        ("tc.test", TYPE_AAAA) | ("tcempty.test", _) => Reply::Answer {
            rcode: 0,
            tc: true,
            records: Vec::new(),
        },
        ("silent.test", _) => Reply::Silent,
        ("fast.test", TYPE_A) => answer(vec![a([192, 0, 2, 10])]),
        ("slow.test", TYPE_A) => answer(vec![a([192, 0, 2, 11])]),
        ("spoof.test", TYPE_A) => answer(vec![a([192, 0, 2, 7])]),
        (_, TYPE_A) if name.ends_with(".test") => answer(vec![a([192, 0, 2, 100])]),
        _ => answer(Vec::new()),
    }
}

fn encode_reply(
    query: &[u8],
    question_end: usize,
    rcode: u16,
    tc: bool,
    records: &[Vec<u8>],
) -> Vec<u8> {
    let mut m = query[..2].to_vec();
    let flags = 0x8180 | rcode | if tc { 0x0200 } else { 0 };
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    m.extend_from_slice(&(records.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend_from_slice(&query[12..question_end]);
    for r in records {
        m.extend_from_slice(r);
    }
    m
}

/// (lowercase dotted name, qtype, offset after the question).
fn parse_query(q: &[u8]) -> Option<(String, u16, usize)> {
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = *q.get(pos)? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(pos..pos + len)?).to_ascii_lowercase());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*q.get(pos)?, *q.get(pos + 1)?]);
    Some((labels.join("."), qtype, pos + 4))
}

struct FakeServer {
    addr: SocketAddr,
    queries: Arc<Mutex<Vec<(String, u16)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    fn start() -> FakeServer {
        FakeServer::start_on("127.0.0.1:0")
    }

    fn start_on(bind: &str) -> FakeServer {
        let sock = UdpSocket::bind(bind).expect("bind fake nameserver");
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        // A second socket on another port, to send answers from the wrong source.
        let spoofer = UdpSocket::bind(SocketAddr::new(sock.local_addr().unwrap().ip(), 0)).unwrap();
        let addr = sock.local_addr().unwrap();
        let queries = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (q, s) = (queries.clone(), stop.clone());
        let thread = std::thread::spawn(move || serve(sock, spoofer, q, s));
        FakeServer {
            addr,
            queries,
            stop,
            thread: Some(thread),
        }
    }

    fn count(&self, name: &str) -> usize {
        self.queries
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .count()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    sock: UdpSocket,
    spoofer: UdpSocket,
    queries: Arc<Mutex<Vec<(String, u16)>>>,
    stop: Arc<AtomicBool>,
) {
    let give_up = Instant::now() + Duration::from_secs(30);
    let mut held: Vec<(Vec<u8>, SocketAddr)> = Vec::new();
    let mut fast_answered = 0;
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) && Instant::now() < give_up {
        let Ok((len, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let q = &buf[..len];
        let Some((name, qtype, end)) = parse_query(q) else {
            continue;
        };
        queries.lock().unwrap().push((name.clone(), qtype));
        let Reply::Answer { rcode, tc, records } = zone(&name, qtype) else {
            continue;
        };
        let reply = encode_reply(q, end, rcode, tc, &records);
        match name.as_str() {
            "slow.test" if fast_answered < 2 => {
                held.push((reply, from));
                continue;
            }
            "spoof.test" => {
                let decoy = encode_reply(q, end, 0, false, &[a([198, 51, 100, 66])]);
                // Wrong ID.
                let mut wrong_id = decoy.clone();
                wrong_id[1] ^= 0x5a;
                sock.send_to(&wrong_id, from).unwrap();
                // Right ID, wrong source port.
                spoofer.send_to(&decoy, from).unwrap();
                // Right ID and source, but QR clear.
                let mut not_response = decoy.clone();
                not_response[2] &= 0x7f;
                sock.send_to(&not_response, from).unwrap();
                // Right ID and source, another question.
                let mut other = decoy.clone();
                other[12 + 1] = b'x';
                sock.send_to(&other, from).unwrap();
                // Right ID and source, but cut short (no TC) or garbage.
                sock.send_to(&reply[..reply.len() - 3], from).unwrap();
                sock.send_to(&[0xff; 40], from).unwrap();
                sock.send_to(&[], from).unwrap();
                // Right ID and source, another type.
                let mut other_type = decoy;
                other_type[end - 3] ^= 0x1d;
                sock.send_to(&other_type, from).unwrap();
            }
            _ => {}
        }
        sock.send_to(&reply, from).unwrap();
        if name == "fast.test" {
            fast_answered += 1;
            if fast_answered == 2 {
                for (reply, to) in held.drain(..) {
                    sock.send_to(&reply, to).unwrap();
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Harness: a Resolver driven by a mio Poll, the way the engine drives it
// ---------------------------------------------------------------------------------------------

struct Harness {
    poll: Poll,
    events: Events,
    resolver: Resolver,
}

fn config(servers: &[SocketAddr]) -> ResolverConfig {
    ResolverConfig {
        nameservers: servers.to_vec(),
        hosts: Hosts::parse("192.0.2.50 myhost myhost.example\n::1 myhost\n"),
        // Generous: the fake server shares two busy cores; tests of timeouts set their own.
        timeout: Duration::from_secs(2),
        attempts: 2,
        cache_entries: 64,
        negative_ttl: Duration::from_secs(30),
        max_ttl: Duration::from_secs(600),
    }
}

impl Harness {
    fn new(config: ResolverConfig) -> Harness {
        let poll = Poll::new().unwrap();
        let resolver = Resolver::new(config, poll.registry(), TOKEN_V4, TOKEN_V6).unwrap();
        Harness {
            poll,
            events: Events::with_capacity(64),
            resolver,
        }
    }

    fn with_server(server: &FakeServer) -> Harness {
        Harness::new(config(&[server.addr]))
    }

    fn resolve(&mut self, name: &str, owner: usize) -> Lookup {
        self.resolver.resolve(name, owner, Instant::now())
    }

    /// Runs the loop until `want` answers have come or 10 s pass; returns them in order.
    fn run(&mut self, want: usize) -> Vec<(usize, Result<Addrs, DnsError>)> {
        let mut out = Vec::new();
        let end = Instant::now() + Duration::from_secs(10);
        for _ in 0..10_000 {
            let now = Instant::now();
            if out.len() >= want || now > end {
                break;
            }
            let wait = self
                .resolver
                .next_deadline()
                .map_or(Duration::from_millis(50), |d| {
                    d.saturating_duration_since(now)
                })
                .min(Duration::from_millis(50));
            self.poll.poll(&mut self.events, Some(wait)).unwrap();
            let now = Instant::now();
            for event in self.events.iter() {
                self.resolver.handle_readable(event.token(), now);
            }
            self.resolver.handle_timeouts(now);
            self.resolver.drain_completed(&mut out);
        }
        out
    }

    /// The answer `name` gets at once (from the cache); panics if it would need a query.
    fn resolver_cached(&mut self, name: &str) -> Result<Addrs, DnsError> {
        match self.resolver.resolve(name, usize::MAX, Instant::now()) {
            Lookup::Done(r) => r,
            Lookup::Pending => panic!("{name} is not cached"),
        }
    }

    /// Resolves one name that must go to the network and returns its answer.
    fn lookup(&mut self, name: &str) -> Result<Addrs, DnsError> {
        assert_eq!(self.resolve(name, 1), Lookup::Pending, "{name}");
        let done = self.run(1);
        assert_eq!(done.len(), 1, "{name}: {done:?}");
        done[0].1
    }
}

fn ips(r: Result<Addrs, DnsError>) -> Vec<IpAddr> {
    r.expect("addresses").iter().collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn a_and_aaaa_are_merged_ipv4_first() {
    let server = FakeServer::start();
    let mut h = Harness::with_server(&server);
    assert_eq!(
        ips(h.lookup("dual.test")),
        vec![ip("192.0.2.1"), ip("192.0.2.2"), ip("2001:db8::1")]
    );
    assert_eq!(server.count("dual.test"), 2, "one A and one AAAA query");
    assert_eq!(ips(h.lookup("v4only.test")), vec![ip("192.0.2.4")]);
    assert_eq!(ips(h.lookup("v6only.test")), vec![ip("2001:db8::6")]);
}

#[test]
fn cname_answers_resolve_to_the_target() {
    let server = FakeServer::start();
    let mut h = Harness::with_server(&server);
    assert_eq!(ips(h.lookup("cname.test")), vec![ip("192.0.2.1")]);
}

#[test]
fn failures_map_to_their_errors() {
    let server = FakeServer::start();
    let mut h = Harness::with_server(&server);
    assert_eq!(h.lookup("nx.test"), Err(DnsError::NxDomain));
    assert_eq!(h.lookup("nodata.test"), Err(DnsError::NoAddresses));
    assert_eq!(h.lookup("fail.test"), Err(DnsError::ServerFailure));
    assert_eq!(h.lookup("refused.test"), Err(DnsError::Refused));
    // SERVFAIL moves on at once: both attempts were used for each question.
    assert_eq!(server.count("fail.test"), 4);
    // NXDOMAIN on A ends the lookup without waiting for the silent AAAA.
    assert_eq!(h.lookup("halfnx.test"), Err(DnsError::NxDomain));
    assert_eq!(h.resolver.next_deadline(), None, "nothing left in flight");
    // Addresses from one question win over the other's failure.
    assert_eq!(ips(h.lookup("halffail.test")), vec![ip("192.0.2.8")]);
}

#[test]
fn truncated_answers_use_what_is_present_or_fail() {
    let server = FakeServer::start();
    let mut h = Harness::with_server(&server);
    assert_eq!(ips(h.lookup("tc.test")), vec![ip("192.0.2.9")]);
    assert_eq!(h.lookup("tcempty.test"), Err(DnsError::ServerFailure));
}

#[test]
fn silent_nameserver_times_out_after_all_attempts() {
    let server = FakeServer::start();
    let mut cfg = config(&[server.addr]);
    cfg.timeout = Duration::from_millis(50);
    let mut h = Harness::new(cfg);
    assert_eq!(h.lookup("silent.test"), Err(DnsError::Timeout));
    assert_eq!(server.count("silent.test"), 4, "2 attempts x (A + AAAA)");
    // Timeouts are not cached: the next lookup asks again.
    assert_eq!(h.resolve("silent.test", 2), Lookup::Pending);
}

#[test]
fn retransmissions_move_to_the_next_nameserver() {
    let silent = FakeServer::start();
    let good = FakeServer::start();
    let mut cfg = config(&[silent.addr, good.addr]);
    cfg.timeout = Duration::from_millis(50);
    cfg.attempts = 1;
    let mut h = Harness::new(cfg);
    // Each question goes to each server once, then the lookup gives up.
    assert_eq!(h.lookup("silent.test"), Err(DnsError::Timeout));
    assert_eq!(
        (silent.count("silent.test"), good.count("silent.test")),
        (2, 2)
    );
    // A SERVFAIL from the first server goes straight to the second.
    let failing = FakeServer::start();
    let mut cfg = config(&[failing.addr, good.addr]);
    cfg.attempts = 1;
    let mut h = Harness::new(cfg);
    assert_eq!(h.lookup("fail.test"), Err(DnsError::ServerFailure));
    assert_eq!(failing.count("fail.test"), 2);
    assert_eq!(good.count("fail.test"), 2);
}

#[test]
fn first_server_silent_second_answers() {
    // A nameserver address nobody listens on: its queries vanish.
    let dead = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    let good = FakeServer::start();
    let mut cfg = config(&[dead_addr, good.addr]);
    cfg.timeout = Duration::from_millis(300);
    let mut h = Harness::new(cfg);
    assert_eq!(ips(h.lookup("v4only.test")), vec![ip("192.0.2.4")]);
    drop(dead);
}

#[test]
fn a_slow_lookup_does_not_hold_up_a_fast_one() {
    let server = FakeServer::start();
    let mut cfg = config(&[server.addr]);
    cfg.timeout = Duration::from_secs(5);
    let mut h = Harness::new(cfg);
    assert_eq!(h.resolve("slow.test", 1), Lookup::Pending);
    assert_eq!(h.resolve("fast.test", 2), Lookup::Pending);
    let done = h.run(2);
    let order: Vec<usize> = done.iter().map(|(owner, _)| *owner).collect();
    assert_eq!(order, vec![2, 1], "fast first, then slow");
    assert_eq!(ips(done[0].1), vec![ip("192.0.2.10")]);
    assert_eq!(ips(done[1].1), vec![ip("192.0.2.11")]);
}

#[test]
fn cached_answers_need_no_second_query() {
    let server = FakeServer::start();
    let mut h = Harness::with_server(&server);
    let first = h.lookup("dual.test");
    assert_eq!(h.resolve("dual.test", 7), Lookup::Done(first));
    assert_eq!(
        h.resolve("DUAL.Test.", 8),
        Lookup::Done(first),
        "names are case-blind"
    );
    assert_eq!(server.count("dual.test"), 2);
    // Negative answers are cached too.
    assert_eq!(h.lookup("nx.test"), Err(DnsError::NxDomain));
    assert_eq!(
        h.resolve("nx.test", 9),
        Lookup::Done(Err(DnsError::NxDomain))
    );
    assert_eq!(h.lookup("nodata.test"), Err(DnsError::NoAddresses));
    assert_eq!(
        h.resolve("nodata.test", 9),
        Lookup::Done(Err(DnsError::NoAddresses))
    );
    assert_eq!(server.count("nx.test") + server.count("nodata.test"), 4);
    // Server failures are not.
    assert_eq!(h.lookup("fail.test"), Err(DnsError::ServerFailure));
    assert_eq!(h.resolve("fail.test", 10), Lookup::Pending);
}

#[test]
fn zero_sized_cache_asks_every_time() {
    let server = FakeServer::start();
    let mut cfg = config(&[server.addr]);
    cfg.cache_entries = 0;
    let mut h = Harness::new(cfg);
    h.lookup("dual.test").unwrap();
    h.lookup("dual.test").unwrap();
    assert_eq!(server.count("dual.test"), 4);
}

#[test]
fn max_ttl_caps_positive_answers_only() {
    let server = FakeServer::start();
    let mut cfg = config(&[server.addr]);
    cfg.max_ttl = Duration::ZERO;
    let mut h = Harness::new(cfg);
    h.lookup("dual.test").unwrap();
    assert_eq!(
        h.resolve("dual.test", 2),
        Lookup::Pending,
        "a 0 s cap keeps nothing"
    );
    h.resolver.cancel(2);
    assert_eq!(h.lookup("nx.test"), Err(DnsError::NxDomain));
    assert_eq!(
        h.resolve("nx.test", 3),
        Lookup::Done(Err(DnsError::NxDomain))
    );
}

#[test]
fn unsendable_nameservers_are_skipped() {
    // Linux refuses to send UDP to port 0, so this fails locally and nothing leaves.
    let unusable: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut h = Harness::new(config(&[unusable]));
    assert_eq!(h.resolve("dual.test", 1), Lookup::Done(Err(DnsError::Io)));
    assert_eq!(h.resolver.in_flight(), 0);
    let server = FakeServer::start();
    let mut h = Harness::new(config(&[unusable, server.addr]));
    assert_eq!(ips(h.lookup("v4only.test")), vec![ip("192.0.2.4")]);
}

#[test]
fn concurrent_lookups_of_one_name_share_the_queries() {
    let server = FakeServer::start();
    let mut h = Harness::with_server(&server);
    for owner in 1..=3 {
        assert_eq!(h.resolve("dual.test", owner), Lookup::Pending);
    }
    assert_eq!(h.resolver.in_flight(), 1);
    let mut done = h.run(3);
    done.sort_by_key(|(owner, _)| *owner);
    let owners: Vec<usize> = done.iter().map(|(o, _)| *o).collect();
    assert_eq!(owners, vec![1, 2, 3]);
    assert!(done.iter().all(|(_, r)| *r == done[0].1 && r.is_ok()));
    assert_eq!(server.count("dual.test"), 2);
}

#[test]
fn cancelled_owners_get_no_answer() {
    let server = FakeServer::start();
    let mut h = Harness::with_server(&server);
    assert_eq!(h.resolve("dual.test", 1), Lookup::Pending);
    assert_eq!(h.resolve("dual.test", 2), Lookup::Pending);
    h.resolver.cancel(1);
    let done = h.run(1);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, 2);
    // The only waiter leaving stops the lookup.
    assert_eq!(h.resolve("v4only.test", 3), Lookup::Pending);
    h.resolver.cancel(3);
    assert_eq!(h.resolver.in_flight(), 0);
    assert_eq!(h.resolver.next_deadline(), None);
    // An answer completed but not yet drained is withdrawn too.
    assert_eq!(h.resolve("v6only.test", 4), Lookup::Pending);
    let mut out = Vec::new();
    let end = Instant::now() + Duration::from_secs(10);
    while h.resolver.in_flight() > 0 && Instant::now() < end {
        h.poll
            .poll(&mut h.events, Some(Duration::from_millis(50)))
            .unwrap();
        for event in h.events.iter() {
            h.resolver.handle_readable(event.token(), Instant::now());
        }
    }
    h.resolver.cancel(4);
    h.resolver.drain_completed(&mut out);
    assert!(out.is_empty(), "{out:?}");
    // A new lookup by the same owner replaces its old one.
    assert_eq!(h.resolve("silent.test", 5), Lookup::Pending);
    assert_eq!(
        h.resolve("dual.test", 5),
        Lookup::Done(h.resolver_cached("dual.test"))
    );
    assert_eq!(h.resolver.in_flight(), 0);
}

#[test]
fn spoofed_and_mismatched_answers_are_ignored() {
    let server = FakeServer::start();
    let mut h = Harness::with_server(&server);
    assert_eq!(ips(h.lookup("spoof.test")), vec![ip("192.0.2.7")]);
}

#[test]
fn hosts_literals_and_bad_names_answer_at_once() {
    let server = FakeServer::start();
    let mut h = Harness::with_server(&server);
    assert_eq!(
        h.resolve("MyHost.", 1),
        Lookup::Done(Ok({
            let mut a = Addrs::new();
            a.push(ip("192.0.2.50"));
            a.push(ip("::1"));
            a
        }))
    );
    assert_eq!(
        h.resolve("192.0.2.99", 1),
        Lookup::Done(Ok(Addrs::one(ip("192.0.2.99"))))
    );
    assert_eq!(
        h.resolve("2001:db8::5", 1),
        Lookup::Done(Ok(Addrs::one(ip("2001:db8::5"))))
    );
    assert_eq!(
        h.resolve("[::1]", 1),
        Lookup::Done(Ok(Addrs::one(ip("::1"))))
    );
    for bad in [
        "",
        "a..b",
        "white space.test",
        &"x".repeat(64),
        "\u{e9}.test",
    ] {
        assert_eq!(
            h.resolve(bad, 1),
            Lookup::Done(Err(DnsError::BadName)),
            "{bad:?}"
        );
    }
    // None of these reached the nameserver.
    assert!(server.queries.lock().unwrap().is_empty());
    assert_eq!(h.resolver.next_deadline(), None);
}

#[test]
fn many_names_in_flight_at_once() {
    let server = FakeServer::start();
    let mut h = Harness::with_server(&server);
    // 120 datagrams each way: within the default socket buffers, so none is dropped.
    for owner in 0..60 {
        assert_eq!(
            h.resolve(&format!("host{owner}.test"), owner),
            Lookup::Pending
        );
    }
    assert_eq!(h.resolver.in_flight(), 60);
    let done = h.run(60);
    assert_eq!(done.len(), 60);
    assert!(done.iter().all(|(_, r)| ips(*r) == vec![ip("192.0.2.100")]));
    assert_eq!(h.resolver.in_flight(), 0);
}

#[test]
fn ipv6_nameserver() {
    let Ok(probe) = UdpSocket::bind("[::1]:0") else {
        eprintln!("skipping: no IPv6 loopback here");
        return;
    };
    drop(probe);
    let server = FakeServer::start_on("[::1]:0");
    let mut h = Harness::with_server(&server);
    assert_eq!(
        ips(h.lookup("dual.test")),
        vec![ip("192.0.2.1"), ip("192.0.2.2"), ip("2001:db8::1")]
    );
}

#[test]
fn no_nameserver_is_a_configuration_error() {
    let poll = Poll::new().unwrap();
    let err = Resolver::new(config(&[]), poll.registry(), TOKEN_V4, TOKEN_V6).err();
    assert_eq!(
        err.map(|e| e.kind()),
        Some(std::io::ErrorKind::InvalidInput)
    );
}
