//! Level 2: evaluating one optimizer's batch.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{CoreError, EvalError};
use crate::objective::{EvalContext, EvalOutput, Objective};
use crate::optimizer::OptimizerId;

/// The outcome of one evaluation.
pub type EvalOutcome = Result<EvalOutput, EvalError>;

/// Whether the next point of a batch may start now (see [`Gate::try_admit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// It may: one evaluation of the budget is taken for it.
    Go,
    /// Not yet: the runner has no budget left for now. Report what is in flight, then ask again or
    /// call [`Gate::admit`], which waits.
    Wait,
    /// The batch was cancelled (the optimizer was told to stop): start nothing more.
    Cancelled,
}

/// What an evaluator asks before it starts each point of a batch: whether the optimizer was told to
/// stop, and whether the run's evaluation budget allows one more evaluation.
///
/// A runner's gate hands out the evaluations its manager granted it, so a run never starts more
/// evaluations than its `max_evals` budget and a stopped optimizer starts none. A plain [`AtomicBool`]
/// is a gate without a budget: `true` cancels.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use glompo_core::evaluator::{Admission, Batch, Evaluator, Gate, Serial};
/// use glompo_core::objective::from_fn;
///
/// /// Admits `n` more points, then cancels the batch.
/// struct Quota(AtomicUsize);
///
/// impl Gate for Quota {
///     fn admit(&self) -> bool {
///         self.try_admit() == Admission::Go
///     }
///     fn try_admit(&self) -> Admission {
///         match self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)) {
///             Ok(_) => Admission::Go,
///             Err(_) => Admission::Cancelled,
///         }
///     }
/// }
///
/// let f = from_fn(|x: &[f64]| x[0]);
/// let points = vec![vec![1.0], vec![2.0], vec![3.0]];
/// let evaluated = AtomicUsize::new(0);
/// let count = |_: usize, _: &_| { evaluated.fetch_add(1, Ordering::SeqCst); };
/// let batch = Batch::detailed(false);
/// let all = Serial.evaluate(&f, &points, &batch, &Quota(AtomicUsize::new(3)), &count);
/// assert_eq!(all.map(|outcomes| outcomes.len()), Some(3));
/// // Two more points: the third is never started and the batch counts as cancelled.
/// assert!(Serial.evaluate(&f, &points, &batch, &Quota(AtomicUsize::new(2)), &count).is_none());
/// assert_eq!(evaluated.into_inner(), 5);
/// ```
pub trait Gate: Sync {
    /// Waits until the next point may start (`true`) or the batch is cancelled (`false`).
    ///
    /// Call it only when no evaluation of the batch is finished but unreported: the budget comes back
    /// as reported evaluations reach the manager, so waiting on unreported ones would wait forever.
    fn admit(&self) -> bool;

    /// The same without waiting.
    fn try_admit(&self) -> Admission;
}

impl Gate for AtomicBool {
    fn admit(&self) -> bool {
        !self.load(Ordering::Relaxed)
    }

    fn try_admit(&self) -> Admission {
        if self.load(Ordering::Relaxed) { Admission::Cancelled } else { Admission::Go }
    }
}

/// Which batch an evaluator evaluates: the optimizer, the evaluation number of its first point, and
/// whether extras are wanted. [`Batch::point`] gives each point its [`EvalContext`].
///
/// `Batch::default()` is a batch outside a run (optimizer 0, numbers from 1, no extras).
#[derive(Clone, Copy, Default)]
pub struct Batch<'a> {
    /// The optimizer.
    pub opt_id: OptimizerId,
    /// The evaluation number of the batch's point 0 minus one: point `i` is evaluation
    /// `evaluations_before + i + 1` of the optimizer.
    pub evaluations_before: u64,
    /// Whether extras are wanted.
    pub detailed: bool,
    /// The `call_id` the batch's point 0 will be logged under, where the run knows it (a deterministic
    /// round, once the batch's credit is granted); read when a point starts.
    pub first_call_id: Option<&'a (dyn Fn() -> Option<u64> + Sync)>,
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("opt_id", &self.opt_id)
            .field("evaluations_before", &self.evaluations_before)
            .field("detailed", &self.detailed)
            .finish_non_exhaustive()
    }
}

