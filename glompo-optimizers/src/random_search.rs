//! Uniform random search: a baseline and a sanity check for the manager.
//!
//! Each [`ask`](Optimizer::ask) returns `batch` points drawn uniformly in the bounds (the first batch starts
//! with `x0`); after `iters` evaluations in total the optimizer reports `Converged("max_iters")`.

use glompo_core::{
    Bounds, Evaluation, Optimizer, OptimizerError, OptimizerFactory, SeededRng, StartContext, Status,
};
use serde::{Deserialize, Serialize};

use crate::util::{self, BestRecord, exact};

/// The options of [`RandomSearch`], as written in a config entry of type `random-search`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomSearchConfig {
    /// The number of evaluations after which the search converges (`max_iters`); default 100, as in the
    /// original GloMPO random optimizer. At least 1.
    pub iters: Option<usize>,
    /// The number of points per batch; default the optimizer's level-2 worker count (at least 1).
    pub batch: Option<usize>,
}

impl RandomSearchConfig {
    /// The default of [`RandomSearchConfig::iters`].
    pub const DEFAULT_ITERS: usize = 100;

    /// The option names, as accepted in a config entry.
    pub const OPTIONS: &'static [&'static str] = &["iters", "batch"];

    /// Checks every option; the error names the first invalid one.
    pub fn validate(&self) -> Result<(), OptimizerError> {
        if self.iters == Some(0) {
            return Err(OptimizerError::invalid_option("iters", "must be at least 1"));
        }
        if self.batch == Some(0) {
            return Err(OptimizerError::invalid_option("batch", "must be at least 1"));
        }
        Ok(())
    }

    /// The points each batch holds with `workers` level-2 slots: `batch` (default the worker count),
    /// never more than the search has left to evaluate.
    pub fn resolved_batch(&self, workers: usize) -> usize {
        self.batch.unwrap_or(workers).max(1).min(self.resolved_iters().max(1))
    }

    /// The evaluation budget after which the search converges.
    pub fn resolved_iters(&self) -> usize {
        self.iters.unwrap_or(Self::DEFAULT_ITERS)
    }
}

util::config_factory!(
    /// Builds [`RandomSearch`] optimizers.
    RandomSearchFactory, RandomSearchConfig
);

impl OptimizerFactory for RandomSearchFactory {
    fn name(&self) -> &str {
        RandomSearch::NAME
    }

    /// The resolved options; `batch` is `null` when it follows the worker count.
    fn settings(&self) -> serde_json::Value {
        serde_json::json!({ "iters": self.config.resolved_iters(), "batch": self.config.batch })
    }

    /// With `batch` the number of points each batch holds for `workers` slots.
    fn resolved_settings(&self, _bounds: &Bounds, workers: usize) -> serde_json::Value {
        let batch = self.config.resolved_batch(workers);
        serde_json::json!({ "iters": self.config.resolved_iters(), "batch": batch })
    }

    fn build(&self, ctx: &StartContext<'_>) -> Result<Box<dyn Optimizer>, OptimizerError> {
        Ok(Box::new(RandomSearch::new(&self.config, ctx)?))
    }
}

/// Uniform random search in the bounds.
///
/// ```
/// use glompo_core::{Bounds, Evaluation, Optimizer, OptimizerFactory, StartContext, Status};
/// use glompo_optimizers::{RandomSearchConfig, RandomSearchFactory};
///
/// let bounds = Bounds::uniform(5, -5.0, 5.0).unwrap();
/// let x0 = [2.0; 5];
/// let config = RandomSearchConfig { iters: Some(200), batch: Some(10) };
/// let factory = RandomSearchFactory::new(config).unwrap();
/// let ctx = StartContext { opt_id: 1, x0: &x0, bounds: &bounds, seed: 3, workers: 1 };
/// let mut opt = factory.build(&ctx).unwrap();
/// let sphere = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>();
/// loop {
///     let batch = opt.ask().unwrap();
///     assert!(batch.iter().all(|x| bounds.contains(x)));
///     let evals: Vec<Evaluation> = batch.into_iter().map(|x| Evaluation { fx: sphere(&x), x }).collect();
///     if let Status::Converged(reason) = opt.tell(&evals).unwrap() {
///         assert_eq!(reason, "max_iters");
///         break;
///     }
/// }
/// assert!(opt.best().unwrap().fx < sphere(&x0));
/// ```
#[derive(Debug)]
pub struct RandomSearch {
    bounds: Bounds,
    batch: usize,
    iters: usize,
    rng: SeededRng,
    state: State,
}

