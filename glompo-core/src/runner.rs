//! The runner: the loop that drives one optimizer on whatever level-1 backend hosts it.
//!
//! `batch boundary -> ask -> evaluate the batch -> stream results -> tell`, until the optimizer
//! converges, crashes or is told to stop. Results of fast objectives are sent in small groups (at most
//! [`FLUSH_INTERVAL`] apart, and always at the end of a batch), so nothing is held back past the step
//! at which a stop or a checkpoint is acted on. A runner always ends by sending [`Message::Ended`].
//!
//! A runner starts an evaluation only with a credit from its manager (its [`Control`]): the manager
//! grants credits out of the run's `max_evals` budget as it logs results, so a run never starts more
//! evaluations than its budget, and a runner can run at most its credit window ahead of the log.
//!
//! At each batch boundary (after a `tell` and before the next `ask`, and before the first `ask`) the
//! runner acts on its control: a stop ends it; it answers every save request with [`Message::Saved`],
//! waits (on the control's condition variable) while it is paused or, in step mode
//! ([`RunnerRecipe::stepped`]), while it has no step left, and takes the latest offered incumbent
//! before it saves and before its next `ask`. A runner started
//! from a saved state ([`RunnerRecipe::resume`]) restores it first and replays the evaluations that
//! were logged after it instead of making them again. The same [`Directive`]s and [`Message`]s carry
//! all of this between processes.

mod control;
mod link;
mod replay;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use serde::{Deserialize, Serialize};

use crate::error::panic_message;
use crate::evaluator::{Admission, Batch, EvalOutcome, Evaluator, EvaluatorFactory, Gate};
use crate::objective::Objective;
use crate::optimizer::{Optimizer, OptimizerId, Status};
use crate::point::Evaluation;

use self::control::Boundary;
pub use self::control::{Control, Directive, Requests};
pub use self::link::{PendingEval, ResumeFrom, SavedState};
use self::replay::Replay;

/// The longest time a finished evaluation waits in the runner before it is sent to the manager.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(5);

/// The outcome of one evaluation as it travels to the manager (its point is in the [`ResultGroup`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    /// Its value; NaN when the evaluation failed. Non-finite values travel as their names
    /// ([`crate::exact`]).
    #[serde(with = "crate::exact")]
    pub fx: f64,
    /// Extras returned by a detailed evaluation.
    pub extras: Option<serde_json::Value>,
    /// Why the evaluation failed, or that its value was not finite.
    pub error: Option<String>,
}

impl EvalRecord {
    fn new(outcome: &EvalOutcome) -> Self {
        match outcome {
            Ok(out) => EvalRecord {
                fx: out.fx,
                extras: out.extras.clone(),
                error: (!out.fx.is_finite()).then(|| format!("non-finite value {}", out.fx)),
            },
            Err(e) => EvalRecord { fx: f64::NAN, extras: None, error: Some(e.message().to_owned()) },
        }
    }
}

/// Finished evaluations of one optimizer, in the order they finished. The points are stored one
/// after the other in a single buffer, so a group costs two allocations however many it holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultGroup {
    dim: usize,
    #[serde(with = "crate::exact::vec")]
    xs: Vec<f64>,
    records: Vec<EvalRecord>,
}

impl ResultGroup {
    /// An empty group for points of `dim` coordinates, with room for `capacity` of them.
    pub fn with_capacity(dim: usize, capacity: usize) -> Self {
        ResultGroup { dim, xs: Vec::with_capacity(dim * capacity), records: Vec::with_capacity(capacity) }
    }

    /// Adds the outcome of evaluating `x`, which must have the group's dimension.
    pub fn push(&mut self, x: &[f64], outcome: &EvalOutcome) {
        self.push_record(x, EvalRecord::new(outcome));
    }

    /// Adds an evaluation of `x` whose record is made already.
    fn push_record(&mut self, x: &[f64], record: EvalRecord) {
        debug_assert_eq!(x.len(), self.dim);
        self.xs.extend_from_slice(x);
        self.records.push(record);
    }

