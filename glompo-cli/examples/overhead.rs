//! `cargo xtask bench overhead`: managed evaluations per second on the cheap 10-D sphere.
//!
//! The work is the one the Python GloMPO was measured on: CMA-ES with population 10, two jobs on
//! threads, every evaluation written to `evaluations.jsonl`. The objective costs nanoseconds, so the
//! figure is the manager's own overhead per evaluation (ask/tell, messaging, logging, checks).
//! Run it with `--evals N` (default 2 000 000), `--repeats R` (default 5), `--no-log` (no run
//! directory, to see the cost of the log), `--processes` (level 1 in processes) and `--side-by-side`
//! (each repeat also runs without an evaluation budget, to see the cost of the budget's credit: the
//! same count as a checker that declares no budget); it prints each run and the median.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::sync::Arc;
use std::time::Instant;

use glompo_core::checker::{Checker, CheckerExpr, RunState};
use glompo_core::functions;
use glompo_core::manager::Manager;
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let evals = arg(&args, "--evals", 2_000_000);
    let repeats = arg(&args, "--repeats", 5);
    let log = !args.iter().any(|a| a == "--no-log");
    // With --processes, each optimizer runs in a child process (glompo __runner, which must be built
    // next to this example: `cargo build --release -p glompo-cli`).
    let processes = args.iter().any(|a| a == "--processes");
    let side_by_side = args.iter().any(|a| a == "--side-by-side");
    let sphere = Arc::new(functions::build("sphere", 10, &serde_json::Map::new()).expect("sphere exists"));
    let options = json!({"popsize": 10, "sigma0": 1.0});
    let factory =
        glompo_optimizers::factory("cma-es", options.as_object().expect("an object")).expect("valid options");
    let mut rates = Vec::new();
    let mut free_rates = Vec::new();
    let kinds: &[bool] = if side_by_side { &[true, false] } else { &[true] };
    for i in 0..repeats {
        for &budgeted in kinds {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let selector =
                CycleSelector::new(vec![OptimizerSpec::new(factory.clone())]).expect("one optimizer");
            let mut builder = Manager::builder(sphere.clone(), sphere.bounds())
                .selector(Box::new(selector))
                .checker(if budgeted {
                    glompo_core::checker::max_evals(evals)
                } else {
                    CheckerExpr::leaf(Box::new(Unbudgeted(evals)))
                })
                .max_jobs(2)
                .seed(i);
            if log {
                builder = builder.dir(dir.path());
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
            println!(
                "run {i}{}: {} evaluations in {seconds:.3} s = {rate:.0} evaluations/s ({} optimizers, log {:.1} MB)",
                if budgeted { "" } else { " without a budget" },
                result.counters.evaluations,
                result.counters.optimizers_started,
                log_bytes as f64 / 1e6
            );
            if budgeted { rates.push(rate) } else { free_rates.push(rate) }
        }
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    if !free_rates.is_empty() {
        free_rates.sort_by(f64::total_cmp);
        let free = free_rates[free_rates.len() / 2];
        println!("median without a budget: {free:.0} evaluations/s; with it: {:.3}×", median / free);
    }
    println!(
        "median: {median:.0} managed evaluations/s (10-D sphere, CMA-ES popsize 10, max_jobs 2, {}, log {})",
        if processes { "processes" } else { "threads" },
        if log { "on" } else { "off" }
    );
}
