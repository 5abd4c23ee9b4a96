//! Selectors: which optimizer configuration starts next when worker slots are free.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::evaluator::{EvaluatorFactory, Serial};
use crate::optimizer::OptimizerFactory;
use crate::rng::SeededRng;
use crate::state::{self, StateError};

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
/// use std::sync::Arc;
/// use glompo_core::selector::{OptimizerSpec, SelectContext, Selection, Selector};
/// use glompo_core::testing::ScriptedFactory;
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
///
/// let spec = OptimizerSpec::new(Arc::new(ScriptedFactory::descending())).workers(2);
/// let mut once = Once(vec![spec]);
/// let ctx = |free_slots, optimizers_started| {
///     SelectContext { free_slots, evaluations: 0, optimizers_started }
/// };
/// assert!(matches!(once.select(&ctx(1, 0)), Selection::Wait));
/// assert!(matches!(once.select(&ctx(2, 0)), Selection::Start(s) if s.workers == 2));
/// assert!(matches!(once.select(&ctx(2, 1)), Selection::Stop));
/// ```
pub trait Selector: Send + fmt::Debug {
    /// The selector's name, as in configs.
    fn name(&self) -> &str;

    /// Every configuration it may start (for validation and the run summary).
    fn specs(&self) -> &[OptimizerSpec];

    /// The next optimizer to start, given `ctx.free_slots`.
    fn select(&mut self, ctx: &SelectContext) -> Selection;

    /// An optimizer this selector started has ended: `factory` is the one its [`Selection::Start`]
    /// named, and `converged` says whether it converged by its own criteria (not killed, crashed or
    /// stopped). The default ignores it.
    fn ended(&mut self, factory: &Arc<dyn OptimizerFactory>, converged: bool) {
        let _ = (factory, converged);
    }

    /// Its state, for a checkpoint: everything its later answers depend on besides its configuration
    /// and what the manager shows it (a position in a cycle, an RNG, IPOP's doublings). The default,
    /// for a stateless selector: `null`. See [`crate::state`].
    fn save(&self) -> Value {
        Value::Null
    }

    /// Continues from `state`, made by [`Selector::save`] of a selector built from the same
    /// configuration. A state of another shape is an error naming the selector; a stateful selector
    /// refuses `null`. The default, for a stateless selector, accepts `null` only.
    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        state::stateless(&format!("selector {}", self.name()), state)
    }
}

/// The state of a [`CycleSelector`]: `{"next": 1}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CycleState {
    next: usize,
}

/// The state of a [`ChainSelector`]: `{"index": 2}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainState {
    index: usize,
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

    /// `{"next": i}`: the optimizer it starts next.
    fn save(&self) -> Value {
        state::save(&CycleState { next: self.next })
    }

    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        let saved: CycleState = state::load("selector cycle", state)?;
        if saved.next >= self.specs.len() {
            return Err(StateError::new(
                "selector cycle",
                format!("next = {} names no optimizer; it cycles over {}", saved.next, self.specs.len()),
            ));
        }
        self.next = saved.next;
        Ok(())
    }
}

/// Walks through the optimizers in order as the run's evaluations pass thresholds: the first is started
/// until `thresholds[0]` evaluations, the second until `thresholds[1]`, and so on. With one threshold
/// per optimizer, passing the last one stops spawning; with one fewer, the last optimizer is started
/// from then on.
#[derive(Debug, Clone)]
pub struct ChainSelector {
    specs: Vec<OptimizerSpec>,
    thresholds: Vec<u64>,
    index: usize,
}

impl ChainSelector {
    /// A chain over `specs` with `specs.len() − 1` or `specs.len()` increasing thresholds.
    pub fn new(specs: Vec<OptimizerSpec>, thresholds: Vec<u64>) -> crate::Result<Self> {
        let n = specs.len();
        if n == 0 {
            return Err(crate::CoreError::config("optimizers", "at least one optimizer is needed"));
        }
        if thresholds.len() + 1 != n && thresholds.len() != n {
            return Err(crate::CoreError::config(
                "selector.thresholds",
                format!("{} thresholds for {n} optimizers; give {} or {n}", thresholds.len(), n - 1),
            ));
        }
        if thresholds.windows(2).any(|w| w[0] > w[1]) {
            return Err(crate::CoreError::config("selector.thresholds", "must not decrease"));
        }
        Ok(ChainSelector { specs, thresholds, index: 0 })
    }
}