    /// The number of evaluations.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The evaluations with their points, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[f64], &EvalRecord)> {
        self.xs.chunks_exact(self.dim.max(1)).zip(&self.records)
    }
}

/// How a runner ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RunnerEnd {
    /// The optimizer converged by its own criterion.
    Converged(String),
    /// It was told to stop.
    Stopped,
    /// The optimizer failed or panicked.
    Crashed(String),
}

/// What runners send to the manager.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// Finished evaluations, in the order they finished.
    Results {
        /// The optimizer.
        opt_id: OptimizerId,
        /// The evaluations.
        results: ResultGroup,
    },
    /// The runner has ended; nothing more comes from it.
    Ended {
        /// The optimizer.
        opt_id: OptimizerId,
        /// How it ended.
        end: RunnerEnd,
    },
    /// The answer to one save request ([`Control::request_save`]), made at a batch boundary: every
    /// result the state includes was sent before it.
    Saved {
        /// The optimizer.
        opt_id: OptimizerId,
        /// The state, or why the optimizer could not save.
        saved: SavedState,
    },
    /// In step mode with a budget only ([`RunnerRecipe::limited`]): the evaluations the batch just
    /// asked needs, sent before any starts, so that the manager can grant a round's credit in
    /// optimizer-id order.
    Asked {
        /// The optimizer.
        opt_id: OptimizerId,
        /// The points of the batch it will evaluate (the replayed ones are not among them).
        evaluations: u64,
    },
    /// In step mode only: a batch was told to the optimizer, and it waits at the next boundary (a
    /// batch after which the optimizer converged is followed by [`Message::Ended`] instead).
    BatchDone {
        /// The optimizer.
        opt_id: OptimizerId,
        /// The evaluations whose results the runner has sent so far, this batch's included.
        evaluations: u64,
    },
    /// A resumed runner's replay is over (sent once, before any result of a batch that was not
    /// replayed, or before its end if that comes first).
    Replayed {
        /// The optimizer.
        opt_id: OptimizerId,
        /// The pending evaluations used instead of evaluations.
        used: u64,
        /// The pending evaluations never asked for, dropped.
        unused: u64,
    },
}

impl Message {
    /// The optimizer it is about.
    pub fn opt_id(&self) -> OptimizerId {
        match self {
            Message::Results { opt_id, .. }
            | Message::Ended { opt_id, .. }
            | Message::Saved { opt_id, .. }
            | Message::Asked { opt_id, .. }
            | Message::BatchDone { opt_id, .. }
            | Message::Replayed { opt_id, .. } => *opt_id,
        }
    }
}

/// How to build a runner's optimizer and evaluator again in another process: everything the manager
/// used to build them, as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunnerRecipe {
    /// The optimizer's id.
    pub opt_id: OptimizerId,
    /// The optimizer's type name, as in configs.
    pub optimizer: String,
    /// Its factory's settings (options that build the same factory).
    pub options: serde_json::Value,
    /// The level-2 evaluator's name.
    pub evaluator: String,
    /// Its worker slots.
    pub workers: usize,
    /// The start point.
    pub x0: Vec<f64>,
    /// The search box.
    pub bounds: crate::point::Bounds,
    /// The optimizer's own seed.
    pub seed: u64,
    /// Whether evaluations return extras.
    pub detailed: bool,
    /// Whether the runner's evaluations are counted against a budget: it then starts with no credit
    /// and evaluates only what the manager grants it ([`Directive::Grant`]).
    #[serde(default)]
    pub limited: bool,
    /// Whether the runner runs in step mode: only the batches it is given steps for
    /// ([`Control::step`]), with a [`Message::BatchDone`] after each.
    #[serde(default)]
    pub stepped: bool,
    /// A saved state to restore before the first `ask`, and the evaluations logged after it to
    /// replay. A state that does not restore ends the runner as [`RunnerEnd::Crashed`].
    #[serde(default)]
    pub resume: Option<ResumeFrom>,
    /// The optimizer's evaluations logged before this runner started (a resumed optimizer's): the
    /// runner numbers its own evaluations after them ([`crate::EvalContext::eval`]).
    #[serde(default)]
    pub evaluations: u64,
}