impl Batch<'_> {
    /// A batch outside a run whose extras are wanted or not.
    pub fn detailed(detailed: bool) -> Batch<'static> {
        Batch { detailed, ..Batch::default() }
    }

    /// The context of point `i`. Call it once the gate admitted the point: the call ids of a
    /// deterministic round are known once its credit is granted.
    pub fn point(&self, i: usize) -> EvalContext {
        EvalContext {
            opt_id: self.opt_id,
            eval: self.evaluations_before + i as u64 + 1,
            call_id: self.first_call_id.and_then(|first| first()).map(|c| c + i as u64),
            detailed: self.detailed,
        }
    }
}

/// Evaluates the points of one batch, in any order and with any parallelism, reporting each outcome as
/// soon as it is known.
///
/// [`evaluate_point`] does one point the way the built-in evaluators do (asks the gate, contains a
/// panic of the objective, reports); an evaluator decides where and in which order. This one spreads
/// a batch over scoped threads; its [`EvaluatorFactory`] gives it the optimizer's worker slots, and
/// `OptimizerSpec::new(factory).workers(2).evaluator(Arc::new(StridedFactory))` selects it.
///
/// ```
/// use std::sync::Mutex;
/// use std::sync::atomic::AtomicBool;
/// use glompo_core::CoreError;
/// use glompo_core::evaluator::{Batch, EvalOutcome, Evaluator, EvaluatorFactory, Gate, evaluate_point};
/// use glompo_core::objective::{Objective, from_fn};
///
/// /// Evaluates a batch on `self.0` threads; thread `w` takes points `w`, `w + n`, `w + 2n`, ...
/// struct Strided(usize);
///
/// impl Evaluator for Strided {
///     fn evaluate(
///         &mut self,
///         objective: &dyn Objective,
///         points: &[Vec<f64>],
///         batch: &Batch<'_>,
///         gate: &dyn Gate,
///         report: &(dyn Fn(usize, &EvalOutcome) + Sync),
///     ) -> Option<Vec<EvalOutcome>> {
///         let n = self.0;
///         std::thread::scope(|scope| {
///             let threads: Vec<_> = (0..n)
///                 .map(|w| {
///                     scope.spawn(move || {
///                         // `None` (a cancelled batch) stops this thread's share.
///                         let mine = points.iter().enumerate().skip(w).step_by(n);
///                         mine.map(|(i, x)| {
///                             Some((i, evaluate_point(objective, i, x, batch, gate, report)?))
///                         })
///                         .collect::<Option<Vec<_>>>()
///                     })
///                 })
///                 .collect();
///             let mut outcomes: Vec<Option<EvalOutcome>> = points.iter().map(|_| None).collect();
///             for thread in threads {
///                 // `evaluate_point` contains the objective's panics, so a thread fails only if
///                 // `report` panicked; the batch then counts as not evaluated.
///                 for (i, outcome) in thread.join().ok()?? {
///                     outcomes[i] = Some(outcome);
///                 }
///             }
///             outcomes.into_iter().collect()
///         })
///     }
/// }
///
/// /// Builds a [`Strided`] with the optimizer's worker slots.
/// #[derive(Debug)]
/// struct StridedFactory;
///
/// impl EvaluatorFactory for StridedFactory {
///     fn name(&self) -> &str { "strided" }
///     fn build(&self, workers: usize) -> Result<Box<dyn Evaluator>, CoreError> {
///         if workers == 0 {
///             return Err(CoreError::config("workers", "must be at least 1"));
///         }
///         Ok(Box::new(Strided(workers)))
///     }
/// }
///
/// let f = from_fn(|x: &[f64]| 10.0 * x[0]);
/// let points: Vec<Vec<f64>> = (0..5).map(|i| vec![i as f64]).collect();
/// let mut evaluator = StridedFactory.build(2).unwrap();
/// let reported = Mutex::new(Vec::new());
/// let batch = Batch::detailed(false);
/// let outcomes = evaluator
///     .evaluate(&f, &points, &batch, &AtomicBool::new(false), &|i, _| reported.lock().unwrap().push(i))
///     .unwrap();
/// let values: Vec<f64> = outcomes.iter().map(|o| o.as_ref().unwrap().fx).collect();
/// assert_eq!(values, [0.0, 10.0, 20.0, 30.0, 40.0]);
/// let mut reported = reported.into_inner().unwrap();
/// reported.sort();
/// assert_eq!(reported, [0, 1, 2, 3, 4]);
/// // A cancelled batch starts nothing and returns `None`.
/// assert!(evaluator.evaluate(&f, &points, &batch, &AtomicBool::new(true), &|_, _| {}).is_none());
/// assert!(StridedFactory.build(0).is_err());
/// ```
pub trait Evaluator: Send {
    /// Evaluates `points` and returns their outcomes in order, or `None` when the gate cancelled the
    /// batch before every point was evaluated. Each point starts only once `gate` admits it.
    /// `report(i, outcome)` is called once per finished point, from any thread, as it finishes.
    /// Point `i` is evaluated with the context `batch.point(i)` ([`Objective::evaluate_in`]).
    fn evaluate(
        &mut self,
        objective: &dyn Objective,
        points: &[Vec<f64>],
        batch: &Batch<'_>,
        gate: &dyn Gate,
        report: &(dyn Fn(usize, &EvalOutcome) + Sync),
    ) -> Option<Vec<EvalOutcome>>;
}

