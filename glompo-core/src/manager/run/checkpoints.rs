//! Taking checkpoints in a live run, and starting a run again from one.
//!
//! A checkpoint never waits on an optimizer that does not answer: the manager asks every running
//! optimizer to save at its next batch boundary and goes on with the run; when all have answered, or
//! [`CheckpointPolicy::answer_within`](crate::manager::CheckpointPolicy) has passed, it writes what it
//! has. An optimizer that did not answer is written with its last state (or none: it then restarts
//! from its recipe) and the evaluations it logged since stay in the log, from where a resume replays
//! them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::{Live, State, unix_now};
use crate::error::{CoreError, Result};
use crate::manager::Manager;
use crate::manager::checkpoint::{self, Body, CHECKPOINTS, ComponentStates, LiveOptimizer, LogMarks};
use crate::manager::event::{EndHow, Event};
use crate::optimizer::{Optimizer, OptimizerFactory, OptimizerId};
use crate::record::OptimizerRecord;
use crate::runner::{PendingEval, ResumeFrom, RunnerEnd, RunnerRecipe};
use crate::selector::OptimizerSpec;

/// A checkpoint being taken: what took it, when the saves were asked for, and who has not answered.
pub(super) struct Taking {
    reason: String,
    asked: Instant,
    waiting: BTreeSet<OptimizerId>,
}

impl Taking {
    /// What asked for it.
    pub(super) fn reason(&self) -> &str {
        &self.reason
    }
}

impl State<'_> {
    /// Asks for a checkpoint (nothing without a run directory, or while one is being taken). During a
    /// deterministic round it is taken when the round is over.
    pub(super) fn want_checkpoint(&mut self, reason: &str) -> Result<()> {
        if self.log.dir().is_none() || self.taking.is_some() {
            return Ok(());
        }
        if self.in_round {
            self.deferred_checkpoint.get_or_insert_with(|| reason.to_owned());
            return Ok(());
        }
        let mut waiting = BTreeSet::new();
        for (&id, live) in &self.live {
            if live.stop_cause.is_none() {
                live.control.request_save();
                waiting.insert(id);
            }
        }
        self.taking = Some(Taking { reason: reason.to_owned(), asked: Instant::now(), waiting });
        self.checkpoint_if_ready()
    }

    /// Books an optimizer's answer (or its end) for the checkpoint being taken.
    pub(super) fn answered(&mut self, opt_id: OptimizerId) -> Result<()> {
        if let Some(taking) = &mut self.taking {
            taking.waiting.remove(&opt_id);
        }
        self.checkpoint_if_ready()
    }

    /// Writes the checkpoint being taken once every optimizer answered or the wait is over.
    pub(super) fn checkpoint_if_ready(&mut self) -> Result<()> {
        let within = self.m.settings.checkpoints.answer_within;
        let ready = self.taking.as_ref().is_some_and(|t| t.waiting.is_empty() || t.asked.elapsed() >= within);
        match self.taking.take() {
            Some(taking) if ready => self.write_checkpoint(&taking),
            other => {
                self.taking = other;
                Ok(())
            }
        }
    }

    /// After each result message: a checkpoint every so many evaluations.
    pub(super) fn evaluations_trigger(&mut self) -> Result<()> {
        let evals = self.last_checkpoint.1;
        let due = self.m.settings.checkpoints.every_evals;
        if self.taking.is_none()
            && due.is_some_and(|n| self.book.counters.evaluations.saturating_sub(evals) >= n)
        {
            self.want_checkpoint("every_evals")?;
        }
        Ok(())
    }

    /// At every tick: a checkpoint every so many seconds, one a `CHKPT` file asks for, and the write
    /// of one whose optimizers have had their time to answer.
    pub(super) fn checkpoint_triggers(&mut self) -> Result<()> {
        let at = self.last_checkpoint.0;
        if self.m.settings.checkpoints.every_seconds.is_some_and(|s| at.elapsed().as_secs_f64() >= s) {
            self.want_checkpoint("every_seconds")?;
        }
        if let Some(dir) = self.log.dir() {
            let file = dir.join(crate::manager::CHECKPOINT_FILE);
            if file.is_file() {
                std::fs::remove_file(&file).map_err(|e| CoreError::io(&file, e))?;
                self.want_checkpoint("CHKPT file")?;
            }
        }
        self.checkpoint_if_ready()
    }

    /// Takes a checkpoint now and waits until it is written: at the end of the run (before the
    /// runners are stopped: the checkpoint of an interrupted run or of `at_end`, taken while the
    /// optimizers still run; the evaluations arriving meanwhile are logged) and between deterministic
    /// rounds. A second interrupt writes at once what is there.
    pub(super) fn take_checkpoint(&mut self, reason: &str) -> Result<()> {
        if self.taking.is_none() {
            self.want_checkpoint(reason)?;
        }
        while self.taking.is_some() {
            if self.m.interrupt.count() >= 2 {
                if let Some(taking) = self.taking.as_mut() {
                    taking.waiting.clear();
                }
                return self.checkpoint_if_ready();
            }
            match self.rx.recv_timeout(crate::manager::TICK) {
                Ok(msg) => self.handle(msg)?,
                Err(_) => self.checkpoint_if_ready()?,
            }
        }
        Ok(())
    }

    fn write_checkpoint(&mut self, taking: &Taking) -> Result<()> {
        let Some(dir) = self.log.dir().map(Path::to_path_buf) else { return Ok(()) };
        self.log.flush()?;
        let logs = LogMarks {
            evaluations: checkpoint::mark(&dir.join("evaluations.jsonl"))?,
            optimizers: checkpoint::mark(&dir.join("optimizers.jsonl"))?,
        };
        let created_unix = unix_now();
        let count = self.book.checkpoints + 1;
        let name = checkpoint::file_name(&self.m.settings.checkpoints.name, count, created_unix);
        let mut book = self.book.clone();
        book.checkpoints = count;
        book.checkpoint_files.push(name.clone());
        book.close_period(created_unix, self.session_seconds());
        let optimizers = self.live.values().map(|live| live_optimizer(live, taking)).collect();
        let components = ComponentStates {
            selector: self.m.selector.save(),
            generator: self.m.generator.save(),
            checker_expression: self.m.checker.to_string(),
            checker: self.m.checker.save(),
            hunter: self.m.hunter.as_ref().map_or(serde_json::Value::Null, |h| h.save()),
        };
        let body = Body {
            glompo_version: env!("CARGO_PKG_VERSION").to_owned(),
            created_unix,
            count,
            reason: taking.reason.clone(),
            settings: self.m.settings.clone(),
            config: self.m.config.clone(),
            bounds: self.m.bounds.clone(),
            book,
            components,
            optimizers,
            logs,
        };
        let folder = dir.join(CHECKPOINTS);
        std::fs::create_dir_all(&folder).map_err(|e| CoreError::io(&folder, e))?;
        let path = folder.join(&name);
        checkpoint::write(&path, &body)?;
        self.book.checkpoints = count;
        self.book.checkpoint_files.push(name);
        if let Some(keep) = self.m.settings.checkpoints.keep {
            while self.book.checkpoint_files.len() > keep {
                let old = folder.join(self.book.checkpoint_files.remove(0));
                match std::fs::remove_file(&old) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(CoreError::io(&old, e)),
                }
            }
        }
        self.last_checkpoint = (Instant::now(), self.book.counters.evaluations);
        let t = self.now();
        self.emit(&Event::Checkpoint { t, path: &path, count, reason: &taking.reason })
    }
}