impl RunnerRecipe {
    /// What its optimizer was built from.
    pub fn start_context(&self) -> crate::optimizer::StartContext<'_> {
        crate::optimizer::StartContext {
            opt_id: self.opt_id,
            x0: &self.x0,
            bounds: &self.bounds,
            seed: self.seed,
            workers: self.workers,
        }
    }
}

/// A runner's level-2 evaluator, or how to build it where the runner runs: a backend that rebuilds
/// runners in other processes never needs the manager's copy, so the manager does not start one (a pool of
/// threads or worker processes) for nothing.
pub(crate) enum LevelTwo {
    Built(Box<dyn Evaluator>),
    Deferred { factory: Arc<dyn EvaluatorFactory>, workers: usize },
}

/// Everything one optimizer needs to run; backends move it to where it runs and call [`Runner::run`].
pub struct Runner {
    pub(crate) recipe: RunnerRecipe,
    pub(crate) opt_id: OptimizerId,
    pub(crate) optimizer: Box<dyn Optimizer>,
    pub(crate) evaluator: LevelTwo,
    pub(crate) objective: Arc<dyn Objective>,
    pub(crate) control: Arc<Control>,
    pub(crate) tx: Sender<Message>,
    pub(crate) detailed: bool,
    /// The evaluations whose results it has sent.
    sent: u64,
    /// The pending evaluations of a resumed runner while its replay lasts.
    replay: Option<Replay>,
    /// The pending evaluations it has replayed into the optimizer.
    replayed: u64,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("opt_id", &self.opt_id)
            .field("optimizer", &self.optimizer.name())
            .finish()
    }
}

impl Runner {
    /// A runner for an optimizer built from `recipe` (process backends rebuild runners this way).
    /// The optimizer is built as for a fresh start: a recipe with [`resume`](RunnerRecipe::resume)
    /// makes the runner restore the state into it before its first `ask`.
    pub fn new(
        recipe: RunnerRecipe,
        optimizer: Box<dyn Optimizer>,
        evaluator: Box<dyn Evaluator>,
        objective: Arc<dyn Objective>,
        control: Arc<Control>,
        tx: Sender<Message>,
    ) -> Self {
        Self::assemble(recipe, optimizer, LevelTwo::Built(evaluator), objective, control, tx)
    }

    /// A runner whose evaluator is built from `factory` with `workers` slots when it starts to run (an
    /// error then ends it as crashed).
    pub(crate) fn deferred(
        recipe: RunnerRecipe,
        optimizer: Box<dyn Optimizer>,
        (factory, workers): (Arc<dyn EvaluatorFactory>, usize),
        objective: Arc<dyn Objective>,
        control: Arc<Control>,
        tx: Sender<Message>,
    ) -> Self {
        Self::assemble(recipe, optimizer, LevelTwo::Deferred { factory, workers }, objective, control, tx)
    }

    fn assemble(
        recipe: RunnerRecipe,
        optimizer: Box<dyn Optimizer>,
        evaluator: LevelTwo,
        objective: Arc<dyn Objective>,
        control: Arc<Control>,
        tx: Sender<Message>,
    ) -> Self {
        Runner {
            opt_id: recipe.opt_id,
            detailed: recipe.detailed,
            recipe,
            optimizer,
            evaluator,
            objective,
            control,
            tx,
            sent: 0,
            replay: None,
            replayed: 0,
        }
    }

    /// The id of the optimizer it drives.
    pub fn opt_id(&self) -> OptimizerId {
        self.opt_id
    }

