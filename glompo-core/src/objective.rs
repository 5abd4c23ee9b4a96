//! The function being minimised.

use std::fmt;

use crate::error::EvalError;
use crate::optimizer::OptimizerId;

/// What is known about an evaluation when it starts: whose point it is and its place among that
/// optimizer's evaluations. An objective that runs a program tells it these (`GLOMPO_OPT_ID`, …) or
/// names files by them; most objectives ignore them.
///
/// The manager assigns an evaluation's `call_id` when it logs the result, in the order results
/// arrive, so in general it is not known when the evaluation starts: `call_id` is `Some` only where
/// it is exact (the deterministic schedule, the generator's evaluations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EvalContext {
    /// The optimizer whose point it is (0 for the generator's, and for a call outside a run).
    pub opt_id: OptimizerId,
    /// The optimizer's evaluation number, from 1: the point's place among all the points this
    /// optimizer asked to have evaluated, in the order it asked them (a resumed optimizer goes on
    /// after the evaluations it had logged). Evaluations of one optimizer may finish, and be logged,
    /// in another order. 0 outside a run.
    pub eval: u64,
    /// The `call_id` the evaluation will be logged under, where that is known before it starts.
    pub call_id: Option<u64>,
    /// Whether extras are wanted ([`Objective::evaluate_detailed`]).
    pub detailed: bool,
}

/// The value of one evaluation, with optional extras (any JSON value) that are logged beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOutput {
    /// The objective value.
    pub fx: f64,
    /// Extra information to log (residuals, timings, ...), if any.
    pub extras: Option<serde_json::Value>,
}

/// An objective function `f: R^n -> R`, evaluated concurrently by several optimizers.
///
/// It must be `Send + Sync`: with the thread backends several evaluations run at once on shared
/// references. A failure is returned as an [`EvalError`]; a panic inside a thread worker is caught and
/// becomes one too, so neither stops the run.
///
/// ```
/// use glompo_core::{EvalError, Objective};
///
/// /// A shifted sphere that refuses points with a NaN coordinate.
/// struct Shifted(f64);
///
/// impl Objective for Shifted {
///     fn evaluate(&self, x: &[f64]) -> Result<f64, EvalError> {
///         if x.iter().any(|v| v.is_nan()) {
///             return Err(EvalError::new("NaN coordinate"));
///         }
///         Ok(x.iter().map(|v| (v - self.0).powi(2)).sum())
///     }
/// }
///
/// assert_eq!(Shifted(1.0).evaluate(&[1.0, 3.0]).unwrap(), 4.0);
/// ```
pub trait Objective: Send + Sync {
    /// Evaluates `x`.
    fn evaluate(&self, x: &[f64]) -> Result<f64, EvalError>;

    /// Evaluates `x` and returns extras to log as well. The default calls [`Objective::evaluate`] and
    /// has no extras.
    fn evaluate_detailed(&self, x: &[f64]) -> Result<EvalOutput, EvalError> {
        self.evaluate(x).map(|fx| EvalOutput { fx, extras: None })
    }

    /// Evaluates `x` knowing which evaluation it is. Evaluators call this; the default ignores the
    /// context and calls [`Objective::evaluate_detailed`] when `ctx.detailed`, else
    /// [`Objective::evaluate`].
    fn evaluate_in(&self, x: &[f64], ctx: &EvalContext) -> Result<EvalOutput, EvalError> {
        if ctx.detailed {
            self.evaluate_detailed(x)
        } else {
            self.evaluate(x).map(|fx| EvalOutput { fx, extras: None })
        }
    }
}

/// An [`Objective`] made from a closure; see [`from_fn`].
pub struct FnObjective<F>(F);

/// Wraps a plain function or closure as an [`Objective`].
///
/// ```
/// use glompo_core::{objective::from_fn, Objective};
/// let f = from_fn(|x: &[f64]| x.iter().map(|v| v * v).sum());
/// assert_eq!(f.evaluate(&[3.0, 4.0]).unwrap(), 25.0);
/// ```
pub fn from_fn<F: Fn(&[f64]) -> f64 + Send + Sync>(f: F) -> FnObjective<F> {
    FnObjective(f)
}

impl<F: Fn(&[f64]) -> f64 + Send + Sync> Objective for FnObjective<F> {
    fn evaluate(&self, x: &[f64]) -> Result<f64, EvalError> {
        Ok((self.0)(x))
    }
}

impl<F> fmt::Debug for FnObjective<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnObjective")
    }
}
