//! Pure selection: which processes of a process table belong to runs whose manager is gone.
//!
//! Nothing here touches the system. The functions take a table of [`ProcEntry`] (what `/proc` showed)
//! and the [`Caller`] (who is asking) and return sorted, de-duplicated pids. The rules are spelt out on
//! [`orphans`] and in `README.md`; the unit and property tests are in `test.rs`.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::marker::RunMarker;

/// A raw process id, as `/proc` and `getpid` give it.
pub type Pid = i32;

/// One process as the process table showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcEntry {
    /// Its process id.
    pub pid: Pid,
    /// Its parent's process id (0 if unknown).
    pub ppid: Pid,
    /// Its process group id (0 if unknown).
    pub pgid: Pid,
    /// Its start time in clock ticks since boot, or `None` if its `stat` file could not be read.
    pub start_time: Option<u64>,
    /// Its state letter from `stat` (`R`, `S`, `D`, `Z`, …; `?` if unknown).
    pub state: char,
    /// Its command name from `stat`, for reports.
    pub comm: String,
    /// The run marker in its environment, if it has one that parses and its environment is readable.
    pub marker: Option<RunMarker>,
}

impl ProcEntry {
    /// A process that exists but whose `stat` could not be read.
    ///
    /// Such a process is never selected, and a run whose manager pid it has counts as alive: the
    /// reaper cannot tell it from the manager.
    pub fn unreadable(pid: Pid) -> ProcEntry {
        ProcEntry { pid, ppid: 0, pgid: 0, start_time: None, state: '?', comm: String::new(), marker: None }
    }

    /// Whether the process has exited and waits to be reaped by its parent (state `Z` or `X`).
    pub fn is_zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// The process that asks: it is never selected, nor is any of its ancestors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The caller's pid.
    pub pid: Pid,
    /// The inode of the caller's pid namespace: runs marked with another namespace are left alone.
    pub pid_ns: u64,
}

/// The pids of every process that belongs to a dead run and to no live one, sorted.
///
/// A run is a distinct [`RunMarker`] found in the table. It is **foreign** when its pid namespace is not
/// the caller's, **alive** when the table holds a process with the manager's pid whose start time is the
/// marker's (or unreadable), and **dead** otherwise. The **members** of a run are:
///
/// 1. the processes that carry its marker;
/// 2. the processes of every **run group** of it: a process group `G > 1` that holds a marked process
///    of the run, is neither the manager's pid nor the manager's group from the marker, whose leader
///    (the process with pid `G`) is gone, a zombie or marked with the run, and all of whose processes
///    started no earlier than the manager and carry no other run's marker;
/// 3. while the manager lives, its children;
/// 4. every descendant (by parent pid) of the above,
///
/// never the manager itself. A process is **protected** if it is pid 0 or 1, the caller, an ancestor of
/// the caller, the manager of a live run, or a member of a live or foreign run. The result is the
/// members of dead runs that are not protected. It does not depend on the order of the table.
///
/// ```
/// use glompo_backends::reaper::scan::{Caller, ProcEntry, orphans};
/// use glompo_backends::reaper::RunMarker;
///
/// let dead = RunMarker { pid: 50, start_time: 1000, pgid: 50, pid_ns: 7 };
/// let entry = |pid, ppid, pgid, marker| ProcEntry {
///     pid, ppid, pgid, start_time: Some(2000), state: 'S', comm: "sleep".into(), marker,
/// };
/// let table = vec![
///     entry(1, 0, 1, None),
///     entry(10, 1, 10, None),              // the caller: a shell
///     entry(60, 1, 60, Some(dead)),        // an optimizer of the dead run
///     entry(61, 60, 60, None),             // its forked worker
///     entry(70, 10, 70, None),             // unrelated
/// ];
/// assert_eq!(orphans(&table, &Caller { pid: 10, pid_ns: 7 }), [60, 61]);
/// ```
pub fn orphans(table: &[ProcEntry], caller: &Caller) -> Vec<Pid> {
    let index = Index::new(table);
    let protected = index.protected(caller, None);
    let mut out = BTreeSet::new();
    for run in index.runs() {
        if index.status(&run, caller) == Status::Dead {
            out.extend(index.members(&run, caller).into_iter().filter(|pid| !protected.contains(pid)));
        }
    }
    out.into_iter().collect()
}

