//! `aqueduct node` in chain mode against a real anvil, with curl as the client: who is
//! served, who is refused and how, and what happens as memberships start and end.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{anvil, node, proxy};

use anvil::{cast, DEV_KEYS};
use aqueduct::credential::{self, NodeScope};
use node::{dev, eventually, http_status, socks_get, unix_now, ChainNet, MEMBER, NODE_KEY};
use proxy::{
    closed_by_peer, connect, round_trip, socks_handshake_bytes, Echo, Origin, SocksTarget, PAGE,
};
use std::io::{Read, Write};

#[test]
fn paying_member_is_served_and_bad_credentials_are_refused_with_the_check_named() {
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    net.subscribe(MEMBER, 1);
    let node = net.start_node("", "[heartbeat]\nenabled = false\n");
    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://{}/", origin.addr);

    let good = net.good(MEMBER);
    assert_eq!(socks_get(&node, &good, &url).unwrap(), PAGE);
    assert_eq!(http_status(&node, &good, &url), 200);
    // Any letter case of the username, and a credential scoped to this very node.
    let upper = (
        good.0.to_uppercase().replacen("0X", "0x", 1),
        good.1.clone(),
    );
    assert_eq!(http_status(&node, &upper, &url), 200);
    let scoped = net.credential(MEMBER, NodeScope::One(dev(NODE_KEY)), unix_now() + 600);
    assert_eq!(http_status(&node, &scoped, &url), 200);

    // Each refusal: 407 over HTTP, a failed RFC 1929 status over SOCKS5, and a log line
    // naming the failed check.
    let non_member = net.good(3);
    let expired = net.credential(MEMBER, NodeScope::Any, unix_now() - 5);
    let wrong_node = net.credential(MEMBER, NodeScope::One(dev(5)), unix_now() + 600);
    let too_long = net.credential(MEMBER, NodeScope::Any, unix_now() + 400 * 86400);
    // Signed for any node, presented as if scoped to this one.
    let mut tampered = good.clone();
    tampered.1 = tampered
        .1
        .replacen(":*:", &format!(":{}:", dev(NODE_KEY).to_lower_hex()), 1);
    let other_signer = (dev(4).to_string(), good.1.clone());
    let cases: [(&str, (String, String), &str); 7] = [
        ("non-member", non_member, "is not a paying member"),
        ("expired", expired, "credential expired"),
        ("wrong node", wrong_node, "not this one"),
        ("lifetime", too_long, "beyond this node's limit"),
        ("tampered", tampered, "signature is by"),
        ("other username", other_signer, "signature is by"),
        (
            "malformed",
            (good.0.clone(), "12:*:zz".into()),
            "malformed password",
        ),
    ];
    for (what, cred, logged) in &cases {
        assert_eq!(http_status(&node, cred, &url), 407, "{what}");
        assert!(socks_get(&node, cred, &url).is_err(), "{what} over SOCKS5");
        node.wait_log(logged, 1);
    }
    // Not an address at all: refused, and the username is not echoed into the log.
    let junk = ("alice".to_string(), "hunter2-secret".to_string());
    assert_eq!(http_status(&node, &junk, &url), 407);
    let log = node.wait_log("username is not an address", 1);
    assert!(!log.contains("hunter2-secret"));
    assert!(
        !log.contains(&good.1),
        "the password never shows in the log"
    );

    // Raw SOCKS5: the auth status byte is 1 (failure) for a non-member.
    let mut s = connect(node.addr());
    let (u, p) = net.good(6);
    s.write_all(&socks_handshake_bytes(
        &u,
        &p,
        &SocksTarget::Addr(origin.addr),
    ))
    .unwrap();
    let mut reply = [0u8; 4];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(reply, [5, 2, 1, 1]);
}

