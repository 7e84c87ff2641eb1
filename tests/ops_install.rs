//! `make install`'s steps (scripts/install.sh): where the binary, the systemd unit and the
//! example config land under PREFIX/SYSCONFDIR/DESTDIR, the unit's paths rewritten, and
//! `systemd-analyze verify` accepting the installed unit. The script is run with the
//! debug binary, so no release build is needed here.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

use proxy::TempDir;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn install(destdir: &Path, prefix: Option<&str>, sysconfdir: Option<&str>) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install.sh"))
        .arg(env!("CARGO_BIN_EXE_aqueduct"))
        .env("DESTDIR", destdir)
        .env_remove("PREFIX")
        .env_remove("SYSCONFDIR");
    if let Some(p) = prefix {
        cmd.env("PREFIX", p);
    }
    if let Some(s) = sysconfdir {
        cmd.env("SYSCONFDIR", s);
    }
    cmd.output().expect("run scripts/install.sh")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "install failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn default_prefix_under_destdir() {
    let dir = TempDir::new("install");
    let stage = dir.path().join("stage");
    assert_ok(&install(&stage, None, None));

    let binary = stage.join("usr/local/bin/aqueduct");
    assert_eq!(mode(&binary), 0o755);
    let version = Command::new(&binary).arg("--version").output().unwrap();
    assert!(version.status.success());

    let unit_path = stage.join("usr/local/lib/systemd/system/aqueduct.service");
    assert_eq!(mode(&unit_path), 0o644);
    let unit = fs::read_to_string(&unit_path).unwrap();
    assert!(
        unit.contains("\nExecStart=/usr/local/bin/aqueduct node --config %d/aqueduct.toml\n"),
        "{unit}"
    );
    assert!(unit.contains(
        "\nExecStartPre=/usr/local/bin/aqueduct node --check --config %d/aqueduct.toml\n"
    ));
    assert!(unit.contains("\nLoadCredential=node.key:/etc/aqueduct/node.key\n"));
    assert!(unit.contains("\nLoadCredential=aqueduct.toml:/etc/aqueduct/aqueduct.toml\n"));
    assert!(unit.contains("key = \"/run/credentials/aqueduct.service/node.key\""));
    // What issue 5 asks of the service, line by line.
    for line in [
        "Restart=on-failure",
        "DynamicUser=yes",
        "StateDirectory=aqueduct",
        "LimitNOFILE=65536",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "KillSignal=SIGTERM",
        // What issue 17 adds.
        "Type=notify",
        "ProcSubset=pid",
        "SystemCallFilter=~@resources",
        "Documentation=file:///usr/local/share/doc/aqueduct/README.md",
    ] {
        assert!(
            unit.lines().any(|l| l == line),
            "unit lacks {line}:\n{unit}"
        );
    }
    // DESTDIR is for staging only: it never leaks into the unit.
    assert!(!unit.contains(stage.to_str().unwrap()), "{unit}");

    let readme = stage.join("usr/local/share/doc/aqueduct/README.md");
    assert_eq!(mode(&readme), 0o644);

    let example = stage.join("etc/aqueduct/aqueduct.toml.example");
    assert_eq!(mode(&example), 0o644);
    let text = fs::read_to_string(&example).unwrap();
    aqueduct::config::parse(&text).expect("the installed example config is valid");
}

#[test]
fn prefix_and_sysconfdir_are_rewritten_into_the_unit() {
    let dir = TempDir::new("install-prefix");
    let stage = dir.path().join("stage");
    assert_ok(&install(&stage, Some("/opt/aqueduct"), Some("/srv/conf")));
    assert!(stage.join("opt/aqueduct/bin/aqueduct").is_file());
    assert!(stage
        .join("srv/conf/aqueduct/aqueduct.toml.example")
        .is_file());
    let unit =
        fs::read_to_string(stage.join("opt/aqueduct/lib/systemd/system/aqueduct.service")).unwrap();
    assert!(
        unit.contains("\nExecStart=/opt/aqueduct/bin/aqueduct node "),
        "{unit}"
    );
    assert!(unit.contains("\nLoadCredential=node.key:/srv/conf/aqueduct/node.key\n"));
    assert!(unit.contains("\nDocumentation=file:///opt/aqueduct/share/doc/aqueduct/README.md\n"));
    assert!(!unit.contains("/usr/local/bin") && !unit.contains("/etc/aqueduct/"));
}

