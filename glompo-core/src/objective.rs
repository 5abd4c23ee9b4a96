//! The function being minimised.

use std::fmt;

use crate::error::EvalError;

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
