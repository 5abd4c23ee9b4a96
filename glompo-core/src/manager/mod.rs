//! The manager: the one event loop of a run.
//!
//! It starts optimizers through a [`Selector`] and a [`Generator`] while worker slots are free, blocks on
//! the runners' result channel (with a [`TICK`] timer for STOP files, time limits and log flushes; it
//! never sleeps a fixed time), numbers every evaluation with a global `call_id`, hunts every
//! `hunt_frequency` evaluations with the owner of the global best as hunter, and ends when the checker
//! expression is true or no optimizer is left to run.

mod book;
mod checkpoint;
mod event;
#[cfg(feature = "live")]
mod live;
mod log;
mod run;
pub mod rundir;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::Duration;

use serde::Serialize;

pub use checkpoint::{
    CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CHECKPOINTS, CheckpointInfo, CheckpointPolicy, DEFAULT_NAME,
    inspect, latest,
};
pub use event::{
    EndHow, Evaluated, Event, KilledBy, Observe, OptimizerEnd, OptimizerEvent, OptimizerStart, Replayed,
    StopIgnored,
};
#[cfg(feature = "live")]
pub use live::LiveDisplay;
pub use log::{CHECKPOINT_FILE, LOCK_FILE, PRINTSTREAMS, RUN_FILES, live_run, write_atomic};

use crate::backend::{Backend, ThreadBackend};
use crate::checker::{self, CheckerExpr, EndCause};
use crate::error::{CoreError, Result};
use crate::generator::{Generator, RandomGenerator};
use crate::hunter::HunterExpr;
use crate::objective::Objective;
use crate::optimizer::OptimizerId;
use crate::point::Bounds;
use crate::rng::RunSeeds;
use crate::selector::Selector;

/// How often the manager looks at STOP files, the clock and the interrupt flag, and flushes its logs.
pub const TICK: Duration = Duration::from_millis(100);

/// How many optimizers in a row may crash before their first evaluation before the run gives up.
pub const MAX_IMMEDIATE_CRASHES: u32 = 5;

/// The default of [`ManagerBuilder::max_initial_failures`]: a run whose first 20 evaluations all
/// failed stops.
pub const DEFAULT_MAX_INITIAL_FAILURES: u64 = 20;

/// How long the end of an interrupted run waits for the evaluations in flight before it abandons the
/// runners that have not ended (a second interrupt abandons them at once).
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(5);

/// A request from outside to end a run, raised by a signal handler or by any thread.
///
/// The first interrupt ends the run like a checker would, except that the evaluations in flight get
/// at most [`INTERRUPT_GRACE`] to finish; a second one abandons them at once. Either way the summary is
/// written and every runner is told to stop.
///
/// ```
/// use glompo_core::manager::Interrupt;
/// let interrupt = Interrupt::new();
/// assert_eq!(interrupt.count(), 0);
/// interrupt.raise(15);
/// interrupt.raise(2);
/// assert_eq!((interrupt.count(), interrupt.cause()), (2, "SIGTERM".to_owned()));
/// ```
#[derive(Debug, Default)]
pub struct Interrupt {
    count: AtomicU32,
    signal: AtomicI32,
}

impl Interrupt {
    /// No interrupt yet.
    pub const fn new() -> Self {
        Interrupt { count: AtomicU32::new(0), signal: AtomicI32::new(0) }
    }

