//! Cgroups: a run contained in one, so that what left the run's process groups and dropped its marker
//! (`setsid env -i …`) is still found, by membership.
//!
//! A manager that may create cgroups makes one named after its run marker (`glompo-PID.START.PGID.NS`)
//! as a child of its own cgroup, in the first hierarchy that lets it: the unified one (cgroup v2), else
//! the v1 `freezer` hierarchy, else the v1 `pids` one. It moves itself in, so every process it starts
//! from then on is a member, whatever it does to its session, group or environment; only a process
//! with the right to write `cgroup.procs` can leave. The keeper kills the members when the manager dies
//! without saying `done`, a normal end kills what is left and removes the cgroup, and [`super::reap`]
//! removes those of dead runs. `README.md` beside this file says what this covers and what not.
//!
//! The parsing of `/proc/self/mountinfo` and `/proc/PID/cgroup` is pure and unit-tested; the rest
//! writes to the cgroup file system.

use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use procfs::process::Process;

use super::linux::{KillFailure, ReapReport, TERM_GRACE, read_self, read_table, running};
use super::marker::RunMarker;
use super::scan::Pid;
use super::{ReaperError, Result};

/// The start of a run's cgroup name; the rest is the run's marker.
const PREFIX: &str = "glompo-";
/// How long the killing goes on, after the grace, until the cgroup is empty.
const KILL_FOR: Duration = Duration::from_secs(1);
/// How long to wait for a cgroup to report that it froze.
const FREEZE_WAIT: Duration = Duration::from_millis(100);
/// How often to look while waiting.
const POLL: Duration = Duration::from_millis(5);
/// How deep the search for the cgroups of dead runs goes below a hierarchy's mount point.
const MAX_DEPTH: usize = 32;

/// The kinds of cgroup hierarchy a run can be contained in, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupKind {
    /// The unified hierarchy (cgroup v2): `cgroup.kill` kills every member at once, so none can fork
    /// while it is killed.
    Unified,
    /// The v1 `freezer` hierarchy: the members are frozen, killed and thawed, so none can fork while
    /// they are killed.
    Freezer,
    /// The v1 `pids` hierarchy: the members are killed in rounds until none is left.
    Pids,
}

/// One cgroup hierarchy as the calling process sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Hierarchy {
    pub(super) kind: CgroupKind,
    /// Where it is mounted.
    pub(super) mount: PathBuf,
    /// The cgroup at the mount's root, as `/proc/PID/cgroup` writes paths (`/` unless the mount shows
    /// only a subtree).
    pub(super) mount_root: String,
    /// The calling process's own cgroup.
    pub(super) own: String,
}

impl Hierarchy {
    /// The directory of the cgroup `path`, if the mount shows it.
    pub(super) fn dir(&self, path: &str) -> Option<PathBuf> {
        let rest = below(path, &self.mount_root)?;
        Some(if rest.is_empty() { self.mount.clone() } else { self.mount.join(rest) })
    }

    /// The cgroup path of the directory `dir` under the mount.
    fn path_of(&self, dir: &Path) -> Option<String> {
        let rest = dir.strip_prefix(&self.mount).ok()?.to_str()?;
        Some(join(&self.mount_root, rest))
    }
}

/// The part of `path` below `root`, without a leading `/`: `Some("")` for `root` itself, `None` if
/// `path` is not `root` or below it.
fn below<'p>(path: &'p str, root: &str) -> Option<&'p str> {
    let root = root.trim_end_matches('/');
    let rest = path.strip_prefix(root)?;
    if rest.is_empty() {
        return Some("");
    }
    rest.strip_prefix('/')
}

/// `parent/child` as a cgroup path.
fn join(parent: &str, child: &str) -> String {
    let parent = parent.trim_end_matches('/');
    if child.is_empty() {
        if parent.is_empty() { "/".into() } else { parent.into() }
    } else {
        format!("{parent}/{child}")
    }
}

