//! The library example of the README: a managed CMA-ES run from Rust, with no config file.
#![allow(clippy::print_stdout, reason = "an example reports on stdout")]

use std::sync::Arc;

use glompo_core::selector::{CycleSelector, OptimizerSpec};
use glompo_core::{Bounds, checker, hunter, manager::Manager, objective::from_fn};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Any `Objective` (or a closure) that is Send + Sync.
    let f = Arc::new(from_fn(|x: &[f64]| x.iter().map(|v| v * v).sum()));
    let cma = glompo_optimizers::factory("cma-es", &glompo_core::serde_json::Map::new())?;
    let result = Manager::builder(f, Bounds::uniform(5, -3.0, 3.0)?)
        .selector(Box::new(CycleSelector::new(vec![OptimizerSpec::new(cma)])?))
        .checker(checker::max_evals(20_000) | checker::target_cost(0.0, 1e-8))
        .hunter(hunter::min_evals(200) & hunter::best_unmoving(500, 0.01))
        .max_jobs(2)
        .seed(7)
        .build()?
        .run()?;
    let best = result.best.ok_or("no finite value")?;
    println!("f = {:e} at {:?} after {} evaluations", best.fx, best.x, result.counters.evaluations);
    Ok(())
}