impl Selector for ChainSelector {
    fn name(&self) -> &str {
        "chain"
    }

    fn specs(&self) -> &[OptimizerSpec] {
        &self.specs
    }

    fn select(&mut self, ctx: &SelectContext) -> Selection {
        // Every threshold passed since the last call counts, not only the next one.
        while self.thresholds.get(self.index).is_some_and(|&t| ctx.evaluations >= t) {
            self.index += 1;
        }
        match self.specs.get(self.index) {
            None => Selection::Stop,
            Some(spec) if spec.workers > ctx.free_slots => Selection::Wait,
            Some(spec) => Selection::Start(spec.clone()),
        }
    }

    /// `{"index": i}`: the link of the chain it has reached.
    fn save(&self) -> Value {
        state::save(&ChainState { index: self.index })
    }

    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        let saved: ChainState = state::load("selector chain", state)?;
        if saved.index > self.thresholds.len() {
            return Err(StateError::new(
                "selector chain",
                format!("index = {} is past its {} thresholds", saved.index, self.thresholds.len()),
            ));
        }
        self.index = saved.index;
        Ok(())
    }
}

/// A uniformly random choice among the optimizers whose workers fit in the free slots.
#[derive(Debug, Clone)]
pub struct RandomSelector {
    specs: Vec<OptimizerSpec>,
    rng: SeededRng,
}

impl RandomSelector {
    /// A random selector over `specs` with its own seed.
    pub fn new(specs: Vec<OptimizerSpec>, seed: u64) -> crate::Result<Self> {
        if specs.is_empty() {
            return Err(crate::CoreError::config("optimizers", "at least one optimizer is needed"));
        }
        Ok(RandomSelector { specs, rng: SeededRng::new(seed) })
    }
}

impl Selector for RandomSelector {
    fn name(&self) -> &str {
        "random"
    }

    fn specs(&self) -> &[OptimizerSpec] {
        &self.specs
    }

    fn select(&mut self, ctx: &SelectContext) -> Selection {
        let fitting: Vec<&OptimizerSpec> =
            self.specs.iter().filter(|s| s.workers <= ctx.free_slots).collect();
        if fitting.is_empty() {
            return Selection::Wait;
        }
        Selection::Start(fitting[self.rng.below(fitting.len())].clone())
    }

    /// `{"rng": …}`: the position of its RNG.
    fn save(&self) -> Value {
        state::save_rng(&self.rng)
    }

    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        self.rng = state::load_rng("selector random", state)?;
        Ok(())
    }
}

/// Spawn controls around any selector: no more optimizers once the run has `stop_after_evals`
/// evaluations or `stop_after_optimizers` optimizers started.
#[derive(Debug)]
pub struct SpawnControl {
    inner: Box<dyn Selector>,
    /// Stop spawning at this many evaluations.
    pub stop_after_evals: Option<u64>,
    /// Stop spawning at this many optimizers started.
    pub stop_after_optimizers: Option<u64>,
}

impl SpawnControl {
    /// Wraps `inner`.
    pub fn new(
        inner: Box<dyn Selector>,
        stop_after_evals: Option<u64>,
        stop_after_optimizers: Option<u64>,
    ) -> Self {
        SpawnControl { inner, stop_after_evals, stop_after_optimizers }
    }
}

impl Selector for SpawnControl {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn specs(&self) -> &[OptimizerSpec] {
        self.inner.specs()
    }

    fn select(&mut self, ctx: &SelectContext) -> Selection {
        if self.stop_after_evals.is_some_and(|n| ctx.evaluations >= n)
            || self.stop_after_optimizers.is_some_and(|n| ctx.optimizers_started >= n)
        {
            return Selection::Stop;
        }
        self.inner.select(ctx)
    }

