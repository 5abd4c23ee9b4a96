//! `cargo xtask bench orphans [TRIALS] [SEED] [--nested | --setsid]`: processes left alive 2 s after a
//! `kill -9` of the manager.
//!
//! Issue 5 asks for none over 100 trials spread over the backend combinations. The trials take the 12
//! combinations in turn (level 1 `threads`, `processes` or `processes-forced`; level 2 `serial`,
//! `threads` or `processes`; a built-in objective or an external Python program; a built-in objective
//! on threads at level 1 only with level 2 in processes, as otherwise there is no process to orphan).
//! Each trial writes a config (`max_jobs` 4, CMA-ES and short random searches with 2 workers each, a
//! budget that is never reached) in a fresh temporary directory and starts `glompo run CONFIG --quiet
//! --no-reap` (without the start-up sweep, so that a later trial never cleans up after an earlier one).
//! Once the run's processes are up it waits a seeded random 0–300 ms more (so that the kill lands at
//! different moments: while runner processes start, mid-evaluation, between evaluations), records every
//! process of the run, sends `SIGKILL` to the manager, reaps it (as a shell does), waits exactly 2 s
//! and counts the processes of the run that are still alive (zombies are dead). Survivors are printed
//! with their parent and command line, then killed, so the benchmark itself leaves nothing behind; the
//! exit code is 1 if there were any.
//!
//! The table has, per combination: the trials, the mean number of the run's processes (the manager
//! aside) alive just before the kill, the kills that landed while one of them was less than 100 ms old
//! (starting up), the processes alive 2 s after the kill, the trials with such survivors, and the
//! longest time from the kill until every recorded process was gone (looked at every 10 ms).
//!
//! A process belongs to the trial's run if it carries the manager's marker (`GLOMPO_RUN` whose first
//! field is the manager's pid), if its command line holds the trial's tag (an unusual `delay_s` for a
//! built-in, an extra argument for the Python program: it reaches `glompo __runner` and `glompo
//! __worker` command lines too), or if its parent is the manager or another process of the run.
//!
//! With `--nested`, only the Python combinations run, with a model that runs each evaluation in a
//! process of its own lasting 3 s: what an objective program starts itself is not a direct child of
//! glompo, so `PR_SET_PDEATHSIG` does not reach it; the run's keeper (`glompo __keeper`) kills it.
//!
//! With `--setsid`, only the Python combinations run, with a model that starts, when it starts, a
//! process that leaves the run: `setsid env -i …` (a session and group of its own, no marker) lasting
//! 30 s. Once its parent exits and the manager is killed nothing but the run's cgroup ties it to the
//! run, so it survives where `glompo run` cannot make a cgroup (see the reaper's README, "Cgroups").
//!
//! The glompo binary must be built next to this example (`cargo xtask bench orphans` does that).

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;

#[path = "common/binary.rs"]
mod binary;
use binary::glompo_binary;

/// How long the processes of a killed manager have to disappear (the issue's figure).
const GRACE: Duration = Duration::from_secs(2);
/// How long a run may take to bring its processes up.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest extra wait before the kill, in milliseconds.
const MAX_EXTRA_MS: u64 = 300;
/// How often `/proc` is read while waiting.
const POLL: Duration = Duration::from_millis(10);
/// A process younger than this at the kill was starting up (`/proc` counts in 10 ms clock ticks).
const YOUNG: Duration = Duration::from_millis(100);
/// Clock ticks per second of `/proc/PID/stat` start times (`getconf CLK_TCK`; 100 on Linux).
const TICKS: f64 = 100.0;

/// Which external objective a trial runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Model {
    /// [`MODEL`].
    Plain,
    /// [`NESTED_MODEL`] (`--nested`).
    Nested,
    /// [`SETSID_MODEL`] (`--setsid`).
    Setsid,
}

/// The external objective: the sphere, with a 2 ms sleep standing in for a model. Its arguments (the
/// trial's tag) are ignored.
const MODEL: &str = r#"
import json, sys, time
for line in sys.stdin:
    x = json.loads(line)["x"]
    time.sleep(0.002)
    print(json.dumps({"fx": sum(v * v for v in x)}), flush=True)
