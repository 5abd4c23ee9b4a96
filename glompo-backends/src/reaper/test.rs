//! Tests of the marker and of the pure selection: literal tables, a plain re-statement of the rules
//! checked against the indexed implementation on random tables, and a simulated system whose every
//! process knows which run made it.

use std::collections::{BTreeSet, HashSet};

use proptest::prelude::*;
use proptest::test_runner::RngSeed;

use super::scan::{
    Caller, Pid, ProcEntry, descendants, orphans, orphans_of_ended_run, orphans_of_run, sweep,
};
use super::{RUN_ENV, RunMarker};

const NS: u64 = 4_026_531_836;
const OTHER_NS: u64 = 4_026_532_001;

fn run(pid: Pid, start_time: u64, pgid: Pid) -> RunMarker {
    RunMarker { pid, start_time, pgid, pid_ns: NS }
}

fn proc(pid: Pid, ppid: Pid, pgid: Pid, start: u64, marker: Option<RunMarker>) -> ProcEntry {
    ProcEntry { pid, ppid, pgid, start_time: Some(start), state: 'S', comm: format!("p{pid}"), marker }
}

fn zombie(pid: Pid, ppid: Pid, pgid: Pid, start: u64) -> ProcEntry {
    ProcEntry { state: 'Z', ..proc(pid, ppid, pgid, start, None) }
}

const CALLER: Caller = Caller { pid: 10, pid_ns: NS };

/// PID 1, a session leader 5 and the caller 10 below it; a dead run 50 (started at 100, group 40).
fn base() -> Vec<ProcEntry> {
    vec![proc(1, 0, 1, 0, None), proc(5, 1, 5, 1, None), proc(10, 5, 10, 2, None)]
}

const DEAD: RunMarker = RunMarker { pid: 50, start_time: 100, pgid: 40, pid_ns: NS };

#[test]
fn a_keeper_takes_the_run_of_a_zombie_manager_and_nothing_of_a_running_one() {
    let mut table = base();
    // The manager 50 is a zombie its shell has not waited for yet; its worker 51 and the worker's own
    // child 52 (re-parented to PID 1) carry the marker; 70 is unrelated.
    table.extend([
        ProcEntry { marker: Some(DEAD), ..zombie(50, 5, 40, 100) },
        proc(51, 1, 51, 101, Some(DEAD)),
        proc(52, 1, 51, 102, Some(DEAD)),
        proc(70, 1, 70, 103, None),
    ]);
    assert!(orphans_of_run(&table, &CALLER, &DEAD).is_empty(), "a zombie manager keeps its run for others");
    assert_eq!(orphans_of_ended_run(&table, &CALLER, &DEAD), [51, 52]);
    // While the manager runs, nothing is taken.
    table[3].state = 'S';
    assert!(orphans_of_ended_run(&table, &CALLER, &DEAD).is_empty());
    // Nor from another pid namespace.
    let foreign = Caller { pid: 10, pid_ns: OTHER_NS };
    table[3].state = 'Z';
    assert!(orphans_of_ended_run(&table, &foreign, &DEAD).is_empty());
}

#[test]
fn a_keeper_takes_its_runs_orphans_from_an_outer_manager_that_adopted_them() {
    // The outer run 20 (live, a subreaper) adopted 130, an orphan of the ended nested run 50, and 131,
    // its child; 140 is the live manager of a run 60 that 50's objective started, still marked with 50's
    // marker as it never marked itself, and 141 is 60's own worker.
    const OUTER: RunMarker = RunMarker { pid: 20, start_time: 3, pgid: 20, pid_ns: NS };
    const INNER: RunMarker = RunMarker { pid: 140, start_time: 150, pgid: 140, pid_ns: NS };
    let mut table = base();
    table.extend([
        proc(20, 5, 20, 3, Some(OUTER)),
        proc(21, 20, 21, 4, Some(OUTER)),
        proc(130, 20, 130, 120, Some(DEAD)),
        proc(131, 130, 130, 121, Some(DEAD)),
        proc(140, 20, 140, 150, Some(DEAD)),
        proc(141, 140, 141, 151, Some(INNER)),
    ]);
    assert_eq!(orphans_of_ended_run(&table, &CALLER, &DEAD), [130, 131]);
    // The general reaper leaves them to the outer run until it ends.
    assert!(orphans(&table, &CALLER).is_empty());
}

