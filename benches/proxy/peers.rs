//! The proxies under test: how each is found, configured and started on a loopback port,
//! and how it is stopped. A proxy that is not installed (or refuses to start) is reported
//! with a reason and skipped.

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "bench";
pub const PASSWORD: &str = "aqueduct-bench-pw";
/// Stands for the listening port in a spec's arguments and config; `start` picks the
/// port just before starting, so no connection of an earlier run can take it meanwhile.
const PORT: &str = "@PORT@";

/// How long a proxy may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Spec {
    /// Row label in the table.
    pub label: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// A config file to write before starting: (path, contents).
    pub config: Option<(PathBuf, String)>,
    pub envs: Vec<(String, String)>,
    /// Whether the load generator authenticates with username/password.
    pub auth: bool,
    /// What the table says about how this row was run.
    pub note: String,
    /// Forks into the background with no way to stay in front (hpsockd): found again
    /// through its command line, which holds the config path.
    pub daemonizes: bool,
    /// Measured for bulk throughput only (the floor row).
    pub bulk_only: bool,
}

pub struct Running {
    pub label: String,
    pub child: Child,
    /// The root of the proxy's process tree: the child, or the daemon it forked.
    root: i32,
    pub addr: SocketAddr,
    pub auth: bool,
    pub note: String,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.root
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Running {
    /// Asks the proxy to stop, then kills whatever is left of its process tree (and of
    /// the process group we gave it) after a second.
    fn stop(&mut self) {
        let group = self.child.id() as i32;
        let tree = crate::sys::process_tree(self.root);
        signal(group, &tree, libc::SIGTERM);
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until {
            let child_done = matches!(self.child.try_wait(), Ok(Some(_)));
            if child_done && !alive(self.root) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal(group, &crate::sys::process_tree(self.root), libc::SIGKILL);
        signal(group, &tree, libc::SIGKILL);
        let _ = self.child.wait();
        // A daemon that forked away was re-parented to us (we are a subreaper): reap it.
        for &pid in &tree {
            // SAFETY: waitpid on a pid that is our child or not; WNOHANG never blocks.
            unsafe {
                libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG);
            }
        }
    }
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

/// Sends `sig` to the process group we created and to each pid of the tree we found.
fn signal(group: i32, tree: &[i32], sig: i32) {
    // SAFETY: kill(2) on pids we started or found as their descendants (or as the daemon
    // holding our config path); no memory is involved.
    unsafe {
        libc::kill(-group, sig);
        for &pid in tree {
            if pid > 1 {
                libc::kill(pid, sig);
            }
        }
    }
}

/// The oldest process whose command line mentions `needle` (a daemon's config path).
fn find_by_cmdline(needle: &str) -> Option<i32> {
    let dir = fs::read_dir("/proc").ok()?;
    let mut found: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .filter(|&pid| alive(pid))
        .collect();
    found.sort_unstable();
    // A daemon's workers are forked from it, so the lowest live pid is usually the root;
    // process_tree() then includes the rest.
    found.into_iter().next()
}

/// A free loopback port below the ephemeral range, so that no outgoing connection can
/// hold it between this check and the proxy binding it (or run the ephemeral range dry).
fn free_port() -> io::Result<u16> {
    let low = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let start = 20_000.min(low / 2).max(1024);
    for port in start..low {
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Looks a program up in PATH (plus sbin directories, where danted lives).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}

/// The floor row (floor.rs): this bench's own executable in its floor role.
pub fn floor() -> Result<Spec, String> {
    let program = std::env::current_exe().map_err(|e| format!("floor: {e}"))?;
    Ok(Spec {
        label: "floor (blocking splice)".into(),
        program,
        args: vec![PORT.into()],
        config: None,
        envs: vec![("AQ_BENCH_ROLE".into(), "floor".into())],
        auth: true,
        note: "part of this harness, not a product: the least work a relay can do on Linux \
               (user/pass, then blocking splice(2) through a 1 MiB pipe per direction, a \
               thread per direction, nothing else), to show what the kernel allows a relay \
               on its own CPU here; measured for bulk throughput only"
            .into(),
        daemonizes: false,
        bulk_only: true,
    })
}

/// The peers, each either a spec to run or the reason it is skipped.
pub fn others(root: &Path, work: &Path) -> Vec<Result<Spec, String>> {
    let mut out = Vec::new();

    out.push(match which("microsocks") {
        None => Err("microsocks: not installed (make bench-peers)".into()),
        Some(program) => Ok({
            Spec {
                label: "microsocks".into(),
                program,
                args: vec![
                    "-i".into(),
                    "127.0.0.1".into(),
                    "-p".into(),
                    PORT.into(),
                    "-u".into(),
                    USER.into(),
                    "-P".into(),
                    PASSWORD.into(),
                ],
                config: None,
                envs: vec![],
                auth: true,
                note: "thread per connection; user/pass".into(),
                daemonizes: false,
                bulk_only: false,
            }
        }),
    });

    out.push(match which("danted") {
        None => Err("dante: danted not installed (make bench-peers)".into()),
        Some(program) => Ok({
            let conf = work.join("danted.conf");
            Spec {
                label: "dante (no auth)".into(),
                program,
                args: vec![
                    "-f".into(),
                    conf.display().to_string(),
                    "-N".into(),
                    "1".into(),
                ],
                config: Some((conf, dante_config())),
                envs: vec![],
                auth: false,
                note: "process pool; its username method checks system accounts \
                           (passwd/PAM), so it runs with method none"
                    .into(),
                daemonizes: false,
                bulk_only: false,
            }
        }),
    });

    let venv = root.join("target/bench-peers/pproxy/bin/pproxy");
    let pproxy = if venv.is_file() {
        Some(venv)
    } else {
        which("pproxy")
    };
    out.push(match pproxy {
        None => Err("pproxy: not installed (make bench-peers)".into()),
        Some(program) => Ok({
            Spec {
                label: "pproxy".into(),
                program,
                args: vec![
                    "-l".into(),
                    format!("socks5://127.0.0.1:{PORT}#{USER}:{PASSWORD}"),
                ],
                config: None,
                envs: vec![],
                auth: true,
                note: "Python asyncio; user/pass".into(),
                daemonizes: false,
                bulk_only: false,
            }
        }),
    });
    out.push(match which("hpsockd") {
        None => Err("hpsockd: not installed (make bench-peers)".into()),
        Some(program) => Ok({
            let dir = work.join("hpsockd");
            let _ = fs::create_dir_all(&dir);
            let conf = work.join("hpsockd.conf");
            Spec {
                label: "hpsockd (no auth)".into(),
                program,
                args: vec!["-c".into(), conf.display().to_string()],
                config: Some((conf, hpsockd_config(&dir))),
                envs: vec![],
                auth: false,
                note: "forks a process per 200 clients; its userPass method has no \
                           documented password store, so it runs with method noAuth"
                    .into(),
                daemonizes: true,
                bulk_only: false,
            }
        }),
    });
    out
}

fn hpsockd_config(dir: &Path) -> String {
    format!(
        "# Written by the Aqueduct bench harness.\n\
         daemon {{\n  directory \"{}\";\n  negotiate-file \"negot_file\";\n  \
         listen-address {{ 127.0.0.1; }};\n  port {PORT};\n  user \"root\";\n}};\n\
         route {{\n  {{ default 127.0.0.1 }};\n}};\n\
         method-list {{\n  {{ number 0; name \"noAuth\"; internal; flags 0; }};\n}};\n\
         client-method {{\n  {{ src {{ 127.0.0.0/8; }}; method {{ \"noAuth\"; }}; }};\n}};\n\
         client {{\n  permit {{\n    src {{ 127.0.0.0/8; }};\n    timeout 1h;\n  }};\n}};\n",
        dir.display()
    )
}

fn dante_config() -> String {
    format!(
        "# Written by the Aqueduct bench harness.\n\
         logoutput: /dev/null\n\
         internal: 127.0.0.1 port = {PORT}\n\
         external: 127.0.0.1\n\
         clientmethod: none\n\
         socksmethod: none\n\
         user.privileged: root\n\
         user.unprivileged: nobody\n\
         client pass {{\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n}}\n\
         socks pass {{\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  command: connect\n}}\n"
    )
}

/// Aqueduct, one spec per relay mode (`[relay] mode`), or one with the default relay
/// when `relay_modes` is empty. `max_sessions` is raised above the default (4096) so the
/// idle-connection runs are not refused; `extra` must not repeat `[limits]`.
pub fn aqueduct(
    work: &Path,
    program: &Path,
    relay_modes: &[String],
    extra: &str,
    max_sessions: usize,
) -> Vec<Result<Spec, String>> {
    if !program.is_file() {
        return vec![Err(format!(
            "Aqueduct: no binary at {} (cargo build --release)",
            program.display()
        ))];
    }
    let probe = Command::new(program).arg("node").arg("--help").output();
    match probe {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            if text.contains("unknown command") || text.contains("not built yet") {
                let said = text.lines().next().unwrap_or("").trim();
                return vec![Err(format!(
                    "Aqueduct: {} has no working `node` command yet ({said})",
                    program.display()
                ))];
            }
        }
        Err(e) => {
            return vec![Err(format!(
                "Aqueduct: cannot run {}: {e}",
                program.display()
            ))]
        }
    }
    let binary_kb = fs::metadata(program).map(|m| m.len() / 1024).unwrap_or(0);
    let mut out = Vec::new();
    let modes: Vec<Option<&str>> = if relay_modes.is_empty() {
        vec![None]
    } else {
        relay_modes.iter().map(|m| Some(m.as_str())).collect()
    };
    for mode in modes {
        let name = mode.unwrap_or("default");
        let conf = work.join(format!("aqueduct-{name}.toml"));
        let mut text = format!(
            "# Written by the Aqueduct bench harness.\n\
             [node]\nlisten = [\"127.0.0.1:{PORT}\"]\n\n\
             [auth]\nmode = \"static\"\n\n\
             [[auth.users]]\nname = \"{USER}\"\npassword = \"{PASSWORD}\"\n\n\
             [policy]\nallow_private = true\n\n\
             [limits]\nmax_sessions = {max_sessions}\n"
        );
        if let Some(m) = mode {
            text.push_str(&format!("\n[relay]\nmode = \"{m}\"\n"));
        }
        if !extra.is_empty() {
            text.push('\n');
            text.push_str(extra);
            text.push('\n');
        }
        out.push(Ok(Spec {
            label: match mode {
                Some(m) => format!("Aqueduct ({m})"),
                None => "Aqueduct".into(),
            },
            program: program.to_path_buf(),
            args: vec!["node".into(), "--config".into(), conf.display().to_string()],
            config: Some((conf, text)),
            envs: vec![("RUST_LOG".into(), "warn".into())],
            auth: true,
            note: format!(
                "single-threaded mio; user/pass; relay {name}; max_sessions {max_sessions}; \
                 binary {binary_kb} KB"
            ),
            daemonizes: false,
            bulk_only: false,
        }));
    }
    out
}

/// Starts a proxy pinned to `cpu` in a process group of its own, and waits until it
/// accepts connections. On failure, says why (with the last line of its stderr).
pub fn start(mut spec: Spec, cpu: Option<usize>, work: &Path) -> Result<Running, String> {
    let port = free_port().map_err(|e| format!("{}: no free port: {e}", spec.label))?;
    let port_text = port.to_string();
    for a in &mut spec.args {
        *a = a.replace(PORT, &port_text);
    }
    if let Some((path, text)) = &spec.config {
        let text = text.replace(PORT, &port_text);
        fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    let slug: String = spec
        .label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let log_path = work.join(format!("{slug}.log"));
    let log = fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(spec.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0);
    if let Some(cpu) = cpu {
        // SAFETY: between fork and exec only async-signal-safe calls: sched_setaffinity
        // on a stack-local set.
        unsafe {
            cmd.pre_exec(move || {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpu, &mut set);
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
                Ok(())
            });
        }
    }
    let child = cmd.spawn().map_err(|e| {
        format!(
            "{}: cannot start {}: {e}",
            spec.label,
            spec.program.display()
        )
    })?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let root = child.id() as i32;
    let mut running = Running {
        label: spec.label,
        child,
        root,
        addr,
        auth: spec.auth,
        note: spec.note,
    };
    let until = Instant::now() + START_TIMEOUT;
    while Instant::now() < until {
        if spec.daemonizes {
            let needle = spec.config.as_ref().map(|(p, _)| p.display().to_string());
            if let Some(pid) = needle.as_deref().and_then(find_by_cmdline) {
                running.root = pid;
            }
        } else if let Ok(Some(status)) = running.child.try_wait() {
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            let last = log
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            return Err(format!(
                "{}: exited at start ({status}): {last}",
                running.label
            ));
        }
        let tracked = !spec.daemonizes || running.root != running.child.id() as i32;
        if tracked && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(running);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{}: not listening on {addr} after {START_TIMEOUT:?}",
        running.label
    ))
}
