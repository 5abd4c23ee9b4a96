//! `cargo xtask bench memory`: the manager's memory is flat in the number of optimizers it started.
//!
//! Two fresh processes run the same managed optimization (random search restarted every 2 377
//! evaluations on the cheap 10-D sphere, two jobs on threads, hunters that keep a 2 000-evaluation
//! history window per optimizer, no run directory) for 10⁵ and for 10⁷ evaluations, and report their
//! peak resident set (`VmHWM`). The target: the long run's peak is at most 1.2 times the short one's,
//! though it started a hundred times more optimizers.
//!
//! `cargo xtask bench memory [LONG]` (default LONG = 10 000 000).

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::process::Command;
use std::sync::Arc;

use glompo_core::manager::Manager;
use glompo_core::selector::{CycleSelector, OptimizerSpec};
use glompo_core::{checker, functions, hunter};
use serde_json::json;

/// The peak resident set of this process, in MiB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("a VmHWM line");
    kb / 1024.0
}

/// One run of `evals` evaluations; prints `evaluations optimizers peak_mb`.
fn child(evals: u64) {
    let sphere = Arc::new(functions::build("sphere", 10, &serde_json::Map::new()).expect("the sphere"));
    let options = json!({"iters": 2377});
    let factory =
        glompo_optimizers::factory("random-search", options.as_object().expect("an object")).expect("valid");
    let selector = CycleSelector::new(vec![OptimizerSpec::new(factory)]).expect("one optimizer");
    let result = Manager::builder(sphere.clone(), sphere.bounds())
        .selector(Box::new(selector))
        .checker(checker::max_evals(evals))
        .hunter(hunter::min_evals(100) & hunter::best_unmoving(2000, 0.0))
        .max_jobs(2)
        .seed(3)
        .build()
        .expect("a valid manager")
        .run()
        .expect("the run succeeds");
    println!("{} {} {:.2}", result.counters.evaluations, result.counters.optimizers_started, peak_rss_mb());
}

fn run(evals: u64) -> (u64, u64, f64) {
    let exe = std::env::current_exe().expect("the example's path");
    let out = Command::new(exe).args(["--child", &evals.to_string()]).output().expect("the child runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    let parse = |i: usize| fields.get(i).copied().unwrap_or("").to_owned();
    (
        parse(0).parse().expect("evaluations"),
        parse(1).parse().expect("optimizers"),
        parse(2).parse().expect("a peak"),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(args.get(2).and_then(|n| n.parse().ok()).expect("--child N"));
        return;
    }
    let long: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000_000);
    let (short_evals, short_opts, short_mb) = run(100_000);
    println!("{short_evals:>10} evaluations, {short_opts:>6} optimizers: peak RSS {short_mb:.1} MiB");
    let (long_evals, long_opts, long_mb) = run(long);
    println!("{long_evals:>10} evaluations, {long_opts:>6} optimizers: peak RSS {long_mb:.1} MiB");
    println!("ratio {:.3} (target ≤ 1.2)", long_mb / short_mb);
}
