//! The runner: the loop that drives one optimizer on whatever level-1 backend hosts it.
//!
//! `control check -> ask -> evaluate the batch -> stream results -> tell`, until the optimizer
//! converges, crashes or is told to stop. Results of fast objectives are sent in small groups (at most
//! [`FLUSH_INTERVAL`] apart, and always at the end of a batch), so nothing is held back past the step
//! at which a stop or a checkpoint is acted on. A runner always ends by sending [`Message::Ended`].
//!
//! A runner starts an evaluation only with a credit from its manager (its [`Control`]): the manager
//! grants credits out of the run's `max_evals` budget as it logs results, so a run never starts more
//! evaluations than its budget, and a runner can run at most its credit window ahead of the log.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use serde::{Deserialize, Serialize};

use crate::error::panic_message;
use crate::evaluator::{Admission, EvalOutcome, Evaluator, EvaluatorFactory, Gate};
use crate::objective::Objective;
use crate::optimizer::{Optimizer, OptimizerId, Status};
use crate::point::Evaluation;

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
        debug_assert_eq!(x.len(), self.dim);
        self.xs.extend_from_slice(x);
        self.records.push(EvalRecord::new(outcome));
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
}

/// What a manager tells a runner in another process, one per line on the runner's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Directive {
    /// Stop at the next step; start no new evaluation.
    Stop,
    /// A new incumbent to offer the optimizer.
    Inject(Evaluation),
    /// This many more evaluations may start.
    Grant(u64),
}

/// The manager's side of one runner: a stop flag, a mailbox for shared incumbents, and the runner's
/// evaluation credit.
///
/// A runner takes one credit before it starts each evaluation; with none left it waits until its
/// manager grants more or stops it. [`Control::default`] has unlimited credit (a run without an
/// evaluation budget); [`Control::with_credit`] starts with a given number.
#[derive(Debug)]
pub struct Control {
    stop: AtomicBool,
    injection: Mutex<Option<Evaluation>>,
    credit: Mutex<Credit>,
    changed: Condvar,
}

#[derive(Debug)]
struct Credit {
    /// Credits not taken yet; `None`: unlimited.
    left: Option<u64>,
    /// Credits granted so far, the first ones included.
    granted: u64,
    /// Bumped by every stop, offer and grant, so that a relay can wait for news.
    version: u64,
}

impl Default for Control {
    fn default() -> Self {
        Control::build(None)
    }
}

impl Control {
    fn build(left: Option<u64>) -> Self {
        Control {
            stop: AtomicBool::new(false),
            injection: Mutex::new(None),
            credit: Mutex::new(Credit { left, granted: left.unwrap_or(0), version: 0 }),
            changed: Condvar::new(),
        }
    }

    /// A control whose runner may start `credit` evaluations before it needs a [`Control::grant`].
    pub fn with_credit(credit: u64) -> Self {
        Control::build(Some(credit))
    }

    fn credit(&self) -> std::sync::MutexGuard<'_, Credit> {
        self.credit.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes whoever waits on this control after a change.
    fn changed(&self, mut credit: std::sync::MutexGuard<'_, Credit>) {
        credit.version += 1;
        drop(credit);
        self.changed.notify_all();
    }

    /// Wakes whoever waits for news ([`Control::wait_for_news`]) without changing anything: a relay
    /// whose runner ended looks at it at once.
    pub fn wake(&self) {
        self.changed(self.credit());
    }