"#;

/// With `--nested`: an external objective that runs each evaluation in a process of its own (as a
/// wrapper script around a simulation does), one that lasts 3 s, longer than the grace period. Its
/// command line carries the trial's tag (the model's last argument).
const NESTED_MODEL: &str = r#"
import json, subprocess, sys
for line in sys.stdin:
    x = json.loads(line)["x"]
    subprocess.run([sys.executable, "-c", "import time; time.sleep(3)", sys.argv[-1]], check=True)
    print(json.dumps({"fx": sum(v * v for v in x)}), flush=True)
"#;

/// With `--setsid`: [`MODEL`], after starting a process that leaves the run's session, group and
/// environment and lasts 30 s; its command line carries the trial's tag.
const SETSID_MODEL: &str = r#"
import json, subprocess, sys, time
subprocess.Popen(["setsid", "env", "-i", sys.executable, "-c", "import time; time.sleep(30)", sys.argv[-1]])
for line in sys.stdin:
    x = json.loads(line)["x"]
    time.sleep(0.002)
    print(json.dumps({"fx": sum(v * v for v in x)}), flush=True)
"#;

/// One backend combination.
#[derive(Debug, Clone, Copy)]
struct Combo {
    /// Level 1, the config's `backend`.
    backend: &'static str,
    /// Level 2, the optimizers' `evaluator`; `None` for `processes-forced`, which fixes it.
    evaluator: Option<&'static str>,
    /// An external Python program rather than the built-in sphere.
    command: bool,
}

impl Combo {
    fn name(&self) -> String {
        format!("{:<16} {:<10} {}", self.backend, self.evaluator.unwrap_or("(forced)"), self.objective())
    }

    fn objective(&self) -> &'static str {
        if self.command { "python" } else { "built-in" }
    }

    /// The processes of a running run besides the manager, at the least, once its pools have grown:
    /// each optimizer holds 2 slots, and `max_jobs` 4 lets both run at once.
    fn expected(&self) -> usize {
        // An external program is started once by the manager when the config is checked, and that
        // worker stays in the manager's pool; runner processes rebuild the objective, which starts one
        // more each.
        let checked = usize::from(self.command);
        let evaluator = self.evaluator.unwrap_or("processes");
        // Workers per optimizer: the evaluations in flight, if they are in processes.
        let per_optimizer = match (evaluator, self.command) {
            ("processes", _) | ("threads", true) => 2,
            ("serial", true) => 1,
            _ => 0,
        };
        if self.backend == "threads" {
            // One shared pool of 4 (the evaluator's own, beside the checked program's worker for a
            // `processes` evaluator; the checked worker is the first of the pool for the others).
            let pool = 2 * per_optimizer;
            return if evaluator == "processes" { checked + pool } else { pool.max(checked) };
        }
        // One runner process per optimizer, each with its own pool; with a `processes` evaluator and
        // an external program the runner's objective keeps its own idle worker too. With a `processes`
        // evaluator the manager also starts its own pool (it builds each runner's evaluator before the
        // backend sends the recipe to a child) and keeps that pool's first worker, idle, to the end.
        let runner_objective = usize::from(self.command && evaluator == "processes");
        let manager_pool = usize::from(evaluator == "processes");
        checked + manager_pool + 2 * (1 + per_optimizer + runner_objective)
    }
}

/// The combinations, in the order trials cycle through them. Threads at both levels (or with a serial
/// level 2) on a built-in objective start no process at all, and `processes-forced` fixes level 2.
fn combos() -> Vec<Combo> {
    let mut all = Vec::new();
    for backend in ["threads", "processes"] {
        for evaluator in ["serial", "threads", "processes"] {
            for command in [false, true] {
                if backend == "threads" && evaluator != "processes" && !command {
                    continue;
                }
                all.push(Combo { backend, evaluator: Some(evaluator), command });
            }
        }
    }
    for command in [false, true] {
        all.push(Combo { backend: "processes-forced", evaluator: None, command });
    }
    all
}