    fn ended(&mut self, factory: &Arc<dyn OptimizerFactory>, converged: bool) {
        self.inner.ended(factory, converged);
    }

    /// The inner selector's state: the controls read only the [`SelectContext`], so they add none.
    fn save(&self) -> Value {
        self.inner.save()
    }

    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        self.inner.restore(state)
    }
}

/// The most times [`IncreasingPopulation`] doubles a population, as in pycma's IPOP (`restarts=9`):
/// at most 512 times the configured size.
pub const MAX_DOUBLINGS: u32 = 9;

/// IPOP as managed optimization: each time an optimizer of a configuration converges by its own
/// criteria, the next start of that configuration gets twice the population (1×, 2×, 4×, ... its own
/// default or configured size), up to [`MAX_DOUBLINGS`] doublings. Kills, crashes and stops do not
/// double it: a hunter killing a duplicate says nothing about the population being too small.
/// Optimizers without a population (see [`OptimizerFactory::with_population_factor`]) start
/// unchanged.
#[derive(Debug)]
pub struct IncreasingPopulation {
    inner: Box<dyn Selector>,
    /// Doublings so far, per configuration (factory name and settings).
    doublings: Vec<(String, u32)>,
    /// The optimizers started and not ended yet.
    issued: Vec<Issued>,
}

/// An optimizer [`IncreasingPopulation`] started that has not ended yet.
#[derive(Debug)]
struct Issued {
    /// The factory it was started with; `None` after a restore, until it ends.
    factory: Option<Arc<dyn OptimizerFactory>>,
    /// That factory's name and settings, which recognise it after a restore.
    identity: String,
    /// Its configuration's key (the name and settings of the unscaled factory).
    key: String,
}

/// The name and settings of a factory: the key of a configuration, and how a restored
/// [`IncreasingPopulation`] recognises the factories of the optimizers it had started.
fn identity(factory: &dyn OptimizerFactory) -> String {
    format!("{}:{}", factory.name(), factory.settings())
}

/// The state of an [`IncreasingPopulation`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IpopState {
    doublings: Vec<DoublingState>,
    issued: Vec<IssuedState>,
    inner: Value,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DoublingState {
    key: String,
    doublings: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuedState {
    key: String,
    factory: String,
}

impl IncreasingPopulation {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn Selector>) -> Self {
        IncreasingPopulation { inner, doublings: Vec::new(), issued: Vec::new() }
    }

    fn doublings(&mut self, key: &str) -> &mut u32 {
        let i = match self.doublings.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.doublings.push((key.to_owned(), 0));
                self.doublings.len() - 1
            }
        };
        &mut self.doublings[i].1
    }

    /// The optimizer started with `factory`, if this selector started it: by the factory itself, or,
    /// for one started before a restore, by its name and settings.
    fn issued_index(&self, factory: &Arc<dyn OptimizerFactory>) -> Option<usize> {
        let same = |i: &Issued| i.factory.as_ref().is_some_and(|f| Arc::ptr_eq(f, factory));
        self.issued.iter().position(same).or_else(|| {
            let id = identity(factory.as_ref());
            self.issued.iter().position(|i| i.factory.is_none() && i.identity == id)
        })
    }
}

impl Selector for IncreasingPopulation {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn specs(&self) -> &[OptimizerSpec] {
        self.inner.specs()
    }

    fn select(&mut self, ctx: &SelectContext) -> Selection {
        let mut spec = match self.inner.select(ctx) {
            Selection::Start(spec) => spec,
            other => return other,
        };
        let key = identity(spec.factory.as_ref());
        let doublings = *self.doublings(&key);
        if doublings > 0
            && let Some(scaled) = spec.factory.with_population_factor(1usize << doublings)
        {
            spec.factory = scaled;
        }
        let issued = identity(spec.factory.as_ref());
        self.issued.push(Issued { factory: Some(Arc::clone(&spec.factory)), identity: issued, key });
        Selection::Start(spec)
    }

