//! `make install`'s steps (scripts/install.sh): where the binary, the systemd unit, its
//! sysusers.d file and the example config land under PREFIX/SYSCONFDIR/DESTDIR, the unit's
//! paths rewritten, `systemd-analyze verify` accepting the installed unit, and the unit's
//! own ExecReload= lines reloading a running node. The script is run with the debug
//! binary, so no release build is needed here. Every install here is staged (DESTDIR):
//! a real one would create a system user on this machine.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::proxy;

use proxy::{base_config, login_tunnel, round_trip, Echo, Node, TempDir};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
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
    // The config is read where the operator edits it, at start and at every reload; only
    // the key is a credential.
    assert_eq!(
        values(&unit, "ExecStartPre"),
        ["/usr/local/bin/aqueduct node --check --config /etc/aqueduct/aqueduct.toml"]
    );
    assert_eq!(
        values(&unit, "ExecStart"),
        ["/usr/local/bin/aqueduct node --config /etc/aqueduct/aqueduct.toml"]
    );
    assert_eq!(
        values(&unit, "ExecReload"),
        [
            "/usr/local/bin/aqueduct node --check --config /etc/aqueduct/aqueduct.toml",
            "/bin/kill -HUP $MAINPID"
        ]
    );
    assert_eq!(
        values(&unit, "LoadCredential"),
        ["node.key:/etc/aqueduct/node.key"]
    );
    assert!(unit.contains("key = \"/run/credentials/aqueduct.service/node.key\""));
    // What issue 5 asks of the service, line by line.
    for line in [
        "Restart=on-failure",
        // Issue 14: a static user (sysusers.d) that can read /etc/aqueduct at a reload.
        "User=aqueduct",
        "Group=aqueduct",
        "RemoveIPC=yes",
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
    assert!(
        !unit.lines().any(|l| l.starts_with("DynamicUser=")),
        "{unit}"
    );
    // DESTDIR is for staging only: it never leaks into the unit.
    assert!(!unit.contains(stage.to_str().unwrap()), "{unit}");

    let sysusers = stage.join("usr/local/lib/sysusers.d/aqueduct.conf");
    assert_eq!(mode(&sysusers), 0o644);
    // Staged, the user is left to the package's install step: nothing in etc/ but the example.
    assert!(!stage.join("etc/passwd").exists());

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
    // verify checks that ExecStart exists on this machine: a stage reachable at PREFIX.
    let dir = TempDir::new("install-verify");
    let paths = Installed::stage(dir.path());
    let verify = Command::new(analyze)
        .arg("verify")
        .arg(&paths.unit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "systemd-analyze verify:\n{stderr}");
    assert!(
        !stderr.contains("aqueduct.service"),
        "warnings about the unit:\n{stderr}"
    );
}

#[test]
fn the_sysusers_file_creates_a_system_user_without_a_login() {
    let Ok(sysusers) = which("systemd-sysusers") else {
        println!("systemd-sysusers not installed: skipping");
        return;
    };
    let dir = TempDir::new("install-sysusers");
    let stage = dir.path().join("stage");
    assert_ok(&install(&stage, None, None));
    // What a package's install step runs, here against the stage instead of /.
    let out = Command::new(sysusers)
        .arg(format!("--root={}", stage.display()))
        .arg(stage.join("usr/local/lib/sysusers.d/aqueduct.conf"))
        .output()
        .unwrap();
    assert_ok(&out);
    let passwd = fs::read_to_string(stage.join("etc/passwd")).unwrap();
    let entry: Vec<&str> = passwd
        .lines()
        .find(|l| l.starts_with("aqueduct:"))
        .unwrap_or_else(|| panic!("no aqueduct user in\n{passwd}"))
        .split(':')
        .collect();
    let uid: u32 = entry[2].parse().unwrap();
    assert!(uid > 0 && uid < 1000, "a system uid, got {uid}");
    assert_eq!(entry[5], "/var/lib/aqueduct");
    assert!(entry[6].ends_with("nologin"), "{entry:?}");
    let group = fs::read_to_string(stage.join("etc/group")).unwrap();
    assert!(group.lines().any(|l| l.starts_with("aqueduct:")), "{group}");
}

#[test]
fn a_real_install_as_a_normal_user_is_refused_before_anything_is_written() {
    let Ok(setpriv) = which("setpriv") else {
        println!("setpriv not installed: skipping");
        return;
    };
    let dir = TempDir::new("install-nonroot");
    // World-writable, so nobody could write there: only the script's check stops it.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let prefix = dir.path().join("prefix");
    let binary = dir.path().join("aqueduct");
    fs::copy(env!("CARGO_BIN_EXE_aqueduct"), &binary).unwrap();
    let out = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "bash"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install.sh"))
        .arg(&binary)
        .env_remove("DESTDIR")
        .env("PREFIX", &prefix)
        .env("SYSCONFDIR", dir.path().join("etc"))
        .output()
        .unwrap();
    if String::from_utf8_lossy(&out.stderr).contains("Operation not permitted") {
        println!("cannot drop privileges here: skipping");
        return;
    }
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("creates a system user: run as root"), "{err}");
    assert!(!prefix.exists());
}