#[test]
fn credential_signed_by_cast_works_with_curl() {
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    net.subscribe(MEMBER, 1);
    let node = net.start_node("", "[heartbeat]\nenabled = false\n");
    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://{}/", origin.addr);

    let expires = unix_now() + 1800;
    let text = credential::message(node::CHAIN_ID, net.contract, NodeScope::Any, expires);
    let sig = cast(&["wallet", "sign", "--private-key", DEV_KEYS[MEMBER], &text]);
    let password = format!("{expires}:*:{}", sig.trim_start_matches("0x"));
    let cred = (dev(MEMBER).to_string(), password);
    assert_eq!(socks_get(&node, &cred, &url).unwrap(), PAGE);
    assert_eq!(http_status(&node, &cred, &url), 200);
}

#[test]
fn member_who_subscribes_while_the_node_runs_is_served_within_seconds() {
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    let node = net.start_node("negative_cache_secs = 1", "[heartbeat]\nenabled = false\n");
    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://{}/", origin.addr);
    let cred = net.good(MEMBER);
    assert_eq!(http_status(&node, &cred, &url), 407);
    node.wait_log("is not a paying member", 1);

    net.subscribe(MEMBER, 1);
    eventually("the new member is served", &node, || {
        http_status(&node, &cred, &url) == 200
    });
    assert_eq!(socks_get(&node, &cred, &url).unwrap(), PAGE);
}

#[test]
fn membership_that_ends_closes_the_live_session_and_refuses_new_ones() {
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    net.subscribe(MEMBER, 1);
    net.subscribe(3, 3);
    let node = net.start_node("", "[heartbeat]\nenabled = false\n");
    let echo = Echo::start();
    let open = |key: usize| net.open_tunnel(&node, key, echo.addr);
    let mut ending = open(MEMBER);
    let mut staying = open(3);
    assert_eq!(round_trip(&mut ending, b"ping"), b"ping");

    // Past the one-hour period of the first member, not the three hours of the other.
    net.anvil.warp(2 * 3600);
    assert!(
        closed_by_peer(&mut ending),
        "the session of the ended membership closes"
    );
    node.wait_log("outcome=access_ended", 1);
    assert_eq!(round_trip(&mut staying, b"still here"), b"still here");

    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://{}/", origin.addr);
    assert_eq!(http_status(&node, &net.good(MEMBER), &url), 407);
    assert_eq!(http_status(&node, &net.good(3), &url), 200);
}

#[test]
fn sessions_per_member_are_capped() {
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    net.subscribe(MEMBER, 1);
    let node = net.start_node(
        "max_sessions_per_member = 2",
        "[heartbeat]\nenabled = false\n",
    );
    let echo = Echo::start();
    let (u, p) = net.good(MEMBER);
    let hello = socks_handshake_bytes(&u, &p, &SocksTarget::Addr(echo.addr));
    let mut first = connect(node.addr());
    first.write_all(&hello).unwrap();
    assert_eq!(proxy::read_socks_replies(&mut first).unwrap().0, 0);
    let mut second = connect(node.addr());
    second.write_all(&hello).unwrap();
    assert_eq!(proxy::read_socks_replies(&mut second).unwrap().0, 0);

    // The third: SOCKS5 auth failure, HTTP 403 (the credential is fine; the cap is not).
    let mut third = connect(node.addr());
    third.write_all(&hello).unwrap();
    let mut reply = [0u8; 4];
    third.read_exact(&mut reply).unwrap();
    assert_eq!(reply, [5, 2, 1, 1]);
    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://{}/", origin.addr);
    assert_eq!(http_status(&node, &(u.clone(), p.clone()), &url), 403);
    node.wait_log("auth.max_sessions_per_member", 1);
    node.wait_log("outcome=too_many_sessions", 2);
    // Another member is not affected.
    net.subscribe(3, 1);
    assert_eq!(http_status(&node, &net.good(3), &url), 200);

    // One session ends: there is room again.
    drop(first);
    eventually("a slot frees up", &node, || {
        http_status(&node, &(u.clone(), p.clone()), &url) == 200
    });
    assert_eq!(round_trip(&mut second, b"x"), b"x");
}

