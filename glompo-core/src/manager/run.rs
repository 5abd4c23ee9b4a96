//! The event loop of [`Manager::run`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use self::checkpoints::Taking;
use super::book::{Period, RunBook};
use super::event::{
    EndHow, Evaluated, Event, KilledBy, Observe, OptimizerEnd, OptimizerEvent, OptimizerStart, Replayed,
    StopIgnored,
};
use super::log::{RunLog, stop_file_id};
use super::{
    Best, Counters, EndReason, INTERRUPT_GRACE, MAX_IMMEDIATE_CRASHES, Manager, Progress, RunResult,
    Schedule, TICK,
};
use crate::backend::RunnerHandle;
use crate::checker::RunState;
use crate::error::{CoreError, Result};
use crate::evaluator::evaluate_one;
use crate::generator::{GenerateContext, Generator};
use crate::hunter::HuntContext;
use crate::objective::EvalContext;
use crate::optimizer::{Optimizer, OptimizerFactory, OptimizerId, StartContext};
use crate::point::Evaluation;
use crate::record::{Lifecycle, OptimizerRecord};
use crate::rng::RunSeeds;
use crate::runner::{Control, EvalRecord, Message, ResultGroup, Runner, RunnerEnd, RunnerRecipe};
use crate::selector::{Ended, OptimizerSpec, SelectContext, Selection};

mod checkpoints;
mod rounds;

/// A runner that has not ended yet.
struct Live {
    handle: Box<dyn RunnerHandle>,
    control: Arc<Control>,
    workers: usize,
    /// Why it was told to stop, once it was: logged when its runner ends.
    stop_cause: Option<EndHow>,
    /// When it last sent anything, and when it was told to stop.
    last_feedback: Instant,
    stopped_at: Option<Instant>,
    /// With a budget: the evaluations it was allowed to start, and those of them logged.
    granted: u64,
    logged: u64,
    /// How it was built (a checkpoint holds it).
    recipe: RunnerRecipe,
    /// The latest answer to a save request, with the optimizer's evaluation count it includes, and the
    /// batches it reported done (in step mode).
    saved: Option<(std::result::Result<Arc<serde_json::Value>, String>, u64)>,
    batches_done: u64,
    /// In the deterministic schedule: it has finished this round's batch and waits for the next
    /// round (that is not silence).
    at_boundary: bool,
}

impl Live {
    /// Evaluations it may still start or has not reported yet.
    fn held(&self) -> u64 {
        self.granted.saturating_sub(self.logged)
    }
}

struct State<'m> {
    m: &'m mut Manager,
    log: RunLog,
    tx: Sender<Message>,
    rx: Receiver<Message>,
    start: Instant,
    live: BTreeMap<OptimizerId, Live>,
    book: RunBook,
    end: Option<EndReason>,
    /// The run's evaluation budget (from the checker expression), if it has one.
    budget: Option<u64>,
    /// The factories of the optimizers that have not ended, for the selector's `ended`.
    factories: BTreeMap<OptimizerId, Arc<dyn OptimizerFactory>>,
    /// The optimizer type names, shared by their records.
    names: Vec<Arc<str>>,
    /// The checkpoint being taken, and when the last one was (and at which evaluation count).
    taking: Option<Taking>,
    last_checkpoint: (Instant, u64),
    /// The seconds of the run's sessions before this one (a resumed run's).
    offset: f64,
    /// In the deterministic schedule: whether a round is under way, and a checkpoint asked for during
    /// it (taken when it is over).
    in_round: bool,
    deferred_checkpoint: Option<String>,
    /// When the periodic work is due next ([`TICK`]).
    next_tick: Instant,
}

/// The optimizer id under which the generator's own evaluations are logged.
const GENERATOR_ID: OptimizerId = 0;

/// The most rounds of evaluations a generator may ask for before one start.
const MAX_GENERATOR_ROUNDS: usize = 10_000;

/// Result messages that may wait in the channel per worker slot.
const CHANNEL_SLOTS_PER_JOB: usize = 16;

/// With a budget, the most evaluations a runner may start beyond those logged, per worker slot it holds:
/// how far a runner may run ahead of the log. It bounds what a killed optimizer can still report, and
/// it is large enough that a cheap objective's runner rarely waits for the manager. A small budget gives
/// each slot its share of what is left instead.
const CREDIT_PER_SLOT: u64 = 256;

/// `summary.json`, written straight from the run's state: nothing of it is copied first, so that a run
/// of a million optimizers does not need a second copy of their records at its end.
#[derive(serde::Serialize)]
struct Summary<'a> {
    version: &'static str,
    result: Option<Named<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter_names: Option<&'a [String]>,
    counters: &'a Counters,
    /// `running` in the summary a run writes when it starts (what `glompo report` shows of a live run).
    end_reason: &'a str,
    end: Option<&'a EndReason>,
    wall_time_s: f64,
    periods: &'a [Period],
    resources: serde_json::Value,
    optimizers: Optimizers<'a>,
    settings: &'a serde_json::Value,
    config: &'a Option<serde_json::Value>,
}

