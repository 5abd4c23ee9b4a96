//! The reaper's effects on Linux: reading `/proc`, sending signals and waiting for children.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use procfs::ProcError;
use procfs::process::Process;

use super::marker::{RUN_ENV, RunMarker};
use super::scan::{self, Caller, Pid, ProcEntry};
use super::{ReaperError, Result};

/// The process table the effects act on. Only [`read_table`] takes another root: signals go to the
/// pids of this system, so they must come from its own table.
const PROC: &str = "/proc";
/// Scan-and-kill rounds at most: each round catches what the killed processes forked meanwhile.
const ROUNDS: usize = 4;
/// How long a process the reaper sent `SIGTERM` has to end (to clean up: a launcher such as `srun`
/// releasing its job step, a wrapper script removing its files) before it gets `SIGKILL`. It is short,
/// because a keeper must have ended the whole run within 2 s of its manager's death (DESIGN §4).
pub const TERM_GRACE: Duration = Duration::from_millis(500);
/// How long to wait, after `SIGKILL`, for the signalled processes to die.
const GRACE: Duration = Duration::from_secs(1);
/// How often to look while waiting.
const POLL: Duration = Duration::from_millis(5);

/// What [`reap`], [`reap_run`] or [`kill_descendants`] found and did.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ReapReport {
    /// Whether this was a dry run (nothing was signalled).
    pub dry_run: bool,
    /// Every process that was selected, in any round, as the table showed it, sorted by pid.
    pub selected: Vec<ProcEntry>,
    /// The pids sent `SIGTERM` (and `SIGKILL` if they outlived [`TERM_GRACE`]), alone or with their
    /// process group, or killed as members of a run's cgroup, sorted.
    pub signalled: Vec<Pid>,
    /// The process groups killed whole with `killpg`, because every process in them was selected.
    pub groups: Vec<Pid>,
    /// The cgroups of dead runs (see `README.md`, "Cgroups") that were emptied and removed, or in a dry
    /// run found.
    pub cgroups: Vec<PathBuf>,
    /// The pids that were children of the caller and that it waited for.
    pub reaped: Vec<Pid>,
    /// Signals that failed for a reason other than the process being gone already.
    pub failed: Vec<KillFailure>,
    /// Signalled processes still running when the reaper gave up waiting (for example in
    /// uninterruptible sleep).
    pub survivors: Vec<Pid>,
}

impl ReapReport {
    /// Adds what `other` found and did to this report.
    pub(super) fn absorb(&mut self, other: ReapReport) {
        self.selected.extend(other.selected);
        self.selected.sort_by_key(|e| (e.pid, e.start_time));
        self.selected.dedup_by_key(|e| (e.pid, e.start_time));
        for (mine, theirs) in [
            (&mut self.signalled, other.signalled),
            (&mut self.groups, other.groups),
            (&mut self.reaped, other.reaped),
            (&mut self.survivors, other.survivors),
        ] {
            mine.extend(theirs);
            mine.sort_unstable();
            mine.dedup();
        }
        self.cgroups.extend(other.cgroups);
        self.failed.extend(other.failed);
    }
}

/// A signal that could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KillFailure {
    /// The pid, or the process group if `group`.
    pub pid: Pid,
    /// Whether `pid` is a process group that `killpg` was sent to.
    pub group: bool,
    /// The error (typically `EPERM` for another user's process).
    pub errno: Errno,
}

/// What the calling process knows about itself.
pub(super) struct SelfInfo {
    pub(super) pid: Pid,
    pub(super) start_time: u64,
    pub(super) pgid: Pid,
    pub(super) pid_ns: u64,
}

/// Reads the calling process's pid, start time and group from `/proc/self/stat` and its pid namespace
/// from `/proc/self/ns/pid`.
pub(super) fn read_self() -> Result<SelfInfo> {
    let root = Path::new(PROC).join("self");
    let stat = Process::new_with_root(root.clone())
        .and_then(|me| me.stat())
        .map_err(|source| ReaperError::Proc { path: root.join("stat"), source })?;
    let ns = root.join("ns").join("pid");
    let pid_ns = std::fs::metadata(&ns).map_err(|source| ReaperError::Io { path: ns, source })?.ino();
    Ok(SelfInfo { pid: stat.pid, start_time: stat.starttime, pgid: stat.pgrp, pid_ns })
}

