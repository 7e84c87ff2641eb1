//! The JSON-RPC client: failover, retries on HTTP 429, log range shrinking (against a
//! scripted loopback server), and errors and reverts from a real anvil.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::anvil;

use anvil::Anvil;
use aqueduct::contract::{calls, sig, Contract};
use aqueduct::eth::rpc::{CallRequest, Client, LogFilter, RpcConfig, RpcError};
use aqueduct::eth::sender::{Sender, TxRequest};
use aqueduct::eth::Address;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A loopback HTTP server answering each JSON-RPC request with `answer(request)` =
/// (HTTP status, body). Serves until the test ends (the thread is detached).
fn scripted_server(answer: impl Fn(&Value) -> (u16, String) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(1000) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length.min(1 << 20)];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let (status, text) = answer(&request);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    url
}

fn reply(request: &Value, result: Value) -> (u16, String) {
    (
        200,
        json!({"jsonrpc": "2.0", "id": request["id"], "result": result}).to_string(),
    )
}

fn quick(urls: Vec<String>, attempts: u32) -> Client {
    let mut cfg = RpcConfig::new(urls);
    cfg.timeout = Duration::from_secs(5);
    cfg.attempts = attempts;
    cfg.backoff = Duration::from_millis(20);
    Client::new(cfg).unwrap()
}

fn dead_url() -> String {
    // A port that was just free: nothing listens there.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", l.local_addr().unwrap())
}

#[test]
fn fails_over_to_the_next_url_when_one_is_down() {
    let anvil = Anvil::start();
    let client = quick(vec![dead_url(), anvil.url.clone()], 1);
    assert_eq!(client.chain_id().unwrap(), 31337);
    // The working URL is now preferred; the dead one is not tried first again.
    assert!(client.block_number().is_ok());
}

#[test]
fn http_429_is_retried_with_backoff() {
    let calls = Arc::new(Mutex::new(0u32));
    let seen = calls.clone();
    let url = scripted_server(move |req| {
        let mut n = seen.lock().unwrap();
        *n += 1;
        if *n <= 2 {
            (429, "slow down".into())
        } else {
            reply(req, json!("0x2105"))
        }
    });
    assert_eq!(quick(vec![url], 3).chain_id().unwrap(), 8453);
    assert_eq!(*calls.lock().unwrap(), 3);
}

#[test]
fn every_url_down_is_a_clear_unreachable_error() {
    let dead = dead_url();
    let err = quick(vec![dead.clone()], 2).chain_id().unwrap_err();
    assert!(err.is_unreachable());
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot reach the RPC endpoint {dead} for eth_chainId"
        )),
        "{text}"
    );
}

#[test]
fn a_non_json_rpc_http_error_is_reported_with_its_status() {
    let url = scripted_server(|_| (404, "not found".into()));
    let err = quick(vec![url], 1).chain_id().unwrap_err();
    assert!(matches!(err, RpcError::Http { status: 404, .. }), "{err}");
}