#[test]
fn markers_round_trip_through_their_text() {
    let m = RunMarker { pid: 4242, start_time: 98_765, pgid: 4200, pid_ns: NS };
    assert_eq!(m.to_string(), "4242.98765.4200.4026531836");
    assert_eq!(RunMarker::parse(&m.to_string()), Some(m));
    assert_eq!(m.env_pair(), (RUN_ENV, m.to_string()));
    assert_eq!(RUN_ENV, "GLOMPO_RUN");
}

#[test]
fn public_types_are_send_sync_and_clone() {
    fn send_sync_clone<T: Send + Sync + Clone>() {}
    fn send_sync<T: Send + Sync>() {}
    send_sync_clone::<RunMarker>();
    send_sync_clone::<ProcEntry>();
    send_sync_clone::<Caller>();
    send_sync::<super::ReaperError>();
    #[cfg(target_os = "linux")]
    {
        send_sync_clone::<super::ReapReport>();
        send_sync_clone::<super::KillFailure>();
        send_sync_clone::<super::CgroupKind>();
        send_sync::<super::RunCgroup>();
        send_sync::<super::Keeper>();
    }
}

#[test]
fn malformed_markers_do_not_parse() {
    for text in [
        "",
        "1.2.3",
        "1.2.3.4.5",
        "-1.2.3.4",
        "+1.2.3.4",
        "0.2.3.4",
        "1.2.0.4",
        "1..3.4",
        "a.b.c.d",
        " 1.2.3.4",
        "1.2.3.4 ",
        "99999999999.2.3.4",
    ] {
        assert_eq!(RunMarker::parse(text), None, "{text:?}");
    }
}

#[test]
fn marked_processes_of_a_dead_run_and_their_descendants_are_selected() {
    let mut table = base();
    table.extend([
        proc(60, 1, 60, 110, Some(DEAD)),
        proc(61, 60, 60, 111, None),
        // A grandchild that left the group and the marker behind is found by parentage.
        proc(62, 61, 62, 112, None),
        // Unrelated processes, also children of PID 1 and the caller.
        proc(70, 1, 70, 120, None),
        proc(71, 10, 10, 121, None),
    ]);
    assert_eq!(orphans(&table, &CALLER), [60, 61, 62]);
    assert_eq!(orphans_of_run(&table, &CALLER, &DEAD), [60, 61, 62]);
}

#[test]
fn the_caller_its_ancestors_and_pid_1_are_never_selected() {
    let table = vec![
        proc(1, 0, 1, 0, Some(DEAD)),
        proc(5, 1, 5, 1, Some(DEAD)),
        proc(10, 5, 10, 2, Some(DEAD)),
        proc(11, 10, 10, 3, Some(DEAD)),
        proc(12, 5, 5, 4, None),
    ];
    // The caller's child and its ancestor's other child belong to the dead run; nothing else may go.
    assert_eq!(orphans(&table, &CALLER), [11, 12]);
}

#[test]
fn a_live_run_is_never_selected_even_inside_a_dead_one() {
    let live = run(80, 300, 80);
    let mut table = base();
    table.extend([
        proc(60, 1, 60, 110, Some(DEAD)),
        // A manager started by the dead run's objective: it inherited the dead marker and lives.
        proc(80, 60, 80, 300, Some(DEAD)),
        proc(81, 80, 81, 301, Some(live)),
        proc(82, 80, 80, 302, Some(DEAD)),
        proc(83, 81, 81, 303, None),
    ]);
    assert_eq!(orphans(&table, &CALLER), [60]);
    assert_eq!(orphans_of_run(&table, &CALLER, &live), Vec::<Pid>::new());
}

#[test]
fn a_reused_manager_pid_does_not_keep_a_run_alive() {
    let mut table = base();
    table.extend([proc(50, 5, 5, 400, None), proc(60, 1, 60, 110, Some(DEAD))]);
    assert_eq!(orphans(&table, &CALLER), [60]);
    // With the start time unreadable, the process might be the manager: the run counts as alive.
    table[3] = ProcEntry::unreadable(50);
    assert_eq!(orphans(&table, &CALLER), Vec::<Pid>::new());
}

