//! `cargo xtask bench efficiency`: parallel efficiency of the backends with a 10 ms objective.
//!
//! Each case runs random search on the 10-D sphere with `delay_s = 0.01` (a sleep per call standing in
//! for an expensive model) for a fixed number of evaluations, and compares the evaluations per second
//! with the ideal: `slots / t`, where `t` is what one call of that objective takes on this machine,
//! measured just before the case with `slots` threads calling it at once (a 10 ms sleep takes about
//! 10.1 ms). The ratio to `slots / 10 ms` is printed too. The layouts are the issue's: 2 jobs × 1 worker, 1 job × 2 workers and
//! 2 jobs × 2 workers, with level 1 on threads and in processes (`glompo __runner`) and level 2 serial,
//! in the async schedule; and in the deterministic schedule (rounds of one batch per optimizer, each
//! random search asking a batch of one point per worker) 4 jobs × 1 worker and 2 jobs × 2 workers,
//! on threads and in worker processes (`glompo __worker`); the glompo binary must be built next to
//! this example (`cargo xtask bench efficiency` does that).

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::sync::Arc;
use std::time::Instant;

use glompo_backends::{CommandSpec, ProcessBackend, Processes, Threads};
use glompo_core::evaluator::{EvaluatorFactory, Serial};
use glompo_core::functions;
use glompo_core::manager::{Manager, Schedule};
use glompo_core::selector::{CycleSelector, OptimizerSpec};
use serde_json::json;

#[path = "common/binary.rs"]
mod binary;
#[path = "common/call_time.rs"]
mod call_time;
use binary::glompo_binary;
use call_time::call_time;

const DELAY: f64 = 0.01;

fn main() {
    let evals: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(400);
    let params = json!({"delay_s": DELAY});
    let params = params.as_object().expect("an object");
    let sphere = Arc::new(functions::build("sphere", 10, params).expect("the sphere"));
    let worker = CommandSpec {
        argv: vec![
            glompo_binary().to_string_lossy().into_owned(),
            "__worker".into(),
            json!({"function": "sphere", "dim": 10, "delay_s": DELAY}).to_string(),
        ],
        ..CommandSpec::default()
    };
    let level2: [(&str, Arc<dyn EvaluatorFactory>); 3] = [
        ("serial", Arc::new(Serial)),
        ("threads", Arc::new(Threads)),
        ("processes", Arc::new(Processes::new(worker))),
    ];
    let runner_config = json!({"objective": {"function": "sphere", "dim": 10, "delay_s": DELAY}}).to_string();
    let runner = vec![glompo_binary().to_string_lossy().into_owned(), "__runner".into(), runner_config];
    // The layouts in the async schedule, and in the deterministic one its case (4 optimizers
    // of equal batches on 4 slots) and the 2 x 2 layout.
    let layouts = [
        (Schedule::Async, (2usize, 1usize)),
        (Schedule::Async, (1, 2)),
        (Schedule::Async, (2, 2)),
        (Schedule::Deterministic, (4, 1)),
        (Schedule::Deterministic, (2, 2)),
    ];
    println!(
        "{:<10} {:<10} {:<14} {:<22} {:>9} {:>9} {:>11} {:>11}",
        "level 1", "level 2", "schedule", "layout", "evals/s", "ideal", "efficiency", "vs 10 ms"
    );
    for level1 in ["threads", "processes"] {
        for (name, evaluator) in &level2 {
            for (schedule, (jobs, workers)) in layouts {
                if *name == "serial" && workers > 1 {
                    continue;
                }
                let options = json!({"iters": 1_000_000_000u64, "batch": workers});
                let factory =
                    glompo_optimizers::factory("random-search", options.as_object().expect("an object"))
                        .expect("valid");
                let spec = OptimizerSpec::new(factory).workers(workers).evaluator(Arc::clone(evaluator));
                let mut builder = Manager::builder(sphere.clone(), sphere.bounds())
                    .selector(Box::new(CycleSelector::new(vec![spec]).expect("one optimizer")))
                    .checker(glompo_core::checker::max_evals(evals))
                    .max_jobs(jobs * workers)
                    .schedule(schedule)
                    .seed(1);
                if level1 == "processes" {
                    let backend = ProcessBackend::new(runner.clone()).expect("a runner command");
                    builder = builder.backend(Box::new(backend));
                }
                let call = call_time(&*sphere, jobs * workers);
                let manager = builder.build().expect("a valid manager");
                let start = Instant::now();
                let result = manager.run().expect("the run succeeds");
                let rate = result.counters.evaluations as f64 / start.elapsed().as_secs_f64();
                let ideal = (jobs * workers) as f64 / call;
                println!(
                    "{level1:<10} {name:<10} {:<14} {:<22} {rate:>9.1} {ideal:>9.1} {:>10.1}% {:>10.1}%",
                    schedule.name(),
                    format!("{jobs} jobs x {workers} workers"),
                    100.0 * rate / ideal,
                    100.0 * rate * DELAY / (jobs * workers) as f64
                );
            }
        }
    }
}