    /// Asks the runner to stop at its next step; its evaluator starts no new point.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.changed(self.credit());
    }

    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Offers a new incumbent; only the latest offer is kept until the runner takes it.
    pub fn offer(&self, best: Evaluation) {
        *self.injection.lock().unwrap_or_else(|e| e.into_inner()) = Some(best);
        self.changed(self.credit());
    }

    /// Takes the latest offered incumbent, if any.
    pub fn take_offer(&self) -> Option<Evaluation> {
        self.injection.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Lets the runner start `n` more evaluations (nothing changes for unlimited credit).
    pub fn grant(&self, n: u64) {
        let mut credit = self.credit();
        if let Some(left) = &mut credit.left {
            *left += n;
            credit.granted += n;
            self.changed(credit);
        }
    }

    /// Whether the runner's evaluations are counted against a budget.
    pub fn is_limited(&self) -> bool {
        self.credit().left.is_some()
    }

    /// The credits granted so far, the first ones included (0 for unlimited credit).
    pub fn granted(&self) -> u64 {
        self.credit().granted
    }

    /// Takes one credit if the runner may start an evaluation now.
    pub fn try_admit(&self) -> Admission {
        if self.is_stopped() {
            return Admission::Cancelled;
        }
        let mut credit = self.credit();
        match &mut credit.left {
            None => Admission::Go,
            Some(0) => Admission::Wait,
            Some(left) => {
                *left -= 1;
                Admission::Go
            }
        }
    }

    /// Waits until a stop or a grant, or at most `timeout`.
    fn wait_for_credit(&self, timeout: Duration) {
        let credit = self.credit();
        let starved = |c: &mut Credit| c.left == Some(0) && !self.is_stopped();
        let _ = self.changed.wait_timeout_while(credit, timeout, starved);
    }

    /// Waits until anything changed since `seen` (a stop, an offer or a grant), or at most `timeout`,
    /// and returns the version to wait from next time. Relays to runners in other processes use it.
    pub fn wait_for_news(&self, seen: u64, timeout: Duration) -> u64 {
        let credit = self.credit();
        let (credit, _) = self
            .changed
            .wait_timeout_while(credit, timeout, |c| c.version == seen)
            .unwrap_or_else(|e| e.into_inner());
        credit.version
    }

    /// Applies a directive from the manager (the runner's side of a process backend).
    pub fn apply(&self, directive: Directive) {
        match directive {
            Directive::Stop => self.stop(),
            Directive::Inject(best) => self.offer(best),
            Directive::Grant(n) => self.grant(n),
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
        loop {
            if self.control.is_stopped() {
                return RunnerEnd::Stopped;
            }
            if let Some(best) = self.control.take_offer() {
                self.optimizer.inject(&best.x, best.fx);
            }
            let batch = match self.optimizer.ask() {
                Ok(batch) if batch.is_empty() => {
                    return RunnerEnd::Crashed("ask returned an empty batch".into());
                }
                Ok(batch) => batch,
                Err(e) => return RunnerEnd::Crashed(format!("ask failed: {e}")),
            };
            let Some(outcomes) = self.evaluate(&batch) else { return RunnerEnd::Stopped };
            let evals: Vec<Evaluation> = batch
                .into_iter()
                .zip(&outcomes)
                .map(|(x, o)| Evaluation { x, fx: o.as_ref().map_or(f64::NAN, |out| out.fx) })
                .collect();
            match self.optimizer.tell(&evals) {
                Ok(Status::Running) => {}
                Ok(Status::Converged(reason)) => return RunnerEnd::Converged(reason),
                Err(e) => return RunnerEnd::Crashed(format!("tell failed: {e}")),
            }
        }
    }

    /// Evaluates a batch, streaming results to the manager in groups at most [`FLUSH_INTERVAL`] apart.
    fn evaluate(&mut self, batch: &[Vec<f64>]) -> Option<Vec<EvalOutcome>> {
        struct Pending {
            group: ResultGroup,
            since: Instant,
        }
        let dim = batch[0].len();
        let pending = Mutex::new(Pending {
            group: ResultGroup::with_capacity(dim, batch.len()),
            since: Instant::now(),
        });
        let (opt_id, tx) = (self.opt_id, &self.tx);
        let flush = |p: &mut Pending| {
            if !p.group.is_empty() {
                let left = batch.len() - p.group.len();
                let results = std::mem::replace(&mut p.group, ResultGroup::with_capacity(dim, left));
                let _ = tx.send(Message::Results { opt_id, results });
            }
            p.since = Instant::now();
        };
        let report = |i: usize, outcome: &EvalOutcome| {
            let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
            p.group.push(&batch[i], outcome);
            if p.since.elapsed() >= FLUSH_INTERVAL {
                flush(&mut p);
            }
        };
        let flush_now = || flush(&mut pending.lock().unwrap_or_else(|e| e.into_inner()));
        let gate = RunnerGate { control: &self.control, flush: &flush_now };
        let LevelTwo::Built(evaluator) = &mut self.evaluator else {
            unreachable!("steps builds the evaluator before the first batch")
        };
        let outcomes = evaluator.evaluate(&*self.objective, batch, self.detailed, &gate, &report);
        flush_now();
        outcomes
    }
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