#[test]
fn runs_of_another_pid_namespace_are_left_alone() {
    let foreign = RunMarker { pid_ns: OTHER_NS, ..DEAD };
    let mut table = base();
    table.extend([proc(60, 1, 60, 110, Some(foreign)), proc(61, 60, 60, 111, None)]);
    assert_eq!(orphans(&table, &CALLER), Vec::<Pid>::new());
}

#[test]
fn a_run_group_is_taken_whole_when_its_leader_is_marked_gone_or_a_zombie() {
    let worker = |pid| proc(pid, 1, 60, 115, None);
    let mut marked_leader = base();
    marked_leader.extend([proc(60, 1, 60, 110, Some(DEAD)), worker(61)]);
    assert_eq!(orphans(&marked_leader, &CALLER), [60, 61]);

    let mut gone_leader = base();
    gone_leader.extend([proc(62, 1, 60, 112, Some(DEAD)), worker(61)]);
    assert_eq!(orphans(&gone_leader, &CALLER), [61, 62]);

    let mut zombie_leader = base();
    zombie_leader.extend([zombie(60, 1, 60, 110), proc(62, 1, 60, 112, Some(DEAD)), worker(61)]);
    assert_eq!(orphans(&zombie_leader, &CALLER), [60, 61, 62]);
}

#[test]
fn groups_the_run_does_not_own_are_not_taken() {
    let worker = |pid, pgid| proc(pid, 1, pgid, 115, None);
    // The leader is a live unmarked shell: the group is the user's.
    let mut shell = base();
    shell.extend([proc(60, 1, 5, 110, Some(DEAD)), worker(61, 5)]);
    assert_eq!(orphans(&shell, &CALLER), [60]);
    // The manager's own group (from the marker), its leader gone.
    let mut managers = base();
    managers.extend([proc(60, 1, 40, 110, Some(DEAD)), worker(61, 40)]);
    assert_eq!(orphans(&managers, &CALLER), [60]);
    // A group named after the manager (its pid, here not its group at the start).
    let mut named = base();
    named.extend([proc(62, 1, 50, 112, Some(DEAD)), worker(61, 50)]);
    assert_eq!(orphans(&named, &CALLER), [62]);
    // A group with a process older than the manager.
    let mut older = base();
    older.extend([proc(60, 1, 45, 110, Some(DEAD)), proc(61, 1, 45, 99, None)]);
    assert_eq!(orphans(&older, &CALLER), [60]);
    // A group that also holds another run's process.
    let other = run(90, 200, 90);
    let mut mixed = base();
    mixed.extend([proc(60, 1, 45, 110, Some(DEAD)), proc(61, 1, 45, 210, Some(other)), worker(62, 45)]);
    assert_eq!(orphans(&mixed, &CALLER), [60, 61]);
}

#[test]
fn descendants_follow_parent_pids_and_survive_cycles() {
    let table = vec![
        proc(1, 0, 1, 0, None),
        proc(10, 1, 10, 1, None),
        proc(11, 10, 10, 2, None),
        proc(12, 11, 12, 3, None),
        proc(13, 1, 13, 4, None),
        // A cycle cannot occur in /proc but must not hang the scan.
        proc(20, 21, 20, 5, None),
        proc(21, 20, 20, 6, None),
    ];
    assert_eq!(descendants(&table, 10), [11, 12]);
    assert_eq!(descendants(&table, 0), [10, 11, 12, 13]);
    assert_eq!(descendants(&table, 20), [21]);
    assert_eq!(descendants(&table, 99), Vec::<Pid>::new());
}

#[test]
fn the_sweep_takes_everything_below_the_manager_and_the_escaped_members_of_its_run() {
    let own = run(10, 2, 10);
    let mut table = base();
    table.extend([
        proc(11, 10, 11, 3, Some(own)),
        proc(12, 11, 11, 4, None),
        // Escaped to PID 1 (the manager was no subreaper), still marked, and its unmarked group fellow.
        proc(13, 1, 13, 5, Some(own)),
        proc(14, 1, 13, 6, None),
        proc(15, 1, 15, 7, None),
        proc(16, 5, 5, 8, Some(DEAD)),
    ]);
    assert_eq!(sweep(&table, &CALLER, &own), [11, 12, 13, 14]);
    // The run is alive, so none of this is an orphan; the dead run's process is.
    assert_eq!(orphans(&table, &CALLER), [16]);
}