/// Undoes the octal escapes (`\040` for a space) of a path in `mountinfo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The hierarchies a run can be contained in, in the order of [`CgroupKind`], from the texts of
/// `/proc/self/mountinfo` and `/proc/self/cgroup`. Read-only mounts and mounts that do not show the
/// process's own cgroup are left out.
pub(super) fn hierarchies(mountinfo: &str, cgroups: &str) -> Vec<Hierarchy> {
    let mut found = Vec::new();
    for kind in [CgroupKind::Unified, CgroupKind::Freezer, CgroupKind::Pids] {
        let Some(own) = own_cgroup(cgroups, kind) else { continue };
        let mount = mountinfo.lines().find_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let fields: Vec<&str> = before.split(' ').collect();
            let (root, point, options) = (fields.get(3)?, fields.get(4)?, fields.get(5)?);
            let mut rest = after.split(' ');
            let (fstype, _source, super_options) = (rest.next()?, rest.next()?, rest.next()?);
            let fits = match kind {
                CgroupKind::Unified => fstype == "cgroup2",
                CgroupKind::Freezer => fstype == "cgroup" && super_options.split(',').any(|o| o == "freezer"),
                CgroupKind::Pids => fstype == "cgroup" && super_options.split(',').any(|o| o == "pids"),
            };
            let root = unescape(root);
            let writable = options.split(',').any(|o| o == "rw");
            (fits && writable && below(&own, &root).is_some()).then(|| (PathBuf::from(unescape(point)), root))
        });
        if let Some((mount, mount_root)) = mount {
            found.push(Hierarchy { kind, mount, mount_root, own });
        }
    }
    found
}

/// The name of the cgroup of `run`.
pub(super) fn name_of(run: &RunMarker) -> String {
    format!("{PREFIX}{run}")
}

/// The run a cgroup is named after, if it is a run's cgroup.
pub(super) fn run_of(name: &str) -> Option<RunMarker> {
    RunMarker::parse(name.strip_prefix(PREFIX)?)
}

/// Whether the text of a `/proc/PID/cgroup` puts the process in the cgroup `path` of the hierarchy of
/// `kind`, or below it.
pub(super) fn is_member(cgroups: &str, kind: CgroupKind, path: &str) -> bool {
    let Some(own) = own_cgroup(cgroups, kind) else { return false };
    below(&own, path).is_some()
}

/// The process's cgroup in the hierarchy of `kind`, from the text of its `/proc/PID/cgroup`.
fn own_cgroup(cgroups: &str, kind: CgroupKind) -> Option<String> {
    cgroups.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (id, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let matches = match kind {
            CgroupKind::Unified => id == "0" && controllers.is_empty(),
            CgroupKind::Freezer => controllers.split(',').any(|c| c == "freezer"),
            CgroupKind::Pids => controllers.split(',').any(|c| c == "pids"),
        };
        matches.then(|| path.to_owned())
    })
}

/// The hierarchies of the calling process; none on a kernel without cgroups.
fn own_hierarchies() -> Result<Vec<Hierarchy>> {
    let read = |path: &str| match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ReaperError::Io { path: path.into(), source }),
    };
    match (read("/proc/self/mountinfo")?, read("/proc/self/cgroup")?) {
        (Some(mounts), Some(cgroups)) => Ok(hierarchies(&mounts, &cgroups)),
        _ => Ok(Vec::new()),
    }
}

/// The cgroup a run is contained in; see the module documentation.
#[derive(Debug)]
pub struct RunCgroup {
    hierarchy: Hierarchy,
    run: RunMarker,
    /// Its cgroup path, as `/proc/PID/cgroup` writes it.
    path: String,
    dir: PathBuf,
    /// The `cgroup.procs` of the cgroup the manager came from.
    origin: PathBuf,
}

