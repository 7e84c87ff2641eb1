//! The node's log as an operator parses it (issue 17): the access record is valid logfmt
//! in text mode and one JSON object per line in JSON mode, with the outcome as the
//! metrics label and the sentence beside it; `timestamps = false` leaves the time out;
//! a member's probe (log in, then leave) is counted as a probe, not as a failed client.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{ops, proxy};

use ops::{get, metrics_url, scrape_until};
use proxy::*;
use std::collections::HashMap;
use std::io::{Read, Write};

/// A strict logfmt reader: `key=value` pairs separated by single spaces, values bare or
/// double-quoted with backslash escapes. Panics on anything else.
fn logfmt(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        assert!(
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad key {key:?} in {text:?}"
        );
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next().expect("unterminated quote") {
                    '"' => break,
                    '\\' => match chars.next().expect("escape") {
                        'n' => value.push('\n'),
                        c => value.push(c),
                    },
                    c => value.push(c),
                }
            }
            assert!(matches!(chars.next(), None | Some(' ')), "{text:?}");
        } else {
            value = chars.by_ref().take_while(|&c| c != ' ').collect();
            assert!(!value.contains('"'), "{text:?}");
        }
        out.insert(key, value);
    }
    out
}

/// The key-values of every access record in a text log.
fn access_records(log: &str) -> Vec<HashMap<String, String>> {
    log.lines()
        .filter_map(|l| l.split_once(" aqueduct::access] session "))
        .map(|(_, fields)| logfmt(fields))
        .collect()
}

#[test]
fn access_records_are_logfmt_with_the_metrics_label_and_the_sentence() {
    let origin = Origin::start("127.0.0.1:0");
    let node = Node::start(&format!("{ALICE}[policy]\nallow_private = true\n"));
    let proxy = format!("http://alice:s3cret:pw@{}", node.addr());
    assert_eq!(
        curl_ok(&["-x", &proxy, &format!("http://{}/", origin.addr)]),
        PAGE
    );
    // Port 25: refused by the default exit policy, with a sentence that has spaces.
    assert_eq!(curl_status(&["-x", &proxy, "http://127.0.0.1:25/"]), 403);
    let log = node.wait_log("aqueduct::access] session ", 2);
    let records = access_records(&log);
    assert_eq!(records.len(), 2, "{log}");
    let ok = &records[0];
    assert_eq!(ok["outcome"], "ok");
    assert_eq!(ok["account"], "alice");
    assert_eq!(ok["target"], origin.addr.to_string());
    assert!(ok["duration"].ends_with('s'));
    assert!(ok["up"].parse::<u64>().unwrap() > 0);
    let denied = &records[1];
    assert_eq!(denied["outcome"], "denied");
    assert!(
        denied["reason"].starts_with("denied by policy"),
        "{denied:?}"
    );
    assert!(log.contains("reason=\"denied by policy"), "{log}");
}

#[test]
fn json_format_without_timestamps_gives_one_object_per_line() {
    let origin = Origin::start("127.0.0.1:0");
    let node = Node::start(&format!(
        "{ALICE}[policy]\nallow_private = true\n[log]\nformat = \"json\"\ntimestamps = false\n"
    ));
    let proxy = format!("http://alice:s3cret:pw@{}", node.addr());
    assert_eq!(
        curl_ok(&["-x", &proxy, &format!("http://{}/", origin.addr)]),
        PAGE
    );
    let log = node.wait_log("\"outcome\":\"ok\"", 1);
    let mut access = None;
    for line in log.lines() {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert!(object.get("ts").is_none(), "timestamps = false: {line}");
        assert!(
            object["level"].is_string() && object["msg"].is_string(),
            "{line}"
        );
        if object["module"] == "aqueduct::access" {
            access = Some(object);
        }
    }
    let access = access.expect("an access record");
    assert_eq!(access["msg"], "session");
    assert_eq!(access["outcome"], "ok");
    assert_eq!(access["reason"], "ok");
    assert_eq!(access["account"], "alice");
    assert!(
        access["down"].as_u64().unwrap() >= PAGE.len() as u64,
        "{access}"
    );
}

#[test]
fn a_bad_log_format_is_refused() {
    let (_, err) = refused_config(
        "[node]\nlisten = [\"127.0.0.1:0\"]\n[auth]\nmode = \"none\"\n[log]\nformat = \"xml\"\n",
    );
    assert!(err.contains("log.format"), "{err}");
}

#[test]
fn a_login_without_a_request_counts_as_a_probe_not_as_a_lost_client() {
    let node = Node::start(&format!("{ALICE}[metrics]\nlisten = \"127.0.0.1:0\"\n"));
    let url = metrics_url(&node);
    // What `aqueduct local` does to measure a node: greeting, login, then hang up.
    for _ in 0..3 {
        let mut s = connect(node.addr());
        s.write_all(&[5, 1, 2]).unwrap();
        let mut choice = [0u8; 2];
        s.read_exact(&mut choice).unwrap();
        assert_eq!(choice, [5, 2]);
        let mut login = vec![1, 5];
        login.extend_from_slice(b"alice");
        login.push(9);
        login.extend_from_slice(b"s3cret:pw");
        s.write_all(&login).unwrap();
        let mut status = [0u8; 2];
        s.read_exact(&mut status).unwrap();
        assert_eq!(status, [1, 0]);
    }
    // A client that leaves before logging in is still a lost client.
    let mut s = connect(node.addr());
    s.write_all(&[5]).unwrap();
    drop(s);
    let m = scrape_until(&url, |m| {
        m.get("aqueduct_sessions_total{outcome=\"probe\"}") == Some(&3.0)
            && m.get("aqueduct_sessions_total{outcome=\"client_gone\"}") == Some(&1.0)
    });
    assert_eq!(get(&m, "aqueduct_sessions_total{outcome=\"probe\"}"), 3.0);
    let log = node.log();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("aqueduct::access] session") && l.contains("outcome=probe"))
            .filter(|l| l.contains("DEBUG"))
            .count(),
        3,
        "probes are logged at debug level:\n{log}"
    );
}
