//! What a run used, for the summary: CPU time and peak memory of the manager's process and of its
//! ended children, from `getrusage`.

use serde_json::{Value, json};

/// CPU seconds, user and system.
#[derive(Debug, Clone, Copy)]
struct Times {
    user: f64,
    system: f64,
}

impl Times {
    fn of(who: libc::c_int) -> Option<Times> {
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        rusage(who).map(|u| Times { user: seconds(u.ru_utime), system: seconds(u.ru_stime) })
    }
}

/// The CPU time the process and its children had used when a run started: the run's own use is what
/// comes after. A process that `cargo run` started has replaced cargo (`exec`), so without it the
/// compilers cargo waited for would count as the run's children.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Baseline {
    own: Option<Times>,
    children: Option<Times>,
}

impl Baseline {
    /// The CPU time used so far.
    pub(crate) fn now() -> Self {
        Baseline { own: Times::of(libc::RUSAGE_SELF), children: Times::of(libc::RUSAGE_CHILDREN) }
    }

    /// The resources used since the baseline by the calling process (every thread) and by its
    /// children that ended and were waited for, and the process's peak resident set (over its whole
    /// life: the kernel keeps no other). Fields that cannot be read are null.
    pub(crate) fn usage(&self) -> Value {
        let since = |start: Option<Times>, now: Option<Times>| match (start, now) {
            (Some(s), Some(n)) => (Some(n.user - s.user), Some(n.system - s.system)),
            _ => (None, None),
        };
        let (user, system) = since(self.own, Times::of(libc::RUSAGE_SELF));
        let (children_user, children_system) = since(self.children, Times::of(libc::RUSAGE_CHILDREN));
        json!({
            "cpu_user_s": user,
            "cpu_system_s": system,
            "children_cpu_user_s": children_user,
            "children_cpu_system_s": children_system,
            // Linux reports the peak resident set in KiB.
            "peak_rss_mb": rusage(libc::RUSAGE_SELF).map(|u| u.ru_maxrss as f64 / 1024.0),
        })
    }
}

fn rusage(who: libc::c_int) -> Option<libc::rusage> {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct of integers.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `getrusage` writes only into the struct it is given, which lives for the call.
    (unsafe { libc::getrusage(who, &mut usage) } == 0).then_some(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(usage: &Value, prefix: &str) -> f64 {
        usage[format!("{prefix}cpu_user_s")].as_f64().unwrap()
            + usage[format!("{prefix}cpu_system_s")].as_f64().unwrap()
    }

    /// Work, not time: the figures grow with what was done, however loaded the machine is.
    #[test]
    fn cpu_time_and_peak_memory_grow_with_the_work_done() {
        // A child that ended before the baseline does not count.
        let earlier = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(earlier.success());
        let baseline = Baseline::now();
        let before = baseline.usage();
        assert_eq!(cpu(&before, "children_"), 0.0, "{before}");
        // Touch 64 MiB: the peak resident set must hold it.
        let block = vec![1_u8; 64 << 20];
        assert_eq!(
            std::hint::black_box(&block).iter().step_by(4096).map(|&b| b as usize).sum::<usize>(),
            16384
        );
        let mut x = 0.0_f64;
        for i in 0..2_000_000 {
            x = std::hint::black_box(x + i as f64).sqrt();
        }
        let child = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(child.success());
        let after = baseline.usage();
        assert!(cpu(&after, "") > cpu(&before, ""), "{before} -> {after}");
        assert!(cpu(&after, "children_") > cpu(&before, "children_"), "{before} -> {after}");
        assert!(after["peak_rss_mb"].as_f64().unwrap() >= 64.0, "{after}");
    }
}