/// A staged install (DESTDIR) whose PREFIX and SYSCONFDIR point back into the stage, so the
/// unit's paths are real paths on this machine, as after `make install`.
struct Installed {
    unit: PathBuf,
    config: PathBuf,
}

impl Installed {
    fn stage(dir: &Path) -> Installed {
        let stage = dir.join("stage");
        let prefix = dir.join("prefix");
        let etc = dir.join("etc");
        assert_ok(&install(
            &stage,
            Some(prefix.to_str().unwrap()),
            Some(etc.to_str().unwrap()),
        ));
        for path in [&prefix, &etc] {
            let staged = stage.join(path.strip_prefix("/").unwrap());
            std::os::unix::fs::symlink(staged, path).unwrap();
        }
        Installed {
            unit: prefix.join("lib/systemd/system/aqueduct.service"),
            config: etc.join("aqueduct/aqueduct.toml"),
        }
    }
}

/// The values of `key=` lines in a unit file, in order.
fn values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

/// One unit command line as systemd would run it here: split on spaces, $MAINPID set.
fn command(line: &str, main_pid: u32) -> Command {
    let line = line.replace("$MAINPID", &main_pid.to_string());
    let mut words = line.split(' ');
    let mut command = Command::new(words.next().unwrap());
    command.args(words);
    command
}

fn run_line(line: &str, main_pid: u32) -> Output {
    command(line, main_pid).output().unwrap()
}

/// Runs the unit's ExecReload= lines in order, stopping at the first that fails, as
/// `systemctl reload` does: Ok, or the failing line's index and output.
fn reload(unit: &str, main_pid: u32) -> Result<(), (usize, Output)> {
    for (i, line) in values(unit, "ExecReload").into_iter().enumerate() {
        let out = run_line(line, main_pid);
        if !out.status.success() {
            return Err((i, out));
        }
    }
    Ok(())
}

#[test]
fn the_units_exec_reload_applies_a_good_edit_and_refuses_a_broken_one() {
    let dir = TempDir::new("install-reload");
    let paths = Installed::stage(dir.path());
    let unit = fs::read_to_string(&paths.unit).unwrap();
    let ready = dir.path().join("ready");
    let alice = "[[auth.users]]\nname = \"alice\"\npassword = \"a-pw\"\n";
    let config = format!(
        "[node]\nlisten = [\"127.0.0.1:0\"]\nready_file = \"{}\"\n\
         [auth]\nmode = \"static\"\n{alice}[policy]\nallow_private = true\n{}",
        ready.display(),
        base_config(dir.path())
    );
    fs::write(&paths.config, &config).unwrap();
    assert_eq!(
        run_line(values(&unit, "ExecStartPre")[0], 0).status.code(),
        Some(0)
    );

    // Neither start line names $MAINPID.
    let service = Node::run(command(values(&unit, "ExecStart")[0], 0), dir, &ready);
    let node = service.addr();
    let pid = service.pid();
    let echo = Echo::start();
    let mut live = login_tunnel(node, "alice", "a-pw", echo.addr).unwrap();
    assert_eq!(
        login_tunnel(node, "carol", "c-pw", echo.addr).err(),
        Some(0xff)
    );

    // The operator adds carol and runs `systemctl reload`.
    let carol = "[[auth.users]]\nname = \"carol\"\npassword = \"c-pw\"\n";
    fs::write(
        &paths.config,
        config.replace(alice, &format!("{alice}{carol}")),
    )
    .unwrap();
    if let Err((i, out)) = reload(&unit, pid) {
        panic!(
            "ExecReload line {i} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    service.wait_log("reloaded:", 1);
    let mut new = login_tunnel(node, "carol", "c-pw", echo.addr).expect("carol after the reload");
    assert_eq!(round_trip(&mut new, b"new"), b"new");
    assert_eq!(
        round_trip(&mut live, b"kept"),
        b"kept",
        "alice's session stays"
    );

    // A broken edit: the check line fails the reload with the error, the node is never
    // signalled, and it keeps serving with the config it has.
    fs::write(
        &paths.config,
        config.replace("mode = \"static\"", "mode = \"bogus\""),
    )
    .unwrap();
    let (failed_at, out) = reload(&unit, pid).expect_err("a broken config fails the reload");
    assert_eq!(failed_at, 0, "the check runs before the signal");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("auth.mode"));
    assert!(
        !service.log().contains("reload refused"),
        "the node was never signalled"
    );
    let mut again = login_tunnel(node, "carol", "c-pw", echo.addr).expect("carol still");
    assert_eq!(round_trip(&mut again, b"still"), b"still");
    assert_eq!(round_trip(&mut live, b"live"), b"live");
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}