/// The rules of [`orphans`] once more, written plainly: fixpoints over the whole table, no indexes.
fn reference(table: &[ProcEntry], caller: &Caller) -> Vec<Pid> {
    let is_manager =
        |r: &RunMarker, e: &ProcEntry| e.pid == r.pid && e.start_time.is_none_or(|s| s == r.start_time);
    let foreign = |r: &RunMarker| r.pid_ns != caller.pid_ns;
    let alive = |r: &RunMarker| !foreign(r) && table.iter().any(|e| is_manager(r, e));
    let members = |r: &RunMarker| -> BTreeSet<Pid> {
        let run_group = |g: Pid| {
            g > 1
                && g != r.pgid
                && g != r.pid
                && table.iter().any(|e| e.marker == Some(*r) && e.pgid == g)
                && table.iter().filter(|e| e.pid == g).all(|e| e.marker == Some(*r) || e.is_zombie())
                && table.iter().filter(|e| e.pgid == g).all(|e| {
                    e.start_time.is_some_and(|s| s >= r.start_time) && e.marker.is_none_or(|m| m == *r)
                })
        };
        let mut set: BTreeSet<Pid> = table
            .iter()
            .filter(|e| e.marker == Some(*r) || run_group(e.pgid) || (alive(r) && e.ppid == r.pid))
            .map(|e| e.pid)
            .collect();
        loop {
            let more: Vec<Pid> = table
                .iter()
                .filter(|e| set.contains(&e.ppid) && !set.contains(&e.pid))
                .map(|e| e.pid)
                .collect();
            if more.is_empty() {
                break;
            }
            set.extend(more);
        }
        if alive(r) {
            set.remove(&r.pid);
        }
        set
    };
    let mut protected: BTreeSet<Pid> = [caller.pid].into();
    loop {
        let more: Vec<Pid> = table
            .iter()
            .filter(|e| protected.contains(&e.pid) && !protected.contains(&e.ppid))
            .map(|e| e.ppid)
            .collect();
        if more.is_empty() {
            break;
        }
        protected.extend(more);
    }
    protected.extend([0, 1]);
    let runs: BTreeSet<RunMarker> = table.iter().filter_map(|e| e.marker).collect();
    for r in runs.iter().filter(|r| alive(r) || foreign(r)) {
        protected.extend(members(r));
        if alive(r) {
            protected.insert(r.pid);
        }
    }
    let mut out = BTreeSet::new();
    for r in runs.iter().filter(|r| !alive(r) && !foreign(r)) {
        out.extend(members(r).into_iter().filter(|p| !protected.contains(p) && *p > 1));
    }
    out.into_iter().collect()
}

/// A random table: pids 1..=n, random parents, groups, start times, states and markers from a few runs
/// (some foreign, some with a manager in the table), a caller, and a permutation of the rows.
fn arb_table() -> impl Strategy<Value = (Vec<ProcEntry>, Caller, Vec<usize>)> {
    (2..28 as Pid)
        .prop_flat_map(|n| {
            let marker = (1..=n + 3, 0u64..8, 1..=n, prop::bool::weighted(0.15)).prop_map(
                |(pid, start_time, pgid, f)| RunMarker {
                    pid,
                    start_time,
                    pgid,
                    pid_ns: if f { OTHER_NS } else { NS },
                },
            );
            let runs = prop::collection::vec(marker, 1..5);
            let rows = prop::collection::vec((0..=n, 0..=n, 0u64..8, 0u8..12, 0usize..9), n as usize);
            let perm = Just((0..n as usize).collect::<Vec<_>>()).prop_shuffle();
            (runs, rows, 1..=n, perm)
        })
        .prop_map(|(runs, rows, caller, perm)| {
            let table = rows
                .into_iter()
                .enumerate()
                .map(|(i, (ppid, pgid, start, kind, marker))| {
                    let pid = i as Pid + 1;
                    match kind {
                        0 => ProcEntry::unreadable(pid),
                        1 => {
                            ProcEntry { marker: runs.get(marker).copied(), ..zombie(pid, ppid, pgid, start) }
                        }
                        _ => proc(pid, ppid, pgid, start, runs.get(marker).copied()),
                    }
                })
                .collect();
            (table, Caller { pid: caller, pid_ns: NS }, perm)
        })
}