/// The marker in this process's environment, if its manager (same pid and start time) is this process or
/// one of its ancestors by parent pid.
pub(super) fn inherited_marker() -> Option<RunMarker> {
    let marker = RunMarker::parse(&std::env::var(RUN_ENV).ok()?)?;
    let me = read_self().ok()?;
    if me.pid_ns != marker.pid_ns {
        return None;
    }
    let mut pid = me.pid;
    // A parent chain is short; the bound only guards against a table that changes under the walk.
    for _ in 0..64 {
        let stat = Process::new(pid).and_then(|p| p.stat()).ok()?;
        if pid == marker.pid {
            return (stat.starttime == marker.start_time).then_some(marker);
        }
        if stat.ppid <= 1 {
            return None;
        }
        pid = stat.ppid;
    }
    None
}

impl Caller {
    /// The calling process, as the reaper sees it.
    pub fn current() -> Result<Caller> {
        let me = read_self()?;
        Ok(Caller { pid: me.pid, pid_ns: me.pid_ns })
    }
}

/// Reads the process table under `proc_root` (normally `/proc`).
///
/// A process that vanishes while it is read is left out; one whose `stat` cannot be read for another
/// reason is kept as [`ProcEntry::unreadable`], so that the selection treats it with caution. A marker
/// is read from `environ` (which shows the environment a process was executed with); a process whose
/// `environ` cannot be read, and a zombie, has none.
pub fn read_table(proc_root: &Path) -> Result<Vec<ProcEntry>> {
    let processes = procfs::process::all_processes_with_root(proc_root)
        .map_err(|source| ReaperError::Proc { path: proc_root.to_path_buf(), source })?;
    let mut table = Vec::new();
    for process in processes {
        match process {
            Ok(process) => table.extend(entry(&process)),
            Err(e) if vanished(&e) => {}
            Err(e) => match error_pid(&e) {
                Some(pid) => table.push(ProcEntry::unreadable(pid)),
                // Without a pid the listing itself failed: a partial table could hide a live manager.
                None => return Err(ReaperError::Proc { path: proc_root.to_path_buf(), source: e }),
            },
        }
    }
    Ok(table)
}

/// One process's entry, or `None` if it vanished.
fn entry(process: &Process) -> Option<ProcEntry> {
    let stat = match process.stat() {
        Ok(stat) => stat,
        Err(e) if vanished(&e) => return None,
        Err(_) => return Some(ProcEntry::unreadable(process.pid)),
    };
    let mut entry = ProcEntry {
        pid: stat.pid,
        ppid: stat.ppid,
        pgid: stat.pgrp,
        start_time: Some(stat.starttime),
        state: stat.state,
        comm: stat.comm,
        marker: None,
    };
    if !entry.is_zombie() {
        entry.marker = process.environ().ok().and_then(|env| {
            env.get(OsStr::new(RUN_ENV)).and_then(|value| value.to_str()).and_then(RunMarker::parse)
        });
    }
    Some(entry)
}

/// Whether an error means that the process is gone.
fn vanished(e: &ProcError) -> bool {
    match e {
        ProcError::NotFound(_) => true,
        ProcError::Io(io, _) => io.raw_os_error() == Some(Errno::ESRCH as i32),
        _ => false,
    }
}

/// The pid of the `/proc/PID` path an error names, if it names one.
fn error_pid(e: &ProcError) -> Option<Pid> {
    let path = match e {
        ProcError::PermissionDenied(path) | ProcError::NotFound(path) | ProcError::Incomplete(path) => path,
        ProcError::Io(_, path) => path,
        _ => &None,
    };
    path.as_deref()?.file_name()?.to_str()?.parse().ok()
}

/// Kills the processes of every dead run (see [`scan::orphans`]), or with `dry_run` only lists them.
///
/// Each round reads `/proc`, selects, sends `SIGTERM` (with `killpg` to every process group that is
/// selected whole, and to each other process alone, after checking that its pid still names the process
/// that was scanned), waits up to [`TERM_GRACE`] for the signalled processes to end, sends `SIGKILL` the
/// same way to those still running, waits up to a second more, and reaps those that are its own
/// children with `waitpid(pid, WNOHANG)`. It never calls `waitpid(-1)`, so the children
/// that other code of the process waits for are left to it. Rounds repeat until nothing new is
/// selected, so that what the orphans forked meanwhile dies too. Signals that fail because the process
/// is gone are not failures; other failures (`EPERM`) are reported in [`ReapReport::failed`].
///
/// Before the scan, it ends the processes in the cgroups of dead runs and removes those cgroups
/// (`README.md`, "Cgroups"); [`ReapReport::cgroups`] lists them.
pub fn reap(dry_run: bool) -> Result<ReapReport> {
    let mut report = super::cgroup::reap_cgroups(dry_run, super::cgroup::Runs::AllDead)?;
    report.absorb(execute(dry_run, scan::orphans)?);
    Ok(report)
}

