//! Helpers: start contexts, test functions and an ask/tell loop that checks every asked point.

use glompo_core::{Bounds, Evaluation, Optimizer, StartContext, Status};

pub(crate) fn ctx<'a>(x0: &'a [f64], bounds: &'a Bounds, seed: u64) -> StartContext<'a> {
    StartContext { opt_id: 1, x0, bounds, seed, workers: 1 }
}

pub(crate) fn sphere(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

pub(crate) fn rosenbrock(x: &[f64]) -> f64 {
    x.windows(2).map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2)).sum()
}

/// How a run ended.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The convergence reason, or `None` if the budget ran out first.
    pub(crate) reason: Option<String>,
    pub(crate) evaluations: usize,
    pub(crate) best: Evaluation,
}

/// Runs the ask/tell loop until the optimizer converges, the best value reaches `target` or `budget`
/// evaluations were spent. Every asked point must be inside `bounds`; every best point too.
pub(crate) fn run(
    opt: &mut dyn Optimizer,
    bounds: &Bounds,
    mut f: impl FnMut(&[f64]) -> f64,
    budget: usize,
    target: f64,
) -> Outcome {
    let mut evaluations = 0;
    let mut reason = None;
    while evaluations < budget {
        let batch = opt.ask().expect("ask");
        assert!(!batch.is_empty());
        for x in &batch {
            assert!(bounds.contains(x), "asked point {x:?} is outside the bounds");
        }
        evaluations += batch.len();
        let evals: Vec<Evaluation> = batch.into_iter().map(|x| Evaluation { fx: f(&x), x }).collect();
        let status = opt.tell(&evals).expect("tell");
        let best = opt.best();
        if let Some(b) = &best {
            assert!(b.fx.is_finite() && bounds.contains(&b.x), "bad best {b:?}");
        }
        if let Status::Converged(r) = status {
            reason = Some(r);
            break;
        }
        if best.is_some_and(|b| b.fx <= target) {
            break;
        }
    }
    Outcome { reason, evaluations, best: opt.best().expect("a best point") }
}

/// Wraps `f` so that every `k`-th call fails (returns NaN).
pub(crate) fn failing_every(k: usize, f: impl Fn(&[f64]) -> f64) -> impl FnMut(&[f64]) -> f64 {
    let mut calls = 0usize;
    move |x| {
        calls += 1;
        if calls.is_multiple_of(k) { f64::NAN } else { f(x) }
    }
}