fn ancestors(table: &[ProcEntry], pid: Pid) -> BTreeSet<Pid> {
    let mut out = BTreeSet::from([pid]);
    let mut at = pid;
    while let Some(e) = table.iter().find(|e| e.pid == at) {
        if !out.insert(e.ppid) {
            break;
        }
        at = e.ppid;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400,
        rng_seed: RngSeed::Fixed(0x6c6f_6d70_6f5f_7231),
        ..ProptestConfig::default()
    })]

    #[test]
    fn orphans_keep_their_invariants_on_random_tables((table, caller, perm) in arb_table()) {
        let got = orphans(&table, &caller);
        prop_assert_eq!(&got, &reference(&table, &caller));
        prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "sorted and unique: {:?}", got);

        // The order of the table does not matter.
        let shuffled: Vec<ProcEntry> = perm.iter().map(|&i| table[i].clone()).collect();
        prop_assert_eq!(&orphans(&shuffled, &caller), &got);

        // Never the caller, its ancestors, pid 0 or 1, or an unreadable process.
        let spared = ancestors(&table, caller.pid);
        for pid in &got {
            prop_assert!(*pid > 1 && !spared.contains(pid), "selected {}", pid);
            let e = table.iter().find(|e| e.pid == *pid).unwrap();
            prop_assert!(e.start_time.is_some(), "selected unreadable {}", pid);
        }

        // Never a process of a live or foreign run, never a live manager or anything below it.
        let is_live = |r: &RunMarker| {
            r.pid_ns != caller.pid_ns
                || table.iter().any(|e| e.pid == r.pid && e.start_time.is_none_or(|s| s == r.start_time))
        };
        let live: Vec<RunMarker> = table.iter().filter_map(|e| e.marker).filter(|r| is_live(r)).collect();
        for r in live.iter().filter(|r| r.pid_ns == caller.pid_ns) {
            let below: HashSet<Pid> = descendants(&table, r.pid).into_iter().collect();
            for pid in &got {
                let spared = *pid != r.pid && !below.contains(pid);
                prop_assert!(spared, "{} is under live manager {}", pid, r.pid);
            }
        }
        for e in table.iter().filter(|e| got.contains(&e.pid)) {
            prop_assert!(e.marker.is_none_or(|m| !is_live(&m)), "{} carries a live marker", e.pid);
            // Every selected process is tied to a dead run: marked, in a group with a marked process, or
            // below one of those.
            let tied = |x: &ProcEntry| {
                let mut pids = ancestors(&table, x.pid);
                pids.insert(x.pid);
                table.iter().filter(|a| pids.contains(&a.pid)).any(|a| {
                    table.iter().any(|m| {
                        m.marker.is_some_and(|r| !is_live(&r)) && (m.pid == a.pid || m.pgid == a.pgid)
                    })
                })
            };
            prop_assert!(tied(e), "{} is tied to no dead run", e.pid);
        }

        // The per-run selections add up to the whole.
        let runs: BTreeSet<RunMarker> = table.iter().filter_map(|e| e.marker).collect();
        let mut union = BTreeSet::new();
        for r in &runs {
            let part = orphans_of_run(&table, &caller, r);
            if is_live(r) {
                prop_assert!(part.is_empty());
            }
            union.extend(part);
        }
        prop_assert_eq!(union.into_iter().collect::<Vec<_>>(), got);

        // The sweep spares the caller, its ancestors and pid 0 and 1, and takes every descendant.
        if let Some(own) = runs.iter().next() {
            let swept = sweep(&table, &caller, own);
            for pid in &swept {
                prop_assert!(*pid > 1 && !spared.contains(pid));
            }
            for pid in descendants(&table, caller.pid) {
                prop_assert!(spared.contains(&pid) || swept.contains(&pid));
            }
        }
    }

    #[test]
    fn parse_reads_what_display_writes(
        pid in 1..Pid::MAX,
        start_time: u64,
        pgid in 1..Pid::MAX,
        pid_ns: u64,
    ) {
        let m = RunMarker { pid, start_time, pgid, pid_ns };
        prop_assert_eq!(RunMarker::parse(&m.to_string()), Some(m));
    }
}

/// One process of the simulated system, with the truth the reaper cannot see.
#[derive(Debug, Clone)]
struct SimProc {
    pid: Pid,
    ppid: Pid,
    pgid: Pid,
    start: u64,
    /// The marker in the environment it was executed with.
    env: Option<RunMarker>,
    /// Its environment cannot be read (another user's process).
    hidden: bool,
    zombie: bool,
    /// The innermost run that created it (for a manager, the run that started the manager).
    owner: Option<usize>,
    /// The run it manages.
    manages: Option<usize>,
    /// In a pid namespace of its own (a container), with every run it starts.
    foreign: bool,
}