/// What a checkpoint says of one live optimizer.
fn live_optimizer(live: &Live, taking: &Taking) -> LiveOptimizer {
    let late = taking.waiting.contains(&live.recipe.opt_id);
    let (state, evaluations_at_state, note) = match &live.saved {
        Some((saved, at)) => match saved {
            Ok(state) => {
                let note =
                    late.then(|| format!("did not answer in time; its state is of evaluation {at} of it"));
                (Some(Arc::clone(state)), *at, note)
            }
            Err(e) => (None, 0, Some(format!("its optimizer cannot save: {e}"))),
        },
        None if live.stop_cause.is_some() => (None, 0, Some("it was told to stop".into())),
        None => (None, 0, Some("it has not answered a save request yet; it restarts from its recipe".into())),
    };
    LiveOptimizer {
        recipe: live.recipe.clone(),
        state,
        evaluations_at_state,
        stop_cause: live.stop_cause.clone(),
        note,
    }
}

/// A checkpoint read and checked against its run directory, with every optimizer to restart built:
/// nothing of the run directory has changed yet.
pub(super) struct Resumed {
    pub(super) source: PathBuf,
    pub(super) body: Body,
    pub(super) starts: Vec<Restart>,
}

/// An optimizer to start again from its state.
pub(super) struct Restart {
    pub(super) recipe: RunnerRecipe,
    pub(super) optimizer: Box<dyn Optimizer>,
    pub(super) spec: OptimizerSpec,
    pub(super) stop_cause: Option<EndHow>,
}