/// The summary's result: the best evaluation, with its point by parameter name when the parameters
/// have names.
#[derive(serde::Serialize)]
struct Named<'a> {
    #[serde(flatten)]
    best: &'a Best,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<Params<'a>>,
}

impl<'a> Named<'a> {
    fn new(best: &'a Option<Best>, names: Option<&'a [String]>) -> Option<Self> {
        let best = best.as_ref()?;
        Some(Named { best, params: names.map(|names| Params { names, x: &best.x }) })
    }
}

/// A point as a map from parameter name to value.
struct Params<'a> {
    names: &'a [String],
    x: &'a [f64],
}

impl serde::Serialize for Params<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.names.iter().zip(self.x))
    }
}

/// Each optimizer's totals, as the summary lists them.
struct Optimizers<'a>(&'a [OptimizerRecord]);

impl serde::Serialize for Optimizers<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Totals<'r> {
            opt_id: OptimizerId,
            #[serde(rename = "type")]
            type_name: &'r str,
            workers: usize,
            evaluations: u64,
            best_fx: Option<f64>,
        }
        s.collect_seq(self.0.iter().map(|r| Totals {
            opt_id: r.id(),
            type_name: r.type_name(),
            workers: r.workers(),
            evaluations: r.evaluations(),
            best_fx: r.best().map(|b| b.fx),
        }))
    }
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl Manager {
    /// Carries out the run: starts optimizers, logs every evaluation, hunts, and ends when the checker is
    /// true or nothing is left to run. Every runner has ended (or was abandoned after
    /// [`end_timeout`](super::ManagerBuilder::end_timeout), and said so) when it returns.
    ///
    /// Errors come only from setting up the run directory (nothing is written then) or from a selector
    /// whose optimizers can never fit; a failing optimizer or objective never fails the run.
    pub fn run(mut self) -> Result<RunResult> {
        let baseline = crate::resources::Baseline::now();
        // A resume is checked whole (the checkpoint, the logs, every optimizer to build again) before
        // anything in the run directory changes.
        let resumed = match self.resume.take() {
            Some(path) => Some(self.prepare_resume(&path)?),
            None => None,
        };
        let log = match (&resumed, self.settings.dir.as_deref()) {
            (Some(r), Some(dir)) => {
                RunLog::resume(dir, &r.source, &r.body.logs, r.body.count, self.settings.overwrite)?
            }
            _ => RunLog::open(self.settings.dir.as_deref(), self.settings.overwrite)?,
        };
        let started_unix = unix_now();
        let (book, starts) = match resumed {
            Some(r) => (r.body.book.resumed(started_unix), r.starts),
            None => (RunBook::new(started_unix), Vec::new()),
        };
        let settings = self.settings();
        // Bounded, so that runners wait when the manager falls behind instead of running past the budget.
        let (tx, rx) = crossbeam_channel::bounded(CHANNEL_SLOTS_PER_JOB * self.settings.max_jobs);
        let mut st = State {
            m: &mut self,
            log,
            tx,
            rx,
            start: Instant::now(),
            live: BTreeMap::new(),
            last_checkpoint: (Instant::now(), book.counters.evaluations),
            offset: book.earlier_seconds(),
            book,
            end: None,
            budget: None,
            factories: BTreeMap::new(),
            names: Vec::new(),
            taking: None,
            in_round: false,
            deferred_checkpoint: None,
            next_tick: Instant::now() + TICK,
        };
        st.budget = st.m.checker.budget();
        let names = st.m.settings.parameter_names.as_deref();
        let running = Summary {
            version: env!("CARGO_PKG_VERSION"),
            result: Named::new(&st.book.best, names),
            parameter_names: names,
            counters: &st.book.counters,
            end_reason: "running",
            end: None,
            wall_time_s: st.offset,
            periods: &st.book.periods,
            resources: serde_json::Value::Null,
            optimizers: Optimizers(&st.book.records),
            settings: &settings,
            config: &st.m.config,
        };
        let begun = st.log.summary(&running);
        let outcome = begun.and_then(|()| st.restart(starts)).and_then(|()| match st.m.settings.schedule {
            Schedule::Async => st.event_loop(),
            Schedule::Deterministic => st.rounds(),
        });
        // The checkpoint of an interrupted run, or `at_end`, is taken while the optimizers still run.
        let final_reason = match &st.end {
            Some(EndReason::Interrupted { by } | EndReason::Deadline { by }) => Some(by.clone()),
            Some(EndReason::BackendLost { .. }) => Some("backend_lost".to_owned()),
            _ if st.m.settings.checkpoints.at_end => Some("at_end".to_owned()),
            _ => None,
        };
        let outcome = outcome.and_then(|()| match final_reason {
            Some(reason) => st.take_checkpoint(&reason),
            None => Ok(()),
        });
        st.shutdown();
        let wall_time_s = st.start.elapsed().as_secs_f64();
        st.book.close_period(unix_now(), wall_time_s);
        let mut end_reason = match (&outcome, st.end.take()) {
            (Err(e @ CoreError::Config { .. }), _) => EndReason::Exhausted { detail: e.to_string() },
            (Err(e), _) => EndReason::LogFailed { error: e.to_string() },
            (Ok(()), Some(end)) => end,
            (Ok(()), None) => EndReason::Exhausted { detail: st.book.spawn_note.take().unwrap_or_default() },
        };
        // A log that cannot be written (a full disk) ends the run as a failure, but the result found so
        // far is still returned, and the summary still tried.
        if let Err(e) = st.log.flush()
            && !matches!(end_reason, EndReason::LogFailed { .. })
        {
            end_reason = EndReason::LogFailed { error: e.to_string() };
        }
        let mut result = RunResult {
            best: st.book.best.clone(),
            counters: st.book.counters.clone(),
            end_reason,
            wall_time_s,
        };
        let end_reason = result.end_reason.to_string();
        let names = st.m.settings.parameter_names.as_deref();
        let summary = Summary {
            version: env!("CARGO_PKG_VERSION"),
            result: Named::new(&result.best, names),
            parameter_names: names,
            counters: &result.counters,
            end_reason: &end_reason,
            end: Some(&result.end_reason),
            wall_time_s,
            periods: &st.book.periods,
            resources: baseline.usage(),
            optimizers: Optimizers(&st.book.records),
            settings: &settings,
            config: &st.m.config,
        };
        if let Err(e) = st.log.summary(&summary) {
            let error = match result.end_reason {
                EndReason::LogFailed { error } => format!("{error}; the summary was not written either: {e}"),
                _ => format!("the summary was not written: {e}"),
            };
            result.end_reason = EndReason::LogFailed { error };
        }
        st.log.close();
        // The run's end goes to the observers after the summary; their errors cannot change it now.
        for observer in &mut st.m.observers {
            drop(observer.observe(&Event::Finished(&result)));
        }
        match outcome {
            Err(CoreError::Config { field, message }) => Err(CoreError::Config { field, message }),
            _ => Ok(result),
        }
    }
}