/// Like [`reap`], for the processes and the cgroup of one run only (see [`scan::orphans_of_run`]):
/// nothing is selected while its manager lives.
pub fn reap_run(run: &RunMarker, dry_run: bool) -> Result<ReapReport> {
    let mut report = super::cgroup::reap_cgroups(dry_run, super::cgroup::Runs::OneDead(run))?;
    report.absorb(execute(dry_run, |table, caller| scan::orphans_of_run(table, caller, run))?);
    Ok(report)
}

/// A live manager's shutdown sweep: kills every descendant of the calling process and every other
/// process of its own run (see [`scan::sweep`]), and reaps those that are its children.
///
/// Call it after the backends have waited for the children they own: it reaps every child it kills,
/// so a later `wait` on one of them fails with `ECHILD`. It finds orphaned grandchildren by parent pid
/// only if the caller is a subreaper ([`set_child_subreaper`]); otherwise only by marker and group.
pub fn kill_descendants() -> Result<ReapReport> {
    kill_descendants_except(&[])
}

/// [`kill_descendants`], sparing the processes `spared` (the run's [`super::Keeper`], which the manager
/// ends itself, after the sweep).
pub fn kill_descendants_except(spared: &[Pid]) -> Result<ReapReport> {
    let me = read_self()?;
    let own = RunMarker { pid: me.pid, start_time: me.start_time, pgid: me.pgid, pid_ns: me.pid_ns };
    execute(false, |table, caller| {
        let mut pids = scan::sweep(table, caller, &own);
        pids.retain(|pid| !spared.contains(pid));
        pids
    })
}

/// Makes the calling process carry its own run marker in `/proc/self/environ`, and returns the marker.
///
/// A manager's own environment does not hold its marker (the marker names the process, so it exists only
/// after the process does), so the workers it forks without executing anything carry no marker, and a
/// nested manager started by another run's process shows that run's marker. Both make the reaper's
/// view weaker (see `README.md`). This function closes the gap: if the environment does not hold the
/// marker yet, it executes the same program again (`/proc/self/exe`, the same arguments, the marker
/// added to the environment). The pid, start time and process group survive `execve`, so the marker
/// stays true, and the call does not return: the program starts over and the second call returns.
///
/// Call it first thing in `main`, before any thread, file or state exists that the new program would
/// lose. It returns an error only if the marker cannot be read or the program cannot be executed.
pub fn mark_self() -> Result<RunMarker> {
    let marker = RunMarker::for_current_process()?;
    let (key, value) = marker.env_pair();
    // Only this function can have put this value there: it names this very process.
    if std::env::var_os(key).is_some_and(|v| v == value.as_str()) {
        return Ok(marker);
    }
    let exe = PathBuf::from("/proc/self/exe");
    let mut args = std::env::args_os();
    let mut cmd = Command::new(&exe);
    if let Some(arg0) = args.next() {
        cmd.arg0(arg0);
    }
    let source = cmd.args(args).env(key, value).exec();
    Err(ReaperError::Exec { path: exe, source })
}

/// Makes the calling process a child subreaper (`PR_SET_CHILD_SUBREAPER`): its orphaned descendants are
/// re-parented to it instead of to PID 1, so it can find them by parent pid and reap them.
///
/// The flag belongs to the whole process and is inherited by no child.
pub fn set_child_subreaper() -> Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|source| ReaperError::Os { action: "make this process a child subreaper", source })
}

/// Prepares `cmd` to start a process of the run `marker`: the marker in its environment, a process group
/// of its own (`setpgid(0, 0)`, so that `killpg` reaches everything it forks), and `SIGKILL` when its
/// parent dies (`PR_SET_PDEATHSIG`).
///
/// The child checks its parent right after the `prctl` and refuses to start (the spawn fails with
/// `ESRCH`) if the parent died before, since the signal would then never come. `PR_SET_PDEATHSIG` fires
/// when the *thread* that forked exits, not the process: spawn from a thread that lives as long as the
/// child should (the manager's main thread, or one dedicated spawner thread), never from a pool or a
/// scoped thread. The `pre_exec` hook makes the standard library fork and exec instead of using
/// `posix_spawn`.
pub fn mark_command<'c>(cmd: &'c mut Command, marker: &RunMarker) -> &'c mut Command {
    mark_command_with(cmd, marker, Signal::SIGKILL)
}

