//! `aqueduct node --config FILE --check` validates a config and the files it names, and
//! exits (0, or 2 with the error), for systemd's ExecStartPre and ExecReload.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

use proxy::*;
use std::process::Command;

#[test]
fn check_validates_a_config_and_exits() {
    let dir = TempDir::new("check");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, format!("{}{ALICE}", base_config(dir.path()))).unwrap();
    let run = |path: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_aqueduct"))
            .args(["node", "--config"])
            .arg(path)
            .arg("--check")
            .output()
            .unwrap()
    };
    let out = run(&good);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "{}{ALICE}[limits]\nlink_mbit = 100\n",
            base_config(dir.path())
        ),
    )
    .unwrap();
    let out = run(&bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("limits.link_mbit"));
    // A file the config names that is not what it should be.
    let missing = dir.path().join("missing.toml");
    let garbage = dir.path().join("allowance.json");
    std::fs::write(&garbage, "not json").unwrap();
    std::fs::write(
        &missing,
        format!(
            "{}{ALICE}[limits]\nmonthly_gb = 1\nallowance_file = \"{}\"\n",
            base_config(dir.path()),
            garbage.display()
        ),
    )
    .unwrap();
    let out = run(&missing);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an allowance file"));
}
