//! Your own optimizer in a managed run: an [`Optimizer`], its [`OptimizerFactory`] and a
//! [`Manager`] that runs several of them with a hunter and a checker.
//!
//! `LocalSearch` is a (1+λ) random local search: each batch is `batch` Gaussian steps around its
//! point; it moves to the best of them when that improves, widens its step after a success and
//! halves it after a failure, and converges when the step falls below `tol`. Its state (point, step,
//! best and RNG position) is saved and restored exactly, so it can be checkpointed and resumed.
//!
//! `cargo run -p glompo-core --example own_optimizer`; glompo-core's integration tests run it
//! (`tests/it/own_optimizer.rs`) and check its optimizer's save and restore.
#![allow(clippy::print_stdout, reason = "an example reports on stdout")]

use std::sync::Arc;

use glompo_core::manager::{Manager, RunResult};
use glompo_core::selector::{CycleSelector, OptimizerSpec};
use glompo_core::serde_json::{self, Value, json};
use glompo_core::{
    Bounds, Evaluation, Optimizer, OptimizerError, OptimizerFactory, RngState, SeededRng, StartContext,
    Status, checker, functions, hunter,
};
use serde::{Deserialize, Serialize};

/// A (1+λ) random local search with an adaptive step.
#[derive(Debug)]
struct LocalSearch {
    bounds: Bounds,
    batch: usize,
    tol: f64,
    rng: SeededRng,
    x: Vec<f64>,
    /// The step, as a fraction of each side of the box.
    step: f64,
    best: Option<Evaluation>,
}

/// Everything `LocalSearch` goes on from; its configuration comes from its factory.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    x: Vec<f64>,
    step: f64,
    best: Option<Evaluation>,
    rng: RngState,
}

impl Optimizer for LocalSearch {
    fn name(&self) -> &str {
        "local-search"
    }

    fn popsize(&self) -> Option<usize> {
        Some(self.batch)
    }

    fn ask(&mut self) -> Result<Vec<Vec<f64>>, OptimizerError> {
        let (rng, step) = (&mut self.rng, self.step);
        let batch = (0..self.batch).map(|_| {
            let mut y: Vec<f64> = self
                .x
                .iter()
                .zip(self.bounds.pairs())
                .map(|(x, (lo, hi))| x + step * (hi - lo) * rng.normal())
                .collect();
            self.bounds.clip(&mut y);
            y
        });
        Ok(batch.collect())
    }

    fn tell(&mut self, evals: &[Evaluation]) -> Result<Status, OptimizerError> {
        // Failed evaluations arrive as NaN and must never win.
        let candidate = evals.iter().filter(|e| e.fx.is_finite()).min_by(|a, b| a.fx.total_cmp(&b.fx));
        match candidate {
            Some(c) if self.best.as_ref().is_none_or(|b| c.fx < b.fx) => {
                self.x = c.x.clone();
                self.best = Some(c.clone());
                self.step = (self.step * 1.5).min(0.5);
            }
            _ => self.step *= 0.5,
        }
        Ok(if self.step < self.tol { Status::Converged("step".into()) } else { Status::Running })
    }

    fn best(&self) -> Option<Evaluation> {
        self.best.clone()
    }

    fn save(&self) -> Result<Value, OptimizerError> {
        let state =
            State { x: self.x.clone(), step: self.step, best: self.best.clone(), rng: self.rng.state() };
        serde_json::to_value(state).map_err(|e| OptimizerError::Internal(e.to_string()))
    }

    fn restore(&mut self, state: &Value) -> Result<(), OptimizerError> {
        let bad = |message: String| OptimizerError::BadState { optimizer: "local-search".into(), message };
        let state = State::deserialize(state).map_err(|e| bad(e.to_string()))?;
        if state.x.len() != self.bounds.dim() {
            return Err(bad(format!(
                "a point of {} coordinates in {} dimensions",
                state.x.len(),
                self.bounds.dim()
            )));
        }
        self.rng = SeededRng::from_state(&state.rng).map_err(bad)?;
        (self.x, self.step, self.best) = (state.x, state.step, state.best);
        Ok(())
    }
}

/// Builds `LocalSearch`es; the manager calls it at every start with the optimizer's seed and start.
#[derive(Debug, Clone, PartialEq)]
struct LocalSearchFactory {
    batch: usize,
    step0: f64,
    tol: f64,
}

impl OptimizerFactory for LocalSearchFactory {
    fn name(&self) -> &str {
        "local-search"
    }

    fn settings(&self) -> Value {
        json!({ "batch": self.batch, "step0": self.step0, "tol": self.tol })
    }

    fn build(&self, ctx: &StartContext<'_>) -> Result<Box<dyn Optimizer>, OptimizerError> {
        if self.batch == 0 {
            return Err(OptimizerError::invalid_option("batch", "must be at least 1"));
        }
        if !(self.tol > 0.0 && self.step0 > self.tol) {
            return Err(OptimizerError::invalid_option("step0", "must exceed tol, which must be positive"));
        }
        Ok(Box::new(LocalSearch {
            bounds: ctx.bounds.clone(),
            batch: self.batch,
            tol: self.tol,
            rng: SeededRng::new(ctx.seed),
            x: ctx.x0.to_vec(),
            step: self.step0,
            best: None,
        }))
    }
}

/// The factory the run uses.
pub(crate) fn factory() -> Arc<dyn OptimizerFactory> {
    Arc::new(LocalSearchFactory { batch: 4, step0: 0.1, tol: 1e-6 })
}

/// Minimises the 2-D Rastrigin function (minimum 0 at the origin, hundreds of local minima) with
/// local searches on two worker slots. A hunter kills those that stall above another's best; every
/// start is at a random point; the run ends at the target or after 20 000 evaluations.
pub(crate) fn run() -> Result<RunResult, Box<dyn std::error::Error>> {
    let rastrigin = functions::build("rastrigin", 2, &serde_json::Map::new())?;
    let bounds = rastrigin.bounds();
    let spec = OptimizerSpec::new(factory());
    let result = Manager::builder(Arc::new(rastrigin), bounds)
        .selector(Box::new(CycleSelector::new(vec![spec])?))
        .checker(checker::max_evals(20_000) | checker::target_cost(0.0, 1e-6))
        .hunter(hunter::min_evals(40) & hunter::best_unmoving(40, 0.01))
        .max_jobs(2)
        .seed(3)
        .build()?
        .run()?;
    Ok(result)
}

pub(crate) fn main() -> Result<(), Box<dyn std::error::Error>> {
    let result = run()?;
    let best = result.best.as_ref().ok_or("no finite value")?;
    println!("f = {:e} at {:?}, found by optimizer {}", best.fx, best.x, best.opt_id);
    let c = &result.counters;
    println!(
        "{} evaluations, {} optimizers: {} converged, {} killed; {}",
        c.evaluations, c.optimizers_started, c.optimizers_converged, c.optimizers_killed, result.end_reason
    );
    Ok(())
}