/// [`mark_command`] with `signal` instead of `SIGKILL` when the parent dies.
pub fn mark_command_with<'c>(cmd: &'c mut Command, marker: &RunMarker, signal: Signal) -> &'c mut Command {
    let (key, value) = marker.env_pair();
    cmd.env(key, value).process_group(0);
    let parent = nix::unistd::getpid();
    // SAFETY: the closure makes only async-signal-safe system calls (prctl, getppid) and never allocates.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(signal)?;
            if nix::unistd::getppid() != parent {
                return Err(Errno::ESRCH.into());
            }
            Ok(())
        })
    };
    cmd
}

/// Scan, kill and wait in rounds; `select` picks the pids from each table.
pub(super) fn execute(
    dry_run: bool,
    select: impl Fn(&[ProcEntry], &Caller) -> Vec<Pid>,
) -> Result<ReapReport> {
    let me = read_self()?;
    let caller = Caller { pid: me.pid, pid_ns: me.pid_ns };
    let mut report = ReapReport { dry_run, ..ReapReport::default() };
    let mut selected: BTreeMap<(Pid, Option<u64>), ProcEntry> = BTreeMap::new();
    let mut signalled: BTreeMap<Pid, Signalled> = BTreeMap::new();
    for _ in 0..ROUNDS {
        let table = read_table(Path::new(PROC))?;
        let pids: HashSet<Pid> = select(&table, &caller).into_iter().collect();
        let chosen: Vec<&ProcEntry> = table.iter().filter(|e| pids.contains(&e.pid)).collect();
        for e in &chosen {
            selected.entry((e.pid, e.start_time)).or_insert_with(|| (*e).clone());
        }
        if dry_run {
            break;
        }
        let mut waiting: BTreeMap<Pid, Signalled> = BTreeMap::new();
        // Zombies that are our own children only need reaping.
        for e in chosen.iter().filter(|e| e.is_zombie() && e.ppid == caller.pid) {
            waiting.insert(e.pid, Signalled { start_time: e.start_time, child: true });
        }
        let targets: Vec<&ProcEntry> = chosen
            .iter()
            .filter(|e| !e.is_zombie() && e.start_time.is_some())
            .filter(|e| signalled.get(&e.pid).is_none_or(|s| s.start_time != e.start_time))
            .copied()
            .collect();
        if targets.is_empty() && waiting.is_empty() {
            break;
        }
        // SIGTERM first, so that a process that cleans up (a launcher, a wrapper script) can; SIGKILL
        // to what is still running after the grace.
        let sent = kill_all(&table, &pids, &targets, me.pgid, Signal::SIGTERM, &mut report);
        for e in &sent {
            let s = Signalled { start_time: e.start_time, child: e.ppid == caller.pid };
            signalled.insert(e.pid, s);
            waiting.insert(e.pid, s);
        }
        settle(&mut waiting, TERM_GRACE, &mut report);
        let stubborn: Vec<&ProcEntry> =
            sent.iter().filter(|e| waiting.contains_key(&e.pid)).copied().collect();
        if !stubborn.is_empty() {
            kill_all(&table, &pids, &stubborn, me.pgid, Signal::SIGKILL, &mut report);
            settle(&mut waiting, GRACE, &mut report);
        }
        if targets.is_empty() {
            break;
        }
    }
    report.selected = selected.into_values().collect();
    report.signalled = signalled.keys().copied().collect();
    report.survivors =
        signalled.iter().filter(|(pid, s)| running(**pid, s.start_time)).map(|(p, _)| *p).collect();
    report.groups.sort_unstable();
    report.groups.dedup();
    report.reaped.sort_unstable();
    Ok(report)
}

/// A process the reaper signalled or waits for.
#[derive(Debug, Clone, Copy)]
struct Signalled {
    start_time: Option<u64>,
    /// Whether it is a child of the caller, which must reap it.
    child: bool,
}