    /// How to build this runner again elsewhere.
    pub fn recipe(&self) -> &RunnerRecipe {
        &self.recipe
    }

    /// The manager's side of this runner.
    pub fn control(&self) -> Arc<Control> {
        Arc::clone(&self.control)
    }

    /// Where its messages go.
    pub fn sender(&self) -> Sender<Message> {
        self.tx.clone()
    }

    /// Runs the optimizer to its end and sends [`Message::Ended`]. Never panics: a panic of the
    /// optimizer ends it as [`RunnerEnd::Crashed`].
    pub fn run(mut self) {
        let end = match catch_unwind(AssertUnwindSafe(|| self.steps())) {
            Ok(end) => end,
            Err(payload) => RunnerEnd::Crashed(format!("panicked: {}", panic_message(payload.as_ref()))),
        };
        // A replay that the end cut short is reported too: the manager learns what was not used.
        self.end_replay();
        // The manager may already be gone at the end of a run; then nobody needs the message.
        let _ = self.tx.send(Message::Ended { opt_id: self.opt_id, end });
    }

    fn steps(&mut self) -> RunnerEnd {
        if let LevelTwo::Deferred { factory, workers } = &self.evaluator {
            match factory.build(*workers) {
                Ok(evaluator) => self.evaluator = LevelTwo::Built(evaluator),
                Err(e) => return RunnerEnd::Crashed(format!("cannot build the evaluator: {e}")),
            }
        }
        if let Some(resume) = self.recipe.resume.take() {
            if let Some(state) = &resume.state
                && let Err(e) = self.optimizer.restore(state)
            {
                return RunnerEnd::Crashed(format!("cannot restore the saved state: {e}"));
            }
            self.replay = Some(Replay::new(resume.pending));
            self.end_replay_if_done();
        }
        loop {
            if let Some(end) = self.boundary() {
                return end;
            }
            let batch = match self.optimizer.ask() {
                Ok(batch) if batch.is_empty() => {
                    return RunnerEnd::Crashed("ask returned an empty batch".into());
                }
                Ok(batch) => batch,
                Err(e) => return RunnerEnd::Crashed(format!("ask failed: {e}")),
            };
            let values = match self.values(&batch) {
                Ok(values) => values,
                Err(end) => return end,
            };
            let evals: Vec<Evaluation> =
                batch.into_iter().zip(values).map(|(x, fx)| Evaluation { x, fx }).collect();
            let status = match self.optimizer.tell(&evals) {
                Ok(status) => status,
                Err(e) => return RunnerEnd::Crashed(format!("tell failed: {e}")),
            };
            // A batch that ends the optimizer is reported by its end alone: the manager of a stepped
            // runner knows at once whether it waits at a boundary or has ended.
            if let Status::Converged(reason) = status {
                return RunnerEnd::Converged(reason);
            }
            if self.recipe.stepped {
                let _ = self.tx.send(Message::BatchDone { opt_id: self.opt_id, evaluations: self.sent });
            }
        }
    }

    /// A batch boundary: a stop ends the runner (`Some`); otherwise it answers save requests, waits
    /// while paused or, in step mode, without a step, and takes the latest offered incumbent.
    fn boundary(&mut self) -> Option<RunnerEnd> {
        loop {
            if self.control.is_stopped() {
                return Some(RunnerEnd::Stopped);
            }
            match self.control.boundary(self.recipe.stepped) {
                Boundary::Stop => return Some(RunnerEnd::Stopped),
                Boundary::Go => {
                    self.take_offer();
                    return None;
                }
                Boundary::News => {}
                Boundary::Save(n) => {
                    self.take_offer();
                    let saved = self.saved();
                    for _ in 0..n {
                        let _ = self.tx.send(Message::Saved { opt_id: self.opt_id, saved: saved.clone() });
                    }
                }
            }
        }
    }