/// SplitMix64: the benchmark's own seeded generator for the extra waits.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// One process as `/proc` shows it.
#[derive(Debug, Clone)]
struct Proc {
    pid: i32,
    ppid: i32,
    state: char,
    start_time: u64,
    cmdline: String,
    /// The pid in its `GLOMPO_RUN` marker.
    marked_by: Option<i32>,
}

impl Proc {
    fn alive(&self) -> bool {
        !matches!(self.state, 'Z' | 'X')
    }
}

/// Reads `/proc/PID`; `None` if the process is gone.
fn read_proc(pid: i32) -> Option<Proc> {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let stat = fs::read_to_string(dir.join("stat")).ok()?;
    // The fields after the command name, which may hold spaces and parentheses: state, ppid, ...
    let rest: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    let state = rest.first()?.chars().next()?;
    let ppid = rest.get(1)?.parse().ok()?;
    // Field 22 of the line, the 20th after the name.
    let start_time = rest.get(19)?.parse().ok()?;
    let cmdline = fs::read(dir.join("cmdline")).map(|c| String::from_utf8_lossy(&c).replace('\0', " "));
    let marked_by = fs::read(dir.join("environ")).ok().and_then(|env| {
        env.split(|b| *b == 0)
            .find_map(|var| var.strip_prefix(b"GLOMPO_RUN="))
            .and_then(|value| std::str::from_utf8(value).ok()?.split('.').next()?.parse().ok())
    });
    Some(Proc {
        pid,
        ppid,
        state,
        start_time,
        cmdline: cmdline.unwrap_or_default().trim().to_owned(),
        marked_by,
    })
}

/// Seconds since boot, the clock of start times.
fn uptime() -> f64 {
    let text = fs::read_to_string("/proc/uptime").expect("/proc/uptime can be read");
    text.split_whitespace().next().and_then(|t| t.parse().ok()).expect("/proc/uptime holds a number")
}

fn all_processes() -> Vec<Proc> {
    fs::read_dir("/proc")
        .expect("/proc can be listed")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(read_proc)
        .collect()
}

/// The processes of the run of `manager` (not the manager itself), living or zombie.
fn run_processes(manager: i32, tag: &str) -> BTreeMap<i32, Proc> {
    let table = all_processes();
    let mut run: BTreeMap<i32, Proc> = table
        .iter()
        .filter(|p| p.pid != manager && (p.marked_by == Some(manager) || p.cmdline.contains(tag)))
        .map(|p| (p.pid, p.clone()))
        .collect();
    // Everything below the manager or below a process of the run, by parentage.
    loop {
        let before = run.len();
        for p in &table {
            if p.pid != manager && (p.ppid == manager || run.contains_key(&p.ppid)) {
                run.entry(p.pid).or_insert_with(|| p.clone());
            }
        }
        if run.len() == before {
            return run;
        }
    }
}

/// Whether `p` still runs: the same pid and start time, not a zombie.
fn still_running(p: &Proc) -> Option<Proc> {
    read_proc(p.pid).filter(|now| now.start_time == p.start_time && now.alive())
}

/// What one trial measured.
#[derive(Debug, Default)]
struct Trial {
    /// Processes of the run alive just before the kill.
    before: usize,
    /// Whether one of them was younger than [`YOUNG`]: the kill landed while it started.
    young: bool,
    /// Whether the run reached the expected process count before [`START_TIMEOUT`].
    up: bool,
    /// Processes of the run alive 2 s after the kill.
    survivors: Vec<Proc>,
    /// How long after the kill the last recorded process died, if all did within the grace period.
    cleared: Option<Duration>,
}