/// Everything that changes while the search runs, RNG aside.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    /// Evaluations told so far.
    evaluated: usize,
    /// The start point, evaluated in the first batch.
    #[serde(with = "exact::vec")]
    x0: Vec<f64>,
    /// The batch asked and not yet told.
    #[serde(with = "exact::vecs")]
    pending: Vec<Vec<f64>>,
    /// Injected points waiting for the next batch.
    #[serde(with = "exact::vecs")]
    injected: Vec<Vec<f64>>,
    best: BestRecord,
}

impl RandomSearch {
    /// The canonical type name.
    pub const NAME: &'static str = "random-search";

    /// A search for one start context; the options must be valid and `x0` inside the bounds.
    pub fn new(config: &RandomSearchConfig, ctx: &StartContext<'_>) -> Result<Self, OptimizerError> {
        config.validate()?;
        util::check_start(ctx)?;
        let batch = config.batch.unwrap_or(ctx.workers).max(1);
        let n = ctx.bounds.dim();
        let held = config.resolved_batch(ctx.workers);
        util::check_state_size(
            "batch",
            held as f64 * n as f64,
            &format!("random search holds a batch of {held} points × {n} dimensions"),
        )?;
        Ok(RandomSearch {
            bounds: ctx.bounds.clone(),
            batch,
            iters: config.resolved_iters(),
            rng: SeededRng::new(ctx.seed),
            state: State {
                evaluated: 0,
                x0: ctx.x0.to_vec(),
                pending: Vec::new(),
                injected: Vec::new(),
                best: BestRecord::default(),
            },
        })
    }

    fn uniform_point(&mut self) -> Vec<f64> {
        let pairs: Vec<(f64, f64)> = self.bounds.pairs().collect();
        pairs.into_iter().map(|(lo, hi)| self.rng.uniform_in(lo, hi)).collect()
    }
}

impl Optimizer for RandomSearch {
    fn name(&self) -> &str {
        Self::NAME
    }

    /// The next batch: injected points first, `x0` first of all in the first batch, then uniform draws.
    /// Asking again before telling returns the same batch.
    fn ask(&mut self) -> Result<Vec<Vec<f64>>, OptimizerError> {
        if self.state.pending.is_empty() {
            let left = self.iters.saturating_sub(self.state.evaluated);
            let size = if left > 0 { self.batch.min(left) } else { self.batch };
            let mut batch = Vec::with_capacity(size);
            if self.state.evaluated == 0 {
                batch.push(self.state.x0.clone());
            }
            while batch.len() < size && !self.state.injected.is_empty() {
                batch.push(self.state.injected.remove(0));
            }
            while batch.len() < size {
                let x = self.uniform_point();
                batch.push(x);
            }
            self.state.pending = batch;
        }
        Ok(self.state.pending.clone())
    }

    fn tell(&mut self, evals: &[Evaluation]) -> Result<Status, OptimizerError> {
        let pending = (!self.state.pending.is_empty()).then_some(self.state.pending.as_slice());
        util::check_tell(pending, evals)?;
        let asked = std::mem::take(&mut self.state.pending);
        for (x, e) in asked.iter().zip(evals) {
            self.state.best.offer(x, e.fx);
        }
        self.state.evaluated += evals.len();
        Ok(if self.state.evaluated >= self.iters {
            Status::Converged("max_iters".into())
        } else {
            Status::Running
        })
    }

    fn best(&self) -> Option<Evaluation> {
        self.state.best.get().cloned()
    }