/// Builds level-2 evaluators; one per optimizer, with the worker slots of its
/// [`OptimizerSpec`](crate::selector::OptimizerSpec). The [`Evaluator`] documentation has a parallel
/// evaluator and its factory; this factory builds [`Serial`] evaluators and counts them:
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use glompo_core::evaluator::{Evaluator, EvaluatorFactory, Serial};
/// use glompo_core::selector::{CycleSelector, OptimizerSpec};
/// use glompo_core::testing::ScriptedFactory;
/// use glompo_core::{Bounds, CoreError, checker, manager::Manager, objective::from_fn};
///
/// #[derive(Debug, Default)]
/// struct Counted(AtomicUsize);
///
/// impl EvaluatorFactory for Counted {
///     fn name(&self) -> &str { "counted" }
///     fn build(&self, _workers: usize) -> Result<Box<dyn Evaluator>, CoreError> {
///         self.0.fetch_add(1, Ordering::SeqCst);
///         Ok(Box::new(Serial))
///     }
/// }
///
/// let counted = Arc::new(Counted::default());
/// let optimizer = Arc::new(ScriptedFactory::descending().converge_after(3));
/// let spec = OptimizerSpec::new(optimizer).evaluator(counted.clone());
/// let sphere = Arc::new(from_fn(|x: &[f64]| x.iter().map(|v| v * v).sum()));
/// let result = Manager::builder(sphere, Bounds::uniform(2, -1.0, 1.0).unwrap())
///     .selector(Box::new(CycleSelector::new(vec![spec]).unwrap()))
///     .checker(checker::n_converged(3))
///     .max_jobs(1)
///     .build()
///     .unwrap()
///     .run()
///     .unwrap();
/// assert_eq!(result.counters.optimizers_converged, 3);
/// assert_eq!(counted.0.load(Ordering::SeqCst) as u64, result.counters.optimizers_started);
/// ```
pub trait EvaluatorFactory: Send + Sync + fmt::Debug {
    /// The evaluator's name, as in configs (`serial`, `threads`, ...).
    fn name(&self) -> &str;

