//! Children whose wall clock is Debian's `faketime` (libfaketime): it starts at a given
//! UTC time and runs on from there, while the monotonic clock (mio's timers, `Instant`)
//! stays real. For the turning of a day or a month, seen by the real binary.
//!
//! `faketime` itself is only asked which library and settings it would preload (it runs
//! `env`), and those go to the child through the environment: the node is spawned by
//! [`super::proxy::Node`], which takes no wrapper command. The environment is the test
//! process's, so a test holds [`serial`] for as long as it runs: while a faked child
//! starts, no other test's child may start and inherit the fake.
#![allow(dead_code)]

use std::process::Command;
use std::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());

/// Held by each test that starts faked children, for the whole test.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What `faketime -f "@{at}"` would set for its child: (variable, value).
fn preload(at: &str) -> Vec<(String, String)> {
    let out = Command::new("faketime")
        .args(["-f", &format!("@{at}"), "env"])
        .output()
        .unwrap_or_else(|e| {
            panic!("faketime is needed for this test (apt-get install faketime; .ci/run installs it): {e}")
        });
    assert!(out.status.success(), "faketime failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let vars: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        // FAKETIME_SHARED names the wrapper's shared memory, gone once it exits: without
        // it each child keeps its own clock, which is all a test needs.
        .filter(|(k, _)| *k == "LD_PRELOAD" || *k == "FAKETIME")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert!(
        vars.iter().any(|(k, _)| k == "LD_PRELOAD") && vars.iter().any(|(k, _)| k == "FAKETIME"),
        "faketime set no LD_PRELOAD/FAKETIME:\n{text}"
    );
    vars
}

/// Runs `start` (which spawns the children) with their wall clock starting at `at`
/// (`YYYY-MM-DD HH:MM:SS`, read as UTC); the caller holds [`serial`].
pub fn started_at<T>(at: &str, start: impl FnOnce() -> T) -> T {
    let mut vars = preload(at);
    vars.push(("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()));
    vars.push(("TZ".into(), "UTC".into()));
    let _restore = Restore(
        vars.iter()
            .map(|(k, v)| {
                let old = std::env::var_os(k);
                std::env::set_var(k, v);
                (k.clone(), old)
            })
            .collect(),
    );
    start()
}

/// Puts the environment back, also when `start` panics.
struct Restore(Vec<(String, Option<std::ffi::OsString>)>);

impl Drop for Restore {
    fn drop(&mut self) {
        for (k, old) in &self.0 {
            match old {
                Some(v) => std::env::set_var(k, v),
                None => std::env::remove_var(k),
            }
        }
    }
}
