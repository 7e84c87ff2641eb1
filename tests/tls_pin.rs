//! The pin and the TLS connection against real clients: openssl computes the same
//! `sha256//` pin from the certificate file; curl completes a handshake with
//! `aqueduct::tls::conn::TlsConn` as an HTTPS-proxy client, and checks our pin with
//! `--pinnedpubkey` (served when it matches, exit 90 when not).
//!
//! curl before 8.10 silently ignores `--proxy-pinnedpubkey` (the option was never wired
//! into the tool: curl pull request 14438), so the proxy-leg refusal is asserted only
//! with a curl that has the fix; the origin-leg option is the same check in libcurl.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aqueduct::tls::cert::{load_or_generate, CertSource, Identity};
use aqueduct::tls::configs::server_config;
use aqueduct::tls::conn::{Plain, TlsConn};
use aqueduct::tls::Pin;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::Duration;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aqueduct-tls-pin-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn self_signed(dir: &Path) -> (Identity, PathBuf) {
    let cert = dir.join("cert.pem");
    let id = load_or_generate(&CertSource::SelfSigned {
        cert: cert.clone(),
        key: dir.join("key.pem"),
    })
    .unwrap();
    (id, cert)
}

#[test]
fn openssl_computes_the_same_pin_from_the_certificate_file() {
    let dir = temp_dir("openssl");
    let (id, cert) = self_signed(&dir);
    let script = format!(
        "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
        cert.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let b64 = String::from_utf8(out.stdout).unwrap();
    assert_eq!(format!("sha256//{}", b64.trim()), id.pin.to_string());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Serves one connection: TLS, then one HTTP request head, answered `200 ok` whatever it
/// asks (a stand-in for the proxy behind TLS). Returns the request head it saw, or None
/// when the handshake failed.
fn serve_one(listener: TcpListener, id: &Identity) -> Option<Vec<u8>> {
    let config = server_config(id).unwrap();
    let (mut sock, _) = listener.accept().unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = TlsConn::server(&config).unwrap();
    let mut wire = vec![0u8; 32 * 1024];
    let mut plain = vec![0u8; 32 * 1024];
    let mut head = Vec::new();
    let mut answered = false;
    for _ in 0..1000 {
        let out = tls.transmit(&mut wire);
        if out > 0 && sock.write_all(&wire[..out]).is_err() {
            return None;
        }
        if answered && !tls.wants_transmit() {
            return Some(head);
        }
        let n = match sock.read(&mut wire) {
            Ok(0) | Err(_) => return None,
            Ok(n) => n,
        };
        let mut offered = &wire[..n];
        while !offered.is_empty() {
            match tls.receive(offered) {
                Ok(taken) => offered = &offered[taken..],
                Err(_) => {
                    // The alert, then close.
                    let out = tls.transmit(&mut plain);
                    let _ = sock.write_all(&plain[..out]);
                    return None;
                }
            }
            while let Plain::Data(m) = tls.read_plain(&mut plain) {
                head.extend_from_slice(&plain[..m]);
            }
        }
        if !answered && head.windows(4).any(|w| w == b"\r\n\r\n") {
            let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
            assert_eq!(tls.write_plain(reply), reply.len());
            tls.close();
            answered = true;
        }
    }
    panic!("no end after 1000 steps");
}

fn curl_through(port: u16, pin: &str) -> Output {
    curl(&[
        "--proxy",
        &format!("https://127.0.0.1:{port}"),
        "--proxy-user",
        "0xmember:secret-credential",
        "--proxy-insecure",
        "--proxy-pinnedpubkey",
        pin,
        "http://origin.invalid/",
    ])
}

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .unwrap()
}

/// True when this curl passes --proxy-pinnedpubkey on to libcurl (8.10 and later).
fn curl_pins_proxies() -> bool {
    let out = curl(&["--version"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().nth(1).unwrap_or("0.0");
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (8, 10)
}

/// One connection of `serve_one` on a fresh loopback port, in a thread.
fn server(id: &Identity) -> (u16, thread::JoinHandle<Option<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let id = Identity {
        chain: id.chain.clone(),
        key: id.key.clone_key(),
        pin: id.pin,
        origin: id.origin,
    };
    (port, thread::spawn(move || serve_one(listener, &id)))
}

#[test]
fn curl_speaks_https_proxy_to_tlsconn() {
    let dir = temp_dir("proxy");
    let (id, _) = self_signed(&dir);
    let (port, served) = server(&id);
    let out = curl_through(port, &id.pin.to_string());
    let head = served.join().unwrap().expect("the handshake succeeded");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"ok");
    let head = String::from_utf8_lossy(&head);
    assert!(
        head.starts_with("GET http://origin.invalid/ HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("Proxy-Authorization: Basic "), "{head}");

    if curl_pins_proxies() {
        let (port, served) = server(&id);
        let out = curl_through(port, &Pin::of_spki(b"another key").to_string());
        assert_eq!(out.status.code(), Some(90), "{out:?}");
        // curl hangs up before sending the request: the credential never left it.
        assert_eq!(served.join().unwrap().unwrap_or_default(), b"");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn curl_accepts_our_pin_and_refuses_another() {
    let dir = temp_dir("origin");
    let (id, _) = self_signed(&dir);
    let url = |port: u16| format!("https://127.0.0.1:{port}/secret-path");

    let (port, served) = server(&id);
    let pin = id.pin.to_string();
    let out = curl(&["--insecure", "--pinnedpubkey", &pin, &url(port)]);
    served.join().unwrap().expect("the handshake succeeded");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"ok");

    // --insecure turns off only the CA check: another key's pin is refused
    // (CURLE_SSL_PINNEDPUBKEYNOTMATCH) before any request is sent.
    let (port, served) = server(&id);
    let wrong = Pin::of_spki(b"another key").to_string();
    let out = curl(&["--insecure", "--pinnedpubkey", &wrong, &url(port)]);
    assert_eq!(out.status.code(), Some(90), "{out:?}");
    assert!(out.stdout.is_empty());
    assert_eq!(served.join().unwrap().unwrap_or_default(), b"");
    std::fs::remove_dir_all(&dir).unwrap();
}
