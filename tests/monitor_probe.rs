//! The probe engine on loopback, without a chain: every outcome from a server that
//! earns it (stand-in nodes that check the monitor's credential like a chain-mode node,
//! a silent listener, a closed port, a server that is not SOCKS5, a delaying
//! forwarder), TLS endpoints (a real `aqueduct node` with `tls_listen`, probed inside
//! TLS with its pin checked; a wrong pin; a server that is not TLS; a silent one), the
//! echo endpoint turning strangers away, and the command line.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{anvil, local, proxy, tls};

use aqueduct::credential::Verifier;
use aqueduct::eth::signer::PrivateKey;
use aqueduct::eth::Address;
use aqueduct::monitor::config::EchoUrl;
use aqueduct::monitor::outcome::Outcome;
use aqueduct::monitor::probe::{Engine, Measured, ProbePath, ProbeSettings, ProbeTarget};
use aqueduct::monitor::round::Credentials;
use aqueduct::tls::Pin;
use local::{Forwarder, StubNode};
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::time::Duration;

const CONTRACT: Address = Address([0x11; 20]);
const CHAIN: u64 = 31337;

fn stub(node: Address) -> StubNode {
    StubNode::start(Verifier {
        chain_id: CHAIN,
        contract: CONTRACT,
        node,
        max_lifetime: 7200,
    })
}

fn settings(echo: SocketAddr, timeout: Duration) -> ProbeSettings {
    ProbeSettings {
        parallel: 4,
        timeout,
        download_bytes: 256 * 1024,
        slow_latency: Duration::from_millis(1500),
        slow_throughput_kbps: 100,
        echo: EchoUrl {
            host: echo.ip().to_string(),
            port: echo.port(),
        },
    }
}

/// The monitor's credentials, from a key made of `seed` bytes.
fn credentials(seed: u8) -> Credentials {
    Credentials::new(
        PrivateKey::from_bytes(&[seed; 32]).unwrap(),
        CHAIN,
        CONTRACT,
        3600,
    )
}

/// A new engine, one round of `targets` on it: (engine, settings, results, outcomes).
fn one_round(
    targets: Vec<ProbeTarget>,
    timeout: Duration,
) -> (Engine, ProbeSettings, Vec<Measured>, Vec<Outcome>) {
    let mut engine = Engine::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let s = settings(engine.echo_addr(), timeout);
    let results = engine.run_round(targets, &s);
    let got = results.iter().map(|r| r.outcome).collect();
    (engine, s, results, got)
}