#[derive(Debug, Clone)]
struct SimRun {
    marker: RunMarker,
    /// Its manager is running (neither gone nor a zombie).
    running: bool,
}

/// One step of the simulated system; the numbers pick processes and pids.
#[derive(Debug, Clone)]
enum Op {
    /// A process starts a child, forked or executed, in its group or a new one, with its environment
    /// kept or cleared; a manager marks the children it executes.
    Spawn { parent: usize, exec: bool, clear: bool, group: bool, hidden: bool, pid: usize },
    /// A process starts a manager (a subreaper, as DESIGN §4 requires), which may carry its own marker
    /// (see `mark_self`), and which executes a few marked workers, in groups of their own or in its.
    Manager { parent: usize, group: bool, self_marked: bool, workers: usize, worker_groups: bool, pid: usize },
    /// PID 1 starts a new session leader (a login shell, a terminal, a service).
    Session { pid: usize },
    /// An unrelated process starts a container: a process in another pid namespace.
    Container { parent: usize, pid: usize },
    /// A process dies; its parent reaps it at once or later; its children go to the nearest living
    /// subreaper above it or to PID 1.
    Die { who: usize, reaped: bool },
    /// A zombie is reaped.
    Reap { who: usize },
}

const MAX_PID: Pid = 48;

fn arb_op() -> impl Strategy<Value = Op> {
    let n = || 0usize..1000;
    prop_oneof![
        6 => (n(), any::<bool>(), prop::bool::weighted(0.2), any::<bool>(), prop::bool::weighted(0.1), n())
            .prop_map(|(parent, exec, clear, group, hidden, pid)| {
                Op::Spawn { parent, exec, clear, group, hidden, pid }
            }),
        2 => (n(), any::<bool>(), any::<bool>(), 0usize..3, any::<bool>(), n()).prop_map(
            |(parent, group, self_marked, workers, worker_groups, pid)| {
                Op::Manager { parent, group, self_marked, workers, worker_groups, pid }
            }
        ),
        2 => n().prop_map(|pid| Op::Session { pid }),
        1 => (n(), n()).prop_map(|(parent, pid)| Op::Container { parent, pid }),
        4 => (n(), any::<bool>()).prop_map(|(who, reaped)| Op::Die { who, reaped }),
        1 => n().prop_map(|who| Op::Reap { who }),
    ]
}

struct Sim {
    procs: Vec<SimProc>,
    runs: Vec<SimRun>,
    clock: u64,
    /// Every manager carries its own marker, as DESIGN's managers do (`mark_self`).
    strict: bool,
}

impl Sim {
    fn new(strict: bool) -> Sim {
        let root = |pid, ppid, start| SimProc {
            pid,
            ppid,
            pgid: pid,
            start,
            env: None,
            hidden: false,
            zombie: false,
            owner: None,
            manages: None,
            foreign: false,
        };
        Sim { procs: vec![root(1, 0, 0), root(2, 1, 1), root(3, 1, 2)], runs: Vec::new(), clock: 3, strict }
    }

    /// A living process other than PID 1 (which starts only sessions): any, or for odd picks one of the
    /// latest, which makes deeper trees.
    fn living(&self, pick: usize) -> Option<usize> {
        let living: Vec<usize> =
            (0..self.procs.len()).filter(|&i| !self.procs[i].zombie && self.procs[i].pid != 1).collect();
        if living.is_empty() {
            None
        } else if pick.is_multiple_of(2) {
            Some(living[pick / 2 % living.len()])
        } else {
            Some(living[living.len() - 1 - pick / 2 % living.len().min(6)])
        }
    }

    /// A free pid: in use neither as a pid nor as a process group, like the kernel's.
    fn alloc(&self, pick: usize) -> Option<Pid> {
        let free: Vec<Pid> =
            (2..=MAX_PID).filter(|p| !self.procs.iter().any(|q| q.pid == *p || q.pgid == *p)).collect();
        (!free.is_empty()).then(|| free[pick % free.len()])
    }

