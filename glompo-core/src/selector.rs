//! Selectors: which optimizer configuration starts next when worker slots are free.

use std::fmt;
use std::sync::Arc;

use crate::evaluator::{EvaluatorFactory, Serial};
use crate::optimizer::OptimizerFactory;

/// One configured kind of optimizer: how to build it, how many worker slots it takes and what evaluates
/// its batches (level 2).
#[derive(Debug, Clone)]
pub struct OptimizerSpec {
    /// Builds the optimizer.
    pub factory: Arc<dyn OptimizerFactory>,
    /// The worker slots it holds while alive (at least 1).
    pub workers: usize,
    /// Builds its level-2 evaluator.
    pub evaluator: Arc<dyn EvaluatorFactory>,
}

impl OptimizerSpec {
    /// A spec with one worker slot and serial evaluation.
    pub fn new(factory: Arc<dyn OptimizerFactory>) -> Self {
        OptimizerSpec { factory, workers: 1, evaluator: Arc::new(Serial) }
    }

    /// Sets the worker slots.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Sets the level-2 evaluator.
    pub fn evaluator(mut self, evaluator: Arc<dyn EvaluatorFactory>) -> Self {
        self.evaluator = evaluator;
        self
    }
}

/// A selector's answer.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Start this optimizer (its workers fit in the free slots).
    Start(OptimizerSpec),
    /// Nothing fits now; ask again when slots free up.
    Wait,
    /// Start no more optimizers in this run.
    Stop,
}

/// What a selector sees.
#[derive(Debug, Clone, Copy)]
pub struct SelectContext {
    /// Free worker slots.
    pub free_slots: usize,
    /// Evaluations logged so far.
    pub evaluations: u64,
    /// Optimizers started so far.
    pub optimizers_started: u64,
}

/// Chooses the next optimizer to start.
///
/// ```
/// use glompo_core::selector::{OptimizerSpec, SelectContext, Selection, Selector};
///
/// /// Starts one optimizer, then stops spawning.
/// #[derive(Debug)]
/// struct Once(Vec<OptimizerSpec>);
///
/// impl Selector for Once {
///     fn name(&self) -> &str { "once" }
///     fn specs(&self) -> &[OptimizerSpec] { &self.0 }
///     fn select(&mut self, ctx: &SelectContext) -> Selection {
///         match ctx.optimizers_started {
///             0 if self.0[0].workers <= ctx.free_slots => Selection::Start(self.0[0].clone()),
///             0 => Selection::Wait,
///             _ => Selection::Stop,
///         }
///     }
/// }
/// # let _ = Once(Vec::new()).name();
/// ```
pub trait Selector: Send + fmt::Debug {
    /// The selector's name, as in configs.
    fn name(&self) -> &str;

    /// Every configuration it may start (for validation and the run summary).
    fn specs(&self) -> &[OptimizerSpec];

    /// The next optimizer to start, given `ctx.free_slots`.
    fn select(&mut self, ctx: &SelectContext) -> Selection;
}

/// Round robin over the configured optimizers. When the next one does not fit in the free slots it
/// waits, without skipping ahead, so the mix of optimizers stays as configured.
#[derive(Debug, Clone)]
pub struct CycleSelector {
    specs: Vec<OptimizerSpec>,
    next: usize,
}

impl CycleSelector {
    /// A cycle over `specs`, which must not be empty.
    pub fn new(specs: Vec<OptimizerSpec>) -> crate::Result<Self> {
        if specs.is_empty() {
            return Err(crate::CoreError::config("optimizers", "at least one optimizer is needed"));
        }
        Ok(CycleSelector { specs, next: 0 })
    }
}

impl Selector for CycleSelector {
    fn name(&self) -> &str {
        "cycle"
    }

    fn specs(&self) -> &[OptimizerSpec] {
        &self.specs
    }

    fn select(&mut self, ctx: &SelectContext) -> Selection {
        let spec = &self.specs[self.next];
        if spec.workers > ctx.free_slots {
            return Selection::Wait;
        }
        self.next = (self.next + 1) % self.specs.len();
        Selection::Start(spec.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ScriptedFactory;

    #[test]
    fn cycle_waits_for_a_misfit_without_skipping() {
        let a = OptimizerSpec::new(Arc::new(ScriptedFactory::named("a"))).workers(2);
        let b = OptimizerSpec::new(Arc::new(ScriptedFactory::named("b")));
        let mut s = CycleSelector::new(vec![a, b]).unwrap();
        let mut seq = Vec::new();
        for free in [0, 1, 2, 1, 0, 2] {
            let ctx = SelectContext { free_slots: free, evaluations: 0, optimizers_started: 0 };
            seq.push(match s.select(&ctx) {
                Selection::Start(spec) => format!("{}({})", spec.factory.name(), spec.workers),
                Selection::Wait => "wait".into(),
                Selection::Stop => "stop".into(),
            });
        }
        // The original's sequence: None, None, A(2 slots), B, None, A.
        assert_eq!(seq, ["wait", "wait", "a(2)", "b(1)", "wait", "a(2)"]);
        assert!(CycleSelector::new(Vec::new()).is_err());
    }
}
