//! Level 2 on threads: a rayon pool per optimizer.

use glompo_core::evaluator::{Batch, EvalOutcome, Evaluator, EvaluatorFactory, Gate, evaluate_point};
use glompo_core::{CoreError, Objective};
use rayon::prelude::*;

use crate::error::{BackendError, Result};

/// Builds a [`ThreadPoolEvaluator`] with as many threads as the optimizer's worker slots.
#[derive(Debug, Clone, Copy, Default)]
pub struct Threads;

impl EvaluatorFactory for Threads {
    fn name(&self) -> &str {
        "threads"
    }

    fn build(&self, workers: usize) -> std::result::Result<Box<dyn Evaluator>, CoreError> {
        Ok(Box::new(ThreadPoolEvaluator::new(workers)?))
    }
}

/// Evaluates a batch on its own pool of threads; results are reported as each finishes, and a set
/// gate that cancels makes the workers skip the points not yet started.
///
/// ```
/// use std::sync::atomic::AtomicBool;
/// use glompo_backends::ThreadPoolEvaluator;
/// use glompo_core::{evaluator::{Batch, Evaluator}, objective::from_fn};
///
/// let mut pool = ThreadPoolEvaluator::new(2).unwrap();
/// let f = from_fn(|x: &[f64]| x[0] * 10.0);
/// let points = vec![vec![1.0], vec![2.0], vec![3.0]];
/// let out = pool.evaluate(&f, &points, &Batch::default(), &AtomicBool::new(false), &|_, _| {}).unwrap();
/// let values: Vec<f64> = out.into_iter().map(|o| o.unwrap().fx).collect();
/// assert_eq!(values, [10.0, 20.0, 30.0]);
/// ```
#[derive(Debug)]
pub struct ThreadPoolEvaluator {
    pool: rayon::ThreadPool,
}

impl ThreadPoolEvaluator {
    /// A pool of `workers` threads (at least one).
    pub fn new(workers: usize) -> Result<Self> {
        let workers = workers.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("glompo-eval-{i}"))
            .build()
            .map_err(|e| BackendError::Spawn { workers, message: e.to_string() })?;
        Ok(ThreadPoolEvaluator { pool })
    }
}

impl Evaluator for ThreadPoolEvaluator {
    fn evaluate(
        &mut self,
        objective: &dyn Objective,
        points: &[Vec<f64>],
        batch: &Batch<'_>,
        gate: &dyn Gate,
        report: &(dyn Fn(usize, &EvalOutcome) + Sync),
    ) -> Option<Vec<EvalOutcome>> {
        let outcomes: Vec<Option<EvalOutcome>> = self.pool.install(|| {
            points
                .par_iter()
                .with_max_len(1)
                .enumerate()
                .map(|(i, x)| evaluate_point(objective, i, x, batch, gate, report))
                .collect()
        });
        outcomes.into_iter().collect()
    }
}