impl RunCgroup {
    /// Creates the cgroup of `run` as a child of the caller's own cgroup, in the first hierarchy that
    /// lets it (see [`CgroupKind`]), and moves the calling process into it: everything it starts from
    /// then on is a member.
    ///
    /// Call it before the process starts threads or children that should be members (a process that
    /// already runs stays where it is). The error says, for each hierarchy tried, why it did not work.
    pub fn create(run: &RunMarker) -> Result<RunCgroup> {
        let name = name_of(run);
        let mut reasons = Vec::new();
        let found = own_hierarchies()?;
        if found.is_empty() {
            reasons.push("no writable cgroup hierarchy (unified, freezer or pids) is mounted".to_owned());
        }
        for hierarchy in found {
            let Some(parent) = hierarchy.dir(&hierarchy.own) else { continue };
            let dir = parent.join(&name);
            match fs::create_dir(&dir) {
                Ok(()) => {}
                // Named after this very run: made by an earlier attempt of the same process.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => {
                    reasons.push(format!("cannot create {}: {e}", dir.display()));
                    continue;
                }
            }
            match fs::write(dir.join("cgroup.procs"), "0") {
                Ok(()) => {
                    let path = join(&hierarchy.own, &name);
                    let origin = parent.join("cgroup.procs");
                    return Ok(RunCgroup { hierarchy, run: *run, path, dir, origin });
                }
                Err(e) => {
                    reasons.push(format!("cannot move into {}: {e}", dir.display()));
                    if let Err(e) = fs::remove_dir(&dir) {
                        reasons.push(format!("cannot remove {} again: {e}", dir.display()));
                    }
                }
            }
        }
        Err(ReaperError::NoCgroup { reasons: reasons.join("; ") })
    }

    /// The cgroup's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The kind of hierarchy it is in.
    pub fn kind(&self) -> CgroupKind {
        self.hierarchy.kind
    }

    /// Ends the containment at a normal end of the run: moves the calling process back to the cgroup
    /// it came from, ends every process still in the run's cgroup (`SIGTERM`, then `SIGKILL` after
    /// [`TERM_GRACE`]) and removes the cgroup. Call it after the manager's own shutdown sweep.
    pub fn remove(self) -> Result<ReapReport> {
        fs::write(&self.origin, "0")
            .map_err(|source| ReaperError::Io { path: self.origin.clone(), source })?;
        let found = Found { hierarchy: self.hierarchy, run: self.run, path: self.path, dir: self.dir };
        let mut report = ReapReport::default();
        found.end(&lineage()?, &mut report)?;
        Ok(report)
    }
}

/// A run's cgroup found on the system.
#[derive(Debug)]
struct Found {
    hierarchy: Hierarchy,
    run: RunMarker,
    path: String,
    dir: PathBuf,
}

/// Which runs' cgroups [`reap_cgroups`] takes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Runs<'r> {
    /// Every run whose manager is gone. A zombie manager counts as alive, as for the scan (see
    /// `README.md`, "Liveness").
    AllDead,
    /// The run, if its manager is gone (as [`Runs::AllDead`]).
    OneDead(&'r RunMarker),
    /// The run, once its manager no longer runs (a zombie counts as gone): the keeper's view.
    Ended(&'r RunMarker),
}

impl Runs<'_> {
    /// Whether the cgroup of `run` is to be taken.
    fn take(self, run: &RunMarker) -> bool {
        // The manager exists if its pid names a process with its start time, zombie or not; one whose
        // stat cannot be read might be it.
        let exists = || match Process::new(run.pid).and_then(|p| p.stat()) {
            Ok(stat) => stat.starttime == run.start_time,
            Err(procfs::ProcError::NotFound(_)) => false,
            Err(_) => true,
        };
        match self {
            Runs::AllDead => !exists(),
            Runs::OneDead(only) => only == run && !exists(),
            Runs::Ended(only) => only == run && !running(run.pid, Some(run.start_time)),
        }
    }
}

