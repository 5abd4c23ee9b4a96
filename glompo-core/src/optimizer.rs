//! The ask/tell optimizer contract and the factories the manager builds optimizers with.

use std::fmt;

use crate::error::OptimizerError;
use crate::point::{Bounds, Evaluation};

/// Identifies one optimizer of a run; the manager numbers them 1, 2, 3, ... in start order.
pub type OptimizerId = u64;

/// What an optimizer says after digesting a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// It wants to go on.
    Running,
    /// It has converged by its own criteria; the string says which (e.g. `tolfun`).
    Converged(String),
}

/// An optimizer as an ask/tell state machine. It never loops, sleeps or evaluates anything itself: the
/// runner asks it for a batch, evaluates the batch on its level-2 evaluator and tells it the values.
/// Between any two steps it can be stopped, checkpointed or dropped.
///
/// Non-finite values (failed evaluations arrive as NaN) must be ranked worst and must never poison
/// the state. An optimizer that implements [`save`](Optimizer::save) and
/// [`restore`](Optimizer::restore) can be checkpointed and resumed; the crate's
/// `examples/own_optimizer.rs` has one, RNG included, and runs it in a manager.
///
/// ```
/// use glompo_core::{Evaluation, Optimizer, OptimizerError, Status};
///
/// /// Walks one coordinate at a time with a fixed step and stops after `left` batches.
/// struct Walker { x: Vec<f64>, best: Option<Evaluation>, left: usize }
///
/// impl Optimizer for Walker {
///     fn name(&self) -> &str { "walker" }
///     fn ask(&mut self) -> Result<Vec<Vec<f64>>, OptimizerError> {
///         Ok((0..self.x.len()).map(|i| { let mut y = self.x.clone(); y[i] -= 0.1; y }).collect())
///     }
///     fn tell(&mut self, evals: &[Evaluation]) -> Result<Status, OptimizerError> {
///         for e in evals.iter().filter(|e| e.fx.is_finite()) {
///             if self.best.as_ref().is_none_or(|b| e.fx < b.fx) {
///                 self.best = Some(e.clone());
///                 self.x = e.x.clone();
///             }
///         }
///         self.left -= 1;
///         Ok(if self.left == 0 { Status::Converged("budget".into()) } else { Status::Running })
///     }
///     fn best(&self) -> Option<Evaluation> { self.best.clone() }
/// }
///
/// let mut w = Walker { x: vec![1.0, 1.0], best: None, left: 2 };
/// let batch = w.ask().unwrap();
/// let evals: Vec<Evaluation> =
///     batch.into_iter().map(|x| Evaluation { fx: x.iter().sum(), x }).collect();
/// assert_eq!(w.tell(&evals).unwrap(), Status::Running);
/// assert_eq!(w.best().unwrap().fx, 1.9);
/// ```
pub trait Optimizer: Send {
    /// The optimizer's type name, as in configs (`cma-es`, `nelder-mead`, ...).
    fn name(&self) -> &str;

    /// The next batch of points to evaluate; every point lies inside the bounds it was built with.
    fn ask(&mut self) -> Result<Vec<Vec<f64>>, OptimizerError>;

    /// The values of the last batch, in the order it was asked.
    fn tell(&mut self, evals: &[Evaluation]) -> Result<Status, OptimizerError>;

    /// The best point this optimizer has seen, if any.
    fn best(&self) -> Option<Evaluation> {
        None
    }

    /// The number of points of each batch when it is fixed (a population optimizer's population), so
    /// that the manager can log it and does not start an optimizer whose first batch exceeds the
    /// remaining budget. The default: `None` (not fixed).
    fn popsize(&self) -> Option<usize> {
        None
    }

    /// Offers a good solution found elsewhere (incumbent sharing). The default ignores it.
    fn inject(&mut self, x: &[f64], fx: f64) {
        let _ = (x, fx);
    }

    /// The complete state, RNG included, such that `restore` continues exactly where this left off.
    fn save(&self) -> Result<serde_json::Value, OptimizerError> {
        Err(OptimizerError::Internal(format!("{} does not support checkpoints", self.name())))
    }

    /// Restores a state made by [`Optimizer::save`] of the same type.
    fn restore(&mut self, state: &serde_json::Value) -> Result<(), OptimizerError> {
        let _ = state;
        Err(OptimizerError::Internal(format!("{} does not support checkpoints", self.name())))
    }
}

/// What an optimizer is built from when the manager starts it.
#[derive(Debug, Clone, Copy)]
pub struct StartContext<'a> {
    /// The id the manager gave it.
    pub opt_id: OptimizerId,
    /// The start point, from the run's generator; inside `bounds`.
    pub x0: &'a [f64],
    /// The search box.
    pub bounds: &'a Bounds,
    /// Its own seed, derived from the run seed and `opt_id`.
    pub seed: u64,
    /// The level-2 worker slots it was given (a population optimizer may size its batches by it).
    pub workers: usize,
}