    /// An evaluator with `workers` parallel slots.
    fn build(&self, workers: usize) -> Result<Box<dyn Evaluator>, CoreError>;
}

/// Evaluates one point in context `ctx`, turning a panic of the objective into an [`EvalError`] (a
/// non-finite value is logged as an error later; the optimizer still receives it).
pub fn evaluate_one(objective: &dyn Objective, x: &[f64], ctx: &EvalContext) -> EvalOutcome {
    match catch_unwind(AssertUnwindSafe(|| objective.evaluate_in(x, ctx))) {
        Ok(outcome) => outcome,
        Err(payload) => Err(EvalError::from_panic(payload.as_ref())),
    }
}

/// One point of a batch as the serial and thread evaluators handle it: skipped (`None`) when the gate
/// cancels it, else evaluated with [`evaluate_one`] once admitted and reported as point `i`.
pub fn evaluate_point(
    objective: &dyn Objective,
    i: usize,
    x: &[f64],
    batch: &Batch<'_>,
    gate: &dyn Gate,
    report: &(dyn Fn(usize, &EvalOutcome) + Sync),
) -> Option<EvalOutcome> {
    if !gate.admit() {
        return None;
    }
    let outcome = evaluate_one(objective, x, &batch.point(i));
    report(i, &outcome);
    Some(outcome)
}

/// Serial evaluation on the optimizer's own thread; checks for cancellation between points.
#[derive(Debug, Clone, Copy, Default)]
pub struct Serial;

impl EvaluatorFactory for Serial {
    fn name(&self) -> &str {
        "serial"
    }

    fn build(&self, _workers: usize) -> Result<Box<dyn Evaluator>, CoreError> {
        Ok(Box::new(Serial))
    }
}

impl Evaluator for Serial {
    fn evaluate(
        &mut self,
        objective: &dyn Objective,
        points: &[Vec<f64>],
        batch: &Batch<'_>,
        gate: &dyn Gate,
        report: &(dyn Fn(usize, &EvalOutcome) + Sync),
    ) -> Option<Vec<EvalOutcome>> {
        // The iterator stops at the first skipped point, so nothing is evaluated after a cancel.
        points.iter().enumerate().map(|(i, x)| evaluate_point(objective, i, x, batch, gate, report)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objective::from_fn;
    use std::sync::Mutex;

    #[test]
    fn a_batch_numbers_its_points_and_gives_call_ids_once_known() {
        let first = Mutex::new(None);
        let read = || *first.lock().unwrap();
        let batch = Batch { opt_id: 4, evaluations_before: 10, detailed: true, first_call_id: Some(&read) };
        assert_eq!(batch.point(0), EvalContext { opt_id: 4, eval: 11, call_id: None, detailed: true });
        *first.lock().unwrap() = Some(57);
        assert_eq!(batch.point(2), EvalContext { opt_id: 4, eval: 13, call_id: Some(59), detailed: true });
        assert_eq!(Batch::default().point(0), EvalContext { eval: 1, ..EvalContext::default() });
    }

    #[test]
    fn serial_reports_in_order_and_contains_panics() {
        let f = from_fn(|x: &[f64]| if x[0] < 0.0 { panic!("negative input") } else { x[0] * 2.0 });
        let seen = Mutex::new(Vec::new());
        let points = vec![vec![1.0], vec![-1.0], vec![3.0]];
        let out = Serial
            .evaluate(&f, &points, &Batch::default(), &AtomicBool::new(false), &|i, o| {
                seen.lock().unwrap().push((i, o.is_ok()))
            })
            .unwrap();
        assert_eq!(seen.into_inner().unwrap(), [(0, true), (1, false), (2, true)]);
        assert_eq!(out[0].as_ref().unwrap().fx, 2.0);
        assert_eq!(out[1].as_ref().unwrap_err().message(), "panicked: negative input");
        assert!(
            Serial.evaluate(&f, &points, &Batch::default(), &AtomicBool::new(true), &|_, _| {}).is_none()
        );
    }
}