    /// Records an interrupt by the signal numbered `signal` (0: a request that is not a signal). Only
    /// atomic operations: safe to call from a signal handler.
    pub fn raise(&self, signal: i32) {
        let _ = self.signal.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    /// The number of the signal that raised the first interrupt (0: none, or a request).
    pub fn signal(&self) -> i32 {
        self.signal.load(Ordering::SeqCst)
    }

    /// How many interrupts were raised.
    pub fn count(&self) -> u32 {
        self.count.load(Ordering::SeqCst)
    }

    /// What raised the first one: a signal's name (`SIGTERM`), `signal N` for another number, or
    /// `request` when no signal did.
    pub fn cause(&self) -> String {
        match self.signal.load(Ordering::SeqCst) {
            0 => "request".to_owned(),
            1 => "SIGHUP".to_owned(),
            2 => "SIGINT".to_owned(),
            3 => "SIGQUIT".to_owned(),
            10 => "SIGUSR1".to_owned(),
            12 => "SIGUSR2".to_owned(),
            15 => "SIGTERM".to_owned(),
            n => format!("signal {n}"),
        }
    }
}

/// Configures and builds a [`Manager`].
///
/// ```
/// use std::sync::Arc;
/// use glompo_core::{checker, functions, manager::Manager, selector::{CycleSelector, OptimizerSpec}, testing::ScriptedFactory};
///
/// let sphere = functions::build("sphere", 3, &Default::default()).unwrap();
/// let bounds = sphere.bounds();
/// let selector = CycleSelector::new(vec![OptimizerSpec::new(Arc::new(ScriptedFactory::descending()))]).unwrap();
/// let result = Manager::builder(Arc::new(sphere), bounds)
///     .selector(Box::new(selector))
///     .checker(checker::max_evals(200))
///     .max_jobs(2)
///     .seed(1)
///     .build()
///     .unwrap()
///     .run()
///     .unwrap();
/// assert!(result.counters.evaluations >= 200);
/// assert!(result.best.unwrap().fx < 75.0);
/// ```
pub struct ManagerBuilder {
    objective: Arc<dyn Objective>,
    bounds: Bounds,
    selector: Option<Box<dyn Selector>>,
    generator: Option<Box<dyn Generator>>,
    checker: Option<CheckerExpr>,
    hunter: Option<HunterExpr>,
    backend: Option<Box<dyn Backend>>,
    config: Option<serde_json::Value>,
    interrupt: Option<Arc<Interrupt>>,
    observers: Vec<Box<dyn Observe>>,
    resume: Option<PathBuf>,
    deadline: Option<Deadline>,
    settings: Settings,
}

/// The plain settings of a run, held once by the builder and then by the manager (its components are
/// beside them).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub(crate) struct Settings {
    pub(crate) hunt_frequency: u64,
    pub(crate) max_jobs: usize,
    pub(crate) seed: u64,
    pub(crate) dir: Option<PathBuf>,
    pub(crate) overwrite: bool,
    pub(crate) detailed_log: bool,
    pub(crate) share_best: bool,
    pub(crate) end_timeout: Option<Duration>,
    pub(crate) force_terminations_after: Option<Duration>,
    pub(crate) max_initial_failures: u64,
    pub(crate) checkpoints: CheckpointPolicy,
    #[serde(default)]
    pub(crate) schedule: Schedule,
    /// The parameters' names, one per dimension, if they have names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) parameter_names: Option<Vec<String>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            hunt_frequency: 100,
            max_jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            seed: 0,
            dir: None,
            overwrite: false,
            detailed_log: false,
            share_best: false,
            end_timeout: None,
            force_terminations_after: None,
            max_initial_failures: DEFAULT_MAX_INITIAL_FAILURES,
            checkpoints: CheckpointPolicy::default(),
            schedule: Schedule::default(),
            parameter_names: None,
        }
    }
}

/// How the manager schedules its optimizers' batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Each optimizer runs at its own pace and its results are applied as they arrive: the most
    /// throughput, and a run that depends on timing.
    #[default]
    Async,
    /// Rounds: every live optimizer evaluates one batch, all batches in parallel, and the round's
    /// results are applied in optimizer-id order, in each batch's order; hunts, starts, convergence
    /// checks and checkpoints happen between rounds. The same seed gives the same evaluations, in
    /// the same order, on every backend and with any number of workers, and a run resumed from a
    /// checkpoint continues as if it had never stopped. A round lasts as long as its slowest batch.
    Deterministic,
}

impl Schedule {
    /// Every schedule.
    pub const ALL: [Schedule; 2] = [Schedule::Async, Schedule::Deterministic];

    /// The schedule of a name made by [`Schedule::name`].
    pub fn from_name(name: &str) -> Option<Schedule> {
        Schedule::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Its name in configs: `async` or `deterministic`.
    pub fn name(self) -> &'static str {
        match self {
            Schedule::Async => "async",
            Schedule::Deterministic => "deterministic",
        }
    }
}

/// Receives the periodic [`Progress`] reports of a run.
pub type StatusSink = Box<dyn FnMut(&Progress) + Send>;

