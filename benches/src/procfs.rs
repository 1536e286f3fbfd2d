//! Process measurements read from `/proc` (Linux): peak resident set size and CPU time.
//! No FFI: the workspace forbids `unsafe`, so `getrusage` is read through procfs instead.

use std::path::Path;

/// Clock ticks per second of `/proc/*/stat` (`USER_HZ`, 100 on every Linux/x86_64 and arm64).
pub const USER_HZ: f64 = 100.0;

/// Value of a `kB` field (e.g. `VmHWM`) in a `/proc/<pid>/status` text.
pub fn status_field_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Peak resident set size (`VmHWM`) of a live process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    status_field_kib(&status, "VmHWM")
}

/// (user, system) CPU seconds from a `/proc/<pid>/stat` line (fields 14 and 15, all threads
/// of the process including exited ones).
pub fn stat_cpu_split(stat: &str) -> Option<(f64, f64)> {
    // The command name (field 2) may contain spaces: parse after the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state): utime is field 14 → index 11, stime index 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime / USER_HZ, stime / USER_HZ))
}

/// This process's CPU time at one moment, to measure what a stretch of work cost.
#[derive(Debug, Clone, Copy)]
pub struct CpuMark {
    user: f64,
    system: f64,
}

impl CpuMark {
    /// The CPU time used so far.
    pub fn now() -> Self {
        let (user, system) = self_cpu_split();
        Self { user, system }
    }

    /// (user + system, system) CPU seconds since the mark.
    pub fn elapsed(&self) -> (f64, f64) {
        let (user, system) = self_cpu_split();
        let system = system - self.system;
        ((user - self.user) + system, system)
    }
}

/// (user, system) CPU seconds used so far by this process (all threads).
pub fn self_cpu_split() -> (f64, f64) {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| stat_cpu_split(&s))
        .unwrap_or((f64::NAN, f64::NAN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vmhwm() {
        let status = "Name:\tx\nVmPeak:\t  2000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(status_field_kib(status, "VmHWM"), Some(1234));
        assert_eq!(status_field_kib(status, "VmSwap"), None);
    }

    #[test]
    fn parses_cpu_ticks_after_a_command_with_spaces() {
        let stat = "42 (a b) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 1 0 1 1 1";
        assert_eq!(stat_cpu_split(stat), Some((2.5, 0.5)));
        let (cpu, system) = CpuMark::now().elapsed();
        assert!(cpu >= system && system >= 0.0, "{cpu} {system}");
    }
}