/// The part of [`orphans`] that belongs to one run: empty unless `run` is dead.
///
/// Tests use it to reap only what they planted; a user can use it to reap one known run.
pub fn orphans_of_run(table: &[ProcEntry], caller: &Caller, run: &RunMarker) -> Vec<Pid> {
    let index = Index::new(table);
    if index.status(run, caller) != Status::Dead {
        return Vec::new();
    }
    index.unprotected_members(run, caller, None)
}

/// Like [`orphans_of_run`], for a run whose manager is known to have ended (its keeper saw it go, see
/// [`crate::reaper::serve_keeper`]): a zombie manager counts as dead here, since it can manage nothing
/// and its pid cannot be reused while it is a zombie. Empty while the manager still runs.
pub fn orphans_of_ended_run(table: &[ProcEntry], caller: &Caller, run: &RunMarker) -> Vec<Pid> {
    let index = Index::new(table);
    let running = index.managers(run).any(|e| !e.is_zombie());
    if run.pid_ns != caller.pid_ns || running {
        return Vec::new();
    }
    index.unprotected_members(run, caller, Some(run))
}

/// A live manager's shutdown sweep: every descendant of the caller and every member of the caller's own
/// run `own` (see [`orphans`]), never pid 0 or 1, the caller or its ancestors.
///
/// The members of the run that are not descendants are the ones that escaped the tree (re-parented to
/// PID 1 because the manager was not a subreaper when their parent died).
pub fn sweep(table: &[ProcEntry], caller: &Caller, own: &RunMarker) -> Vec<Pid> {
    let index = Index::new(table);
    let spared = index.caller_and_ancestors(caller);
    let mut out: BTreeSet<Pid> = index.descendants(caller.pid).into_iter().collect();
    out.extend(index.members(own, caller));
    out.retain(|pid| *pid > 1 && !spared.contains(pid));
    out.into_iter().collect()
}

/// Every descendant of `root` by parent pid (not `root` itself, never pid 0 or 1), sorted.
pub fn descendants(table: &[ProcEntry], root: Pid) -> Vec<Pid> {
    let out: BTreeSet<Pid> = Index::new(table).descendants(root).into_iter().filter(|pid| *pid > 1).collect();
    out.into_iter().collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Alive,
    Foreign,
    Dead,
}

/// The table with lookups by pid, parent and group.
struct Index<'a> {
    table: &'a [ProcEntry],
    by_pid: HashMap<Pid, Vec<&'a ProcEntry>>,
    children: HashMap<Pid, Vec<Pid>>,
    groups: HashMap<Pid, Vec<&'a ProcEntry>>,
}

impl<'a> Index<'a> {
    fn new(table: &'a [ProcEntry]) -> Self {
        let mut index =
            Index { table, by_pid: HashMap::new(), children: HashMap::new(), groups: HashMap::new() };
        for entry in table {
            index.by_pid.entry(entry.pid).or_default().push(entry);
            index.children.entry(entry.ppid).or_default().push(entry.pid);
            index.groups.entry(entry.pgid).or_default().push(entry);
        }
        index
    }

    fn with_pid(&self, pid: Pid) -> impl Iterator<Item = &'a ProcEntry> + '_ {
        self.by_pid.get(&pid).into_iter().flatten().copied()
    }

    /// The distinct markers of the table, in a fixed order.
    fn runs(&self) -> BTreeSet<RunMarker> {
        self.table.iter().filter_map(|e| e.marker).collect()
    }

    fn status(&self, run: &RunMarker, caller: &Caller) -> Status {
        if run.pid_ns != caller.pid_ns {
            Status::Foreign
        } else if self.managers(run).next().is_some() {
            Status::Alive
        } else {
            Status::Dead
        }
    }

    /// The processes that may be the run's manager: its pid with its start time, or an unknown one.
    fn managers(&self, run: &RunMarker) -> impl Iterator<Item = &'a ProcEntry> + '_ {
        let run = *run;
        self.with_pid(run.pid).filter(move |e| e.start_time.is_none_or(|s| s == run.start_time))
    }

    fn is_run_group(&self, run: &RunMarker, group: Pid) -> bool {
        group > 1
            && group != run.pgid
            && group != run.pid
            && self.with_pid(group).all(|leader| leader.marker == Some(*run) || leader.is_zombie())
            && self.groups.get(&group).into_iter().flatten().all(|e| {
                e.start_time.is_some_and(|s| s >= run.start_time) && e.marker.is_none_or(|m| m == *run)
            })
    }