/// A snapshot of a run, reported every status interval (see [`ManagerBuilder::status`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    /// Seconds since the run started.
    pub seconds: f64,
    /// The counters so far.
    pub counters: Counters,
    /// The best value so far and the optimizer that found it.
    pub best: Option<(f64, OptimizerId)>,
    /// Optimizers whose runners have not ended.
    pub alive: usize,
    /// Worker slots they hold, and the run's total.
    pub busy_slots: usize,
    /// The run's `max_jobs`.
    pub max_jobs: usize,
    /// The evaluations the stop criterion allows in all, when it sets a budget (`max_evals`).
    pub budget: Option<u64>,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counters;
        write!(f, "{:.1} s: {} evaluations", self.seconds, c.evaluations)?;
        if let Some((fx, id)) = self.best {
            write!(f, ", best {fx:.6e} (optimizer {id})")?;
        }
        write!(
            f,
            ", {} alive on {}/{} slots, started {}, killed {}, converged {}, crashed {}",
            self.alive,
            self.busy_slots,
            self.max_jobs,
            c.optimizers_started,
            c.optimizers_killed,
            c.optimizers_converged,
            c.optimizers_crashed
        )
    }
}

impl fmt::Debug for ManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagerBuilder").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl ManagerBuilder {
    /// The optimizer configurations to start, and in what order (required).
    pub fn selector(mut self, selector: Box<dyn Selector>) -> Self {
        self.selector = Some(selector);
        self
    }

    /// Where new optimizers start (default: uniformly random, seeded from the run seed).
    pub fn generator(mut self, generator: Box<dyn Generator>) -> Self {
        self.generator = Some(generator);
        self
    }

    /// When the run ends (default: `kills_after_convergence(0, 1)`, the original's default, which stops
    /// at the first optimizer that converges). The run also ends when no optimizer is alive and none may
    /// start.
    pub fn checker(mut self, checker: CheckerExpr) -> Self {
        self.checker = Some(checker);
        self
    }

    /// When to kill an optimizer (default: never).
    pub fn hunter(mut self, hunter: HunterExpr) -> Self {
        self.hunter = Some(hunter);
        self
    }

    /// The least number of evaluations between two hunts (default 100).
    pub fn hunt_frequency(mut self, evaluations: u64) -> Self {
        self.settings.hunt_frequency = evaluations;
        self
    }

    /// The worker slots shared by all live optimizers (default: the number of CPUs).
    pub fn max_jobs(mut self, max_jobs: usize) -> Self {
        self.settings.max_jobs = max_jobs;
        self
    }

    /// Where runners run (default: [`ThreadBackend`]).
    pub fn backend(mut self, backend: Box<dyn Backend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// The run seed; every random component derives its own stream from it (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.settings.seed = seed;
        self
    }

    /// The run directory for the logs and the summary (default: none, nothing is written).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.settings.dir = Some(dir.into());
        self
    }

    /// Replace the outputs of an earlier run in the directory instead of refusing to start.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.settings.overwrite = overwrite;
        self
    }

    /// Ask the objective for extras and log them beside each value.
    pub fn detailed_log(mut self, detailed: bool) -> Self {
        self.settings.detailed_log = detailed;
        self
    }

    /// Offer every new global best to the other live optimizers.
    pub fn share_best_solutions(mut self, share: bool) -> Self {
        self.settings.share_best = share;
        self
    }

    /// The resolved user configuration, stored as `config` in `summary.json`.
    pub fn config(mut self, config: serde_json::Value) -> Self {
        self.config = Some(config);
        self
    }

    /// Stops the run at `unix_seconds` (seconds since the Unix epoch) as an interrupt would: a
    /// checkpoint is taken (with a run directory) and the run ends [`EndReason::Deadline`], naming
    /// `by`. For a batch job's end: the CLI sets it a margin before `SLURM_JOB_END_TIME`. A deadline
    /// already past stops the run at its first tick.
    pub fn deadline(mut self, unix_seconds: f64, by: impl Into<String>) -> Self {
        self.deadline = Some(Deadline { unix: unix_seconds, by: by.into() });
        self
    }

    /// An [`Interrupt`] that, once raised (by a signal handler, say), ends the run cleanly at the next
    /// tick; the evaluations in flight get [`INTERRUPT_GRACE`], or none after a second interrupt.
    pub fn interrupt(mut self, interrupt: Arc<Interrupt>) -> Self {
        self.interrupt = Some(interrupt);
        self
    }

    /// Stops the run as a failure when its first `n` evaluations all failed (a program that cannot
    /// find its input, bounds where the function overflows); 0 never stops. The default is
    /// [`DEFAULT_MAX_INITIAL_FAILURES`].
    pub fn max_initial_failures(mut self, n: u64) -> Self {
        self.settings.max_initial_failures = n;
        self
    }

    /// How long the end of a run waits for runners to stop before abandoning them and saying so
    /// (default: wait for the evaluations in flight to finish).
    pub fn end_timeout(mut self, timeout: Duration) -> Self {
        self.settings.end_timeout = Some(timeout);
        self
    }

    /// Stops an optimizer that has sent nothing for `limit`, and gives up on one that has not ended
    /// `limit` after it was told to stop (at the end of the run too): its slots are freed and its end is
    /// logged as `abandoned`; a process runner is killed, a thread is left to itself (default: wait for
    /// every optimizer as long as it takes).
    pub fn force_terminations_after(mut self, limit: Duration) -> Self {
        self.settings.force_terminations_after = Some(limit);
        self
    }

    /// Calls `sink` with a [`Progress`] snapshot every `interval` (checked on the manager's 100 ms tick):
    /// an observer of the run's [`Event::Progress`].
    pub fn status(self, interval: Duration, sink: StatusSink) -> Self {
        self.observer(Box::new(event::Status::new(interval, sink)))
    }

    /// Shows the run live on the terminal ([`LiveDisplay`] on stderr: the evaluations against the
    /// budget, an ETA, the best value, the optimizers, the rate), as `glompo run` does. Not on a
    /// terminal it draws nothing; [`status`](Self::status) gives plain lines there.
    #[cfg(feature = "live")]
    pub fn live_display(self) -> Self {
        self.observer(Box::new(LiveDisplay::new()))
    }

    /// When to write checkpoints into `DIR/checkpoints/` (default: only when asked, by a `CHKPT` file
    /// in the run directory or an interrupt). Needs a run directory.
    pub fn checkpoints(mut self, policy: CheckpointPolicy) -> Self {
        self.settings.checkpoints = policy;
        self
    }

    /// How batches are scheduled (default: [`Schedule::Async`]).
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.settings.schedule = schedule;
        self
    }

    /// Names the parameters, one per dimension of the bounds: `summary.json` then has them as
    /// `parameter_names` and its result as `params` (`{"k_bond": 1.23, …}`). Names are not checked
    /// here beyond their number; the CLI's config checks them as CSV headers.
    pub fn parameter_names(mut self, names: Vec<String>) -> Self {
        self.settings.parameter_names = Some(names);
        self
    }

    /// Continues the run a checkpoint was taken of, instead of starting a new one. The manager must be
    /// configured as that run was (the same objective, bounds, optimizers and seed: what differs is an
    /// error); the checker, `max_jobs` and time limits may differ. The run directory is the
    /// checkpoint's unless [`dir`](Self::dir) names another, into which the logs up to the checkpoint
    /// are copied. The logs are cut back to the checkpoint, `call_id`s go on from it, and every
    /// optimizer alive then continues from its saved state.
    pub fn resume(mut self, checkpoint: impl Into<PathBuf>) -> Self {
        self.resume = Some(checkpoint.into());
        self
    }

    /// Adds an observer: it receives every [`Event`] of the run as it happens, after the log writer.
    pub fn observer(mut self, observer: Box<dyn Observe>) -> Self {
        self.observers.push(observer);
        self
    }

    /// Checks the settings and builds the manager; errors name the setting.
    pub fn build(self) -> Result<Manager> {
        let selector =
            self.selector.ok_or_else(|| CoreError::config("optimizers", "a selector is required"))?;
        let settings = self.settings;
        settings.checkpoints.check()?;
        if settings.dir.is_none() && settings.checkpoints != CheckpointPolicy::default() {
            return Err(CoreError::config("checkpoint", "checkpoints need a run directory"));
        }
        if settings.dir.is_none() && self.resume.is_some() {
            return Err(CoreError::config("resume", "a resumed run needs a run directory"));
        }
        if settings.max_jobs == 0 {
            return Err(CoreError::config("max_jobs", "must be at least 1"));
        }
        if settings.hunt_frequency == 0 {
            return Err(CoreError::config("hunt_frequency", "must be at least 1"));
        }
        if let Some(names) = &settings.parameter_names
            && names.len() != self.bounds.dim()
        {
            return Err(CoreError::config(
                "parameters",
                format!("{} names for {} dimensions", names.len(), self.bounds.dim()),
            ));
        }
        for (i, spec) in selector.specs().iter().enumerate() {
            if spec.workers == 0 {
                return Err(CoreError::config(format!("optimizers[{i}].workers"), "must be at least 1"));
            }
            if spec.workers > settings.max_jobs {
                return Err(CoreError::config(
                    format!("optimizers[{i}].workers"),
                    format!("{} workers do not fit in max_jobs = {}", spec.workers, settings.max_jobs),
                ));
            }
        }
        let backend = match self.backend {
            Some(b) => b,
            None => Box::new(ThreadBackend::builder().build()?),
        };
        let seed = settings.seed;
        Ok(Manager {
            objective: self.objective,
            generator: self
                .generator
                .unwrap_or_else(|| Box::new(RandomGenerator::new(RunSeeds::new(seed).generator()))),
            checker: self.checker.unwrap_or_else(|| checker::kills_after_convergence(0, 1)),
            bounds: self.bounds,
            selector,
            hunter: self.hunter,
            backend,
            config: self.config,
            interrupt: self.interrupt.unwrap_or_default(),
            observers: self.observers,
            resume: self.resume,
            deadline: self.deadline,
            settings,
        })
    }
}