    /// Queues `x` (clipped into the bounds) for the next batch, where it is evaluated like any other
    /// point; `fx` only filters: a non-finite value or a point of the wrong dimension is ignored. At most
    /// one batch worth of injections is kept, the newest.
    fn inject(&mut self, x: &[f64], fx: f64) {
        if x.len() != self.bounds.dim() || !fx.is_finite() || x.iter().any(|v| !v.is_finite()) {
            return;
        }
        let mut x = x.to_vec();
        self.bounds.clip(&mut x);
        self.state.injected.push(x);
        if self.state.injected.len() > self.batch {
            self.state.injected.remove(0);
        }
    }

    fn save(&self) -> Result<serde_json::Value, OptimizerError> {
        util::save_state(Self::NAME, &util::Saved { rng: self.rng.state(), state: self.state.clone() })
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), OptimizerError> {
        let saved: util::Saved<State> = util::load_state(Self::NAME, state)?;
        let bad = |message: String| OptimizerError::BadState { optimizer: Self::NAME.into(), message };
        let dim = self.bounds.dim();
        let s = &saved.state;
        let points = std::iter::once(&s.x0).chain(&s.pending).chain(&s.injected);
        if points.chain(s.best.get().map(|e| &e.x)).any(|x| x.len() != dim) {
            return Err(bad(format!("a point does not have {dim} coordinates")));
        }
        self.rng = SeededRng::from_state(&saved.rng).map_err(bad)?;
        self.state = saved.state;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(x0: &'a [f64], bounds: &'a Bounds, workers: usize) -> StartContext<'a> {
        StartContext { opt_id: 1, x0, bounds, seed: 11, workers }
    }

    #[test]
    fn batch_follows_workers_and_budget_is_exact() {
        let bounds = Bounds::uniform(2, -1.0, 1.0).unwrap();
        let mut rs = RandomSearch::new(
            &RandomSearchConfig { iters: Some(7), batch: None },
            &ctx(&[0.5, 0.5], &bounds, 3),
        )
        .unwrap();
        let mut sizes = Vec::new();
        loop {
            let batch = rs.ask().unwrap();
            assert_eq!(rs.ask().unwrap(), batch, "ask is idempotent until tell");
            sizes.push(batch.len());
            let evals: Vec<Evaluation> = batch.into_iter().map(|x| Evaluation { fx: x[0], x }).collect();
            if rs.tell(&evals).unwrap() != Status::Running {
                break;
            }
        }
        assert_eq!(sizes, vec![3, 3, 1]);
    }

    #[test]
    fn tell_without_ask_is_a_protocol_error() {
        let bounds = Bounds::uniform(1, 0.0, 1.0).unwrap();
        let mut rs = RandomSearch::new(&RandomSearchConfig::default(), &ctx(&[0.5], &bounds, 1)).unwrap();
        assert!(matches!(rs.tell(&[]), Err(OptimizerError::Protocol(_))));
        rs.ask().unwrap();
        let wrong = [Evaluation { x: vec![0.1, 0.2], fx: 1.0 }];
        assert!(matches!(rs.tell(&wrong), Err(OptimizerError::Protocol(_))));
    }

    #[test]
    fn injected_point_is_asked_next() {
        let bounds = Bounds::uniform(2, -1.0, 1.0).unwrap();
        let mut rs = RandomSearch::new(
            &RandomSearchConfig { iters: None, batch: Some(2) },
            &ctx(&[0.5, 0.5], &bounds, 1),
        )
        .unwrap();
        let first = rs.ask().unwrap();
        let evals: Vec<Evaluation> = first.into_iter().map(|x| Evaluation { fx: 1.0, x }).collect();
        rs.tell(&evals).unwrap();
        rs.inject(&[0.25, 5.0], 0.5);
        rs.inject(&[0.0, 0.0], f64::NAN);
        let next = rs.ask().unwrap();
        assert_eq!(next[0], vec![0.25, 1.0]);
        assert_ne!(next[1], vec![0.0, 0.0]);
    }
}
