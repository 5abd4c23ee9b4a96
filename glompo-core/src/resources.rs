//! What a run used, for the summary: CPU time and peak memory of the manager's process, read from
//! `/proc` on Linux (null elsewhere).

use serde_json::{Value, json};

/// `AT_CLKTCK` in the auxiliary vector: the clock ticks per second of `/proc/PID/stat` times.
const AT_CLKTCK: u64 = 17;

/// The resources used so far by the calling process (every thread) and by its children that ended and
/// were waited for. Fields that cannot be read are null.
pub(crate) fn usage() -> Value {
    let ticks = clock_ticks().unwrap_or(100.0);
    let times = std::fs::read_to_string("/proc/self/stat").ok().and_then(|stat| {
        // The command name may hold spaces and parentheses: the fields that follow start after the last ')'.
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // Fields 14-17 of stat (utime, stime, cutime, cstime); `rest` starts at field 3.
        let tick = |n: usize| fields.get(n - 3)?.parse::<u64>().ok().map(|t| t as f64 / ticks);
        Some([tick(14)?, tick(15)?, tick(16)?, tick(17)?])
    });
    let peak_kb = std::fs::read_to_string("/proc/self/status").ok().and_then(|status| {
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    });
    let [user, system, child_user, child_system] = times.map_or([None; 4], |t| t.map(Some));
    json!({
        "cpu_user_s": user,
        "cpu_system_s": system,
        "children_cpu_user_s": child_user,
        "children_cpu_system_s": child_system,
        "peak_rss_mb": peak_kb.map(|kb| kb as f64 / 1024.0),
    })
}

/// The clock ticks per second, from the auxiliary vector (pairs of native-endian words).
fn clock_ticks() -> Option<f64> {
    let auxv = std::fs::read("/proc/self/auxv").ok()?;
    let word = std::mem::size_of::<usize>();
    auxv.chunks_exact(2 * word).find_map(|pair| {
        let read = |b: &[u8]| b.try_into().ok().map(usize::from_ne_bytes);
        (read(&pair[..word])? as u64 == AT_CLKTCK).then(|| read(&pair[word..])).flatten().map(|t| t as f64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_and_peak_memory_are_read_on_linux() {
        if !cfg!(target_os = "linux") {
            return;
        }
        assert!(clock_ticks().is_some_and(|t| t >= 1.0));
        // Burn about 0.2 s of CPU; the process's CPU time must show at least part of it.
        let start = std::time::Instant::now();
        let mut x = 0.0_f64;
        while start.elapsed().as_millis() < 200 {
            x = std::hint::black_box(x + 1.0).sqrt();
        }
        let usage = usage();
        let cpu = usage["cpu_user_s"].as_f64().unwrap() + usage["cpu_system_s"].as_f64().unwrap();
        assert!(cpu >= 0.1, "{usage}");
        assert!(usage["children_cpu_user_s"].as_f64().is_some());
        assert!(usage["peak_rss_mb"].as_f64().unwrap() > 1.0, "{usage}");
    }
}
