//! The keeper: a small process that outlives its manager long enough to reap the run.
//!
//! `PR_SET_PDEATHSIG` kills the manager's children when it dies, and they kill theirs the same way, but
//! a process that a worker's own program starts (a simulation behind a wrapper script) gets no signal:
//! it is re-parented to PID 1 and runs on. The keeper closes that gap. The manager starts it first
//! thing, in a process group of its own and without the run's marker, with a pipe on its stdin; the
//! keeper waits for the pipe to close. After a normal end the manager writes `done` first and the keeper
//! just exits; if the pipe closes without it, the manager died, and the keeper waits until it is no
//! longer running, then kills every process of the run: the members of the run's cgroup, if
//! [`Keeper::contain`] made one, and what [`scan::orphans_of_ended_run`] selects. Every process gets
//! `SIGTERM` first and `SIGKILL` once the reaper's grace (0.5 s) has passed.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::cgroup::{RunCgroup, Runs, reap_cgroups};
use super::linux::{ReapReport, execute, running};
use super::marker::{RUN_ENV, RunMarker};
use super::scan;
use super::{ReaperError, Result};

/// The environment variable that names the run a keeper guards.
pub const KEEPER_ENV: &str = "GLOMPO_KEEPER";

/// How often a keeper looks whether its manager still runs.
const LOOK_EVERY_MS: u8 = 100;
/// How long a manager waits for its keeper to take `done` before it kills it.
const KEEPER_EXIT: Duration = Duration::from_secs(5);
/// How long it waits before a second sweep, for processes that were being started during the first.
const SECOND_SWEEP: Duration = Duration::from_millis(200);

/// A running keeper; see the module documentation. Dropping it is [`Keeper::finish`] (but see `Drop`).
#[derive(Debug)]
pub struct Keeper {
    child: Child,
    stdin: Option<ChildStdin>,
    run: RunMarker,
    cgroup: Option<RunCgroup>,
}