/// Sends `signal` to the targets: to whole process groups where every process of the group in `table`
/// is selected (never the caller's group), and to each other target alone. Returns the targets that
/// were signalled.
fn kill_all<'t>(
    table: &[ProcEntry],
    selected: &HashSet<Pid>,
    targets: &[&'t ProcEntry],
    my_pgid: Pid,
    signal: Signal,
    report: &mut ReapReport,
) -> Vec<&'t ProcEntry> {
    let whole: BTreeSet<Pid> = targets
        .iter()
        .map(|e| e.pgid)
        .filter(|g| *g > 1 && *g != my_pgid)
        .filter(|g| table.iter().filter(|e| e.pgid == *g).all(|e| selected.contains(&e.pid)))
        .collect();
    let mut killed_groups = HashSet::new();
    for group in whole {
        // The group is still the scanned one if one of its scanned processes is still in it.
        if !targets.iter().any(|e| e.pgid == group && unchanged(e)) {
            continue;
        }
        match killpg(nix::unistd::Pid::from_raw(group), signal) {
            Ok(()) => {
                killed_groups.insert(group);
                report.groups.push(group);
            }
            Err(Errno::ESRCH) => {}
            Err(errno) => report.failed.push(KillFailure { pid: group, group: true, errno }),
        }
    }
    let mut sent = Vec::new();
    for e in targets {
        if killed_groups.contains(&e.pgid) {
            sent.push(*e);
            continue;
        }
        match kill_scanned(e, signal) {
            Ok(true) => sent.push(*e),
            Ok(false) | Err(Errno::ESRCH) => {}
            Err(errno) => report.failed.push(KillFailure { pid: e.pid, group: false, errno }),
        }
    }
    sent
}

/// Sends `signal` to the scanned process `e` and to no other: `Ok(false)` if its pid no longer names
/// it.
///
/// A pidfd pins the process its pid names when it is opened; if that process is still the scanned one
/// afterwards (same start time and group), the signal sent through the pidfd reaches it even if it dies
/// and its pid is reused in between. Kernels without pidfds (before 5.3) get a plain `kill` right after
/// the same check, which leaves a window of microseconds in which a whole wrap of the pid space would be
/// needed.
fn kill_scanned(e: &ProcEntry, signal: Signal) -> std::result::Result<bool, Errno> {
    let pidfd = match crate::pidfd::open(e.pid) {
        Ok(fd) => Some(fd),
        Err(Errno::ENOSYS | Errno::EPERM) => None,
        Err(errno) => return Err(errno),
    };
    if !unchanged(e) {
        return Ok(false);
    }
    match pidfd {
        Some(fd) => crate::pidfd::send_signal(&fd, signal).map(|()| true),
        None => kill(nix::unistd::Pid::from_raw(e.pid), signal).map(|()| true),
    }
}

/// Whether the process is still running, with the scanned start time and group.
fn unchanged(e: &ProcEntry) -> bool {
    match Process::new(e.pid).and_then(|p| p.stat()) {
        Ok(stat) => {
            Some(stat.starttime) == e.start_time && stat.pgrp == e.pgid && !matches!(stat.state, 'Z' | 'X')
        }
        Err(_) => false,
    }
}

/// Whether `pid` still names a running (not zombie) process that started at `start_time`.
pub(super) fn running(pid: Pid, start_time: Option<u64>) -> bool {
    match Process::new(pid).and_then(|p| p.stat()) {
        Ok(stat) => Some(stat.starttime) == start_time && !matches!(stat.state, 'Z' | 'X'),
        Err(_) => false,
    }
}

/// Whether a running process other than `leader` is in the process group `pgid` (a worker's leftovers
/// after the worker itself exited). A table that cannot be listed, or a process that cannot be read
/// (but did not vanish), counts as yes: the caller then waits out its grace period.
pub(crate) fn group_has_others(pgid: Pid, leader: Pid) -> bool {
    let Ok(processes) = procfs::process::all_processes() else { return true };
    processes.into_iter().any(|p| match p.and_then(|p| p.stat()) {
        Ok(stat) => stat.pid != leader && stat.pgrp == pgid && !matches!(stat.state, 'Z' | 'X'),
        Err(e) => !vanished(&e),
    })
}