#[test]
fn a_relative_prefix_is_refused_before_anything_is_written() {
    let dir = TempDir::new("install-bad");
    let stage = dir.path().join("stage");
    let out = install(&stage, Some("usr/local"), None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("must be absolute"), "{err}");
    assert!(!stage.exists());
}

#[test]
fn make_install_runs_the_script_with_prefix_and_destdir() {
    // A dry run: what `make install` would do, without a release build.
    let out = Command::new("make")
        .args(["-n", "-C", env!("CARGO_MANIFEST_DIR"), "install"])
        .args(["DESTDIR=/tmp/stage", "PREFIX=/opt/x"])
        .output()
        .expect("make");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan = String::from_utf8_lossy(&out.stdout);
    // Root need not have cargo: install only installs what `make release` built.
    assert!(!plan.contains("cargo"), "{plan}");
    assert!(
        plan.contains(
            "DESTDIR=\"/tmp/stage\" PREFIX=\"/opt/x\" SYSCONFDIR=\"/etc\" bash scripts/install.sh target/release/aqueduct"
        ),
        "{plan}"
    );
}

#[test]
fn make_install_without_a_release_build_says_what_to_run() {
    // The Makefile run from a directory with no target/: as on a fresh clone.
    let dir = TempDir::new("install-unbuilt");
    let out = Command::new("make")
        .args([
            "-s",
            "-f",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Makefile"),
            "-C",
        ])
        .arg(dir.path())
        .args(["install", "DESTDIR=/nonexistent-stage"])
        .output()
        .expect("make");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("target/release/aqueduct is not built; run 'make release' first"),
        "{err}"
    );
    assert!(!Path::new("/nonexistent-stage").exists());
}

#[test]
fn the_node_tells_systemd_it_is_ready() {
    use std::os::unix::net::UnixDatagram;
    let dir = TempDir::new("notify");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let config = dir.path().join("node.toml");
    let hosts = dir.path().join("hosts");
    fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    fs::write(
        &config,
        format!(
            "[node]\nlisten = [\"127.0.0.1:0\"]\n[auth]\nmode = \"none\"\n[dns]\nnameservers = [\"127.0.0.1:9\"]\nhosts_file = \"{}\"\nresolv_conf = \"{}\"\n",
            hosts.display(),
            dir.path().join("resolv.conf").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .args(["node", "--config"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket_path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let got = socket.recv(&mut buf);
    let _ = child.kill();
    let _ = child.wait();
    let n = got.expect("READY=1 within 30 s");
    assert_eq!(&buf[..n], b"READY=1");
}

#[test]
fn systemd_analyze_verifies_the_installed_unit() {
    let Ok(analyze) = which("systemd-analyze") else {
        println!("systemd-analyze not installed: skipping the unit verification");
        return;
    };
    // verify checks that ExecStart exists on this machine, so this install uses a real
    // directory as PREFIX instead of a DESTDIR stage.
    let dir = TempDir::new("install-verify");
    let prefix = dir.path().join("prefix");
    let etc = dir.path().join("etc");
    let out = install(
        Path::new(""),
        Some(prefix.to_str().unwrap()),
        Some(etc.to_str().unwrap()),
    );
    assert_ok(&out);
    let unit = prefix.join("lib/systemd/system/aqueduct.service");
    let verify = Command::new(analyze)
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "systemd-analyze verify:\n{stderr}");
    assert!(
        !stderr.contains("aqueduct.service"),
        "warnings about the unit:\n{stderr}"
    );
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}