/// Builds optimizers of one configured type; selectors hand these to the manager.
///
/// The manager calls [`build`](OptimizerFactory::build) at every start, with the optimizer's own
/// seed and start point; [`settings`](OptimizerFactory::settings) is what the logs record of the
/// configuration. `examples/own_optimizer.rs` runs a factory of one's own in a manager.
///
/// ```
/// use std::sync::Arc;
/// use glompo_core::serde_json::{Value, json};
/// use glompo_core::{Bounds, Evaluation, Optimizer, OptimizerError, OptimizerFactory, SeededRng};
/// use glompo_core::{StartContext, Status};
///
/// /// Samples `batch` points uniformly in the box at every ask, forever.
/// struct Uniform { rng: SeededRng, bounds: Bounds, batch: usize }
///
/// impl Optimizer for Uniform {
///     fn name(&self) -> &str { "uniform" }
///     fn popsize(&self) -> Option<usize> { Some(self.batch) }
///     fn ask(&mut self) -> Result<Vec<Vec<f64>>, OptimizerError> {
///         let (bounds, rng) = (&self.bounds, &mut self.rng);
///         let point = |_| bounds.pairs().map(|(lo, hi)| rng.uniform_in(lo, hi)).collect();
///         Ok((0..self.batch).map(point).collect())
///     }
///     fn tell(&mut self, _evals: &[Evaluation]) -> Result<Status, OptimizerError> { Ok(Status::Running) }
/// }
///
/// #[derive(Debug)]
/// struct UniformFactory { batch: usize }
///
/// impl OptimizerFactory for UniformFactory {
///     fn name(&self) -> &str { "uniform" }
///     fn settings(&self) -> Value { json!({ "batch": self.batch }) }
///     fn build(&self, ctx: &StartContext<'_>) -> Result<Box<dyn Optimizer>, OptimizerError> {
///         if self.batch == 0 {
///             return Err(OptimizerError::invalid_option("batch", "must be at least 1"));
///         }
///         let rng = SeededRng::new(ctx.seed);
///         Ok(Box::new(Uniform { rng, bounds: ctx.bounds.clone(), batch: self.batch }))
///     }
///     // A population optimizer scales its population for IPOP and BIPOP restarts.
///     fn with_population_factor(&self, factor: f64) -> Option<Arc<dyn OptimizerFactory>> {
///         let batch = (self.batch as f64 * factor).floor().max(1.0) as usize;
///         Some(Arc::new(UniformFactory { batch }))
///     }
///     fn popsize(&self, _bounds: &Bounds, _workers: usize) -> Option<usize> { Some(self.batch) }
/// }
///
/// let bounds = Bounds::uniform(2, -1.0, 1.0).unwrap();
/// let ctx = StartContext { opt_id: 1, x0: &[0.0, 0.0], bounds: &bounds, seed: 42, workers: 1 };
/// let factory = UniformFactory { batch: 4 };
/// assert_eq!(factory.settings(), json!({ "batch": 4 }));
///
/// let batch = factory.build(&ctx).unwrap().ask().unwrap();
/// assert_eq!(batch.len(), 4);
/// assert!(batch.iter().all(|x| bounds.contains(x)));
/// // The same seed gives the same points: a run is reproducible.
/// assert_eq!(factory.build(&ctx).unwrap().ask().unwrap(), batch);
///
/// let doubled = factory.with_population_factor(2.0).unwrap();
/// assert_eq!(doubled.build(&ctx).unwrap().popsize(), Some(8));
/// assert_eq!(doubled.popsize(&bounds, 1), Some(8));
/// assert!(UniformFactory { batch: 0 }.build(&ctx).is_err());
/// ```
pub trait OptimizerFactory: Send + Sync + fmt::Debug {
    /// The type name, as in configs.
    fn name(&self) -> &str;

    /// The settings, as logged in `optimizers.jsonl` and the summary.
    fn settings(&self) -> serde_json::Value;

    /// The settings an optimizer built for `bounds` with `workers` level-2 slots runs with: those
    /// [`settings`](OptimizerFactory::settings) leaves to the dimension, the box or the worker count
    /// (a default population, step size or batch) resolved to their values. The start events of
    /// `optimizers.jsonl` and the summary log these. The default: [`settings`](OptimizerFactory::settings).
    fn resolved_settings(&self, bounds: &Bounds, workers: usize) -> serde_json::Value {
        let _ = (bounds, workers);
        self.settings()
    }

    /// Builds a fresh optimizer.
    fn build(&self, ctx: &StartContext<'_>) -> Result<Box<dyn Optimizer>, OptimizerError>;

    /// The same configuration with `factor` times its population (its default or configured size,
    /// rounded down, at least the optimizer's minimum), for population-based optimizers; `None` (the
    /// default) for the others. IPOP and BIPOP restarts use it.
    fn with_population_factor(&self, factor: f64) -> Option<std::sync::Arc<dyn OptimizerFactory>> {
        let _ = factor;
        None
    }

    /// The same configuration with `factor` times its initial step size, for optimizers that have
    /// one; `None` (the default) for the others. BIPOP's small-population restarts use it.
    fn with_step_factor(&self, factor: f64) -> Option<std::sync::Arc<dyn OptimizerFactory>> {
        let _ = factor;
        None
    }

    /// The population (the size of every batch) of the optimizers it builds for `bounds` with
    /// `workers` level-2 slots, where it is fixed; `None` (the default) where it is not. Restart
    /// selectors use it to start only populations whose first generations fit in the budget.
    fn popsize(&self, bounds: &Bounds, workers: usize) -> Option<usize> {
        let _ = (bounds, workers);
        None
    }

    /// A factory of the same type built from `settings`, as [`settings`](OptimizerFactory::settings)
    /// wrote them (one of its scaled restarts, say); `None` (the default) when it cannot. A resumed
    /// run rebuilds with it the optimizers that a restart selector had started with scaled settings.
    fn with_settings(&self, settings: &serde_json::Value) -> Option<std::sync::Arc<dyn OptimizerFactory>> {
        let _ = settings;
        None
    }
}