/// Waits up to `grace` until every process in `waiting` is dead, reaping the caller's children; those
/// still running stay in `waiting`.
fn settle(waiting: &mut BTreeMap<Pid, Signalled>, grace: Duration, report: &mut ReapReport) {
    let deadline = Instant::now() + grace;
    loop {
        waiting.retain(|&pid, s| {
            if !s.child {
                return running(pid, s.start_time);
            }
            match waitpid(nix::unistd::Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => true,
                Ok(_) => {
                    report.reaped.push(pid);
                    false
                }
                // ECHILD: someone else reaped it, or it is no child of ours after all.
                Err(_) => false,
            }
        });
        if waiting.is_empty() || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kill_reaches_the_scanned_process_and_no_other() {
        let mut child = Command::new("sleep").arg("60").spawn().unwrap();
        let pid = Pid::try_from(child.id()).unwrap();
        let table = read_table(Path::new(PROC)).unwrap();
        let scanned = table.into_iter().find(|e| e.pid == pid).unwrap();
        // The same pid with another start time is another process: it is left alone.
        let other = ProcEntry { start_time: scanned.start_time.map(|t| t + 1), ..scanned.clone() };
        assert_eq!(kill_scanned(&other, Signal::SIGKILL), Ok(false));
        assert_eq!(child.try_wait().unwrap(), None, "the wrong process was killed");
        assert_eq!(kill_scanned(&scanned, Signal::SIGKILL), Ok(true));
        let status = child.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));
        // Once it is gone (and reaped), its pid names nothing to kill.
        assert!(matches!(kill_scanned(&scanned, Signal::SIGKILL), Err(Errno::ESRCH) | Ok(false)));
    }

    /// Writes a fake `/proc/PID` directory with a `stat` line and an `environ`.
    fn fake_process(root: &Path, pid: Pid, ppid: Pid, pgid: Pid, state: char, environ: Option<&[u8]>) {
        let dir = root.join(pid.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        // The fields after the tpgid, from a real `stat` line, with the start time 4242.
        let rest = "4194304 98 0 0 0 0 0 0 0 20 0 1 0 4242 3133440 363 18446744073709551615 \
                    1 2 3 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 4 5 6 7 8 8 9 0";
        let stat = format!("{pid} (fake {pid}) {state} {ppid} {pgid} {pgid} 0 -1 {rest}\n");
        std::fs::write(dir.join("stat"), stat).unwrap();
        if let Some(environ) = environ {
            std::fs::write(dir.join("environ"), environ).unwrap();
        }
    }

    #[test]
    fn a_fake_proc_root_is_read_with_markers_and_vanished_processes_left_out() {
        let root = tempfile::tempdir().unwrap();
        fake_process(root.path(), 300, 1, 300, 'S', Some(b"HOME=/root\0GLOMPO_RUN=77.1234.77.5\0X=1\0"));
        fake_process(root.path(), 301, 300, 300, 'S', Some(b"GLOMPO_RUN=not a marker\0"));
        fake_process(root.path(), 302, 300, 300, 'Z', Some(b"GLOMPO_RUN=77.1234.77.5\0"));
        fake_process(root.path(), 303, 1, 303, 'S', None);
        // A directory without files is a process that vanished after the listing.
        std::fs::create_dir(root.path().join("304")).unwrap();
        std::fs::create_dir(root.path().join("self-not-a-pid")).unwrap();
        let mut table = read_table(root.path()).unwrap();
        table.sort_by_key(|e| e.pid);
        let marker = RunMarker { pid: 77, start_time: 1234, pgid: 77, pid_ns: 5 };
        let got: Vec<_> =
            table.iter().map(|e| (e.pid, e.ppid, e.pgid, e.start_time, e.state, e.marker)).collect();
        assert_eq!(
            got,
            [
                (300, 1, 300, Some(4242), 'S', Some(marker)),
                (301, 300, 300, Some(4242), 'S', None),
                (302, 300, 300, Some(4242), 'Z', None),
                (303, 1, 303, Some(4242), 'S', None),
            ]
        );
        assert_eq!(table[0].comm, "fake 300");
    }

    #[test]
    fn a_missing_proc_root_is_an_error_that_names_it() {
        let err = read_table(Path::new("/nonexistent/proc")).unwrap_err();
        assert_eq!(err.to_string(), "cannot read /nonexistent/proc");
    }

    #[test]
    fn the_real_table_holds_the_calling_process_with_its_start_time() {
        let me = read_self().unwrap();
        let table = read_table(Path::new(PROC)).unwrap();
        let entry = table.iter().find(|e| e.pid == me.pid).unwrap();
        assert_eq!(entry.start_time, Some(me.start_time));
        assert_eq!(entry.pgid, me.pgid);
        assert!(table.iter().any(|e| e.pid == 1));
    }
}