    /// Injects the latest offered incumbent, if any. Offers are taken only just before the next batch
    /// and before a save, never while waiting: two offers made one after the other are one injection
    /// (the later) however the runner was woken, and a saved state includes every offer made before
    /// the save was asked for.
    fn take_offer(&mut self) {
        if let Some(best) = self.control.take_offer() {
            self.optimizer.inject(&best.x, best.fx);
        }
    }

    /// The optimizer's state now, or why it could not be saved (a panic of `save` included: the runner
    /// goes on either way).
    fn saved(&self) -> SavedState {
        let state = match catch_unwind(AssertUnwindSafe(|| self.optimizer.save())) {
            Ok(Ok(state)) => Ok(state),
            Ok(Err(e)) => Err(e.to_string()),
            Err(payload) => Err(format!("save panicked: {}", panic_message(payload.as_ref()))),
        };
        SavedState { state, evaluations: self.sent, replayed: self.replayed }
    }

    /// The values of `batch` to tell the optimizer: the records of pending evaluations while a replay
    /// lasts, evaluations for the other points. `Err` ends the runner (a stop during the batch, or an
    /// evaluator that broke its contract).
    fn values(&mut self, batch: &[Vec<f64>]) -> Result<Vec<f64>, RunnerEnd> {
        let replayed = match &mut self.replay {
            Some(replay) => replay.take(batch),
            None => return Ok(self.evaluate(batch)?.iter().map(fx).collect()),
        };
        if replayed.iter().all(Option::is_none) {
            // Replay ends at the first batch none of whose points was logged.
            self.end_replay();
            return Ok(self.evaluate(batch)?.iter().map(fx).collect());
        }
        let todo: Vec<Vec<f64>> =
            batch.iter().zip(&replayed).filter(|(_, r)| r.is_none()).map(|(x, _)| x.clone()).collect();
        let fresh = if todo.is_empty() { Vec::new() } else { self.evaluate(&todo)? };
        let mut values = Vec::with_capacity(batch.len());
        let mut evaluated_at = Vec::with_capacity(todo.len());
        for (i, record) in replayed.into_iter().enumerate() {
            match record {
                Some(record) => {
                    self.replayed += 1;
                    values.push(record.fx);
                }
                None => {
                    evaluated_at.push(i);
                    values.push(f64::NAN);
                }
            }
        }
        // `evaluate` returned one outcome per point of `todo`: every placeholder is replaced.
        for (i, outcome) in evaluated_at.into_iter().zip(&fresh) {
            values[i] = fx(outcome);
        }
        self.end_replay_if_done();
        Ok(values)
    }

    /// Ends a replay that has no pending evaluation left.
    fn end_replay_if_done(&mut self) {
        if self.replay.as_ref().is_some_and(Replay::is_done) {
            self.end_replay();
        }
    }

    /// Ends the replay, if one lasts, and reports it.
    fn end_replay(&mut self) {
        if let Some(replay) = self.replay.take() {
            let (used, unused) = replay.counts();
            let _ = self.tx.send(Message::Replayed { opt_id: self.opt_id, used, unused });
        }
    }

