//! Paths in a config file are relative to the config file, not to the directory the
//! node was started from (issue 17): a node started with `/` as its working directory
//! finds its hosts file and writes its ready file next to its config.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

use proxy::TempDir;
use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn relative_paths_are_taken_from_the_config_files_directory() {
    let dir = TempDir::new("config-paths");
    fs::write(dir.path().join("hosts"), "127.0.0.1 localhost\n").unwrap();
    fs::write(
        dir.path().join("node.toml"),
        "[node]\nlisten = [\"127.0.0.1:0\"]\nready_file = \"ready\"\n[auth]\nmode = \"none\"\n\
         [dns]\nnameservers = [\"127.0.0.1:9\"]\nhosts_file = \"hosts\"\nresolv_conf = \"resolv.conf\"\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .args(["node", "--config"])
        .arg(dir.path().join("node.toml"))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ready = dir.path().join("ready");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready.exists() && Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "node exited {status}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = fs::read_to_string(&ready).expect("ready file next to the config");
    assert!(text.starts_with("127.0.0.1:"), "{text}");
    assert!(!std::path::Path::new("/ready").exists());
}

#[test]
fn a_chain_key_path_is_relative_to_the_config_too() {
    let dir = TempDir::new("config-key-path");
    let config = dir.path().join("member.toml");
    fs::write(
        &config,
        "[chain]\nrpc = [\"http://127.0.0.1:9\"]\nkey = \"keys/member.key\"\ncontract = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\"\n",
    )
    .unwrap();
    // The key does not exist: the error must name where it was looked for.
    let out = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .args(["token", "--node", "any", "--ttl", "1h", "--config"])
        .arg(&config)
        .current_dir("/")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let want = dir.path().join("keys/member.key");
    assert!(err.contains(&want.display().to_string()), "{err}");
}
