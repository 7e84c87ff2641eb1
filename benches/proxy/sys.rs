//! What the harness asks of the operating system: CPU pinning, descriptor limits, and the
//! memory and CPU a proxy's process tree has used, read from /proc.

use std::collections::HashMap;
use std::fs;
use std::io;

/// Pins the calling thread (and the threads it spawns afterwards) to one CPU.
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET writes inside it, and sched_setaffinity only
    // reads the set we pass with its true size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

pub fn online_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Makes orphaned descendants (daemons that fork away from the process we started)
/// our children, so they can be found, stopped and reaped.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Raises the soft descriptor limit to the hard one; children inherit it. Returns the
/// new soft limit.
pub fn raise_nofile() -> io::Result<u64> {
    // SAFETY: getrlimit/setrlimit read and write one plain struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(io::Error::last_os_error());
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(lim.rlim_cur)
    }
}

pub fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no memory effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// The fields of /proc/PID/stat after the command name.
fn stat_fields(pid: i32) -> Option<Vec<u64>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses; it ends at the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    Some(
        rest.split_whitespace()
            // Field 3 (state) is a letter; keep positions by mapping it to 0.
            .map(|f| f.parse::<u64>().unwrap_or(0))
            .collect(),
    )
}

/// `root` and every live descendant (multi-process servers such as dante fork workers).
pub fn process_tree(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            // Index 1 after the name is field 4, the parent pid.
            if let Some(ppid) = stat_fields(pid).and_then(|f| f.get(1).copied()) {
                children.entry(ppid as i32).or_default().push(pid);
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() && out.len() < 100_000 {
        if let Some(kids) = children.get(&out[i]) {
            out.extend_from_slice(kids);
        }
        i += 1;
    }
    out
}

/// CPU time in seconds, split the way /proc reports it.
#[derive(Clone, Copy, Default)]
pub struct Cpu {
    pub user: f64,
    pub system: f64,
}

impl Cpu {
    pub fn total(self) -> f64 {
        self.user + self.system
    }

    /// What was used between `earlier` and this reading.
    pub fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            user: self.user - earlier.user,
            system: self.system - earlier.system,
        }
    }

    /// The kernel's share of the total, if anything was used.
    pub fn kernel_share(self) -> Option<f64> {
        (self.total() > 0.0).then(|| self.system / self.total())
    }
}

/// CPU time used by the tree rooted at `root`, including its reaped children.
pub fn tree_cpu(root: i32) -> Cpu {
    let mut sum = Cpu::default();
    for pid in process_tree(root) {
        let c = process_cpu(pid, true);
        sum.user += c.user;
        sum.system += c.system;
    }
    sum
}

/// CPU time used by one process, and by its reaped children if `reaped`.
pub fn process_cpu(pid: i32, reaped: bool) -> Cpu {
    let Some(f) = stat_fields(pid) else {
        return Cpu::default();
    };
    // Fields 14 utime, 15 stime; 16 cutime, 17 cstime (reaped children).
    let at = |i: usize| f.get(i).copied().unwrap_or(0) as f64 / clock_ticks_per_sec();
    let mut cpu = Cpu {
        user: at(11),
        system: at(12),
    };
    if reaped {
        cpu.user += at(13);
        cpu.system += at(14);
    }
    cpu
}

/// Resident memory of the whole tree, in KiB (VmRSS of each process, summed).
pub fn tree_rss_kb(root: i32) -> u64 {
    process_tree(root).into_iter().map(rss_kb).sum()
}

/// Proportional set size of the whole tree, in KiB: each shared page is divided among
/// the processes mapping it, so forked workers are not counted several times.
pub fn tree_pss_kb(root: i32) -> u64 {
    process_tree(root)
        .into_iter()
        .map(|pid| kb_field(&format!("/proc/{pid}/smaps_rollup"), "Pss:"))
        .sum()
}

fn rss_kb(pid: i32) -> u64 {
    kb_field(&format!("/proc/{pid}/status"), "VmRSS:")
}

/// A "Name:   1234 kB" line of a /proc file; 0 when the process has gone.
fn kb_field(path: &str, name: &str) -> u64 {
    let Ok(text) = fs::read_to_string(path) else {
        return 0;
    };
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Open descriptors of the whole tree.
pub fn tree_fds(root: i32) -> usize {
    process_tree(root)
        .into_iter()
        .map(|pid| {
            fs::read_dir(format!("/proc/{pid}/fd"))
                .map(|d| d.count())
                .unwrap_or(0)
        })
        .sum()
}

pub fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

pub fn kernel() -> String {
    fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// The 1-, 5- and 15-minute load averages as /proc/loadavg gives them.
pub fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// CPU seconds the whole machine has been busy since boot (all CPUs, from /proc/stat).
pub fn machine_busy_secs() -> f64 {
    let text = fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
    let busy: u64 = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum();
    busy as f64 / clock_ticks_per_sec()
}

/// CPU seconds used by this process and its reaped children (the target servers, the
/// proxies, and daemons re-parented to us).
pub fn own_cpu_secs() -> f64 {
    tree_cpu(std::process::id() as i32).total()
}