    /// Evaluates a batch, streaming results to the manager in groups at most [`FLUSH_INTERVAL`] apart
    /// or, in step mode, sending them together in the batch's order once the batch is over (a stop
    /// included): a deterministic round does not depend on which evaluation finished first.
    /// `Err` when a stop cancelled it, or when the evaluator did not return one outcome per point.
    fn evaluate(&mut self, batch: &[Vec<f64>]) -> Result<Vec<EvalOutcome>, RunnerEnd> {
        struct Pending {
            group: ResultGroup,
            since: Instant,
            sent: u64,
            /// In step mode: the outcomes so far with their places in the batch.
            held: Vec<(usize, EvalRecord)>,
        }
        let stepped = self.recipe.stepped;
        if stepped && self.control.is_limited() {
            let evaluations = batch.len() as u64;
            let _ = self.tx.send(Message::Asked { opt_id: self.opt_id, evaluations });
        }
        let dim = batch[0].len();
        let pending = Mutex::new(Pending {
            group: ResultGroup::with_capacity(dim, batch.len()),
            since: Instant::now(),
            sent: 0,
            held: Vec::new(),
        });
        let (opt_id, tx) = (self.opt_id, &self.tx);
        let flush = |p: &mut Pending| {
            if !p.group.is_empty() {
                let left = batch.len() - p.group.len();
                let results = std::mem::replace(&mut p.group, ResultGroup::with_capacity(dim, left));
                p.sent += results.len() as u64;
                let _ = tx.send(Message::Results { opt_id, results });
            }
            p.since = Instant::now();
        };
        let report = |i: usize, outcome: &EvalOutcome| {
            let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
            if stepped {
                p.held.push((i, EvalRecord::new(outcome)));
                return;
            }
            p.group.push(&batch[i], outcome);
            if p.since.elapsed() >= FLUSH_INTERVAL {
                flush(&mut p);
            }
        };
        // A stepped runner's credit is granted per round from the batch sizes it announced, not from
        // its results: it holds them until the batch is over.
        let flush_now = || {
            if !stepped {
                flush(&mut pending.lock().unwrap_or_else(|e| e.into_inner()));
            }
        };
        let gate = RunnerGate { control: &self.control, flush: &flush_now };
        let control = &*self.control;
        let first_call_id = || control.first_call_id();
        let context = Batch {
            opt_id,
            evaluations_before: self.recipe.evaluations + self.sent,
            detailed: self.detailed,
            // Only a deterministic round grants call ids; elsewhere no point reads the control for one.
            first_call_id: self.recipe.stepped.then_some(&first_call_id),
        };
        let LevelTwo::Built(evaluator) = &mut self.evaluator else {
            unreachable!("steps builds the evaluator before the first batch")
        };
        let outcomes = evaluator.evaluate(&*self.objective, batch, &context, &gate, &report);
        let mut p = pending.into_inner().unwrap_or_else(|e| e.into_inner());
        if stepped {
            p.held.sort_unstable_by_key(|(i, _)| *i);
            for (i, record) in p.held.drain(..) {
                p.group.push_record(&batch[i], record);
            }
        }
        flush(&mut p);
        self.sent += p.sent;
        match outcomes {
            None => Err(RunnerEnd::Stopped),
            Some(outcomes) if outcomes.len() == batch.len() => Ok(outcomes),
            Some(outcomes) => Err(RunnerEnd::Crashed(format!(
                "the evaluator returned {} outcomes for a batch of {}",
                outcomes.len(),
                batch.len()
            ))),
        }
    }
}

/// The value an optimizer is told for an outcome: NaN for a failed evaluation.
fn fx(outcome: &EvalOutcome) -> f64 {
    outcome.as_ref().map_or(f64::NAN, |out| out.fx)
}

/// The longest a runner waiting for credit sleeps before it looks at its control again (grants and
/// stops wake it at once; this only bounds the wait should a wake-up be missed).
const CREDIT_WAIT: Duration = Duration::from_millis(100);

/// A runner's [`Gate`]: its stop flag and its credit. Before it waits for credit it sends the results
/// it holds, since the manager grants credit as it logs them.
struct RunnerGate<'a> {
    control: &'a Control,
    flush: &'a (dyn Fn() + Sync),
}

impl Gate for RunnerGate<'_> {
    fn admit(&self) -> bool {
        loop {
            match self.try_admit() {
                Admission::Go => return true,
                Admission::Cancelled => return false,
                Admission::Wait => self.control.wait_for_credit(CREDIT_WAIT),
            }
        }
    }

    fn try_admit(&self) -> Admission {
        let admission = self.control.try_admit();
        if admission == Admission::Wait {
            (self.flush)();
        }
        admission
    }
}

#[cfg(test)]
mod tests;