fn closed_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[test]
fn every_outcome_comes_from_a_server_that_earns_it() {
    let mut creds = credentials(5);
    let now = local_now();
    let a = Address([0xa; 20]);
    let b = Address([0xb; 20]);
    let good = stub(a);
    let other = stub(b);
    let refusing = stub(a);
    refusing.seen.refuse.store(true, Ordering::SeqCst);
    let slow_front = Forwarder::start(good.addr, Duration::from_secs(2));
    // Accepts into its backlog, never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    // Answers anything with HTTP: not a SOCKS5 node.
    let http = proxy::TestServer::start("127.0.0.1:0", |mut s| {
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let login_a = creds.login(a, now);
    let loopback = Some("127.0.0.1".parse().unwrap());
    let t = |addr, login: &std::sync::Arc<_>, expect| ProbeTarget {
        node: a,
        addr,
        login: std::sync::Arc::clone(login),
        expect_egress: expect,
        path: ProbePath::Socks,
        tls: None,
    };
    let targets = vec![
        t(good.addr, &login_a, loopback),
        t(closed_port(), &login_a, loopback),
        t(silent.local_addr().unwrap(), &login_a, loopback),
        t(refusing.addr, &login_a, loopback),
        // Scoped to node a, shown to node b: refused.
        t(other.addr, &login_a, loopback),
        t(http.addr, &login_a, loopback),
        t(good.addr, &login_a, Some("127.0.0.2".parse().unwrap())),
        t(slow_front.addr, &login_a, loopback),
    ];
    let (mut engine, s, results, got) = one_round(targets, Duration::from_secs(4));
    assert_eq!(
        got,
        [
            Outcome::Ok,
            Outcome::ConnectFailed,
            Outcome::Timeout,
            Outcome::AuthRefused,
            Outcome::AuthRefused,
            Outcome::RelayFailed,
            Outcome::WrongEgress,
            Outcome::Slow,
        ],
        "{results:#?}"
    );
    let ok = &results[0];
    assert_eq!(ok.egress, Some("127.0.0.1".parse().unwrap()));
    assert!(ok.connect.is_some() && ok.login.is_some() && ok.latency.is_some());
    assert_eq!(ok.download_bytes, 256 * 1024);
    assert!(ok.kbps().unwrap() > 100.0);
    assert!(
        results[2].detail.contains("SOCKS5 login: no answer"),
        "{}",
        results[2].detail
    );
    assert!(
        results[5].detail.contains("not speaking SOCKS5"),
        "{}",
        results[5].detail
    );
    assert!(results[6]
        .detail
        .contains("egress 127.0.0.1, but the endpoint is 127.0.0.2"));
    assert!(
        results[7].detail.contains("limit 1500 ms"),
        "{}",
        results[7].detail
    );
    assert_eq!(other.seen.logins_refused.load(Ordering::SeqCst), 1);
    // The good node opened three tunnels (two direct probes, one forwarded), to the echo endpoint.
    assert_eq!(good.tunnels(), 3, "two direct probes and the forwarded one");
    assert_eq!(
        good.seen.target.lock().unwrap().as_deref(),
        Some(engine.echo_addr().to_string().as_str())
    );
    // The echo endpoint down: the node cannot reach it, and says so.
    let mut s2 = s.clone();
    s2.echo = EchoUrl {
        host: "127.0.0.1".into(),
        port: closed_port().port(),
    };
    let r = engine.run_round(vec![t(good.addr, &login_a, loopback)], &s2);
    assert_eq!(r[0].outcome, Outcome::RelayFailed, "{r:?}");
    assert!(r[0].detail.contains("could not reach the echo endpoint"));
}

#[test]
fn a_tls_endpoint_is_probed_inside_tls_with_its_pin_checked() {
    let mut creds = credentials(6);
    let a = Address([0xa; 20]);
    let login = creds.login(a, local_now());
    // A real node with a TLS listener that admits the monitor's credential (static auth
    // stands in for the chain here: what is probed is the transport).
    let dir = proxy::TempDir::new("monitor-tls");
    let node = tls::TlsNode::start(
        dir.path(),
        &format!(
            "[auth]\nmode = \"static\"\n[[auth.users]]\nname = \"{}\"\npassword = \"{}\"\n[policy]\nallow_private = true\n",
            login.username, login.password
        ),
    );
    // Accepts, never answers the ClientHello.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    // Answers the ClientHello with HTTP: not a TLS server.
    let not_tls = proxy::TestServer::start("127.0.0.1:0", |mut s| {
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    // Answers with the start of a 16 KiB handshake record, then goes silent.
    let half_record = proxy::TestServer::start("127.0.0.1:0", |mut s| {
        let _ = s.write_all(&[0x16, 0x03, 0x03, 0x40, 0x00, 0x02, 0x00]);
        std::thread::sleep(Duration::from_secs(5));
    });
    // Answers with an endless stream that is no TLS.
    let endless = proxy::TestServer::start("127.0.0.1:0", proxy::serve_endless);
    let loopback = Some("127.0.0.1".parse().unwrap());
    let t = |addr, pin: Pin, path| ProbeTarget {
        node: a,
        addr,
        login: std::sync::Arc::clone(&login),
        expect_egress: loopback,
        path,
        tls: Some(pin),
    };
    let wrong = Pin::of_spki(b"another key");
    let targets = vec![
        t(node.tls, node.pin, ProbePath::Socks),
        t(node.tls, node.pin, ProbePath::Http),
        t(node.tls, wrong, ProbePath::Socks),
        t(not_tls.addr, node.pin, ProbePath::Socks),
        t(silent.local_addr().unwrap(), node.pin, ProbePath::Socks),
        t(closed_port(), node.pin, ProbePath::Socks),
        t(half_record.addr, node.pin, ProbePath::Socks),
        t(endless.addr, node.pin, ProbePath::Socks),
    ];
    let (mut engine, s, results, got) = one_round(targets, Duration::from_secs(3));
    assert_eq!(
        got,
        [
            Outcome::Ok,
            Outcome::Ok,
            Outcome::PinMismatch,
            Outcome::TlsFailed,
            Outcome::Timeout,
            Outcome::ConnectFailed,
            Outcome::Timeout,
            Outcome::TlsFailed,
        ],
        "{results:#?}\n{}",
        node.log()
    );
    // The SOCKS5 probe went through the TLS listener: egress, every timing, the download.
    let ok = &results[0];
    assert_eq!(ok.egress, Some("127.0.0.1".parse().unwrap()));
    assert!(ok.connect.is_some() && ok.tls.is_some() && ok.login.is_some());
    assert!(ok.latency.is_some());
    assert_eq!(ok.download_bytes, 256 * 1024);
    assert!(ok.kbps().unwrap() > 100.0);
    assert!(results[1].tls.is_some() && results[1].egress.is_some());
    // The node saw both tunnels to the echo endpoint.
    let echo = format!("target={}", engine.echo_addr());
    let log = node.wait_log(&echo, 2);
    assert!(log.matches(&echo).count() >= 2, "{log}");
    let mismatch = &results[2].detail;
    assert!(
        mismatch.contains("pin mismatch: possible interception")
            && mismatch.contains(&node.pin.to_string()),
        "{mismatch}"
    );
    assert_eq!(
        results[2].login, None,
        "no credential sent to the wrong key"
    );
    for r in [&results[3], &results[7]] {
        assert!(r.detail.starts_with("TLS: "), "{}", r.detail);
    }
    assert!(
        results[6].detail.contains("TLS handshake: no answer"),
        "{}",
        results[6].detail
    );
    assert!(
        results[4]
            .detail
            .contains("TLS handshake: no answer in 3 s"),
        "{}",
        results[4].detail
    );
    // Plain probes in the same engine afterwards are unaffected.
    let plain = ProbeTarget {
        tls: None,
        ..t(node.plain, node.pin, ProbePath::Socks)
    };
    let r = engine.run_round(vec![plain], &s);
    assert_eq!(r[0].outcome, Outcome::Ok, "{r:?}");
    assert_eq!(r[0].tls, None);
}

fn local_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn the_echo_endpoint_serves_nobody_but_this_rounds_probes() {
    let mut engine = Engine::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let echo = engine.echo_addr();
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let login = std::sync::Arc::new(aqueduct::proxy::upstream::Login {
        username: "u".into(),
        password: "p".into(),
    });
    let target = ProbeTarget {
        node: Address([1; 20]),
        addr: silent.local_addr().unwrap(),
        login,
        expect_egress: None,
        path: ProbePath::Socks,
        tls: None,
    };
    // A round that lasts 3 s (its only probe waits on a silent node).
    let round = std::thread::spawn(move || {
        let s = settings(echo, Duration::from_secs(3));
        engine.run_round(vec![target], &s)
    });
    std::thread::sleep(Duration::from_millis(300));
    let base = format!("http://{echo}");
    for path in [
        "/echo/0123456789abcdef0123456789abcdef",
        "/bytes/0123/1048576",
        "/",
    ] {
        let status = proxy::curl_status(&[&format!("{base}{path}")]);
        assert_eq!(status, 404, "{path}");
    }
    let status = proxy::curl_status(&["-X", "POST", &format!("{base}/echo/x")]);
    assert_eq!(status, 405);
    let results = round.join().unwrap();
    assert_eq!(results[0].outcome, Outcome::Timeout);
}

#[test]
fn the_command_line_names_what_is_wrong() {
    let run = anvil::aqueduct(&["monitor"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("--config is required"));
    let help = anvil::aqueduct(&["monitor", "--help"]);
    assert!(help.ok && help.stdout.contains("monitor report"));
    let dir = proxy::TempDir::new("monitor-cli");
    let config = dir.path().join("monitor.toml");
    std::fs::write(
        &config,
        "[chain]\nrpc = [\"http://127.0.0.1:9\"]\nkey = \"k\"\ncontract = \"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\"\n\
         [monitor]\necho_url = \"http://127.0.0.1:1\"\nparallel = 0\n",
    )
    .unwrap();
    let path = config.to_str().unwrap();
    let run = anvil::aqueduct(&["monitor", "--config", path]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("`monitor.parallel`: must be 1 to 4096"),
        "{}",
        run.stderr
    );
    let report = anvil::aqueduct(&["monitor", "report", "--config", path]);
    assert!(!report.ok);
    assert!(
        report.stderr.contains("`monitor.parallel`"),
        "{}",
        report.stderr
    );
    std::fs::write(
        &config,
        "[chain]\nrpc = [\"http://127.0.0.1:9\"]\nkey = \"k\"\ncontract = \"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\"\n\
         [monitor]\necho_url = \"http://127.0.0.1:1\"\n",
    )
    .unwrap();
    let report = anvil::aqueduct(&["monitor", "report", "--config", path, "--since", "soon"]);
    assert_eq!(report.code, Some(2), "{}", report.stderr);
    let report = anvil::aqueduct(&["monitor", "report", "--config", path]);
    assert!(
        report
            .stderr
            .contains("run `aqueduct monitor --config FILE` first"),
        "{}",
        report.stderr
    );
}