#[test]
fn rpc_outage_serves_known_members_and_refuses_unknown_addresses() {
    let mut net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    net.subscribe(MEMBER, 1);
    let node = net.start_node("", "[heartbeat]\nenabled = false\n");
    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://{}/", origin.addr);
    let member = net.good(MEMBER);
    assert_eq!(http_status(&node, &member, &url), 200);
    node.wait_log("members known", 1);

    net.anvil.kill();
    node.wait_log("chain RPC unreachable", 1);
    assert_eq!(http_status(&node, &member, &url), 200);
    assert_eq!(socks_get(&node, &member, &url).unwrap(), PAGE);
    assert_eq!(http_status(&node, &net.good(3), &url), 407);
    node.wait_log("unknown addresses are refused until it answers", 2);
}

#[test]
fn looser_spellings_of_a_good_credential_are_refused_with_the_part_named() {
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    net.subscribe(MEMBER, 1);
    let node = net.start_node("", "[heartbeat]\nenabled = false\n");
    let origin = Origin::start("127.0.0.1:0");
    let url = format!("http://{}/", origin.addr);
    let (user, pass) = net.good(MEMBER);
    let (head, sig) = pass.rsplit_once(':').unwrap();
    assert_eq!(http_status(&node, &(user.clone(), pass.clone()), &url), 200);

    let cases = [
        (
            "0X address prefix",
            (format!("0X{}", &user[2..]), pass.clone()),
            "username is not an address",
        ),
        (
            "0x0x signature prefix",
            (user.clone(), format!("{head}:0x0x{sig}")),
            "signature is not 130",
        ),
        (
            "leading zeros in the expiry",
            (user.clone(), format!("00{pass}")),
            "expiry has leading zeros",
        ),
    ];
    for (what, cred, reason) in &cases {
        assert_eq!(http_status(&node, cred, &url), 407, "{what}");
        assert!(socks_get(&node, cred, &url).is_err(), "{what} over SOCKS5");
        // One refusal over HTTP and one over SOCKS5, each naming the part.
        node.wait_log(reason, 2);
    }
    let log = node.log();
    assert!(!log.contains(sig), "the signature never shows in the log");
    // The well-formed credential still works: nothing was cached from the refusals.
    assert_eq!(socks_get(&node, &(user, pass), &url).unwrap(), PAGE);
}

/// doc/protocol.md: a credential's expiry gates new sessions only; a session opened
/// before it runs on until the membership ends.
#[test]
fn an_expired_credential_opens_nothing_new_but_its_open_tunnel_runs_until_the_membership_ends() {
    let net = ChainNet::deploy(&["--period", "1h", "--epoch", "1h", "--slot", "1m"]);
    net.subscribe(MEMBER, 1);
    let node = net.start_node("", "[heartbeat]\nenabled = false\n");
    let echo = Echo::start();
    let expires = unix_now() + 3;
    let (u, p) = net.credential(MEMBER, NodeScope::Any, expires);
    let hello = socks_handshake_bytes(&u, &p, &SocksTarget::Addr(echo.addr));
    let mut tunnel = connect(node.addr());
    tunnel.write_all(&hello).unwrap();
    assert_eq!(proxy::read_socks_replies(&mut tunnel).unwrap().0, 0);
    assert_eq!(round_trip(&mut tunnel, b"before"), b"before");

    // Past the expiry by the local clock (bounded: a few seconds).
    while unix_now() <= expires + 1 {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let mut again = connect(node.addr());
    again.write_all(&hello).unwrap();
    let mut reply = [0u8; 4];
    again.read_exact(&mut reply).unwrap();
    assert_eq!(
        reply,
        [5, 2, 1, 1],
        "the expired credential opens nothing new"
    );
    node.wait_log("credential expired", 1);
    assert!(proxy::still_open(&tunnel), "the open tunnel was not cut");
    assert_eq!(round_trip(&mut tunnel, b"after"), b"after");

    // The end of the membership is what closes it.
    net.anvil.warp(2 * 3600);
    assert!(
        closed_by_peer(&mut tunnel),
        "closed when the membership ends"
    );
    node.wait_log("outcome=access_ended", 1);
}
