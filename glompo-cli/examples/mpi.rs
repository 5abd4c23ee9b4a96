//! `cargo xtask bench mpi`: the `mpi` backend's parallel efficiency with a 10 ms objective and its
//! managed evaluations per second with a free one, beside the thread and process backends, in one
//! `mpirun` job.
//!
//! It is also the library's way to use MPI, end to end: a Rust program with its own objective,
//! started on every rank by `mpirun -np N`. Rank 0 runs the managers with
//! [`Mpi::backend`](glompo_backends::mpi::Mpi::backend); every other rank calls
//! [`Mpi::serve`](glompo_backends::mpi::Mpi::serve) with the function that builds a runner from its
//! recipe (here: this program's 10-D sphere, with the delay the manager sends as the context).
//!
//! Each case runs random search (one point per batch) for EVALS evaluations with `max_jobs` = the
//! ranks besides rank 0, in the async schedule, and compares evaluations per second with the ideal
//! `slots / t`, where `t` is one call of the objective timed on this machine with `slots` threads at
//! once; the free objective's cases print evaluations per second alone.
//!
//! `cargo xtask bench mpi [EVALS] [--ranks N]` (defaults 2 000 and 5: four hosts; the machine is
//! oversubscribed, which a sleeping objective does not mind).

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::sync::Arc;
use std::time::Instant;

use glompo_backends::ProcessBackend;
use glompo_backends::mpi::{Host, Mpi, MpiEvaluators};
use glompo_backends::process::RunnerParts;
use glompo_core::backend::Backend;
use glompo_core::evaluator::{EvaluatorFactory, Serial};
use glompo_core::functions;
use glompo_core::manager::Manager;
use glompo_core::runner::RunnerRecipe;
use glompo_core::selector::{CycleSelector, OptimizerSpec};
use serde_json::json;

#[path = "common/binary.rs"]
mod binary;
#[path = "common/call_time.rs"]
mod call_time;
use call_time::call_time;

/// This program's objective: the 10-D sphere taking `delay_s` seconds a call.
fn sphere(delay_s: f64) -> Arc<functions::Benchmark> {
    let params = json!({"delay_s": delay_s});
    Arc::new(functions::build("sphere", 10, params.as_object().expect("an object")).expect("the sphere"))
}

/// The delay of a context, `{"delay_s": …}`.
fn delay_of(context: &str) -> Result<f64, String> {
    let context: serde_json::Value =
        serde_json::from_str(context).map_err(|e| format!("bad context: {e}"))?;
    context["delay_s"].as_f64().ok_or_else(|| "the context has no delay_s".to_owned())
}

/// What the ranks run: the optimizer of a recipe with serial evaluation, and the sphere with the
/// delay of the context.
struct Spheres;

impl Host for Spheres {
    fn runner(&self, context: &str, recipe: &RunnerRecipe) -> Result<RunnerParts, String> {
        let options = recipe.options.as_object().cloned().unwrap_or_default();
        let factory = glompo_optimizers::factory(&recipe.optimizer, &options).map_err(|e| e.to_string())?;
        let optimizer = factory.build(&recipe.start_context()).map_err(|e| e.to_string())?;
        let evaluator = Serial.build(recipe.workers).map_err(|e| e.to_string())?;
        Ok((optimizer, evaluator, sphere(delay_of(context)?)))
    }

    fn objective(&self, context: &str) -> Result<Arc<dyn glompo_core::Objective>, String> {
        Ok(sphere(delay_of(context)?))
    }
}

/// Where the cases run: level 1 on `backend` (threads when `None`) with one point a batch, or, with
/// `level2`, one optimizer on rank 0 whose batches of one point per slot `level2` evaluates.
struct Layout {
    backend: Option<Box<dyn Backend>>,
    level2: Option<Arc<dyn EvaluatorFactory>>,
}

/// Evaluations per second of one run of `evals` in `layout`.
fn rate(delay: f64, evals: u64, slots: usize, layout: Layout) -> f64 {
    let batch = if layout.level2.is_some() { slots } else { 1 };
    let options = json!({"iters": 1_000_000_000u64, "batch": batch});
    let factory =
        glompo_optimizers::factory("random-search", options.as_object().expect("an object")).expect("valid");
    let mut spec = OptimizerSpec::new(factory);
    if let Some(evaluator) = layout.level2 {
        spec = spec.workers(slots).evaluator(evaluator);
    }
    let objective = sphere(delay);
    let bounds = objective.bounds();
    let backend = layout.backend;
    let mut builder = Manager::builder(objective, bounds)
        .selector(Box::new(CycleSelector::new(vec![spec]).expect("one optimizer")))
        .checker(glompo_core::checker::max_evals(evals))
        .max_jobs(slots)
        .seed(1);
    if let Some(backend) = backend {
        builder = builder.backend(backend);
    }
    let manager = builder.build().expect("a valid manager");
    let start = Instant::now();
    let result = manager.run().expect("the run succeeds");
    result.counters.evaluations as f64 / start.elapsed().as_secs_f64()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mpi = Mpi::init()?;
    if !mpi.is_manager() {
        return Ok(mpi.serve(&Spheres)?);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let evals: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let slots = mpi.size().saturating_sub(1);
    if slots == 0 {
        return Err("start it under mpirun with at least two ranks (cargo xtask bench mpi does)".into());
    }
    let runner = |delay: f64| {
        let config = json!({"objective": {"function": "sphere", "dim": 10, "delay_s": delay}}).to_string();
        vec![binary::glompo_binary().to_string_lossy().into_owned(), "__runner".into(), config]
    };
    println!(
        "{} ranks: {slots} besides rank 0; random search in the async schedule: at level 1 {slots} optimizers \
         of one point a batch, at level 2 one optimizer of {slots} points a batch on {slots} workers",
        mpi.size()
    );
    println!("{:<24} {:<18} {:>9} {:>9} {:>11}", "objective", "where", "evals/s", "ideal", "efficiency");
    for (name, delay, evals) in
        [("sphere-10, 10 ms a call", 0.01, evals), ("sphere-10, free", 0.0, evals * 100)]
    {
        let ideal = if delay > 0.0 { slots as f64 / call_time(&*sphere(delay), slots) } else { f64::NAN };
        let context = json!({"delay_s": delay}).to_string();
        for place in ["level 1 threads", "level 1 processes", "level 1 mpi", "level 2 threads", "level 2 mpi"]
        {
            let layout = match place {
                "level 1 processes" => {
                    Layout { backend: Some(Box::new(ProcessBackend::new(runner(delay))?)), level2: None }
                }
                "level 1 mpi" => {
                    Layout { backend: Some(Box::new(mpi.backend(context.clone())?)), level2: None }
                }
                "level 2 threads" => {
                    Layout { backend: None, level2: Some(Arc::new(glompo_backends::Threads)) }
                }
                "level 2 mpi" => {
                    Layout { backend: None, level2: Some(Arc::new(MpiEvaluators::new(context.clone()))) }
                }
                "level 1 threads" => Layout { backend: None, level2: None },
                other => return Err(format!("no such case: {other}").into()),
            };
            let rate = rate(delay, evals, slots, layout);
            if ideal.is_nan() {
                println!("{name:<24} {place:<18} {rate:>9.0} {:>9} {:>11}", "-", "-");
            } else {
                println!("{name:<24} {place:<18} {rate:>9.1} {ideal:>9.1} {:>10.1}%", 100.0 * rate / ideal);
            }
        }
    }
    Ok(())
}
