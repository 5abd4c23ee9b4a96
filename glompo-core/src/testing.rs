//! Mocks and probes for tests of the manager and of other crates: a scripted optimizer and its
//! factory, and a probe of one runner's link.

use serde::{Deserialize, Serialize};

use crate::error::OptimizerError;
use crate::optimizer::{Optimizer, OptimizerFactory, StartContext, Status};
use crate::point::Evaluation;

/// A deterministic optimizer whose behaviour is set by its factory: it walks from `x0` towards the
/// centre of the box by `step` of the remaining distance per batch (or stays put when `step` is 0),
/// asks `batch` copies of its point (or, with a `spread`, points between it and the centre), and can
/// be made to converge or panic after a number of batches, or to fail to save. An injected point
/// becomes its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptedOptimizer {
    name: String,
    x: Vec<f64>,
    centre: Vec<f64>,
    script: Script,
    batches: u64,
    best: Option<Evaluation>,
}

/// The behaviour of a [`ScriptedOptimizer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Script {
    /// Fraction of the distance to the centre covered per batch.
    pub step: f64,
    /// Points per batch.
    pub batch: usize,
    /// Converge (criterion `script`) after this many batches.
    pub converge_after: Option<u64>,
    /// Panic in `ask` after this many batches.
    pub panic_after: Option<u64>,
    /// Point `i` of a batch of `n` lies `spread × i / n` of the way from the optimizer's point to the
    /// centre (0: every point of a batch is the same).
    #[serde(default)]
    pub spread: f64,
    /// `save` fails.
    #[serde(default)]
    pub save_fails: bool,
}

impl Optimizer for ScriptedOptimizer {
    fn name(&self) -> &str {
        &self.name
    }

    /// Its batch size: every batch has the same number of points.
    fn popsize(&self) -> Option<usize> {
        Some(self.script.batch)
    }

    fn ask(&mut self) -> Result<Vec<Vec<f64>>, OptimizerError> {
        if self.script.panic_after.is_some_and(|n| self.batches >= n) {
            panic!("scripted panic after {} batches", self.batches);
        }
        let n = self.script.batch;
        let spread = self.script.spread;
        Ok((0..n)
            .map(|i| {
                let f = spread * i as f64 / n as f64;
                self.x.iter().zip(&self.centre).map(|(x, c)| x + f * (c - x)).collect()
            })
            .collect())
    }

    fn tell(&mut self, evals: &[Evaluation]) -> Result<Status, OptimizerError> {
        if evals.len() != self.script.batch {
            return Err(OptimizerError::Protocol(format!(
                "{} values for a batch of {}",
                evals.len(),
                self.script.batch
            )));
        }
        for e in evals.iter().filter(|e| e.fx.is_finite()) {
            if self.best.as_ref().is_none_or(|b| e.fx < b.fx) {
                self.best = Some(e.clone());
            }
        }
        self.batches += 1;
        for (x, c) in self.x.iter_mut().zip(&self.centre) {
            *x += self.script.step * (c - *x);
        }
        Ok(match self.script.converge_after {
            Some(n) if self.batches >= n => Status::Converged("script".into()),
            _ => Status::Running,
        })
    }

    fn best(&self) -> Option<Evaluation> {
        self.best.clone()
    }

    /// Adopts the offered point as its own and goes on from there.
    fn inject(&mut self, x: &[f64], _fx: f64) {
        self.x = x.to_vec();
    }

    fn save(&self) -> Result<serde_json::Value, OptimizerError> {
        if self.script.save_fails {
            return Err(OptimizerError::Internal("scripted save failure".into()));
        }
        serde_json::to_value(self).map_err(|e| OptimizerError::Internal(e.to_string()))
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), OptimizerError> {
        *self = serde_json::from_value(state.clone())
            .map_err(|e| OptimizerError::BadState { optimizer: self.name.clone(), message: e.to_string() })?;
        Ok(())
    }
}

/// Builds [`ScriptedOptimizer`]s.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedFactory {
    name: String,
    script: Script,
}

impl ScriptedFactory {
    /// One that walks half way to the centre per batch of one point, forever.
    pub fn descending() -> Self {
        ScriptedFactory {
            name: "scripted".into(),
            script: Script {
                step: 0.5,
                batch: 1,
                converge_after: None,
                panic_after: None,
                spread: 0.0,
                save_fails: false,
            },
        }
    }

    /// The factory whose [`OptimizerFactory::name`] and [`OptimizerFactory::settings`] are these (a
    /// runner process rebuilds it from its recipe this way).
    pub fn from_settings(name: &str, settings: &serde_json::Value) -> Result<Self, OptimizerError> {
        let script = serde_json::from_value(settings.clone())
            .map_err(|e| OptimizerError::invalid_option("script", e.to_string()))?;
        Ok(ScriptedFactory { name: name.into(), script })
    }

    /// One that stays at its start point forever (a stagnating optimizer).
    pub fn constant() -> Self {
        let mut f = Self::descending();
        f.script.step = 0.0;
        f
    }

    /// A descending one with another type name.
    pub fn named(name: &str) -> Self {
        Self::descending().with_name(name)
    }

    /// Sets the type name.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the fraction of the distance to the centre covered per batch.
    pub fn step(mut self, step: f64) -> Self {
        self.script.step = step;
        self
    }

    /// Sets the points per batch.
    pub fn batch(mut self, batch: usize) -> Self {
        self.script.batch = batch;
        self
    }

    /// Converge after `n` batches.
    pub fn converge_after(mut self, n: u64) -> Self {
        self.script.converge_after = Some(n);
        self
    }

    /// Panic in `ask` after `n` batches.
    pub fn panic_after(mut self, n: u64) -> Self {
        self.script.panic_after = Some(n);
        self
    }

