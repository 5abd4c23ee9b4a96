//! The run marker: how the processes of one run are recognised.

use std::fmt;

use super::scan::Pid;

/// The environment variable that carries a run's marker into the processes it executes.
pub const RUN_ENV: &str = "GLOMPO_RUN";

/// The identity of one run: its manager's pid and start time, the manager's process group and its pid
/// namespace.
///
/// The pid and the start time (clock ticks since boot, field 22 of `/proc/PID/stat`) name the manager
/// even after its pid is reused: the manager is alive exactly while a process with this pid *and* this
/// start time exists. The process group is the one the manager was in when the run began; it usually
/// belongs to the user's shell job, so the reaper never treats it as the run's own group. The pid
/// namespace (the inode of `/proc/self/ns/pid`) tells a reaper that looks into a container from
/// outside that the pid in the marker is not one of its own pids, so it leaves such runs alone.
///
/// In the environment the marker is written `PID.START.PGID.PIDNS`, all four in decimal:
///
/// ```
/// use glompo_backends::reaper::{RUN_ENV, RunMarker};
///
/// let marker = RunMarker { pid: 4242, start_time: 123_456, pgid: 4200, pid_ns: 4_026_531_836 };
/// assert_eq!(marker.env_pair(), (RUN_ENV, "4242.123456.4200.4026531836".to_owned()));
/// assert_eq!(RunMarker::parse("4242.123456.4200.4026531836"), Some(marker));
/// assert_eq!(RunMarker::parse("4242.123456"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunMarker {
    /// The manager's process id.
    pub pid: Pid,
    /// The manager's start time, in clock ticks since boot.
    pub start_time: u64,
    /// The manager's process group when the run began.
    pub pgid: Pid,
    /// The inode of the manager's pid namespace.
    pub pid_ns: u64,
}

impl RunMarker {
    /// The marker of a run managed by the calling process.
    ///
    /// Call it once, when the run begins, and give the same marker to every process of the run.
    #[cfg(target_os = "linux")]
    pub fn for_current_process() -> super::Result<RunMarker> {
        let me = super::linux::read_self()?;
        Ok(RunMarker { pid: me.pid, start_time: me.start_time, pgid: me.pgid, pid_ns: me.pid_ns })
    }

    /// The marker of the run the calling process belongs to: the marker in its environment if that run's
    /// manager is this process or one of its ancestors (a runner process, a worker), else its own (it
    /// manages a run of its own). Processes started by a runner or a worker then carry their manager's
    /// marker, so a keeper or a sweep of that run finds them too.
    #[cfg(target_os = "linux")]
    pub fn of_this_run() -> super::Result<RunMarker> {
        match super::linux::inherited_marker() {
            Some(marker) => Ok(marker),
            None => RunMarker::for_current_process(),
        }
    }

    /// The environment variable and value that mark a process of this run, for
    /// [`std::process::Command::env`].
    pub fn env_pair(&self) -> (&'static str, String) {
        (RUN_ENV, self.to_string())
    }

    /// Reads a marker written by [`Display`](fmt::Display); `None` unless the text is exactly four
    /// dot-separated decimal numbers with positive pids.
    ///
    /// A process whose marker does not parse counts as unmarked: the reaper would rather miss it than
    /// guess.
    pub fn parse(text: &str) -> Option<RunMarker> {
        let mut fields = text.split('.');
        let mut next = || fields.next().filter(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
        let pid = next()?.parse().ok()?;
        let start_time = next()?.parse().ok()?;
        let pgid = next()?.parse().ok()?;
        let pid_ns = next()?.parse().ok()?;
        if fields.next().is_some() || pid <= 0 || pgid <= 0 {
            return None;
        }
        Some(RunMarker { pid, start_time, pgid, pid_ns })
    }
}

impl fmt::Display for RunMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}.{}", self.pid, self.start_time, self.pgid, self.pid_ns)
    }
}