impl Keeper {
    /// Starts `argv`, a program that calls [`serve_keeper`] (for the CLI, `glompo __keeper`), as the
    /// keeper of `run`.
    ///
    /// Call it before the process becomes a subreaper and before any other child exists. The keeper is
    /// in a process group of its own (terminal signals meant for the run do not reach it) and carries
    /// [`KEEPER_ENV`] instead of [`RUN_ENV`], so no sweep takes it for a process of the run.
    pub fn start(argv: &[String], run: &RunMarker) -> Result<Keeper> {
        let (program, args) = argv.split_first().ok_or_else(|| ReaperError::Exec {
            path: "keeper".into(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the keeper command is empty"),
        })?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .env_remove(RUN_ENV)
            .env(KEEPER_ENV, run.to_string())
            .process_group(0)
            .spawn()
            .map_err(|source| ReaperError::Exec { path: program.into(), source })?;
        let stdin = child.stdin.take();
        Ok(Keeper { child, stdin, run: *run, cgroup: None })
    }

    /// Contains the calling process (the manager) in a new cgroup named after the run, if the machine
    /// lets it (see [`RunCgroup::create`]): every process it starts from then on is a member, even one
    /// that leaves the run's process groups and drops its marker (`setsid env -i …`). If the manager
    /// dies without saying `done`, the keeper, which stays outside, kills every member; at a normal end
    /// ([`Keeper::finish`] or dropping the keeper) the manager kills what is left in it and removes it.
    ///
    /// Call it right after [`Keeper::start`], before any other child or thread exists. Where no cgroup
    /// can be made the error says why, and the run goes on without one.
    pub fn contain(&mut self) -> Result<&RunCgroup> {
        let cgroup = RunCgroup::create(&self.run)?;
        Ok(self.cgroup.insert(cgroup))
    }

    /// The keeper's pid.
    pub fn pid(&self) -> super::Pid {
        super::Pid::try_from(self.child.id()).unwrap_or(super::Pid::MAX)
    }

    /// Tells the keeper that the run ended normally (the manager cleans up itself) and waits for it.
    pub fn finish(mut self) {
        self.end();
    }

    fn end(&mut self) {
        // After the manager's own sweep: what is still in the cgroup escaped it.
        if let Some(cgroup) = self.cgroup.take() {
            let dir = cgroup.dir().to_path_buf();
            match cgroup.remove() {
                Ok(report) if !report.survivors.is_empty() => eprintln!(
                    "glompo: warning: {} processes of the run's cgroup {} did not die",
                    report.survivors.len(),
                    dir.display()
                ),
                Ok(_) => {}
                Err(e) => eprintln!("glompo: warning: cannot remove the run's cgroup {}: {e}", dir.display()),
            }
        }
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"done\n");
        }
        // It exits as soon as it reads `done`; one that does not within KEEPER_EXIT is killed.
        let deadline = Instant::now() + KEEPER_EXIT;
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Keeper {
    /// Like [`Keeper::finish`], except while the thread panics: then the manager may not get to its own
    /// shutdown sweep, so the keeper is not told `done` (it reaps the run, cgroup included, once the
    /// manager has exited) and is not waited for.
    fn drop(&mut self) {
        if std::thread::panicking() {
            drop(self.stdin.take());
        } else {
            self.end();
        }
    }
}

/// The keeper's side: waits for the manager's end — `done` on stdin (a normal end: returns an empty
/// report at once), or stdin closing without it, or the manager no longer running (it died, even if
/// some process forked from it still holds the pipe) — then waits until the manager no longer runs
/// and kills every process of `run`: the members of its cgroup (which it then removes), then what
/// the scan selects, twice, 200 ms apart. Returns what it killed; an error about the cgroup comes
/// after both sweeps are done.
pub fn serve_keeper(run: &RunMarker) -> Result<ReapReport> {
    let stdin = std::io::stdin();
    let mut said = Vec::new();
    let mut open = true;
    loop {
        if said.windows(4).any(|w| w == b"done") {
            return Ok(ReapReport::default());
        }
        if !running(run.pid, Some(run.start_time)) {
            break;
        }
        if open {
            let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
            // EINTR or an error: look again at the next round.
            let readable = poll(&mut fds, PollTimeout::from(LOOK_EVERY_MS)).is_ok_and(|n| n > 0);
            if readable {
                let mut chunk = [0_u8; 64];
                // An error reading is a closed pipe too: the manager is gone either way.
                match stdin.lock().read(&mut chunk) {
                    Ok(0) | Err(_) => open = false,
                    Ok(n) => said.extend_from_slice(&chunk[..n]),
                }
            }
        } else {
            std::thread::sleep(Duration::from_millis(LOOK_EVERY_MS.into()));
        }
    }
    // The cgroup first: it holds nearly every process of the run, and `cgroup.kill` or a frozen cgroup
    // leaves none a chance to fork.
    let contained = reap_cgroups(false, Runs::Ended(run));
    let sweep = || execute(false, |table, caller| scan::orphans_of_ended_run(table, caller, run));
    let mut report = sweep()?;
    std::thread::sleep(SECOND_SWEEP);
    report.absorb(sweep()?);
    let mut contained = contained?;
    contained.absorb(report);
    Ok(contained)
}

/// The run this keeper guards, if the process was started as a keeper ([`KEEPER_ENV`] holds a marker).
pub fn keeper_run() -> Option<RunMarker> {
    std::env::var(KEEPER_ENV).ok().and_then(|v| RunMarker::parse(&v))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A keeper that records what its manager said: `said` gets the input, then `closed`.
    fn recorder(dir: &std::path::Path) -> Keeper {
        let script = format!("cat > {0}/said; touch {0}/closed", dir.display());
        let run = RunMarker { pid: 4242, start_time: 1, pgid: 4242, pid_ns: 1 };
        Keeper::start(&["sh".into(), "-c".into(), script], &run).unwrap()
    }

    #[test]
    fn a_normal_end_says_done_and_a_panic_does_not() {
        let tmp = tempfile::tempdir().unwrap();
        let normal = tmp.path().join("normal");
        std::fs::create_dir(&normal).unwrap();
        recorder(&normal).finish();
        assert_eq!(std::fs::read_to_string(normal.join("said")).unwrap(), "done\n");

        let panicked = tmp.path().join("panicked");
        std::fs::create_dir(&panicked).unwrap();
        let keeper = recorder(&panicked);
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _keeper = keeper;
            panic!("the manager panics");
        }));
        assert!(unwound.is_err());
        // The keeper is not waited for: look for its input to end.
        let start = Instant::now();
        while !panicked.join("closed").exists() {
            assert!(start.elapsed() < Duration::from_secs(10), "the keeper's input never closed");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(std::fs::read_to_string(panicked.join("said")).unwrap(), "");
    }
}