    /// Spreads the points of a batch between the optimizer's point and the centre (see [`Script::spread`]).
    pub fn spread(mut self, spread: f64) -> Self {
        self.script.spread = spread;
        self
    }

    /// Makes `save` fail.
    pub fn save_fails(mut self) -> Self {
        self.script.save_fails = true;
        self
    }
}

impl OptimizerFactory for ScriptedFactory {
    fn name(&self) -> &str {
        &self.name
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(&self.script).unwrap_or_default()
    }

    /// Its "population" is its batch.
    fn with_population_factor(&self, factor: f64) -> Option<std::sync::Arc<dyn OptimizerFactory>> {
        let batch = (self.script.batch as f64 * factor).floor().max(1.0) as usize;
        Some(std::sync::Arc::new(self.clone().batch(batch)))
    }

    fn popsize(&self, _bounds: &crate::Bounds, _workers: usize) -> Option<usize> {
        Some(self.script.batch)
    }

    fn with_settings(&self, settings: &serde_json::Value) -> Option<std::sync::Arc<dyn OptimizerFactory>> {
        let script = serde_json::from_value(settings.clone()).ok()?;
        Some(std::sync::Arc::new(ScriptedFactory { name: self.name.clone(), script }))
    }

    fn build(&self, ctx: &StartContext<'_>) -> Result<Box<dyn Optimizer>, OptimizerError> {
        Ok(Box::new(ScriptedOptimizer {
            name: self.name.clone(),
            x: ctx.x0.to_vec(),
            centre: ctx.bounds.centre(),
            script: self.script.clone(),
            batches: 0,
            best: None,
        }))
    }
}

/// One runner on a backend as link tests drive it: its control, and every message it has sent so
/// far. A runner that sends nothing for a minute is broken: reading then panics with what it sent.
#[derive(Debug)]
pub struct LinkProbe {
    /// What the probe is of, for messages (`Process × serial`).
    pub what: String,
    /// The runner's control.
    pub control: std::sync::Arc<crate::runner::Control>,
    /// Every message received so far, in order.
    pub seen: Vec<crate::runner::Message>,
    rx: crossbeam_channel::Receiver<crate::runner::Message>,
    handle: Option<Box<dyn crate::backend::RunnerHandle>>,
    backend: Box<dyn crate::backend::Backend>,
}

impl LinkProbe {
    /// Starts `runner`, whose messages arrive on `rx`, on `backend`.
    pub fn start(
        what: impl Into<String>,
        mut backend: Box<dyn crate::backend::Backend>,
        runner: crate::runner::Runner,
        rx: crossbeam_channel::Receiver<crate::runner::Message>,
    ) -> crate::Result<LinkProbe> {
        let control = runner.control();
        let handle = Some(backend.spawn(runner)?);
        Ok(LinkProbe { what: what.into(), control, seen: Vec::new(), rx, handle, backend })
    }

    /// Receives the next message and returns it.
    pub fn receive(&mut self) -> &crate::runner::Message {
        let timeout = std::time::Duration::from_secs(60);
        let msg = self.rx.recv_timeout(timeout).unwrap_or_else(|e| {
            panic!("{}: no message ({e}) after {:?}", self.what, self.seen);
        });
        self.seen.push(msg);
        &self.seen[self.seen.len() - 1]
    }

    /// Receives until a message for which `done` is true, and returns it.
    pub fn until(&mut self, mut done: impl FnMut(&crate::runner::Message) -> bool) -> crate::runner::Message {
        loop {
            let msg = self.receive();
            if done(msg) {
                return msg.clone();
            }
        }
    }

    /// Receives until `n` more `BatchDone`s, and returns their evaluation counts.
    pub fn batches(&mut self, n: usize) -> Vec<u64> {
        use crate::runner::Message;
        (0..n)
            .map(|_| match self.until(|m| matches!(m, Message::BatchDone { .. })) {
                Message::BatchDone { evaluations, .. } => evaluations,
                other => unreachable!("until returned {other:?}"),
            })
            .collect()
    }

    /// Receives until the answer to a save request, and returns it.
    pub fn saved(&mut self) -> crate::runner::SavedState {
        use crate::runner::Message;
        match self.until(|m| matches!(m, Message::Saved { .. })) {
            Message::Saved { saved, .. } => saved,
            other => unreachable!("until returned {other:?}"),
        }
    }

    /// The results received so far, in order.
    pub fn results(&self) -> Vec<(Vec<f64>, crate::runner::EvalRecord)> {
        results(&self.seen)
    }

    /// Stops the runner, receives until its end (unless it came already), waits for it and shuts the
    /// backend down, and returns how it ended.
    pub fn finish(&mut self) -> crate::runner::RunnerEnd {
        use crate::runner::Message;
        self.control.stop();
        let ended = match self.seen.last() {
            Some(Message::Ended { end, .. }) => end.clone(),
            _ => match self.until(|m| matches!(m, Message::Ended { .. })) {
                Message::Ended { end, .. } => end,
                other => unreachable!("until returned {other:?}"),
            },
        };
        if let Some(handle) = self.handle.take() {
            handle.join();
        }
        self.backend.shutdown();
        ended
    }
}

/// The results among `messages`, in order, with their points.
pub fn results(messages: &[crate::runner::Message]) -> Vec<(Vec<f64>, crate::runner::EvalRecord)> {
    messages
        .iter()
        .filter_map(|m| match m {
            crate::runner::Message::Results { results, .. } => {
                Some(results.iter().map(|(x, r)| (x.to_vec(), r.clone())))
            }
            _ => None,
        })
        .flatten()
        .collect()
}
