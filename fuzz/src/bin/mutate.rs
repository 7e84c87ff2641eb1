//! A stable-toolchain stand-in for the libFuzzer targets: mutates the seed messages with a
//! deterministic generator and runs the same invariant checks, bounded in count and time.
//!
//! `cargo run --release --bin mutate -- [socks5|http|tls|endpoint|all] [iterations] [seconds] [seed]`

use std::time::{Duration, Instant};

/// xorshift64*: deterministic, so a failure is reproduced by rerunning with the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Bytes that matter to the parsers, so mutations reach deep branches.
const INTERESTING: &[u8] = b"\x00\x01\x02\x03\x04\x05\x07\x08\xff\r\n :[]/@?#=.-_\t\x7fHTTP";
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\r\n\r\n",
    b"CONNECT ",
    b"GET ",
    b" HTTP/1.1",
    b"http://",
    b"https://",
    b"[::1]",
    b":443",
    b":0",
    b":65536",
    b"Host: ",
    b"Proxy-Authorization: Basic ",
    b"Connection: ",
    b"Content-Length: 1",
    b"Transfer-Encoding: chunked",
    b"Keep-Alive",
    b"YWxpY2U6c2VjcmV0",
    b"Og==",
    b"=",
    b"127.0.0.1",
    b"\x03\x0bexample.com",
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    for _ in 0..=rng.below(4) {
        let len = input.len();
        match rng.below(8) {
            0 if len > 0 => input[rng.below(len)] = rng.next() as u8,
            1 if len > 0 => input[rng.below(len)] = INTERESTING[rng.below(INTERESTING.len())],
            2 => input.insert(
                rng.below(len + 1),
                INTERESTING[rng.below(INTERESTING.len())],
            ),
            3 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below(len - at);
                input.drain(at..at + n.min(8));
            }
            4 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                input.splice(at..at, token.iter().copied());
            }
            5 => input.truncate(rng.below(len + 1)),
            6 => {
                // Splice in part of another seed.
                let other = &corpus[rng.below(corpus.len())];
                let from = rng.below(other.len());
                let to = from + rng.below(other.len() - from + 1);
                let at = rng.below(len + 1);
                input.splice(at..at, other[from..to].iter().copied());
            }
            7 if len > 0 && len < 9000 => {
                // Repeat a run: long names, many headers, oversized heads.
                let at = rng.below(len);
                let run = input[at..(at + 1 + rng.below(16)).min(len)].to_vec();
                for _ in 0..rng.below(600) {
                    input.extend_from_slice(&run);
                }
            }
            _ => input.push(rng.next() as u8),
        }
    }
}

/// The seed messages cargo-fuzz also starts from: `seeds/<target>/*`.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let corpus: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    assert!(!corpus.is_empty(), "no seeds in {}", dir.display());
    corpus
}

fn run(target: &str, iterations: u64, budget: Duration, seed: u64) -> u64 {
    let check: fn(&[u8]) = match target {
        "socks5" => aqueduct_fuzz::check_socks5,
        "tls" => aqueduct_fuzz::check_tls,
        "endpoint" => aqueduct_fuzz::check_endpoint,
        _ => aqueduct_fuzz::check_http,
    };
    let corpus = seeds(target);
    let mut rng = Rng(seed | 1);
    let start = Instant::now();
    let mut done = 0;
    while done < iterations && start.elapsed() < budget {
        let mut input = corpus[rng.below(corpus.len())].clone();
        // Stack several rounds: most inputs stay close to valid, some drift far.
        for _ in 0..=rng.below(3) {
            mutate(&mut rng, &mut input, &corpus);
        }
        check(&input);
        done += 1;
    }
    done
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map_or("all", String::as_str);
    let iterations = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let seconds = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0x5eed);
    let targets: &[&str] = match which {
        "socks5" => &["socks5"],
        "http" => &["http"],
        "tls" => &["tls"],
        "endpoint" => &["endpoint"],
        _ => &["socks5", "http", "tls", "endpoint"],
    };
    for target in targets {
        let start = Instant::now();
        let n = run(target, iterations, Duration::from_secs(seconds), seed);
        println!(
            "{target}: {n} inputs in {:.1}s, no invariant broken (seed {seed})",
            start.elapsed().as_secs_f64()
        );
    }
}