impl State<'_> {
    /// Seconds since the run started (its earlier sessions included).
    fn now(&self) -> f64 {
        self.offset + self.session_seconds()
    }

    /// Seconds since this session started.
    fn session_seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Whether the run is in rounds ([`Schedule::Deterministic`]).
    fn deterministic(&self) -> bool {
        self.m.settings.schedule == Schedule::Deterministic
    }

    fn busy_slots(&self) -> usize {
        self.live.values().map(|l| l.workers).sum()
    }

    fn run_state(&self) -> RunState {
        let t = self.session_seconds();
        RunState {
            evaluations: self.book.counters.evaluations,
            best_fx: self.book.best.as_ref().map(|b| b.fx),
            session_seconds: t,
            overall_seconds: self.offset + t,
            optimizers_started: self.book.counters.optimizers_started,
            optimizers_killed: self.book.counters.optimizers_killed,
            optimizers_converged: self.book.counters.optimizers_converged,
            hunts: self.book.counters.hunts,
        }
    }

    fn event_loop(&mut self) -> Result<()> {
        self.fill_slots()?;
        // `at_start`: once the first optimizers have started (of this session, for a resumed run).
        if self.m.settings.checkpoints.at_start && self.end.is_none() {
            self.want_checkpoint("at_start")?;
        }
        while !self.fill_or_finish()? {
            if let Some(msg) = self.next_message()? {
                self.handle(msg)?;
                self.check_convergence();
            }
        }
        Ok(())
    }

    /// Starts what fits in the free slots, and says whether the run is over: it has an end, or nothing
    /// runs and nothing more will start (it is then exhausted).
    fn fill_or_finish(&mut self) -> Result<bool> {
        self.fill_slots()?;
        if self.end.is_some() {
            return Ok(true);
        }
        if self.live.is_empty() && !self.book.spawning {
            let detail = self.book.spawn_note.take().unwrap_or_default();
            self.end = Some(EndReason::Exhausted { detail });
            return Ok(true);
        }
        Ok(false)
    }

    /// The next message of a runner, or `None` when the next tick came first; the tick's work is done
    /// before it returns.
    fn next_message(&mut self) -> Result<Option<Message>> {
        let wait = self.next_tick.saturating_duration_since(Instant::now());
        let msg = match self.rx.recv_timeout(wait) {
            Ok(msg) => Some(msg),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => unreachable!("the manager holds a sender"),
        };
        if Instant::now() >= self.next_tick {
            self.next_tick = Instant::now() + TICK;
            self.tick()?;
        }
        Ok(msg)
    }

    /// Periodic work: flush the logs, act on STOP files and the interrupt flag, check time limits.
    fn tick(&mut self) -> Result<()> {
        self.log.flush()?;
        self.progress()?;
        if self.m.interrupt.count() > 0 && self.end.is_none() {
            self.end = Some(EndReason::Interrupted { by: self.m.interrupt.cause() });
        }
        if let Some(deadline) = &self.m.deadline
            && self.end.is_none()
            && unix_now() >= deadline.unix
        {
            self.end = Some(EndReason::Deadline { by: deadline.by.clone() });
        }
        if let Some(dir) = self.log.dir().map(Path::to_path_buf) {
            self.stop_files(&dir)?;
        }
        self.force_terminations()?;
        self.check_convergence();
        if self.end.is_none() {
            self.checkpoint_triggers()?;
        }
        Ok(())
    }

    /// With `force_terminations_after`: stops a runner that has sent nothing for that long, and
    /// abandons one that still has not ended that long after it was told to stop. A thread cannot be
    /// killed: an abandoned runner's slots are freed and its end is logged as `abandoned`; whatever it
    /// still sends is logged and counted.
    fn force_terminations(&mut self) -> Result<()> {
        let Some(limit) = self.m.settings.force_terminations_after else { return Ok(()) };
        let now = self.now();
        let silent: Vec<OptimizerId> = self
            .live
            .iter()
            .filter(|(_, l)| l.stopped_at.is_none() && !l.at_boundary && l.last_feedback.elapsed() >= limit)
            .map(|(&id, _)| id)
            .collect();
        for id in silent {
            let secs = limit.as_secs_f64();
            self.stop(id, EndHow::Stopped { by: format!("no feedback for {secs} s"), t_stop: Some(now) });
        }
        let stuck: Vec<OptimizerId> = self
            .live
            .iter()
            .filter(|(_, l)| l.stopped_at.is_some_and(|t| t.elapsed() >= limit))
            .map(|(&id, _)| id)
            .collect();
        for id in stuck {
            self.abandon(id, limit)?;
        }
        Ok(())
    }

    /// Gives up on a runner that does not end: frees its slots and logs its end as `abandoned`.
    fn abandon(&mut self, opt_id: OptimizerId, waited: Duration) -> Result<()> {
        // The thread is detached: it cannot be killed, and it ends when the process does.
        let Some(live) = self.live.remove(&opt_id) else { return Ok(()) };
        let stop_cause = live.stop_cause;
        // Its handle goes: a backend that cannot get its place back (an MPI rank) says so, and the
        // run ends, with a checkpoint, before another optimizer is started there.
        drop(live.handle);
        if self.end.is_none()
            && let Some(detail) = self.m.backend.lost()
        {
            self.end = Some(EndReason::BackendLost { detail });
        }
        // Its unused credit is not held any more: it was told to stop, so it starts nothing new, and
        // what it still reports of the evaluations it had started is logged and counted.
        let secs = waited.as_secs_f64();
        let cause = EndHow::Abandoned {
            error: format!("did not stop within {secs} s"),
            after: stop_cause.map(Box::new),
        };
        self.ended(opt_id, RunnerEnd::Stopped, Some(cause))
    }

    /// Tells every observer how the run stands (the status line prints it at its own interval).
    fn progress(&mut self) -> Result<()> {
        if self.m.observers.is_empty() {
            return Ok(());
        }
        let progress = Progress {
            seconds: self.now(),
            counters: self.book.counters.clone(),
            best: self.book.best.as_ref().map(|b| (b.fx, b.opt_id)),
            alive: self.live.len(),
            busy_slots: self.busy_slots(),
            max_jobs: self.m.settings.max_jobs,
            budget: self.budget,
        };
        self.emit(&Event::Progress(&progress))
    }

    /// Hands an event to the log and then to every other observer.
    fn emit(&mut self, event: &Event<'_>) -> Result<()> {
        self.log.observe(event)?;
        for observer in &mut self.m.observers {
            observer.observe(event)?;
        }
        Ok(())
    }

    /// Acts on `STOP_<id>` files and removes every one of them: a running optimizer with that id is
    /// stopped; a file naming an optimizer that ended or never started cannot act, and is logged as
    /// ignored with the reason (a STOP file left behind would kill an optimizer of a later run).
    fn stop_files(&mut self, dir: &Path) -> Result<()> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
        let mut found: Vec<(OptimizerId, std::path::PathBuf)> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(stop_file_id).map(|id| (id, e.path())))
            .collect();
        found.sort();
        for (id, path) in found {
            std::fs::remove_file(&path).map_err(|e| CoreError::io(&path, e))?;
            let record = self.book.records.get((id as usize).wrapping_sub(1));
            if record.is_some_and(OptimizerRecord::is_running) {
                self.book.counters.optimizers_killed += 1;
                let at = self.book.counters.evaluations;
                self.stop(id, EndHow::Killed { by: KilledBy::StopFile, t_kill: self.now(), at_call_id: at });
                continue;
            }
            let why = match record {
                None => "no optimizer with this id has started",
                Some(_) => "the optimizer has already ended or is stopping",
            };
            let event = OptimizerEvent::StopIgnored(StopIgnored {
                opt_id: id,
                t: self.now(),
                file: path.file_name().map(|n| n.to_string_lossy().into_owned()),
                why: why.to_owned(),
            });
            self.emit(&Event::Optimizer(&event))?;
        }
        Ok(())
    }

    fn check_convergence(&mut self) {
        if self.end.is_none() {
            let state = self.run_state();
            if self.m.checker.check(&state) {
                let expression = self.m.checker.with_values().to_string();
                self.end = Some(EndReason::Checker { causes: self.m.checker.causes(), expression });
            }
        }
    }

    fn fill_slots(&mut self) -> Result<()> {
        while self.book.spawning && self.end.is_none() {
            let free = self.m.settings.max_jobs - self.busy_slots();
            if free == 0 {
                break;
            }
            // With a budget, an optimizer starts only if some of it is left for it.
            if self.budget.is_some() && self.available() == 0 {
                if self.live.is_empty() {
                    self.stop_spawning("the evaluation budget is spent");
                }
                break;
            }
            let ctx = SelectContext {
                free_slots: free,
                evaluations: self.book.counters.evaluations,
                optimizers_started: self.book.counters.optimizers_started,
                remaining: self.budget.map(|b| b.saturating_sub(self.book.counters.evaluations)),
                bounds: &self.m.bounds,
            };
            match self.m.selector.select(&ctx) {
                Selection::Start(spec) if spec.workers >= 1 && spec.workers <= free => self.start(spec)?,
                Selection::Start(_) | Selection::Wait => {
                    if self.live.is_empty() {
                        return Err(CoreError::config(
                            "max_jobs",
                            format!(
                                "the selector's next optimizer does not fit in {} slots",
                                self.m.settings.max_jobs
                            ),
                        ));
                    }
                    break;
                }
                Selection::Stop => self.stop_spawning("the selector starts no more optimizers"),
            }
        }
        self.book.counters.peak_busy_slots = self.book.counters.peak_busy_slots.max(self.busy_slots());
        Ok(())
    }

    fn stop_spawning(&mut self, why: &str) {
        self.book.spawning = false;
        self.book.spawn_note.get_or_insert_with(|| why.to_owned());
    }

    /// With a budget: the evaluations no runner holds yet (neither logged nor granted); unlimited
    /// without one.
    fn available(&self) -> u64 {
        let Some(budget) = self.budget else { return u64::MAX };
        let held: u64 = self.live.values().map(Live::held).sum();
        budget.saturating_sub(self.book.counters.evaluations.saturating_add(held))
    }

    /// With a budget: tops every running optimizer's credit up to its window, in id order, out of what
    /// is available.
    fn refill(&mut self) {
        let Some(budget) = self.budget else { return };
        // A deterministic round grants its own credit, batch by batch.
        if self.deterministic() {
            return;
        }
        let mut available = self.available();
        // A slot's share of what is left, so that a small budget is spread over every slot instead of
        // going to the first optimizer; near the end of a budget a runner holds a few credits only.
        let left = budget.saturating_sub(self.book.counters.evaluations);
        let share = (left / self.m.settings.max_jobs as u64).clamp(1, CREDIT_PER_SLOT);
        for live in self.live.values_mut() {
            if available == 0 {
                break;
            }
            if live.stop_cause.is_some() {
                continue;
            }
            let window = share * live.workers as u64;
            let grant = window.saturating_sub(live.held()).min(available);
            if grant > 0 {
                live.control.grant(grant);
                live.granted += grant;
                available -= grant;
            }
        }
    }

    /// Calls the generator with what it may see of the run.
    fn with_generator<R>(&mut self, call: impl FnOnce(&mut dyn Generator, &GenerateContext<'_>) -> R) -> R {
        let best = self.book.best.as_ref().map(|b| Evaluation { x: b.x.clone(), fx: b.fx });
        let ctx = GenerateContext {
            bounds: &self.m.bounds,
            best: best.as_ref(),
            optimizers: &self.book.records,
            evaluations: self.book.counters.evaluations,
        };
        call(self.m.generator.as_mut(), &ctx)
    }

    /// Evaluates, in the manager's thread, the points the generator asks for before it picks a start
    /// point. They are logged under optimizer id 0 and count against the budget like any others.
    fn generator_evaluations(&mut self) -> Result<()> {
        for _ in 0..MAX_GENERATOR_ROUNDS {
            let mut points = self.with_generator(|g, ctx| g.wants(ctx));
            // The generator's evaluations count against the budget like any others.
            points.truncate(usize::try_from(self.available()).unwrap_or(usize::MAX));
            if points.is_empty() {
                break;
            }
            let mut group = ResultGroup::with_capacity(self.m.bounds.dim(), points.len());
            let mut evals = Vec::with_capacity(points.len());
            // They are logged at once, in order: their call ids are known.
            let logged = self.book.counters.evaluations;
            let generator_logged =
                logged - self.book.records.iter().map(OptimizerRecord::evaluations).sum::<u64>();
            for (k, mut x) in points.drain(..).enumerate() {
                self.m.bounds.clip(&mut x);
                let ctx = EvalContext {
                    opt_id: GENERATOR_ID,
                    eval: generator_logged + k as u64 + 1,
                    call_id: Some(logged + k as u64 + 1),
                    detailed: self.m.settings.detailed_log,
                };
                let outcome = evaluate_one(&*self.m.objective, &x, &ctx);
                group.push(&x, &outcome);
                evals.push(Evaluation { fx: outcome.map_or(f64::NAN, |o| o.fx), x });
            }
            let t = self.now();
            for (x, r) in group.iter() {
                self.evaluation(GENERATOR_ID, x, r, t)?;
            }
            self.m.generator.tell(&evals);
        }
        Ok(())
    }

    fn start(&mut self, spec: OptimizerSpec) -> Result<()> {
        self.generator_evaluations()?;
        let opt_id = self.book.records.len() as OptimizerId + 1;
        let mut x0 = self.with_generator(|g, ctx| g.generate(ctx));
        self.m.bounds.clip(&mut x0);
        let seed = RunSeeds::new(self.m.settings.seed).optimizer(opt_id);
        let ctx = StartContext { opt_id, x0: &x0, bounds: &self.m.bounds, seed, workers: spec.workers };
        let built = spec.factory.build(&ctx);
        let popsize = built.as_ref().ok().and_then(|o| o.popsize());
        // A population whose first generation the budget cannot pay for would only be cut short.
        if let (Some(budget), Some(popsize)) = (self.budget, popsize) {
            let left = budget.saturating_sub(self.book.counters.evaluations);
            if popsize as u64 > left {
                self.stop_spawning(&format!(
                    "the remaining budget ({left} evaluations) cannot pay for the first generation of the \
                     next optimizer ({} with a population of {popsize})",
                    spec.factory.name()
                ));
                return Ok(());
            }
        }
        self.book.counters.optimizers_started += 1;
        let window = self.m.hunter.as_ref().map_or(0, |h| h.window()) as usize;
        let name = match self.names.iter().find(|n| &***n == spec.factory.name()) {
            Some(name) => Arc::clone(name),
            None => {
                self.names.push(Arc::from(spec.factory.name()));
                Arc::clone(&self.names[self.names.len() - 1])
            }
        };
        self.book.records.push(OptimizerRecord::new(opt_id, name, spec.workers, window));
        self.factories.insert(opt_id, Arc::clone(&spec.factory));
        let event = OptimizerEvent::Start(OptimizerStart {
            opt_id,
            t: self.now(),
            type_name: spec.factory.name().to_owned(),
            settings: spec.factory.resolved_settings(&self.m.bounds, spec.workers),
            popsize,
            workers: spec.workers,
            evaluator: spec.evaluator.name().to_owned(),
            seed,
            x0: x0.clone(),
        });
        self.emit(&Event::Optimizer(&event))?;
        // The evaluator is built where the runner runs (a process backend builds its own in the child).
        let optimizer = match built {
            Ok(optimizer) => optimizer,
            Err(e) => {
                let end = RunnerEnd::Crashed(format!("cannot build the optimizer: {e}"));
                return self.ended(opt_id, end, None);
            }
        };
        // With a budget the runner starts with no credit; `refill` grants its first below.
        let recipe = RunnerRecipe {
            opt_id,
            optimizer: spec.factory.name().to_owned(),
            options: spec.factory.settings(),
            evaluator: spec.evaluator.name().to_owned(),
            workers: spec.workers,
            x0: x0.clone(),
            bounds: self.m.bounds.clone(),
            seed,
            detailed: self.m.settings.detailed_log,
            // A deterministic round grants each batch its credit (and its call ids), budget or not.
            limited: self.budget.is_some() || self.deterministic(),
            stepped: self.deterministic(),
            resume: None,
            evaluations: 0,
        };
        self.launch(recipe, optimizer, &spec)
    }

    /// Starts the runner of `recipe` on the backend, with `optimizer` built by `spec`'s factory from
    /// the recipe's start context, and books it as live. The optimizer's record and start event must
    /// exist. A recipe with [`resume`](RunnerRecipe::resume) starts from a saved state: the runner
    /// restores it before its first `ask` and replays the pending evaluations (a thread runner and a
    /// process runner alike: a process backend rebuilds the runner from the recipe).
    fn launch(
        &mut self,
        recipe: RunnerRecipe,
        optimizer: Box<dyn Optimizer>,
        spec: &OptimizerSpec,
    ) -> Result<()> {
        let opt_id = recipe.opt_id;
        let control = Arc::new(Control::for_recipe(&recipe));
        // What a checkpoint holds of it: how to build it, without the evaluations it replays.
        let kept = RunnerRecipe { resume: None, ..recipe.clone() };
        let objective = Arc::clone(&self.m.objective);
        let evaluator = Arc::clone(&spec.evaluator);
        let runner = Runner::deferred(
            recipe,
            optimizer,
            (evaluator, spec.workers),
            objective,
            Arc::clone(&control),
            self.tx.clone(),
        );
        match self.m.backend.spawn(runner) {
            Ok(handle) => {
                let live = Live {
                    recipe: kept,
                    handle,
                    control,
                    workers: spec.workers,
                    stop_cause: None,
                    last_feedback: Instant::now(),
                    stopped_at: None,
                    granted: 0,
                    logged: 0,
                    saved: None,
                    batches_done: 0,
                    at_boundary: false,
                };
                self.live.insert(opt_id, live);
                self.refill();
                Ok(())
            }
            Err(e) => self.ended(opt_id, RunnerEnd::Crashed(e.to_string()), None),
        }
    }

    fn handle(&mut self, msg: Message) -> Result<()> {
        match msg {
            Message::Results { opt_id, results } => {
                self.apply_results(opt_id, &results)?;
                if self.end.is_none()
                    && self.book.counters.evaluations - self.book.last_hunt >= self.m.settings.hunt_frequency
                {
                    self.hunt()?;
                }
                self.refill();
                if self.end.is_none() {
                    self.evaluations_trigger()?;
                }
                Ok(())
            }
            // A runner abandoned earlier has had its end logged already.
            Message::Ended { opt_id, .. } if !self.live.contains_key(&opt_id) => Ok(()),
            Message::Ended { opt_id, end } => {
                let live = self.live.remove(&opt_id);
                let cause = live.map(|l| {
                    l.handle.join();
                    l.stop_cause
                });
                self.ended(opt_id, end, cause.flatten())?;
                // Its unused credit is free again.
                self.refill();
                self.answered(opt_id)
            }
            Message::Saved { opt_id, saved } => {
                // Everything the runner sent before it answered is logged: the state includes the
                // optimizer's evaluations counted so far.
                let at = self.book.records.get(opt_id as usize - 1).map_or(0, OptimizerRecord::evaluations);
                if let Some(live) = self.live.get_mut(&opt_id) {
                    live.last_feedback = Instant::now();
                    // Shared, not copied, by every checkpoint that holds it.
                    live.saved = Some((saved.state.map(Arc::new), at));
                }
                self.answered(opt_id)
            }
            Message::Asked { opt_id, .. } => {
                if let Some(live) = self.live.get_mut(&opt_id) {
                    live.last_feedback = Instant::now();
                }
                Ok(())
            }
            Message::BatchDone { opt_id, .. } => {
                if let Some(live) = self.live.get_mut(&opt_id) {
                    live.last_feedback = Instant::now();
                    live.batches_done += 1;
                }
                Ok(())
            }
            Message::Replayed { opt_id, used, unused } => {
                let event = OptimizerEvent::Replayed(Replayed { opt_id, t: self.now(), used, unused });
                self.emit(&Event::Optimizer(&event))
            }
        }
    }

    /// Logs and books a group of results of one optimizer.
    fn apply_results(&mut self, opt_id: OptimizerId, results: &ResultGroup) -> Result<()> {
        if let Some(live) = self.live.get_mut(&opt_id) {
            live.last_feedback = Instant::now();
            live.logged += results.len() as u64;
        }
        // One arrival time for the group: its evaluations reached the manager together.
        let t = self.now();
        for (x, r) in results.iter() {
            self.evaluation(opt_id, x, r, t)?;
        }
        Ok(())
    }

    fn evaluation(&mut self, opt_id: OptimizerId, x: &[f64], r: &EvalRecord, t: f64) -> Result<()> {
        self.book.counters.evaluations += 1;
        let call_id = self.book.counters.evaluations;
        let line = Evaluated {
            call_id,
            opt_id,
            x,
            fx: r.fx,
            t,
            extras: r.extras.as_ref(),
            error: r.error.as_deref(),
        };
        self.emit(&Event::Evaluation(&line))?;
        if let Some(error) = &r.error {
            self.book.counters.failed_evaluations += 1;
            // A run whose first evaluations all failed (a program that cannot find its input) ends as a
            // failure instead of spending its budget on errors.
            let limit = self.m.settings.max_initial_failures;
            if limit > 0
                && call_id == limit
                && self.book.counters.failed_evaluations == call_id
                && self.end.is_none()
            {
                self.stop_spawning("the first evaluations all failed");
                self.end = Some(EndReason::InitialFailures { count: limit, error: error.clone() });
            }
        }
        // Evaluations of the generator (id 0) have no optimizer record, but they count for the best.
        if let Some(record) = self.book.records.get_mut((opt_id as usize).wrapping_sub(1)) {
            if record.evaluations() == 0 {
                self.book.immediate_crashes = 0;
            }
            record.record(x, r.fx);
        }
        if r.fx.is_finite() && self.book.best.as_ref().is_none_or(|b| r.fx < b.fx) {
            self.book.best = Some(Best { x: x.to_vec(), fx: r.fx, opt_id, call_id });
            if self.m.settings.share_best {
                for (&id, live) in &self.live {
                    if id != opt_id && live.stop_cause.is_none() {
                        live.control.offer(Evaluation { x: x.to_vec(), fx: r.fx });
                    }
                }
            }
        }
        Ok(())
    }

    /// One hunt: the owner of the global best tests every other running optimizer that has evaluations.
    fn hunt(&mut self) -> Result<()> {
        let Some(hunter_expr) = self.m.hunter.as_mut() else { return Ok(()) };
        // The hunter owns the global best; while that is the generator's own point (id 0), it is the
        // optimizer with the best value of its own.
        let owner = self.book.best.as_ref().map(|b| b.opt_id).filter(|&id| id != GENERATOR_ID);
        let best_optimizer = || {
            self.book
                .records
                .iter()
                .filter_map(|r| r.best().map(|b| (b.fx, r.id())))
                .min_by(|a, b| a.0.total_cmp(&b.0))
        };
        let Some(hunter_id) = owner.or_else(|| best_optimizer().map(|(_, id)| id)) else { return Ok(()) };
        self.book.last_hunt = self.book.counters.evaluations;
        self.book.counters.hunts += 1;
        let mut victims = Vec::new();
        let hunter = &self.book.records[hunter_id as usize - 1];
        for victim in &self.book.records {
            if victim.id() == hunter_id || !victim.is_running() || victim.evaluations() == 0 {
                continue;
            }
            let ctx = HuntContext { hunter, victim, optimizers: &self.book.records, bounds: &self.m.bounds };
            if hunter_expr.hunt(&ctx) {
                victims.push((victim.id(), hunter_expr.with_values().to_string()));
            }
        }
        let t = self.now();
        let killed: Vec<OptimizerId> = victims.iter().map(|(id, _)| *id).collect();
        for (id, expression) in victims {
            self.book.counters.optimizers_killed += 1;
            let by = KilledBy::Hunt { hunter: hunter_id, expression };
            self.stop(id, EndHow::Killed { by, t_kill: t, at_call_id: self.book.counters.evaluations });
        }
        self.emit(&Event::Hunt { t, hunter: hunter_id, killed: &killed })
    }

    /// Tells a running optimizer to stop; `cause` is logged when its runner ends.
    fn stop(&mut self, opt_id: OptimizerId, cause: EndHow) {
        if let Some(live) = self.live.get_mut(&opt_id) {
            live.control.stop();
            live.stop_cause.get_or_insert(cause);
            live.stopped_at.get_or_insert_with(Instant::now);
            self.book.records[opt_id as usize - 1].set_lifecycle(Lifecycle::Stopping);
        }
    }

    /// Books the end of an optimizer's runner and logs its end event.
    fn ended(&mut self, opt_id: OptimizerId, end: RunnerEnd, cause: Option<EndHow>) -> Result<()> {
        let t = self.now();
        let record = &mut self.book.records[opt_id as usize - 1];
        let no_evals = record.evaluations() == 0;
        // An ended optimizer keeps its counts, best and last point; its history windows go.
        record.retire();
        let (evaluations, best_fx) = (record.evaluations(), record.best().map(|b| b.fx));
        let how = match (end, cause) {
            // A kill or a stop at the end of the run is what the user asked for, even if the optimizer
            // converged or crashed in the same step.
            (RunnerEnd::Stopped, Some(cause)) | (RunnerEnd::Converged(_), Some(cause)) => cause,
            (RunnerEnd::Crashed(error), cause) => {
                self.book.counters.optimizers_crashed += 1;
                if no_evals {
                    self.book.immediate_crashes += 1;
                    self.book.last_crash = error.clone();
                    if self.book.immediate_crashes >= MAX_IMMEDIATE_CRASHES && self.end.is_none() {
                        self.book.spawning = false;
                        self.end = Some(EndReason::CrashLoop { error: error.clone() });
                    }
                }
                EndHow::Crashed { error, after: cause.map(Box::new) }
            }
            (RunnerEnd::Converged(criterion), None) => {
                self.book.counters.optimizers_converged += 1;
                EndHow::Converged { criterion }
            }
            (RunnerEnd::Stopped, None) => EndHow::Stopped { by: "runner".into(), t_stop: None },
        };
        if let Some(factory) = self.factories.remove(&opt_id) {
            let converged = matches!(how, EndHow::Converged { .. });
            let found_best = self.book.best.as_ref().is_some_and(|b| b.opt_id == opt_id);
            self.m.selector.ended(&Ended {
                factory: &factory,
                converged,
                evaluations,
                best: best_fx,
                found_best,
            });
        }
        let event = OptimizerEvent::End(OptimizerEnd { opt_id, t, evaluations, best_fx, how });
        self.emit(&Event::Optimizer(&event))
    }

    /// Stops every runner and waits for them to end, logging the evaluations still arriving. After
    /// `end_timeout` or `force_terminations_after` (the shorter) the remaining ones are abandoned and
    /// reported; without either, the wait lasts as long as the evaluations in flight, except after an
    /// interrupt: then it lasts at most [`INTERRUPT_GRACE`], and a second interrupt ends it at once.
    fn shutdown(&mut self) {
        let now = self.now();
        let ids: Vec<OptimizerId> = self.live.keys().copied().collect();
        for id in ids {
            self.stop(id, EndHow::Stopped { by: "end of run".into(), t_stop: Some(now) });
        }
        let limit = match (self.m.settings.end_timeout, self.m.settings.force_terminations_after) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let started = Instant::now();
        let mut deadline = limit.map(|t| started + t);
        while !self.live.is_empty() {
            let interrupts = self.m.interrupt.count();
            if interrupts >= 2 {
                break;
            }
            // A deadline is a batch job's end coming: the evaluations in flight get an interrupt's grace.
            if interrupts == 1 || matches!(self.end, Some(EndReason::Deadline { .. })) {
                let grace = Instant::now() + INTERRUPT_GRACE;
                if deadline.is_none_or(|d| grace < d) {
                    deadline = Some(grace);
                }
            }
            let wait = deadline.map_or(TICK, |d| d.saturating_duration_since(Instant::now()).min(TICK));
            match self.rx.recv_timeout(wait) {
                // A log failure here is reported by the final flush.
                Ok(msg) => drop(self.handle(msg)),
                Err(_) if deadline.is_some_and(|d| Instant::now() >= d) => break,
                Err(_) => {}
            }
        }
        let waited = started.elapsed();
        let abandoned: Vec<OptimizerId> = self.live.keys().copied().collect();
        for id in abandoned {
            // A log failure here is reported by the final flush.
            drop(self.abandon(id, waited));
        }
        self.m.backend.shutdown();
    }
}