/// A configured run; [`Manager::run`] carries it out.
pub struct Manager {
    objective: Arc<dyn Objective>,
    bounds: Bounds,
    selector: Box<dyn Selector>,
    generator: Box<dyn Generator>,
    checker: CheckerExpr,
    hunter: Option<HunterExpr>,
    backend: Box<dyn Backend>,
    config: Option<serde_json::Value>,
    interrupt: Arc<Interrupt>,
    observers: Vec<Box<dyn Observe>>,
    resume: Option<PathBuf>,
    deadline: Option<Deadline>,
    settings: Settings,
}

/// When a run must stop, in seconds since the Unix epoch, and what set it.
#[derive(Debug, Clone)]
struct Deadline {
    unix: f64,
    by: String,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("settings", &self.settings)
            .field("checker", &self.checker.to_string())
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// A builder for a run minimising `objective` inside `bounds`.
    pub fn builder(objective: Arc<dyn Objective>, bounds: Bounds) -> ManagerBuilder {
        ManagerBuilder {
            objective,
            bounds,
            selector: None,
            generator: None,
            checker: None,
            hunter: None,
            backend: None,
            config: None,
            interrupt: None,
            observers: Vec::new(),
            resume: None,
            deadline: None,
            settings: Settings::default(),
        }
    }

