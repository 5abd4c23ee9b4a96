//! `cargo xtask bench overhead`: managed evaluations per second on the cheap 10-D sphere.
//!
//! The work is the one the Python GloMPO was measured on: CMA-ES with population 10, two jobs on
//! threads, every evaluation written to `evaluations.jsonl`. The objective costs nanoseconds, so the
//! figure is the manager's own overhead per evaluation (ask/tell, messaging, logging, checks).
//! Run it with `--evals N` (default 2 000 000), `--repeats R` (default 5), `--no-log` (no run
//! directory, to see the cost of the log), `--processes` (level 1 in processes) and `--side-by-side`
//! (each repeat also runs without an evaluation budget, to see the cost of the budget's credit: the
//! same count as a checker that declares no budget); it prints each run and the median.
//!
//! `--checkpoint-every S` measures the cost of checkpoints instead: each repeat runs the same logged
//! run with a checkpoint every `S` seconds and without checkpoints (one after the other, in
//! alternating order), then the same run without a log; the default becomes 32 000 000 evaluations and
//! 3 repeats, so that a run lasts about 30 s and holds several checkpoints. It prints the checkpoints
//! taken, the size of the newest and how long they held up the log, and the ratio of the two logged
//! rates.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use glompo_core::checker::{Checker, CheckerExpr, RunState};
use glompo_core::functions;
use glompo_core::manager::{CHECKPOINTS, CheckpointPolicy, Event, Manager, Observe};
use glompo_core::selector::{CycleSelector, OptimizerSpec};
use serde_json::json;

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(default), |v| v.parse::<u64>())
        .unwrap_or_else(|_| {
            eprintln!("{name} takes a whole number");
            std::process::exit(2)
        })
}

/// `max_evals(n)` without its budget: the run ends at the same count, but runners get unlimited
/// credit, as before budgets existed.
struct Unbudgeted(u64);

impl std::fmt::Display for Unbudgeted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unbudgeted_max_evals({})", self.0)
    }
}

impl Checker for Unbudgeted {
    fn check(&mut self, run: &RunState) -> bool {
        run.evaluations >= self.0
    }
}

/// Counts the checkpoint events of a run and how long each held up the log (every case of
/// `--checkpoint-every` has one, so that they all pay the same observer call per evaluation).
///
/// The hold-up is the time from the arrival of the last result group logged before the event (the
/// `t` the manager stamps each group with) to the event: the manager then handled the last answer to
/// the save requests and wrote the file, and logged nothing.
struct CountCheckpoints {
    taken: Arc<AtomicU64>,
    last_t: f64,
    stalls: Arc<std::sync::Mutex<Vec<f64>>>,
}

impl Observe for CountCheckpoints {
    fn observe(&mut self, event: &Event<'_>) -> glompo_core::Result<()> {
        match event {
            Event::Evaluation(e) => self.last_t = e.t,
            Event::Checkpoint { t, .. } => {
                self.taken.fetch_add(1, Ordering::Relaxed);
                let mut stalls = self.stalls.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                stalls.push(t - self.last_t);
            }
            _ => {}
        }
        Ok(())
    }
}

/// One kind of run.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Case {
    /// `max_evals` with its budget, or the same count without one.
    budgeted: bool,
    /// A run directory with the evaluation log.
    log: bool,
    /// A checkpoint every so many seconds.
    checkpoint_every: Option<f64>,
}