fn trial(glompo: &Path, i: usize, combo: Combo, extra: Duration, model: Model) -> Trial {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path();
    // A tag no other run (and no test of the workspace) uses, on the command lines of this trial's
    // runner and worker processes.
    let tag = format!("0.00577215{i:04}1");
    let objective = if combo.command {
        let text = match model {
            Model::Plain => MODEL,
            Model::Nested => NESTED_MODEL,
            Model::Setsid => SETSID_MODEL,
        };
        fs::write(dir.join("model.py"), text).expect("the model is written");
        json!({"command": ["python3", "model.py", tag], "dim": 3})
    } else {
        let delay: f64 = tag.parse().expect("the tag is a number");
        json!({"function": "sphere", "dim": 3, "delay_s": delay})
    };
    let mut optimizers = vec![
        json!({"type": "cma-es", "sigma0": 0.5, "workers": 2}),
        // Short random searches: new optimizers (and runner processes) start all the time.
        json!({"type": "random-search", "iters": 60, "workers": 2}),
    ];
    if let Some(evaluator) = combo.evaluator {
        for o in &mut optimizers {
            o["evaluator"] = json!(evaluator);
        }
    }
    let config = json!({
        "objective": objective,
        "bounds": [[-1, 1]],
        "optimizers": optimizers,
        "max_jobs": 4,
        "backend": combo.backend,
        "convergence": "max_evals(100000000)",
        "seed": i,
    });
    let config_path = dir.join("config.json");
    fs::write(&config_path, serde_json::to_string_pretty(&config).expect("JSON"))
        .expect("the config is written");
    let stderr = fs::File::create(dir.join("stderr.txt")).expect("a file for the run's stderr");
    let mut child: Child = Command::new(glompo)
        .arg("run")
        .arg(&config_path)
        .args(["--dir", "out", "--quiet", "--no-reap"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("glompo starts");
    let manager = i32::try_from(child.id()).expect("a pid");
    let log = dir.join("out").join("evaluations.jsonl");
    let start = Instant::now();
    let mut result = Trial::default();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let text = fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
            panic!("trial {i} ({}): the run ended by itself ({status}): {text}", combo.name());
        }
        let evaluated = fs::metadata(&log).is_ok_and(|m| m.len() > 0);
        let living = run_processes(manager, &tag).values().filter(|p| p.alive()).count();
        if evaluated && living >= combo.expected() {
            result.up = true;
            break;
        }
        if start.elapsed() > START_TIMEOUT {
            eprintln!(
                "trial {i} ({}): only {living} of {} processes after {START_TIMEOUT:?}; killing anyway",
                combo.name(),
                combo.expected()
            );
            break;
        }
        std::thread::sleep(POLL);
    }
    std::thread::sleep(extra);
    let recorded: Vec<Proc> = run_processes(manager, &tag).into_values().filter(Proc::alive).collect();
    result.before = recorded.len();
    let now = uptime();
    result.young = recorded.iter().any(|p| now - p.start_time as f64 / TICKS < YOUNG.as_secs_f64());
    kill(Pid::from_raw(manager), Signal::SIGKILL).expect("the manager can be killed");
    let killed = Instant::now();
    child.wait().expect("the manager is reaped");
    while killed.elapsed() < GRACE {
        if result.cleared.is_none() && recorded.iter().all(|p| still_running(p).is_none()) {
            result.cleared = Some(killed.elapsed());
        }
        std::thread::sleep(POLL.min(GRACE.saturating_sub(killed.elapsed())));
    }
    // Exactly 2 s after the kill: what was recorded and still runs, and whatever the run started
    // between the recording and the kill.
    let mut survivors: BTreeMap<i32, Proc> =
        recorded.iter().filter_map(still_running).map(|p| (p.pid, p)).collect();
    for p in run_processes(manager, &tag).into_values().filter(Proc::alive) {
        survivors.entry(p.pid).or_insert(p);
    }
    result.survivors = survivors.into_values().collect();
    for p in &result.survivors {
        println!(
            "SURVIVOR trial {i} ({}): pid {} ppid {} state {} marker pid {:?}: {}",
            combo.name(),
            p.pid,
            p.ppid,
            p.state,
            p.marked_by,
            p.cmdline
        );
    }
    // The benchmark leaves nothing behind.
    for p in &result.survivors {
        if still_running(p).is_some() {
            let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while result.survivors.iter().any(|p| still_running(p).is_some()) && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
    result
}

/// The totals of one combination.
#[derive(Debug, Default)]
struct Totals {
    trials: usize,
    before: usize,
    young: usize,
    survivors: usize,
    trials_with_survivors: usize,
    not_up: usize,
    slowest: Duration,
}

impl Totals {
    fn add(&mut self, t: &Trial) {
        self.trials += 1;
        self.before += t.before;
        self.young += usize::from(t.young);
        self.survivors += t.survivors.len();
        self.trials_with_survivors += usize::from(!t.survivors.is_empty());
        self.not_up += usize::from(!t.up);
        self.slowest = self.slowest.max(t.cleared.unwrap_or(GRACE));
    }

    fn row(&self, name: &str) -> String {
        let mean = if self.trials == 0 { 0.0 } else { self.before as f64 / self.trials as f64 };
        // A trial whose processes did not all die within the grace period counts as the grace period.
        let slowest = if self.slowest >= GRACE {
            format!("> {} s", GRACE.as_secs())
        } else {
            format!("{:.0} ms", self.slowest.as_secs_f64() * 1e3)
        };
        format!(
            "| {name} | {} | {mean:.1} | {} | {} | {} | {slowest} |",
            self.trials, self.young, self.survivors, self.trials_with_survivors,
        )
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let model = if args.iter().any(|a| a == "--nested") {
        Model::Nested
    } else if args.iter().any(|a| a == "--setsid") {
        Model::Setsid
    } else {
        Model::Plain
    };
    args.retain(|a| a != "--nested" && a != "--setsid");
    let number = |i: usize, default: u64| match args.get(i) {
        None => default,
        Some(a) => a.parse().unwrap_or_else(|_| {
            eprintln!(
                "usage: orphans [TRIALS] [SEED] [--nested | --setsid] (whole numbers; {a:?} is not one)"
            );
            std::process::exit(2)
        }),
    };
    let trials = usize::try_from(number(0, 100)).expect("a trial count");
    let mut rng = SplitMix(number(1, 5));
    let glompo = glompo_binary();
    assert!(glompo.exists(), "{} is missing: cargo build --release -p glompo-cli", glompo.display());
    // The nested and setsid models matter only for the external objective.
    let combos: Vec<Combo> = combos().into_iter().filter(|c| c.command || model == Model::Plain).collect();
    let mut totals: Vec<Totals> = combos.iter().map(|_| Totals::default()).collect();
    let mut survivors_seen = BTreeSet::new();
    for i in 0..trials {
        let k = i % combos.len();
        let extra = Duration::from_millis(rng.next() % (MAX_EXTRA_MS + 1));
        let t = trial(&glompo, i, combos[k], extra, model);
        eprintln!(
            "trial {i:>3} {}: {} processes{}, +{} ms, {} survivors",
            combos[k].name(),
            t.before,
            if t.young { " (one starting)" } else { "" },
            extra.as_millis(),
            t.survivors.len()
        );
        if !t.survivors.is_empty() {
            survivors_seen.insert(i);
        }
        totals[k].add(&t);
    }
    println!(
        "\n| level 1 / level 2 / objective | trials | processes before the kill (mean) | kills during a \
         start-up | alive after 2 s | trials with survivors | slowest clean-up |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut all = Totals::default();
    for (combo, t) in combos.iter().zip(&totals) {
        println!("{}", t.row(&combo.name().split_whitespace().collect::<Vec<_>>().join(" / ")));
        all.trials += t.trials;
        all.before += t.before;
        all.young += t.young;
        all.survivors += t.survivors;
        all.trials_with_survivors += t.trials_with_survivors;
        all.not_up += t.not_up;
        all.slowest = all.slowest.max(t.slowest);
    }
    println!("{}", all.row("**total**"));
    if all.not_up > 0 {
        println!("\n{} trials were killed before all their expected processes were up", all.not_up);
    }
    if !survivors_seen.is_empty() {
        println!("\nsurvivors in trials {survivors_seen:?}");
        std::process::exit(1);
    }
}