    fn child_of(&mut self, parent: usize, pid: Pid, group: bool) -> SimProc {
        let p = &self.procs[parent];
        self.clock += 1;
        SimProc {
            pid,
            ppid: p.pid,
            pgid: if group { pid } else { p.pgid },
            start: self.clock,
            env: p.env,
            hidden: false,
            zombie: false,
            owner: p.manages.or(p.owner),
            manages: None,
            foreign: p.foreign,
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Spawn { parent, exec, clear, group, hidden, pid } => {
                let Some(parent) = self.living(parent) else { return };
                let Some(pid) = self.alloc(pid) else { return };
                let mut child = self.child_of(parent, pid, group);
                child.hidden = hidden;
                if exec {
                    match self.procs[parent].manages {
                        Some(r) => child.env = Some(self.runs[r].marker),
                        None if clear => child.env = None,
                        None => {}
                    }
                }
                self.procs.push(child);
            }
            Op::Manager { parent, group, self_marked, workers, worker_groups, pid: hint } => {
                let Some(parent) = self.living(parent) else { return };
                let Some(pid) = self.alloc(hint) else { return };
                let mut manager = self.child_of(parent, pid, group);
                // Inside a container the manager's pid and group are other numbers than ours.
                let (shift, pid_ns) = if manager.foreign { (1000, OTHER_NS) } else { (0, NS) };
                let marker = RunMarker {
                    pid: pid + shift,
                    start_time: manager.start,
                    pgid: manager.pgid + shift,
                    pid_ns,
                };
                manager.manages = Some(self.runs.len());
                if self_marked || self.strict {
                    manager.env = Some(marker);
                }
                self.runs.push(SimRun { marker, running: true });
                self.procs.push(manager);
                let at = self.procs.len() - 1;
                for k in 0..workers {
                    let Some(pid) = self.alloc(hint + k + 1) else { return };
                    let mut worker = self.child_of(at, pid, worker_groups);
                    worker.env = Some(marker);
                    self.procs.push(worker);
                }
            }
            Op::Session { pid } => {
                let Some(pid) = self.alloc(pid) else { return };
                let shell = self.child_of(0, pid, true);
                self.procs.push(shell);
            }
            Op::Container { parent, pid } => {
                let Some(parent) = self.living(parent) else { return };
                if self.procs[parent].owner.is_some() || self.procs[parent].manages.is_some() {
                    return;
                }
                let Some(pid) = self.alloc(pid) else { return };
                let mut init = self.child_of(parent, pid, true);
                init.foreign = true;
                self.procs.push(init);
            }
            Op::Die { who, reaped } => {
                let Some(who) = self.living(who) else { return };
                let dead = self.procs[who].clone();
                if let Some(r) = dead.manages {
                    self.runs[r].running = false;
                }
                // The nearest living subreaper (a manager) above the dead process adopts its children.
                let mut heir = 1;
                let mut at = dead.ppid;
                while let Some(p) = self.procs.iter().find(|p| p.pid == at) {
                    if p.manages.is_some() && !p.zombie {
                        heir = p.pid;
                        break;
                    }
                    at = p.ppid;
                }
                for p in self.procs.iter_mut().filter(|p| p.ppid == dead.pid) {
                    p.ppid = heir;
                }
                if reaped {
                    self.procs.remove(who);
                } else {
                    self.procs[who].zombie = true;
                }
            }
            Op::Reap { who } => {
                let zombies: Vec<usize> = (0..self.procs.len()).filter(|&i| self.procs[i].zombie).collect();
                if !zombies.is_empty() {
                    self.procs.remove(zombies[who % zombies.len()]);
                }
            }
        }
    }

    fn table(&self) -> Vec<ProcEntry> {
        self.procs
            .iter()
            .map(|p| ProcEntry {
                pid: p.pid,
                ppid: p.ppid,
                pgid: p.pgid,
                start_time: Some(p.start),
                state: if p.zombie { 'Z' } else { 'S' },
                comm: format!("p{}", p.pid),
                marker: if p.zombie || p.hidden { None } else { p.env },
            })
            .collect()
    }