    /// The settings as stored under `settings` in the summary.
    fn settings(&self) -> serde_json::Value {
        let specs: Vec<serde_json::Value> = self
            .selector
            .specs()
            .iter()
            .map(|s| {
                serde_json::json!({
                    "type": s.factory.name(),
                    "settings": s.factory.resolved_settings(&self.bounds, s.workers),
                    "workers": s.workers,
                    "evaluator": s.evaluator.name(),
                })
            })
            .collect();
        serde_json::json!({
            "bounds": self.bounds,
            "max_jobs": self.settings.max_jobs,
            "backend": self.backend.name(),
            "selector": self.selector.name(),
            "optimizers": specs,
            "generator": self.generator.name(),
            "convergence": self.checker.to_string(),
            "hunters": self.hunter.as_ref().map(|h| h.to_string()),
            "hunt_frequency": self.settings.hunt_frequency,
            "share_best_solutions": self.settings.share_best,
            "detailed_log": self.settings.detailed_log,
            "seed": self.settings.seed,
            "schedule": self.settings.schedule.name(),
        })
    }
}

/// The run's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Counters {
    /// Evaluations logged (those of killed optimizers included).
    pub evaluations: u64,
    /// Evaluations that failed or were not finite.
    pub failed_evaluations: u64,
    /// Optimizers started.
    pub optimizers_started: u64,
    /// Optimizers killed by hunts or STOP files.
    pub optimizers_killed: u64,
    /// Optimizers that converged by their own criteria.
    pub optimizers_converged: u64,
    /// Optimizers that crashed.
    pub optimizers_crashed: u64,
    /// Hunts made.
    pub hunts: u64,
    /// The most worker slots busy at once.
    pub peak_busy_slots: usize,
}

