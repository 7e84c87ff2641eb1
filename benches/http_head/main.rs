//! The loop time one HTTP forward head costs: parse, then write the head sent upstream.
//! Worst cases for an 8 KiB head (issue 11, item 3) beside a typical curl head, measured
//! in interleaved rounds in one run; the figures that matter are the per-head times of the
//! worst cases (the loop must stay well under 1 ms) and their ratio to the typical head.
//!
//! `cargo bench --bench http_head`
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aqueduct::proxy::codec::Parsed;
use aqueduct::proxy::http::{parse_request_head, write_forward_head};
use std::hint::black_box;
use std::time::{Duration, Instant};

const MAX_HEAD: usize = 8192;

/// An absolute-form head padded to just under `MAX_HEAD` by `field` lines, with
/// `connection` (if any) as a Connection field naming options.
fn head(field: impl Fn(usize) -> String, connection: Option<String>) -> Vec<u8> {
    let mut head = String::from("GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n");
    if let Some(options) = connection {
        head.push_str(&format!("Connection: {options}\r\n"));
    }
    let mut i = 0;
    loop {
        let line = field(i);
        if head.len() + line.len() + 2 > MAX_HEAD - 2 {
            break;
        }
        head.push_str(&line);
        head.push_str("\r\n");
        i += 1;
    }
    head.push_str("\r\n");
    head.into_bytes()
}

fn once(buf: &[u8], out: &mut Vec<u8>) {
    let Ok(Parsed::Done { value, .. }) = parse_request_head(buf, MAX_HEAD) else {
        panic!("the bench head must parse");
    };
    out.clear();
    write_forward_head(buf, &value, out);
    black_box(&out);
}

fn main() {
    let typical = b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nProxy-Connection: Keep-Alive\r\n\r\n".to_vec();
    let tiny_fields = head(|i| format!("{}:", short_name(i)), None);
    let options = (0..700).map(short_name).collect::<Vec<_>>().join(",");
    let named = head(|i| format!("{}:", short_name(i + 700)), Some(options));
    let cases: [(&str, &[u8]); 3] = [
        ("typical curl head", &typical),
        ("8 KiB of tiny fields", &tiny_fields),
        ("8 KiB, Connection naming 700", &named),
    ];
    let quick = std::env::var_os("AQ_BENCH_QUICK").is_some();
    let (rounds, per_round) = if quick { (3, 200) } else { (10, 2000) };
    let mut best = [Duration::MAX; 3];
    let mut out = Vec::with_capacity(MAX_HEAD + 64);
    for _ in 0..rounds {
        for (i, (_, buf)) in cases.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..per_round {
                once(buf, &mut out);
            }
            best[i] = best[i].min(start.elapsed() / per_round);
        }
    }
    println!(
        "HTTP forward head: parse + rewrite, best of {rounds} interleaved rounds of {per_round}"
    );
    println!(
        "{:<32} {:>8} {:>12} {:>10}",
        "head", "bytes", "per head", "x typical"
    );
    for (i, (name, buf)) in cases.iter().enumerate() {
        println!(
            "{:<32} {:>8} {:>9.1} µs {:>9.1}x",
            name,
            buf.len(),
            best[i].as_secs_f64() * 1e6,
            best[i].as_secs_f64() / best[0].as_secs_f64()
        );
    }
}

/// Distinct short field names: a, b, ..., z, aa, ab, ...
fn short_name(mut i: usize) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'a' + (i % 26) as u8);
        i /= 26;
        if i == 0 {
            break;
        }
        i -= 1;
    }
    String::from_utf8(name).unwrap_or_default()
}