    fn ended(&mut self, factory: &Arc<dyn OptimizerFactory>, converged: bool) {
        if let Some(i) = self.issued_index(factory) {
            let Issued { key, .. } = self.issued.swap_remove(i);
            if converged {
                let doublings = self.doublings(&key);
                *doublings = (*doublings + 1).min(MAX_DOUBLINGS);
            }
        }
        self.inner.ended(factory, converged);
    }

    /// `{"doublings": [{"key", "doublings"}], "issued": [{"key", "factory"}], "inner": …}`: the
    /// doublings per configuration (keyed by the factory's name and settings), the optimizers started
    /// and not ended (their configuration's key and their own factory's name and settings, by which a
    /// restored selector recognises them when they end), and the inner selector's state.
    fn save(&self) -> Value {
        state::save(&IpopState {
            doublings: self
                .doublings
                .iter()
                .map(|(key, doublings)| DoublingState { key: key.clone(), doublings: *doublings })
                .collect(),
            issued: self
                .issued
                .iter()
                .map(|i| IssuedState { key: i.key.clone(), factory: i.identity.clone() })
                .collect(),
            inner: self.inner.save(),
        })
    }

    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        let component = format!("selector {} (increasing_population)", self.name());
        let saved: IpopState = state::load(&component, state)?;
        if let Some(d) = saved.doublings.iter().find(|d| d.doublings > MAX_DOUBLINGS) {
            return Err(StateError::new(
                component,
                format!("{} doublings of {} exceed the cap of {MAX_DOUBLINGS}", d.doublings, d.key),
            ));
        }
        self.inner.restore(&saved.inner)?;
        self.doublings = saved.doublings.into_iter().map(|d| (d.key, d.doublings)).collect();
        self.issued = saved
            .issued
            .into_iter()
            .map(|i| Issued { factory: None, identity: i.factory, key: i.key })
            .collect();
        Ok(())
    }
}

/// The selectors a config may name.
pub const SELECTORS: &[&str] = &["cycle", "chain", "random"];

/// Builds a selector over `specs` from its config: a name (`"cycle"`) or an object with a `type` and
/// options (`{"type": "chain", "thresholds": [1000, 5000]}`), plus the spawn controls
/// `stop_after_evals` and `stop_after_optimizers` and `increasing_population` (IPOP) for any type.
pub fn from_config(
    value: &serde_json::Value,
    specs: Vec<OptimizerSpec>,
    seed: u64,
) -> crate::Result<Box<dyn Selector>> {
    let (name, options, at) = crate::fields::component("selector", value)?;
    let mut f = crate::fields::Fields::new("selector", options);
    let inner: Box<dyn Selector> = match name.as_str() {
        "cycle" => Box::new(CycleSelector::new(specs)?),
        "chain" => {
            let thresholds = f.u64s("thresholds")?.ok_or_else(|| f.missing("thresholds", "missing"))?;
            Box::new(ChainSelector::new(specs, thresholds)?)
        }
        "random" => Box::new(RandomSelector::new(specs, seed)?),
        other => return Err(crate::fields::unknown_component(at, "selector", other, SELECTORS)),
    };
    let stop_after_evals = f.u64("stop_after_evals", u64::MAX)?;
    let stop_after_optimizers = f.u64("stop_after_optimizers", u64::MAX)?;
    let increasing = f.bool("increasing_population", false)?;
    f.finish()?;
    let mut selector = inner;
    if increasing {
        selector = Box::new(IncreasingPopulation::new(selector));
    }
    if stop_after_evals != u64::MAX || stop_after_optimizers != u64::MAX {
        selector = Box::new(SpawnControl::new(
            selector,
            (stop_after_evals != u64::MAX).then_some(stop_after_evals),
            (stop_after_optimizers != u64::MAX).then_some(stop_after_optimizers),
        ));
    }
    Ok(selector)
}

#[cfg(test)]
mod tests;