/// The best evaluation of a run.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Best {
    /// The point.
    pub x: Vec<f64>,
    /// Its value.
    pub fx: f64,
    /// The optimizer that found it.
    pub opt_id: OptimizerId,
    /// Its global evaluation number.
    pub call_id: u64,
}

/// Why a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EndReason {
    /// The checker expression became true.
    Checker {
        /// What the true leaves say happened (`budget spent`, `target reached`, ...).
        causes: Vec<EndCause>,
        /// The expression with each leaf's value.
        expression: String,
    },
    /// No optimizer was alive and none could start.
    Exhausted {
        /// Why none could start.
        detail: String,
    },
    /// Optimizers kept crashing before their first evaluation.
    CrashLoop {
        /// The last error.
        error: String,
    },
    /// The first evaluations of the run all failed ([`ManagerBuilder::max_initial_failures`]).
    InitialFailures {
        /// How many failed.
        count: u64,
        /// The last one's error.
        error: String,
    },
    /// An [`Interrupt`] was raised.
    Interrupted {
        /// What raised it (`SIGTERM`, `SIGINT`, `request`).
        by: String,
    },
    /// The run reached the deadline it was given ([`ManagerBuilder::deadline`]): a batch job's end,
    /// a margin before it. A checkpoint was taken, so the run can be resumed.
    Deadline {
        /// What set it (`SLURM_JOB_END_TIME − 300 s`).
        by: String,
    },
    /// Writing the logs failed.
    LogFailed {
        /// The error.
        error: String,
    },
    /// The backend lost a part it needs ([`Backend::lost`]: an MPI
    /// rank whose optimizer did not end when told). A checkpoint was taken, so the run can be resumed.
    BackendLost {
        /// What was lost.
        detail: String,
    },
}

impl EndReason {
    /// Whether the run failed (the CLI exits 1).
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            EndReason::CrashLoop { .. }
                | EndReason::InitialFailures { .. }
                | EndReason::LogFailed { .. }
                | EndReason::BackendLost { .. }
        )
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::Checker { causes, expression } => {
                let causes: Vec<String> = causes.iter().map(ToString::to_string).collect();
                let causes =
                    if causes.is_empty() { "stop criterion met".to_owned() } else { causes.join(" and ") };
                write!(f, "{causes}: {expression}")
            }
            EndReason::Exhausted { detail } => write!(f, "no optimizer left to run: {detail}"),
            EndReason::CrashLoop { error } => {
                write!(
                    f,
                    "{MAX_IMMEDIATE_CRASHES} optimizers in a row crashed before their first evaluation: {error}"
                )
            }
            EndReason::InitialFailures { count, error } => {
                write!(f, "the first {count} evaluations all failed; the last one: {error}")
            }
            EndReason::Interrupted { by } => write!(f, "interrupted by {by}"),
            EndReason::Deadline { by } => write!(f, "stopped at its deadline ({by}); resume it to go on"),
            EndReason::LogFailed { error } => write!(f, "writing the logs failed: {error}"),
            EndReason::BackendLost { detail } => {
                write!(f, "the backend lost a part: {detail}; resume the run from its checkpoint")
            }
        }
    }
}

/// What a run returns (and writes as `summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    /// The best finite evaluation, if there was one.
    pub best: Option<Best>,
    /// The counters.
    pub counters: Counters,
    /// Why it ended.
    pub end_reason: EndReason,
    /// Wall-clock seconds of the run.
    pub wall_time_s: f64,
}
