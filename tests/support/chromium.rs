//! Headless chromium (Debian's package) for the browser tests: one bounded run on a URL
//! with a throwaway profile, its stdout (`--dump-dom`) returned.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless chromium on `url` with `args` (bounded to 90 s); returns stdout.
/// Name resolution is off for everything but loopback: nothing leaves the machine.
pub fn chromium(profile: &Path, url: &str, args: &[&str]) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} not found: apt-get install chromium"
    );
    let out_file = profile.join(format!("out-{}.html", args.len()));
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--window-size=1500,1000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.join("chromium").display()
        ))
        .args(args)
        .arg(url)
        .env("HOME", profile)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish with {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read_to_string(&out_file).unwrap_or_default()
}