/// Ends the processes in the cgroups of the `runs` and removes those cgroups (with `dry_run`, only
/// lists them and their processes), in every hierarchy the caller sees. The cgroup of a live run, or
/// of a run in another pid namespace, is never touched, nor is the caller or one of its ancestors.
pub(super) fn reap_cgroups(dry_run: bool, runs: Runs<'_>) -> Result<ReapReport> {
    let me = read_self()?;
    let mut report = ReapReport { dry_run, ..ReapReport::default() };
    let mut found = Vec::new();
    for hierarchy in own_hierarchies()? {
        let mut dirs = Vec::new();
        walk(&hierarchy.mount, 0, &mut dirs);
        for dir in dirs {
            let Some(run) = dir.file_name().and_then(|n| n.to_str()).and_then(run_of) else { continue };
            if run.pid_ns != me.pid_ns || !runs.take(&run) {
                continue;
            }
            if let Some(path) = hierarchy.path_of(&dir) {
                found.push(Found { hierarchy: hierarchy.clone(), run, path, dir });
            }
        }
    }
    if found.is_empty() {
        return Ok(report);
    }
    let lineage = lineage()?;
    let mut members = BTreeSet::new();
    for f in &found {
        members.extend(f.members(&lineage)?);
    }
    report.selected =
        read_table(Path::new("/proc"))?.into_iter().filter(|e| members.contains(&e.pid)).collect();
    if dry_run {
        report.cgroups = found.into_iter().map(|f| f.dir).collect();
        return Ok(report);
    }
    // The deepest first: a dead run's cgroup inside another dead run's is gone by the time the outer
    // one is removed.
    found.sort_by_key(|f| std::cmp::Reverse(f.dir.components().count()));
    let mut first_error = None;
    for f in found {
        let dir = f.dir.clone();
        if !dir.exists() {
            continue;
        }
        if let Err(e) = f.end(&lineage, &mut report) {
            first_error.get_or_insert(e);
        }
    }
    report.signalled.sort_unstable();
    report.signalled.dedup();
    match first_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Collects the directories below `dir` (not `dir` itself), at most [`MAX_DEPTH`] levels down. A
/// directory that cannot be listed (it vanished, or is not ours to read) is skipped: what it holds is
/// not ours to reap either.
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let path = entry.path();
            out.push(path.clone());
            walk(&path, depth + 1, out);
        }
    }
}

/// The calling process and its ancestors, which are never signalled.
fn lineage() -> Result<BTreeSet<Pid>> {
    let me = read_self()?;
    let mut pids = BTreeSet::from([me.pid]);
    let mut pid = me.pid;
    // A parent chain is short; the bound only guards against a table that changes under the walk.
    for _ in 0..64 {
        match Process::new(pid).and_then(|p| p.stat()) {
            Ok(stat) if stat.ppid > 0 => {
                pids.insert(stat.ppid);
                pid = stat.ppid;
            }
            _ => break,
        }
    }
    Ok(pids)
}

impl Found {
    /// The directories of the cgroup and its descendants, deepest first, without the subtrees of
    /// other runs that are alive (a nested run is not this run's to kill); and whether any was left
    /// out.
    fn tree(&self) -> (Vec<PathBuf>, bool) {
        let mut all = Vec::new();
        walk(&self.dir, 0, &mut all);
        let live: Vec<PathBuf> = all
            .iter()
            .filter(|d| {
                d.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(run_of)
                    .is_some_and(|run| run != self.run && running(run.pid, Some(run.start_time)))
            })
            .cloned()
            .collect();
        let mut tree: Vec<PathBuf> =
            all.into_iter().filter(|d| !live.iter().any(|l| d.starts_with(l))).collect();
        tree.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        tree.push(self.dir.clone());
        (tree, !live.is_empty())
    }

    /// The processes in the cgroup and its descendants (not the subtrees of live runs), except
    /// `spared`.
    fn members(&self, spared: &BTreeSet<Pid>) -> Result<BTreeSet<Pid>> {
        let (tree, _) = self.tree();
        let mut pids = BTreeSet::new();
        for dir in tree {
            let file = dir.join("cgroup.procs");
            match fs::read_to_string(&file) {
                Ok(text) => pids.extend(
                    text.lines().filter_map(|l| l.trim().parse::<Pid>().ok()).filter(|p| !spared.contains(p)),
                ),
                // A cgroup removed meanwhile holds nothing.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(source) => return Err(ReaperError::Io { path: file, source }),
            }
        }
        Ok(pids)
    }