    fn get(&self, pid: Pid) -> &SimProc {
        self.procs.iter().find(|p| p.pid == pid).unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        rng_seed: RngSeed::Fixed(0x6c6f_6d70_6f5f_7232),
        ..ProptestConfig::default()
    })]

    #[test]
    fn in_a_simulated_system_only_processes_of_dead_runs_are_selected(
        ops in prop::collection::vec(arb_op(), 10..80),
        caller in 0usize..1000,
        strict: bool,
    ) {
        let mut sim = Sim::new(strict);
        for op in &ops {
            sim.apply(op);
        }
        let table = sim.table();
        let me = sim.procs[sim.living(caller).unwrap_or(0)].clone();
        let caller = Caller { pid: me.pid, pid_ns: NS };
        let got = orphans(&table, &caller);
        // A running manager is known to the reaper as one when its marker shows anywhere (on itself if
        // it re-executed itself with it, or on one of its children).
        let visible: HashSet<RunMarker> = table.iter().filter_map(|e| e.marker).collect();
        let known = |r: usize| sim.runs[r].running && visible.contains(&sim.runs[r].marker);

        for pid in &got {
            let p = sim.get(*pid);
            // Never an unrelated process, nor one of another namespace's runs.
            let owner = p.owner.map(|r| &sim.runs[r]);
            prop_assert!(owner.is_some_and(|r| r.marker.pid_ns == NS), "{:?} belongs to no run of ours", p);
            // When every manager marks itself, only processes of dead runs. Otherwise a manager that
            // shows no marker of its own yet, started by a dead run, is taken for that run's process (it
            // is one), and so are the workers it forked, which carry the dead run's marker.
            if strict {
                prop_assert!(owner.is_some_and(|r| !r.running), "{:?} belongs to a live run", p);
            }
            prop_assert!(p.manages.is_none_or(|r| !known(r)), "{:?} is a live manager", p);
        }
        // Nothing below a running manager is touched either.
        for m in sim.procs.iter().filter(|m| m.manages.is_some_and(known)) {
            let below = descendants(&table, m.pid);
            prop_assert!(got.iter().all(|p| !below.contains(p)), "took from below running manager {}", m.pid);
        }
        // Every readable marked process of a dead run is taken, unless it is the caller, one of its
        // ancestors, or below a process of a live run.
        let spared = ancestors(&table, caller.pid);
        let live_marker = |r: &RunMarker| {
            r.pid_ns != NS || sim.procs.iter().any(|p| p.pid == r.pid && p.start == r.start_time)
        };
        for e in table.iter().filter(|e| e.marker.is_some_and(|m| !live_marker(&m))) {
            let line = ancestors(&table, e.pid);
            let under_live = table.iter().filter(|a| line.contains(&a.pid)).any(|a| {
                a.marker.is_some_and(|m| live_marker(&m))
                    || sim.procs.iter().any(|p| p.pid == a.pid && p.manages.is_some())
            });
            if !spared.contains(&e.pid) && !under_live {
                prop_assert!(got.contains(&e.pid), "missed {:?}", e);
            }
        }
        // A keeper of a dead run takes nothing that the general reaper could not take for the same
        // reasons: never an unrelated process, the caller or its ancestors, a live known manager, nor
        // (when every manager marks itself) a live run's process, even one a live subreaper adopted.
        for dead in sim.runs.iter().filter(|r| !r.running && r.marker.pid_ns == NS) {
            for pid in orphans_of_ended_run(&table, &caller, &dead.marker) {
                let p = sim.get(pid);
                prop_assert!(pid != caller.pid && !spared.contains(&pid), "took the caller's line: {:?}", p);
                let owner = p.owner.map(|r| &sim.runs[r]);
                prop_assert!(owner.is_some_and(|r| r.marker.pid_ns == NS), "{:?} belongs to no run of ours", p);
                if strict {
                    prop_assert!(owner.is_some_and(|r| !r.running), "{:?} belongs to a live run", p);
                }
                prop_assert!(p.manages.is_none_or(|r| !known(r)), "{:?} is a live manager", p);
            }
        }
        // A running manager's sweep takes everything its run made, and nothing outside its tree.
        if let Some(r) = me.manages.filter(|r| sim.runs[*r].running && !me.foreign) {
            let swept = sweep(&table, &caller, &sim.runs[r].marker);
            let below = descendants(&table, me.pid);
            prop_assert!(swept.iter().all(|p| below.contains(p)), "swept outside the tree");
            for p in sim.procs.iter().filter(|p| p.owner == Some(r)) {
                prop_assert!(swept.contains(&p.pid), "sweep missed {:?}", p);
            }
        }
    }
}