    /// The members of a run (see [`orphans`]).
    fn members(&self, run: &RunMarker, caller: &Caller) -> HashSet<Pid> {
        let marked: Vec<&ProcEntry> = self.table.iter().filter(|e| e.marker == Some(*run)).collect();
        let groups: BTreeSet<Pid> = marked.iter().map(|e| e.pgid).collect();
        let mut seeds: Vec<Pid> = marked.iter().map(|e| e.pid).collect();
        for group in groups.into_iter().filter(|g| self.is_run_group(run, *g)) {
            seeds.extend(self.groups.get(&group).into_iter().flatten().map(|e| e.pid));
        }
        let manager_lives = run.pid_ns == caller.pid_ns && self.managers(run).next().is_some();
        if manager_lives {
            seeds.extend(self.children.get(&run.pid).into_iter().flatten());
        }
        let mut members = self.closure(&seeds);
        if manager_lives {
            members.remove(&run.pid);
        }
        members
    }

    /// `seeds` and all their descendants.
    fn closure(&self, seeds: &[Pid]) -> HashSet<Pid> {
        let mut seen: HashSet<Pid> = HashSet::new();
        let mut stack: Vec<Pid> = seeds.to_vec();
        while let Some(pid) = stack.pop() {
            if seen.insert(pid) {
                stack.extend(self.children.get(&pid).into_iter().flatten());
            }
        }
        seen
    }

    /// The strict descendants of `root`.
    fn descendants(&self, root: Pid) -> HashSet<Pid> {
        let children: Vec<Pid> = self.children.get(&root).into_iter().flatten().copied().collect();
        let mut out = self.closure(&children);
        out.remove(&root);
        out
    }

    fn caller_and_ancestors(&self, caller: &Caller) -> HashSet<Pid> {
        let mut out = HashSet::new();
        let mut stack = vec![caller.pid];
        while let Some(pid) = stack.pop() {
            if out.insert(pid) {
                stack.extend(self.with_pid(pid).map(|e| e.ppid));
            }
        }
        out
    }

    /// The members of `run` that [`Index::protected`] leaves to be taken, sorted.
    fn unprotected_members(&self, run: &RunMarker, caller: &Caller, ended: Option<&RunMarker>) -> Vec<Pid> {
        let protected = self.protected(caller, ended);
        let out: BTreeSet<Pid> =
            self.members(run, caller).into_iter().filter(|pid| !protected.contains(pid)).collect();
        out.into_iter().collect()
    }

    /// What no selection may take: the caller and its ancestors, pids 0 and 1, and the members of
    /// every live or foreign run except `ended` (a run known to have ended, see
    /// [`orphans_of_ended_run`]).
    fn protected(&self, caller: &Caller, ended: Option<&RunMarker>) -> HashSet<Pid> {
        let lineage = self.caller_and_ancestors(caller);
        let mut out = lineage.clone();
        out.extend(self.table.iter().map(|e| e.pid).filter(|pid| *pid <= 1));
        // What an ended run cannot claim back: other live runs' managers, and the processes that carry
        // another live or foreign run's marker.
        let mut firm: Vec<Pid> = Vec::new();
        for run in self.runs().into_iter().filter(|run| Some(run) != ended) {
            match self.status(&run, caller) {
                Status::Alive => {
                    out.insert(run.pid);
                    out.extend(self.members(&run, caller));
                    firm.push(run.pid);
                }
                Status::Foreign => out.extend(self.members(&run, caller)),
                Status::Dead => continue,
            }
            firm.extend(self.table.iter().filter(|e| e.marker == Some(run)).map(|e| e.pid));
        }
        if let Some(ended) = ended {
            // A live manager's children count as its run's, and a subreaper adopts the orphans of a
            // run nested in it: those that carry the ended run's marker, and their descendants short
            // of another run's process, are still the ended run's.
            let firm: HashSet<Pid> = firm.into_iter().chain(lineage).collect();
            let mut stack: Vec<Pid> = self
                .table
                .iter()
                .filter(|e| e.marker == Some(*ended) && !firm.contains(&e.pid))
                .map(|e| e.pid)
                .collect();
            let mut claimed: HashSet<Pid> = HashSet::new();
            while let Some(pid) = stack.pop() {
                if pid > 1 && claimed.insert(pid) {
                    let children = self.children.get(&pid).into_iter().flatten();
                    stack.extend(children.filter(|c| !firm.contains(c)));
                }
            }
            out.retain(|pid| !claimed.contains(pid));
        }
        out
    }
}
