//! The command line's conventions (issue 17): `-h`/`--help` on every command prints that
//! command's help and exits 0 whatever else is missing, `aqueduct help CMD` is the same,
//! `-V`/`--version` both work, and usage errors exit 2.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn aqueduct(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .args(args)
        .env_remove("AQUEDUCT_RPC")
        .output()
        .expect("run aqueduct")
}

const COMMANDS: [&str; 13] = [
    "node",
    "monitor",
    "local",
    "keygen",
    "deploy",
    "add-node",
    "remove-node",
    "set-endpoint",
    "subscribe",
    "token",
    "status",
    "claim",
    "nodes",
];

#[test]
fn every_command_answers_help_before_checking_its_flags() {
    for command in COMMANDS {
        let long = aqueduct(&[command, "--help"]);
        let short = aqueduct(&[command, "-h"]);
        let via_help = aqueduct(&["help", command]);
        for out in [&long, &short, &via_help] {
            assert_eq!(out.status.code(), Some(0), "{command}: {out:?}");
            assert!(out.stderr.is_empty(), "{command}: {out:?}");
        }
        let text = String::from_utf8_lossy(&long.stdout);
        assert!(
            text.starts_with(&format!("aqueduct {command}")),
            "{command} --help:\n{text}"
        );
        assert_eq!(long.stdout, short.stdout, "{command}");
        assert_eq!(long.stdout, via_help.stdout, "{command}");
    }
}

#[test]
fn versions_and_the_overview() {
    let want = format!("aqueduct {}\n", env!("CARGO_PKG_VERSION"));
    for flag in ["-V", "--version"] {
        let out = aqueduct(&[flag]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    }
    for args in [&[][..], &["help"][..], &["-h"][..], &["--help"][..]] {
        let out = aqueduct(args);
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("exit codes: 0 done"), "{text}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let unknown = aqueduct(&["frobnicate"]);
    assert_eq!(unknown.status.code(), Some(2));
    let missing = aqueduct(&["node"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--config is required"));
    let stray = aqueduct(&["node", "--config", "x.toml", "--bogus"]);
    assert_eq!(stray.status.code(), Some(2));
}