#[test]
fn too_many_results_shrinks_the_log_range_until_it_fits() {
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let seen = ranges.clone();
    let url = scripted_server(move |req| {
        let f = &req["params"][0];
        let num = |k: &str| {
            u64::from_str_radix(f[k].as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
        };
        let (from, to) = (num("fromBlock"), num("toBlock"));
        if to - from + 1 > 3 {
            return (
                200,
                json!({"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32005, "message": "query returned more than 10000 results"}}).to_string(),
            );
        }
        seen.lock().unwrap().push((from, to));
        reply(req, json!([log_at(from)]))
    });
    let mut cfg = RpcConfig::new(vec![url]);
    cfg.log_chunk = 16;
    cfg.attempts = 1;
    let logs = Client::new(cfg)
        .unwrap()
        .logs(&LogFilter::default(), 10, 30)
        .unwrap();
    let ranges = ranges.lock().unwrap().clone();
    // Contiguous, in order, each at most 3 blocks, covering 10..=30 exactly.
    assert_eq!(ranges.first().unwrap().0, 10);
    assert_eq!(ranges.last().unwrap().1, 30);
    for w in ranges.windows(2) {
        assert_eq!(w[0].1 + 1, w[1].0);
    }
    assert!(ranges.iter().all(|(a, b)| b - a < 3));
    assert_eq!(logs.len(), ranges.len());
}

#[test]
fn an_answer_larger_than_the_limit_is_asked_for_again_in_smaller_ranges() {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = asked.clone();
    // Each block holds one log with a 40 KB data field; the client takes 100 KB answers.
    let url = scripted_server(move |req| {
        let f = &req["params"][0];
        let num = |k: &str| {
            u64::from_str_radix(f[k].as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
        };
        let (from, to) = (num("fromBlock"), num("toBlock"));
        seen.lock().unwrap().push((from, to));
        let logs: Vec<Value> = (from..=to)
            .map(|b| {
                json!({
                    "address": "0x1111111111111111111111111111111111111111",
                    "topics": [], "data": format!("0x{}", "ab".repeat(20_000)),
                    "blockNumber": format!("{b:#x}"), "blockHash": format!("0x{}", "00".repeat(32)),
                    "transactionHash": format!("0x{}", "00".repeat(32)), "logIndex": "0x0",
                })
            })
            .collect();
        reply(req, json!(logs))
    });
    let mut cfg = RpcConfig::new(vec![url]);
    cfg.log_chunk = 16;
    cfg.attempts = 3;
    cfg.max_response_bytes = 100_000;
    let logs = Client::new(cfg)
        .unwrap()
        .logs(&LogFilter::default(), 1, 16)
        .unwrap();
    assert_eq!(logs.len(), 16, "every block's log, none twice");
    let asked = asked.lock().unwrap().clone();
    // The whole range once (too large: not retried as such), then halves down to what fits.
    assert_eq!(
        asked.iter().filter(|r| **r == (1, 16)).count(),
        1,
        "{asked:?}"
    );
    assert!(asked.iter().any(|(a, b)| b - a < 2), "{asked:?}");
}

#[test]
fn json_rpc_errors_keep_the_node_message() {
    let anvil = Anvil::start();
    let err = anvil
        .client()
        .send_raw_transaction(&[0xde, 0xad])
        .unwrap_err();
    match &err {
        RpcError::Rpc {
            method, message, ..
        } => {
            assert_eq!(method, "eth_sendRawTransaction");
            assert!(!message.is_empty());
            assert!(err.to_string().contains(message.as_str()));
        }
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
}

#[test]
fn revert_data_is_decoded_into_the_custom_error_name() {
    let anvil = Anvil::start();
    let deployed = anvil.deploy_dev(&[]);
    let contract = deployed.contract;
    let client = anvil.client();
    let stranger: Address = "0x976ea74026e726554db657fa54763abd0c3a0aa9"
        .parse()
        .unwrap();
    let mut call = CallRequest::new(
        contract,
        calls::im_online(&aqueduct::contract::Usage::default()),
    );
    call.from = Some(stranger);
    let err = client
        .call(&call, aqueduct::eth::rpc::BlockId::Latest)
        .unwrap_err();
    assert_eq!(
        err.revert(),
        Some(format!("NodeNotActive({stranger})").as_str()),
        "{err}"
    );
    assert!(err.to_string().contains("NodeNotActive"));
}

#[test]
fn subscribed_events_are_read_back_in_small_chunks() {
    let anvil = Anvil::start();
    let deployed = anvil.deploy_dev(&[]);
    let (contract, from, token) = (deployed.contract, deployed.block, deployed.token);
    let client = anvil.client();
    let mut sender = Sender::new(anvil::dev_key(2), 31337);
    sender
        .send(
            &client,
            &TxRequest::call(token, calls::approve(contract, 100_000_000)),
        )
        .unwrap();
    let members: Vec<Address> = (5..8).map(|i| Address([i; 20])).collect();
    for (i, m) in members.iter().enumerate() {
        sender
            .send(
                &client,
                &TxRequest::call(contract, calls::subscribe(*m, i as u64 + 1)),
            )
            .unwrap();
    }
    let mut cfg = RpcConfig::new(vec![anvil.url.clone()]);
    cfg.log_chunk = 1;
    let small = Client::new(cfg).unwrap();
    let to = small.block_number().unwrap();
    let events = Contract::new(&small, contract)
        .subscribed(from, to)
        .unwrap();
    assert_eq!(events.iter().map(|e| e.member).collect::<Vec<_>>(), members);
    assert_eq!(events[2].periods, 3);
    assert_eq!(events[2].amount, 30_000_000);
    assert!(events.iter().all(|e| e.payer == sender.address()));
    let c = Contract::new(&client, contract);
    assert_eq!(c.member_until(members[1]).unwrap(), events[1].until);
    // The filter is the contract's: the same call against another address finds nothing.
    let other = Contract::new(&client, token).subscribed(from, to).unwrap();
    assert!(other.is_empty());
    assert_eq!(c.event_filter(sig::SUBSCRIBED).address, Some(contract));
}

#[test]
fn a_broken_endpoint_fails_over_without_waiting_and_json_rate_limits_are_retried() {
    let broken = scripted_server(|_| (404, "<html>not here</html>".into()));
    let limited = Arc::new(Mutex::new(0u32));
    let seen = limited.clone();
    let good = scripted_server(move |req| {
        let mut n = seen.lock().unwrap();
        *n += 1;
        if *n == 1 {
            let e = json!({"code": 429, "message": "Your app has exceeded its compute units per second capacity"});
            (
                200,
                json!({"jsonrpc": "2.0", "id": req["id"], "error": e}).to_string(),
            )
        } else {
            reply(req, json!("0xa"))
        }
    });
    let client = quick(vec![broken, good], 2);
    assert_eq!(client.chain_id().unwrap(), 10);
    assert_eq!(*limited.lock().unwrap(), 2);
}

fn log_at(block: u64) -> Value {
    json!({
        "address": "0x1111111111111111111111111111111111111111",
        "topics": [], "data": "0x",
        "blockNumber": format!("{block:#x}"), "blockHash": format!("0x{}", "00".repeat(32)),
        "transactionHash": format!("0x{}", "00".repeat(32)), "logIndex": "0x0",
    })
}

#[test]
fn logs_are_read_as_they_stream_and_a_garbled_one_fails_the_whole_answer() {
    let url = scripted_server(|req| {
        let mut bad = log_at(2);
        bad.as_object_mut().unwrap().remove("topics");
        // Members other than result are skipped, wherever they stand.
        let body = format!(
            r#"{{"jsonrpc":"2.0","meta":{{"cached":[1,2,{{"x":null}}]}},"result":[{},{},{}],"id":{}}}"#,
            log_at(1),
            if req["params"][0]["fromBlock"] == "0x1" {
                bad
            } else {
                log_at(2)
            },
            log_at(3),
            req["id"]
        );
        (200, body)
    });
    let client = quick(vec![url], 1);
    let e = client.logs(&LogFilter::default(), 1, 3).unwrap_err();
    match &e {
        RpcError::BadResponse { method, message } => {
            assert_eq!(method, "eth_getLogs");
            assert!(message.contains("missing `topics`"), "{message}");
        }
        other => panic!("expected a bad response, got {other:?}"),
    }
    let logs = client.logs(&LogFilter::default(), 5, 7).unwrap();
    let blocks: Vec<u64> = logs.iter().map(|l| l.block_number).collect();
    assert_eq!(blocks, [1, 2, 3]);
}

#[test]
fn an_answer_cut_off_mid_stream_is_retried_not_half_kept() {
    let calls = Arc::new(Mutex::new(0u32));
    let n = calls.clone();
    let url = scripted_server(move |req| {
        let mut n = n.lock().unwrap();
        *n += 1;
        let full = json!({"jsonrpc": "2.0", "id": req["id"], "result": [log_at(1), log_at(2)]})
            .to_string();
        if *n == 1 {
            // The first answer stops halfway: a truncated body is not an empty list.
            (200, full[..full.len() / 2].to_string())
        } else {
            (200, full)
        }
    });
    let client = quick(vec![url], 3);
    let logs = client.logs(&LogFilter::default(), 1, 2);
    let n = *calls.lock().unwrap();
    assert_eq!(logs.map(|l| l.len()), Ok(2), "after {n} calls");
}