impl Case {
    fn label(&self) -> String {
        let mut parts = Vec::new();
        if !self.budgeted {
            parts.push("without a budget".to_owned());
        }
        parts.push(if self.log { "log on".to_owned() } else { "log off".to_owned() });
        if let Some(s) = self.checkpoint_every {
            parts.push(format!("a checkpoint every {s} s"));
        }
        parts.join(", ")
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let checkpoint_every = args.iter().position(|a| a == "--checkpoint-every").map(|i| {
        match args.get(i + 1).and_then(|v| v.parse::<f64>().ok()) {
            Some(s) if s.is_finite() && s > 0.0 => s,
            _ => {
                eprintln!("--checkpoint-every takes a positive number of seconds");
                std::process::exit(2)
            }
        }
    });
    let evals = arg(&args, "--evals", if checkpoint_every.is_some() { 32_000_000 } else { 2_000_000 });
    let repeats = arg(&args, "--repeats", if checkpoint_every.is_some() { 3 } else { 5 });
    let log = !args.iter().any(|a| a == "--no-log");
    // With --processes, each optimizer runs in a child process (glompo __runner, which must be built
    // next to this example: `cargo build --release -p glompo-cli`).
    let processes = args.iter().any(|a| a == "--processes");
    let side_by_side = args.iter().any(|a| a == "--side-by-side");
    if checkpoint_every.is_some() && (side_by_side || !log) {
        eprintln!(
            "--checkpoint-every runs its own cases (log on with and without checkpoints, log off); it does not combine with --no-log or --side-by-side"
        );
        std::process::exit(2)
    }
    let sphere = Arc::new(functions::build("sphere", 10, &serde_json::Map::new()).expect("sphere exists"));
    let options = json!({"popsize": 10, "sigma0": 1.0});
    let factory =
        glompo_optimizers::factory("cma-es", options.as_object().expect("an object")).expect("valid options");
    let main_case = Case { budgeted: true, log, checkpoint_every: None };
    let mut cases = vec![main_case];
    if side_by_side {
        cases.push(Case { budgeted: false, ..main_case });
    }
    if let Some(s) = checkpoint_every {
        cases = vec![
            main_case,
            Case { checkpoint_every: Some(s), ..main_case },
            Case { log: false, ..main_case },
        ];
    }
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for i in 0..repeats {
        let mut order: Vec<usize> = (0..cases.len()).collect();
        // The two logged cases of --checkpoint-every take turns at going first.
        if checkpoint_every.is_some() && i % 2 == 1 {
            order.swap(0, 1);
        }
        for k in order {
            let case = cases[k];
            let dir = tempfile::tempdir().expect("a temporary directory");
            let selector =
                CycleSelector::new(vec![OptimizerSpec::new(factory.clone())]).expect("one optimizer");
            let mut builder = Manager::builder(sphere.clone(), sphere.bounds())
                .selector(Box::new(selector))
                .checker(if case.budgeted {
                    glompo_core::checker::max_evals(evals)
                } else {
                    CheckerExpr::leaf(Box::new(Unbudgeted(evals)))
                })
                .max_jobs(2)
                .seed(i);
            if case.log {
                builder = builder.dir(dir.path());
            }
            let taken = Arc::new(AtomicU64::new(0));
            let stalls = Arc::new(std::sync::Mutex::new(Vec::new()));
            if checkpoint_every.is_some() {
                let observer =
                    CountCheckpoints { taken: Arc::clone(&taken), last_t: 0.0, stalls: Arc::clone(&stalls) };
                builder = builder.observer(Box::new(observer));
            }
            if let Some(s) = case.checkpoint_every {
                let policy = CheckpointPolicy { every_seconds: Some(s), ..CheckpointPolicy::default() };
                builder = builder.checkpoints(policy);
            }
            if processes {
                let exe = std::env::current_exe().expect("the example's path");
                let glompo =
                    exe.parent().and_then(|p| p.parent()).expect("a target directory").join("glompo");
                let config = json!({"objective": {"function": "sphere", "dim": 10}}).to_string();
                let argv = vec![glompo.to_string_lossy().into_owned(), "__runner".into(), config];
                builder = builder
                    .backend(Box::new(glompo_backends::ProcessBackend::new(argv).expect("a runner command")));
            }
            let manager = builder.build().expect("a valid manager");
            let start = Instant::now();
            let result = manager.run().expect("the run succeeds");
            let seconds = start.elapsed().as_secs_f64();
            let rate = result.counters.evaluations as f64 / seconds;
            let log_bytes = std::fs::metadata(dir.path().join("evaluations.jsonl")).map_or(0, |m| m.len());
            let mut line = format!(
                "run {i} ({}): {} evaluations in {seconds:.3} s = {rate:.0} evaluations/s ({} optimizers, log {:.1} MB",
                case.label(),
                result.counters.evaluations,
                result.counters.optimizers_started,
                log_bytes as f64 / 1e6
            );
            if case.checkpoint_every.is_some() {
                // The checkpoint files, newest last by name (checkpoint_1, ..., checkpoint_N).
                let mut files: Vec<(u64, std::path::PathBuf)> =
                    std::fs::read_dir(dir.path().join(CHECKPOINTS))
                        .map(|entries| {
                            entries
                                .flatten()
                                .map(|e| e.path())
                                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                                .map(|p| (std::fs::metadata(&p).map_or(0, |m| m.len()), p))
                                .collect()
                        })
                        .unwrap_or_default();
                files.sort_by_key(|(_, p)| glompo_core::manager::inspect(p).map_or(0, |info| info.count));
                let stalls = stalls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
                let held: f64 = stalls.iter().sum();
                line += &format!(
                    ", {} checkpoints taken, {} files, newest {:.1} kB, log held up {:.0} ms in all ({:.2} % of the run), at most {:.0} ms",
                    taken.load(Ordering::Relaxed),
                    files.len(),
                    files.last().map_or(0.0, |(b, _)| *b as f64 / 1e3),
                    held * 1e3,
                    held / seconds * 100.0,
                    stalls.iter().copied().fold(0.0, f64::max) * 1e3
                );
            }
            println!("{line})");
            rates[k].push(rate);
        }
    }
    let mode = if processes { "processes" } else { "threads" };
    if checkpoint_every.is_some() {
        let pairs: Vec<f64> = rates[1].iter().zip(&rates[0]).map(|(c, l)| c / l).collect();
        let (logged, checkpointed, unlogged) =
            (median(rates[0].clone()), median(rates[1].clone()), median(rates[2].clone()));
        println!(
            "median: {logged:.0} evaluations/s with the log, {checkpointed:.0} with the log and checkpoints ({:.3}×; median of the pairs {:.3}×), {unlogged:.0} without the log (10-D sphere, CMA-ES popsize 10, max_jobs 2, {mode})",
            checkpointed / logged,
            median(pairs)
        );
        return;
    }
    let main_rate = median(rates[0].clone());
    if side_by_side {
        let free = median(rates[1].clone());
        println!("median without a budget: {free:.0} evaluations/s; with it: {:.3}×", main_rate / free);
    }
    println!(
        "median: {main_rate:.0} managed evaluations/s (10-D sphere, CMA-ES popsize 10, max_jobs 2, {mode}, log {})",
        if log { "on" } else { "off" }
    );
}