    /// Ends every member (`SIGTERM`, up to [`TERM_GRACE`], then `SIGKILL` until none is left), reaps
    /// those that are the caller's children, and removes the cgroup and its descendants.
    fn end(self, lineage: &BTreeSet<Pid>, report: &mut ReapReport) -> Result<()> {
        let (_, nested_live) = self.tree();
        let spared_inside = !self.members(&BTreeSet::new())?.is_disjoint(lineage);
        // Freezing or `cgroup.kill` would reach a live nested run or the caller's own line too.
        let whole = !nested_live && !spared_inside;
        let mut signalled = BTreeSet::new();
        for pid in self.members(lineage)? {
            self.signal(pid, Signal::SIGTERM, &mut signalled, report);
        }
        let deadline = Instant::now() + TERM_GRACE;
        while !self.members(lineage)?.is_empty() && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        let deadline = Instant::now() + KILL_FOR;
        loop {
            let left = self.members(lineage)?;
            if left.is_empty() || Instant::now() >= deadline {
                report.survivors.extend(left);
                break;
            }
            if whole && self.kill_whole() {
                // Every member at once, forks included.
                signalled.extend(left);
            } else if whole && self.freeze(true) {
                for pid in self.members(lineage)? {
                    self.signal(pid, Signal::SIGKILL, &mut signalled, report);
                }
                self.freeze(false);
            } else {
                for pid in left {
                    self.signal(pid, Signal::SIGKILL, &mut signalled, report);
                }
            }
            let settle = Instant::now() + Duration::from_millis(100);
            while !self.members(lineage)?.is_empty() && Instant::now() < settle {
                std::thread::sleep(POLL);
            }
        }
        for &pid in &signalled {
            // The caller's own children (a manager is a subreaper) must be reaped; ECHILD means they
            // are someone else's.
            if let Ok(status) = waitpid(nix::unistd::Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG))
                && status != WaitStatus::StillAlive
            {
                report.reaped.push(pid);
            }
        }
        report.signalled.extend(signalled);
        self.remove_tree(report)
    }

    /// Kills every member with `cgroup.kill` (cgroup v2, Linux 5.14); `false` where that cannot be
    /// done, and the caller kills the members one by one.
    fn kill_whole(&self) -> bool {
        self.hierarchy.kind == CgroupKind::Unified && fs::write(self.dir.join("cgroup.kill"), "1").is_ok()
    }

    /// Freezes (`true`) or thaws the cgroup; whether it is frozen now (or thawed). A hierarchy without
    /// a freezer answers `false`, and so does a cgroup that does not freeze in time, which is thawed
    /// again: frozen v1 members could not die.
    fn freeze(&self, frozen: bool) -> bool {
        let (file, value, done): (PathBuf, &str, Box<dyn Fn() -> bool>) = match self.hierarchy.kind {
            CgroupKind::Unified => {
                let events = self.dir.join("cgroup.events");
                let want = if frozen { "frozen 1" } else { "frozen 0" };
                let done = move || fs::read_to_string(&events).is_ok_and(|t| t.lines().any(|l| l == want));
                (self.dir.join("cgroup.freeze"), if frozen { "1" } else { "0" }, Box::new(done))
            }
            CgroupKind::Freezer => {
                let state = self.dir.join("freezer.state");
                let want = if frozen { "FROZEN" } else { "THAWED" };
                let done = move || fs::read_to_string(&state).is_ok_and(|t| t.trim() == want);
                (self.dir.join("freezer.state"), want, Box::new(done))
            }
            CgroupKind::Pids => return false,
        };
        if fs::write(&file, value).is_err() {
            return false;
        }
        let deadline = Instant::now() + FREEZE_WAIT;
        while !done() {
            if Instant::now() >= deadline {
                if frozen {
                    self.freeze(false);
                }
                return false;
            }
            std::thread::sleep(POLL);
        }
        true
    }

    /// Sends `signal` to the member `pid`, through a pidfd after checking that the process it pins is
    /// still a member, so that a reused pid is never signalled.
    fn signal(&self, pid: Pid, signal: Signal, signalled: &mut BTreeSet<Pid>, report: &mut ReapReport) {
        let pidfd = match crate::pidfd::open(pid) {
            Ok(fd) => Some(fd),
            Err(Errno::ENOSYS | Errno::EPERM) => None,
            Err(Errno::ESRCH) => return,
            Err(errno) => {
                report.failed.push(KillFailure { pid, group: false, errno });
                return;
            }
        };
        let member = fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .is_ok_and(|text| is_member(&text, self.hierarchy.kind, &self.path));
        if !member {
            return;
        }
        let sent = match &pidfd {
            Some(fd) => crate::pidfd::send_signal(fd, signal),
            None => kill(nix::unistd::Pid::from_raw(pid), signal),
        };
        match sent {
            Ok(()) => {
                signalled.insert(pid);
            }
            Err(Errno::ESRCH) => {}
            Err(errno) => report.failed.push(KillFailure { pid, group: false, errno }),
        }
    }

    /// Removes the cgroup and its descendants, the deepest first.
    fn remove_tree(self, report: &mut ReapReport) -> Result<()> {
        let (tree, _) = self.tree();
        let mut first_error = None;
        for dir in tree {
            match fs::remove_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(source) => {
                    first_error.get_or_insert(ReaperError::Io { path: dir, source });
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => {
                report.cgroups.push(self.dir);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTS: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids ro,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const HYBRID_CGROUPS: &str = "\
8:pids:/
6:freezer:/jobs
4:memory:/process_api/dd34
0::/
";

    #[test]
    fn hierarchies_are_found_in_order_with_the_own_cgroup_and_read_only_mounts_left_out() {
        let found = hierarchies(HYBRID_MOUNTS, HYBRID_CGROUPS);
        let kinds: Vec<CgroupKind> = found.iter().map(|h| h.kind).collect();
        assert_eq!(kinds, [CgroupKind::Unified, CgroupKind::Freezer]);
        assert_eq!(found[0].dir(&found[0].own), Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert_eq!(found[1].dir(&found[1].own), Some(PathBuf::from("/sys/fs/cgroup/freezer/jobs")));
        let dir = Path::new("/sys/fs/cgroup/freezer/jobs/glompo-1.2.3.4");
        assert_eq!(found[1].path_of(dir).as_deref(), Some("/jobs/glompo-1.2.3.4"));
        assert_eq!(found[0].path_of(Path::new("/sys/fs/cgroup/unified")).as_deref(), Some("/"));
    }

    #[test]
    fn a_mount_of_a_subtree_maps_paths_below_its_root_and_escapes_are_undone() {
        let mounts =
            "50 40 0:40 /user.slice/u\\0401 /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let found = hierarchies(mounts, "0::/user.slice/u 1/app.scope\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].mount_root, "/user.slice/u 1");
        assert_eq!(found[0].dir(&found[0].own), Some(PathBuf::from("/sys/fs/cgroup/app.scope")));
        // A process outside the mount's subtree cannot use it.
        assert!(hierarchies(mounts, "0::/system.slice/x\n").is_empty());
        // A pure v1 system without freezer or pids has nothing to offer.
        assert!(hierarchies(HYBRID_MOUNTS, "4:memory:/\n").is_empty());
    }

    #[test]
    fn names_carry_the_run_and_membership_reaches_below() {
        let run = RunMarker { pid: 42, start_time: 7, pgid: 40, pid_ns: 99 };
        assert_eq!(name_of(&run), "glompo-42.7.40.99");
        assert_eq!(run_of(&name_of(&run)), Some(run));
        assert_eq!(run_of("glompo-probe"), None);
        assert_eq!(run_of("42.7.40.99"), None);
        let text = "6:freezer:/jobs/glompo-42.7.40.99/inner\n0::/glompo-42.7.40.99\n";
        assert!(is_member(text, CgroupKind::Unified, "/glompo-42.7.40.99"));
        assert!(is_member(text, CgroupKind::Freezer, "/jobs/glompo-42.7.40.99"));
        assert!(!is_member(text, CgroupKind::Freezer, "/jobs/glompo-42.7.40.9"));
        assert!(!is_member(text, CgroupKind::Pids, "/"));
        assert!(is_member("0::/\n", CgroupKind::Unified, "/"));
    }
}