fn refuse(path: &Path, message: impl Into<String>) -> CoreError {
    CoreError::Checkpoint { path: path.to_path_buf(), message: message.into() }
}

impl Manager {
    /// Reads the checkpoint at `path` and prepares this manager to continue its run: checks that it
    /// fits (seed, bounds, the run directory's logs), restores the components' states, and builds
    /// every optimizer that was alive. Nothing is written.
    pub(super) fn prepare_resume(&mut self, path: &Path) -> Result<Resumed> {
        let body = checkpoint::read(path)?;
        let source = path
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .ok_or_else(|| refuse(path, "is not in a run directory's checkpoints/ folder"))?;
        if body.settings.seed != self.settings.seed {
            return Err(refuse(
                path,
                format!(
                    "was taken of a run with seed {}; this run has seed {}",
                    body.settings.seed, self.settings.seed
                ),
            ));
        }
        if body.bounds != self.bounds {
            return Err(refuse(path, "was taken of a run with other bounds"));
        }
        let pending = checkpoint::pending(&source, &body, path)?;
        let restore =
            |r: std::result::Result<(), crate::state::StateError>| r.map_err(|e| refuse(path, e.to_string()));
        restore(self.selector.restore(&body.components.selector))?;
        restore(self.generator.restore(&body.components.generator))?;
        // Another stop criterion (`glompo resume --convergence`) starts fresh.
        if self.checker.to_string() == body.components.checker_expression {
            restore(self.checker.restore(&body.components.checker))?;
        }
        if let Some(h) = self.hunter.as_mut() {
            restore(h.restore(&body.components.hunter))?;
        }
        let mut starts = Vec::with_capacity(body.optimizers.len());
        for (live, pending) in body.optimizers.iter().zip(pending) {
            let mut recipe = live.recipe.clone();
            let spec = self.spec_for(&recipe).ok_or_else(|| {
                refuse(
                    path,
                    format!(
                        "optimizer {} ({} with options {}, evaluator {}) is not one this run's selector can start",
                        recipe.opt_id, recipe.optimizer, recipe.options, recipe.evaluator
                    ),
                )
            })?;
            let optimizer = spec.factory.build(&recipe.start_context()).map_err(|e| {
                refuse(path, format!("optimizer {} cannot be built again: {e}", recipe.opt_id))
            })?;
            let pending: Vec<PendingEval> =
                pending.into_iter().map(|e| PendingEval { x: e.x, record: e.record }).collect();
            recipe.resume = Some(ResumeFrom { state: live.state.as_deref().cloned(), pending });
            starts.push(Restart { recipe, optimizer, spec, stop_cause: live.stop_cause.clone() });
        }
        Ok(Resumed { source, body, starts })
    }

    /// The spec of this run that builds the optimizer of `recipe`: the same type, options and
    /// evaluator, or the same type and evaluator with the options a restart selector scaled.
    fn spec_for(&self, recipe: &RunnerRecipe) -> Option<OptimizerSpec> {
        for spec in self.selector.specs() {
            if spec.evaluator.name() != recipe.evaluator || spec.workers != recipe.workers {
                continue;
            }
            let fits = |f: &Arc<dyn OptimizerFactory>| {
                f.name() == recipe.optimizer && f.settings() == recipe.options
            };
            if fits(&spec.factory) {
                return Some(spec.clone());
            }
            // Rebuilt from the settings it logged: a restart's scaled factory, or one whose type has
            // gained options since (they take their defaults).
            if spec.factory.name() == recipe.optimizer
                && let Some(scaled) = spec.factory.with_settings(&recipe.options)
            {
                return Some(OptimizerSpec { factory: scaled, ..spec.clone() });
            }
        }
        None
    }
}

impl State<'_> {
    /// Starts the optimizers a resumed run had alive; those that had been told to stop end with what
    /// they were told.
    pub(super) fn restart(&mut self, starts: Vec<Restart>) -> Result<()> {
        for start in starts {
            let opt_id = start.recipe.opt_id;
            self.factories.insert(opt_id, Arc::clone(&start.spec.factory));
            if let Some(cause) = start.stop_cause {
                self.ended(opt_id, RunnerEnd::Stopped, Some(cause))?;
                continue;
            }
            let mut recipe = start.recipe;
            recipe.limited = self.budget.is_some() || self.deterministic();
            recipe.stepped = self.deterministic();
            recipe.evaluations =
                self.book.records.get(opt_id as usize - 1).map_or(0, OptimizerRecord::evaluations);
            self.launch(recipe, start.optimizer, &start.spec)?;
        }
        Ok(())
    }
}
