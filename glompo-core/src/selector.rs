//! Selectors: which optimizer configuration starts next when worker slots are free.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::evaluator::{EvaluatorFactory, Serial};
use crate::optimizer::OptimizerFactory;
use crate::point::Bounds;
use crate::rng::SeededRng;
use crate::state::{self, StateError};

mod portfolio;
pub use portfolio::{MAX_WINS, PortfolioSelector};

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
    /// The most optimizers of this spec a selector starts in one run; `None`: no limit. A selector
    /// passes over a spec that has used its starts, and stops when every spec has.
    pub max_starts: Option<u64>,
}

impl OptimizerSpec {
    /// A spec with one worker slot and serial evaluation.
    pub fn new(factory: Arc<dyn OptimizerFactory>) -> Self {
        OptimizerSpec { factory, workers: 1, evaluator: Arc::new(Serial), max_starts: None }
    }

    /// Limits the starts of this spec (see [`OptimizerSpec::max_starts`]).
    pub fn max_starts(mut self, max_starts: u64) -> Self {
        self.max_starts = Some(max_starts);
        self
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
pub struct SelectContext<'a> {
    /// Free worker slots.
    pub free_slots: usize,
    /// Evaluations logged so far.
    pub evaluations: u64,
    /// Optimizers started so far.
    pub optimizers_started: u64,
    /// With a budget (the checkers' `max_evals`), the evaluations left of it; `None` without one.
    pub remaining: Option<u64>,
    /// The search box.
    pub bounds: &'a Bounds,
}

/// How an optimizer a selector started has ended, as [`Selector::ended`] is told.
#[derive(Debug, Clone, Copy)]
pub struct Ended<'a> {
    /// The factory its [`Selection::Start`] named.
    pub factory: &'a Arc<dyn OptimizerFactory>,
    /// Whether it converged by its own criteria (not killed, crashed or stopped).
    pub converged: bool,
    /// How many of its evaluations were logged.
    pub evaluations: u64,
    /// The best value among them; `None` when none succeeded.
    pub best: Option<f64>,
    /// Whether the run's best point so far is one this optimizer found.
    pub found_best: bool,
}

/// Chooses the next optimizer to start.
///
/// ```
/// use std::sync::Arc;
/// use glompo_core::Bounds;
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
///     fn select(&mut self, ctx: &SelectContext<'_>) -> Selection {
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
/// let bounds = Bounds::uniform(2, -1.0, 1.0).unwrap();
/// let ctx = |free_slots, optimizers_started| SelectContext {
///     free_slots, evaluations: 0, optimizers_started, remaining: None, bounds: &bounds,
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
    fn select(&mut self, ctx: &SelectContext<'_>) -> Selection;

    /// An optimizer this selector started has ended (see [`Ended`]). The default ignores it.
    fn ended(&mut self, end: &Ended<'_>) {
        let _ = end;
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
    /// Starts per spec; absent in the checkpoints of versions without `max_starts` (none then).
    #[serde(default)]
    started: Vec<u64>,
}

/// The state of a [`ChainSelector`]: `{"index": 2}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainState {
    index: usize,
    #[serde(default)]
    started: Vec<u64>,
}

/// The state of a [`RandomSelector`]: `{"rng": …, "started": [1, 0]}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RandomState {
    rng: crate::rng::RngState,
    #[serde(default)]
    started: Vec<u64>,
}

/// How many optimizers of each spec a selector has started, for [`OptimizerSpec::max_starts`].
#[derive(Debug, Clone)]
struct Starts(Vec<u64>);

impl Starts {
    fn new(specs: &[OptimizerSpec]) -> Self {
        Starts(vec![0; specs.len()])
    }

    /// Whether spec `i` may start again.
    fn left(&self, specs: &[OptimizerSpec], i: usize) -> bool {
        specs[i].max_starts.is_none_or(|m| self.0[i] < m)
    }

    /// Counts a start of spec `i` and hands it out.
    fn start(&mut self, specs: &[OptimizerSpec], i: usize) -> Selection {
        self.0[i] += 1;
        Selection::Start(specs[i].clone())
    }

    /// The counts from a saved state: none saved (an older checkpoint) means none started.
    fn restore(&mut self, component: &str, saved: Vec<u64>) -> Result<(), StateError> {
        match saved.len() {
            0 => self.0.iter_mut().for_each(|n| *n = 0),
            n if n == self.0.len() => self.0 = saved,
            n => {
                return Err(StateError::new(
                    component,
                    format!("{n} start counts for {} optimizers", self.0.len()),
                ));
            }
        }
        Ok(())
    }
}

/// Round robin over the configured optimizers. When the next one does not fit in the free slots it
/// waits, without skipping ahead, so the mix of optimizers stays as configured; one that has used its
/// [`max_starts`](OptimizerSpec::max_starts) is passed over, and when all have, it stops.
#[derive(Debug, Clone)]
pub struct CycleSelector {
    specs: Vec<OptimizerSpec>,
    next: usize,
    starts: Starts,
}

impl CycleSelector {
    /// A cycle over `specs`, which must not be empty.
    pub fn new(specs: Vec<OptimizerSpec>) -> crate::Result<Self> {
        if specs.is_empty() {
            return Err(crate::CoreError::config("optimizers", "at least one optimizer is needed"));
        }
        Ok(CycleSelector { starts: Starts::new(&specs), specs, next: 0 })
    }
}

impl Selector for CycleSelector {
    fn name(&self) -> &str {
        "cycle"
    }

    fn specs(&self) -> &[OptimizerSpec] {
        &self.specs
    }

    fn select(&mut self, ctx: &SelectContext<'_>) -> Selection {
        let n = self.specs.len();
        let Some(i) = (0..n).map(|k| (self.next + k) % n).find(|&i| self.starts.left(&self.specs, i)) else {
            return Selection::Stop;
        };
        self.next = i;
        if self.specs[i].workers > ctx.free_slots {
            return Selection::Wait;
        }
        self.next = (i + 1) % n;
        self.starts.start(&self.specs, i)
    }

    /// `{"next": i, "started": [n₀, n₁, …]}`: the optimizer it starts next and the starts of each.
    fn save(&self) -> Value {
        state::save(&CycleState { next: self.next, started: self.starts.0.clone() })
    }

    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        let saved: CycleState = state::load("selector cycle", state)?;
        if saved.next >= self.specs.len() {
            return Err(StateError::new(
                "selector cycle",
                format!("next = {} names no optimizer; it cycles over {}", saved.next, self.specs.len()),
            ));
        }
        self.starts.restore("selector cycle", saved.started)?;
        self.next = saved.next;
        Ok(())
    }
}

/// Walks through the optimizers in order as the run's evaluations pass thresholds: the first is started
/// until `thresholds[0]` evaluations, the second until `thresholds[1]`, and so on. With one threshold
/// per optimizer, passing the last one stops spawning; with one fewer, the last optimizer is started
/// from then on. A link that has used its [`max_starts`](OptimizerSpec::max_starts) passes on to the
/// next one before its threshold.
#[derive(Debug, Clone)]
pub struct ChainSelector {
    specs: Vec<OptimizerSpec>,
    thresholds: Vec<u64>,
    index: usize,
    starts: Starts,
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
        Ok(ChainSelector { starts: Starts::new(&specs), specs, thresholds, index: 0 })
    }
}

impl Selector for ChainSelector {
    fn name(&self) -> &str {
        "chain"
    }

    fn specs(&self) -> &[OptimizerSpec] {
        &self.specs
    }

    fn select(&mut self, ctx: &SelectContext<'_>) -> Selection {
        // Every threshold passed since the last call counts, not only the next one.
        while self.thresholds.get(self.index).is_some_and(|&t| ctx.evaluations >= t)
            || (self.index < self.specs.len() && !self.starts.left(&self.specs, self.index))
        {
            self.index += 1;
        }
        match self.specs.get(self.index) {
            None => Selection::Stop,
            Some(spec) if spec.workers > ctx.free_slots => Selection::Wait,
            Some(_) => self.starts.start(&self.specs, self.index),
        }
    }

    /// `{"index": i, "started": [n₀, n₁, …]}`: the link of the chain it has reached and the starts of
    /// each.
    fn save(&self) -> Value {
        state::save(&ChainState { index: self.index, started: self.starts.0.clone() })
    }

    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        let saved: ChainState = state::load("selector chain", state)?;
        if saved.index > self.specs.len() {
            return Err(StateError::new(
                "selector chain",
                format!("index = {} is past its {} optimizers", saved.index, self.specs.len()),
            ));
        }
        self.starts.restore("selector chain", saved.started)?;
        self.index = saved.index;
        Ok(())
    }
}

/// A uniformly random choice among the optimizers whose workers fit in the free slots and that have
/// starts left ([`max_starts`](OptimizerSpec::max_starts)); it stops when none has.
#[derive(Debug, Clone)]
pub struct RandomSelector {
    specs: Vec<OptimizerSpec>,
    rng: SeededRng,
    starts: Starts,
}

impl RandomSelector {
    /// A random selector over `specs` with its own seed.
    pub fn new(specs: Vec<OptimizerSpec>, seed: u64) -> crate::Result<Self> {
        if specs.is_empty() {
            return Err(crate::CoreError::config("optimizers", "at least one optimizer is needed"));
        }
        Ok(RandomSelector { starts: Starts::new(&specs), specs, rng: SeededRng::new(seed) })
    }
}

impl Selector for RandomSelector {
    fn name(&self) -> &str {
        "random"
    }

    fn specs(&self) -> &[OptimizerSpec] {
        &self.specs
    }

    fn select(&mut self, ctx: &SelectContext<'_>) -> Selection {
        let left: Vec<usize> = (0..self.specs.len()).filter(|&i| self.starts.left(&self.specs, i)).collect();
        if left.is_empty() {
            return Selection::Stop;
        }
        let fitting: Vec<usize> =
            left.into_iter().filter(|&i| self.specs[i].workers <= ctx.free_slots).collect();
        if fitting.is_empty() {
            return Selection::Wait;
        }
        let i = fitting[self.rng.below(fitting.len())];
        self.starts.start(&self.specs, i)
    }

    /// `{"rng": …, "started": [n₀, n₁, …]}`: the position of its RNG and the starts of each optimizer.
    fn save(&self) -> Value {
        state::save(&RandomState { rng: self.rng.state(), started: self.starts.0.clone() })
    }

    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        let saved: RandomState = state::load("selector random", state)?;
        self.starts.restore("selector random", saved.started)?;
        self.rng = state::rng("selector random", &saved.rng)?;
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

    fn select(&mut self, ctx: &SelectContext<'_>) -> Selection {
        if self.stop_after_evals.is_some_and(|n| ctx.evaluations >= n)
            || self.stop_after_optimizers.is_some_and(|n| ctx.optimizers_started >= n)
        {
            return Selection::Stop;
        }
        self.inner.select(ctx)
    }

    fn ended(&mut self, end: &Ended<'_>) {
        self.inner.ended(end);
    }

    /// The inner selector's state: the controls read only the [`SelectContext`], so they add none.
    fn save(&self) -> Value {
        self.inner.save()
    }

    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        self.inner.restore(state)
    }
}

/// The most times [`Restarts`] doubles a population, as in pycma's IPOP (`restarts=9`): at most 512
/// times the configured size.
pub const MAX_DOUBLINGS: u32 = 9;

/// The generations a restart selector expects every population it starts to run, at least: with a
/// budget, it starts no population whose first `FIRST_GENERATIONS` generations exceed what is left.
pub const FIRST_GENERATIONS: u64 = 10;

/// Which restart regime a [`Restarts`] selector runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RestartMode {
    /// IPOP (Auger & Hansen 2005): each time an optimizer of a configuration converges by its own
    /// criteria, the next start of that configuration gets twice the population.
    Ipop,
    /// BIPOP (Hansen 2009): large-population restarts (each doubles the population) interleaved with
    /// small-population ones (population `⌊λ (½ λ_large / λ)^{u²}⌋`, step size `σ0 · 10^{−2v}`, `u`
    /// and `v` uniform in `[0, 1)`), whichever regime has used fewer evaluations so far.
    Bipop,
}

impl RestartMode {
    /// The modes' names, as in configs.
    pub const NAMES: &'static [&'static str] = &["ipop", "bipop"];
}

/// Restarts as managed optimization, for population optimizers (see
/// [`OptimizerFactory::with_population_factor`]): IPOP or BIPOP ([`RestartMode`]), counted per
/// configuration (factory name and settings). The first start of a configuration has its own
/// population. IPOP doubles it after each convergence, up to [`MAX_DOUBLINGS`] doublings; kills,
/// crashes and stops do not double it (a hunter killing a duplicate says nothing about the
/// population being too small). BIPOP starts, after the first, a small-population restart while the
/// small regime has used fewer evaluations than the large one (the first start counts as large),
/// else a large one with twice the last large population. Optimizers without a population start
/// unchanged; BIPOP's step-size factor goes to those that have a step size
/// ([`OptimizerFactory::with_step_factor`]).
///
/// With a budget, no population is started whose first [`FIRST_GENERATIONS`] generations do not fit
/// in what is left of it: IPOP halves the population until they do (down to the configured size);
/// BIPOP starts a small-population restart instead of a large one that does not fit.
#[derive(Debug)]
pub struct Restarts {
    inner: Box<dyn Selector>,
    mode: RestartMode,
    /// Per configuration (factory name and settings).
    configs: Vec<(String, Regimes)>,
    /// The optimizers started and not ended yet.
    issued: Vec<Issued>,
    rng: SeededRng,
}

/// What a [`Restarts`] selector keeps of one configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Regimes {
    /// IPOP: doublings so far; BIPOP: the doublings of the last large-population restart.
    doublings: u32,
    /// Starts so far (BIPOP).
    #[serde(default)]
    starts: u64,
    /// Evaluations of the ended optimizers of the large regime (BIPOP).
    #[serde(default)]
    large_evals: u64,
    /// Evaluations of the ended optimizers of the small regime (BIPOP).
    #[serde(default)]
    small_evals: u64,
}

/// An optimizer [`Restarts`] started that has not ended yet.
#[derive(Debug)]
struct Issued {
    /// The factory it was started with; `None` after a restore, until it ends.
    factory: Option<Arc<dyn OptimizerFactory>>,
    /// That factory's name and settings, which recognise it after a restore.
    identity: String,
    /// Its configuration's key (the name and settings of the unscaled factory).
    key: String,
    /// Whether it is of BIPOP's large regime (IPOP: always).
    large: bool,
}

/// The name and settings of a factory: the key of a configuration, and how a restored [`Restarts`]
/// recognises the factories of the optimizers it had started.
fn identity(factory: &dyn OptimizerFactory) -> String {
    format!("{}:{}", factory.name(), factory.settings())
}

/// The state of a [`Restarts`] selector. Checkpoints of IPOP from before BIPOP existed have no
/// `mode`, `rng`, regime counts or `large` flags.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RestartsState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<RestartMode>,
    doublings: Vec<RegimesState>,
    issued: Vec<IssuedState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rng: Option<crate::rng::RngState>,
    inner: Value,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegimesState {
    key: String,
    #[serde(flatten)]
    regimes: Regimes,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuedState {
    key: String,
    factory: String,
    #[serde(default = "large_by_default")]
    large: bool,
}

fn large_by_default() -> bool {
    true
}

impl Restarts {
    /// Wraps `inner`; BIPOP draws its small regimes from `seed`.
    pub fn new(inner: Box<dyn Selector>, mode: RestartMode, seed: u64) -> Self {
        // Its own stream: the random selector draws from `seed` too.
        let rng = SeededRng::with_stream(seed, 1);
        Restarts { inner, mode, configs: Vec::new(), issued: Vec::new(), rng }
    }

    /// IPOP around `inner`.
    pub fn ipop(inner: Box<dyn Selector>) -> Self {
        Self::new(inner, RestartMode::Ipop, 0)
    }

    fn regimes(&mut self, key: &str) -> &mut Regimes {
        let i = match self.configs.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.configs.push((key.to_owned(), Regimes::default()));
                self.configs.len() - 1
            }
        };
        &mut self.configs[i].1
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

    /// `factory` with `2^doublings` times its population, or itself.
    fn doubled(factory: &Arc<dyn OptimizerFactory>, doublings: u32) -> Arc<dyn OptimizerFactory> {
        if doublings == 0 {
            return Arc::clone(factory);
        }
        factory.with_population_factor(f64::from(1u32 << doublings)).unwrap_or_else(|| Arc::clone(factory))
    }

    /// IPOP's factory for a configuration with `doublings`: the largest population up to that whose
    /// first generations fit in the budget.
    fn ipop_factory(
        spec: &OptimizerSpec,
        doublings: u32,
        ctx: &SelectContext<'_>,
    ) -> Arc<dyn OptimizerFactory> {
        let mut k = doublings;
        loop {
            let factory = Self::doubled(&spec.factory, k);
            if k == 0 || fits(&factory, spec.workers, ctx) {
                return factory;
            }
            k -= 1;
        }
    }

    /// BIPOP's next factory for a configuration, and whether it is of the large regime.
    fn bipop_factory(
        &mut self,
        spec: &OptimizerSpec,
        ctx: &SelectContext<'_>,
    ) -> (Arc<dyn OptimizerFactory>, bool) {
        let key = identity(spec.factory.as_ref());
        let r = *self.regimes(&key);
        if r.starts == 0 {
            return (Arc::clone(&spec.factory), true);
        }
        let next = (r.doublings + 1).min(MAX_DOUBLINGS);
        let large = Self::doubled(&spec.factory, next);
        if r.small_evals >= r.large_evals && fits(&large, spec.workers, ctx) {
            self.regimes(&key).doublings = next;
            return (large, true);
        }
        let (u, v) = (self.rng.uniform(), self.rng.uniform());
        let ratio = (0.5 * f64::from(1u32 << r.doublings)).max(1.0);
        let mut small = Arc::clone(&spec.factory);
        let factor = ratio.powf(u * u);
        if factor > 1.0
            && let Some(f) = small.with_population_factor(factor)
        {
            small = f;
        }
        if let Some(f) = small.with_step_factor(10f64.powf(-2.0 * v)) {
            small = f;
        }
        (small, false)
    }
}

/// Whether the first [`FIRST_GENERATIONS`] generations of `factory`'s optimizers fit in what is left
/// of the budget (always, without a budget or a fixed population).
fn fits(factory: &Arc<dyn OptimizerFactory>, workers: usize, ctx: &SelectContext<'_>) -> bool {
    match (ctx.remaining, factory.popsize(ctx.bounds, workers)) {
        (Some(left), Some(popsize)) => (popsize as u64).saturating_mul(FIRST_GENERATIONS) <= left,
        _ => true,
    }
}

impl Selector for Restarts {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn specs(&self) -> &[OptimizerSpec] {
        self.inner.specs()
    }

    fn select(&mut self, ctx: &SelectContext<'_>) -> Selection {
        let mut spec = match self.inner.select(ctx) {
            Selection::Start(spec) => spec,
            other => return other,
        };
        let key = identity(spec.factory.as_ref());
        let (factory, large) = match self.mode {
            RestartMode::Ipop => {
                let doublings = self.regimes(&key).doublings;
                (Self::ipop_factory(&spec, doublings, ctx), true)
            }
            RestartMode::Bipop => self.bipop_factory(&spec, ctx),
        };
        self.regimes(&key).starts += 1;
        spec.factory = factory;
        let issued = identity(spec.factory.as_ref());
        self.issued.push(Issued { factory: Some(Arc::clone(&spec.factory)), identity: issued, key, large });
        Selection::Start(spec)
    }

    /// Counts the end for the optimizer's configuration, and tells the inner selector with the
    /// configuration's own factory (the one of its spec, unscaled), which is what it handed out.
    fn ended(&mut self, end: &Ended<'_>) {
        let Some(i) = self.issued_index(end.factory) else {
            self.inner.ended(end);
            return;
        };
        let Issued { key, large, .. } = self.issued.swap_remove(i);
        let mode = self.mode;
        let r = self.regimes(&key);
        match (mode, large) {
            (RestartMode::Ipop, _) => {
                if end.converged {
                    r.doublings = (r.doublings + 1).min(MAX_DOUBLINGS);
                }
            }
            (RestartMode::Bipop, true) => r.large_evals += end.evaluations,
            (RestartMode::Bipop, false) => r.small_evals += end.evaluations,
        }
        let spec = self.inner.specs().iter().find(|s| identity(s.factory.as_ref()) == key);
        match spec.map(|s| Arc::clone(&s.factory)) {
            Some(factory) => self.inner.ended(&Ended { factory: &factory, ..*end }),
            None => self.inner.ended(end),
        }
    }

    /// `{"mode": "bipop", "doublings": [{"key", "doublings", "starts", "large_evals", "small_evals"}],
    /// "issued": [{"key", "factory", "large"}], "rng": …, "inner": …}`: per configuration (keyed by
    /// the factory's name and settings) its doublings, starts and the evaluations of each regime; the
    /// optimizers started and not ended (their configuration's key, their own factory's name and
    /// settings, by which a restored selector recognises them when they end, and their regime); the
    /// RNG of BIPOP's draws; and the inner selector's state.
    fn save(&self) -> Value {
        state::save(&RestartsState {
            mode: Some(self.mode),
            doublings: self
                .configs
                .iter()
                .map(|(key, regimes)| RegimesState { key: key.clone(), regimes: *regimes })
                .collect(),
            issued: self
                .issued
                .iter()
                .map(|i| IssuedState { key: i.key.clone(), factory: i.identity.clone(), large: i.large })
                .collect(),
            rng: Some(self.rng.state()),
            inner: self.inner.save(),
        })
    }

    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        let mode = match self.mode {
            RestartMode::Ipop => "increasing_population",
            RestartMode::Bipop => "bipop",
        };
        let component = format!("selector {} ({mode})", self.name());
        let saved: RestartsState = state::load(&component, state)?;
        if let Some(saved_mode) = saved.mode.filter(|m| *m != self.mode) {
            return Err(StateError::new(
                component,
                format!("the state is of {saved_mode:?} restarts, this run has {:?}", self.mode),
            ));
        }
        if let Some(d) = saved.doublings.iter().find(|d| d.regimes.doublings > MAX_DOUBLINGS) {
            return Err(StateError::new(
                component,
                format!("{} doublings of {} exceed the cap of {MAX_DOUBLINGS}", d.regimes.doublings, d.key),
            ));
        }
        let rng = match &saved.rng {
            Some(rng) => Some(state::rng(&component, rng)?),
            None if self.mode == RestartMode::Bipop => {
                return Err(StateError::new(component, "the state has no rng"));
            }
            None => None,
        };
        self.inner.restore(&saved.inner)?;
        if let Some(rng) = rng {
            self.rng = rng;
        }
        self.configs = saved.doublings.into_iter().map(|d| (d.key, d.regimes)).collect();
        self.issued = saved
            .issued
            .into_iter()
            .map(|i| Issued { factory: None, identity: i.factory, key: i.key, large: i.large })
            .collect();
        Ok(())
    }
}

/// The selectors a config may name.
pub const SELECTORS: &[&str] = &["cycle", "chain", "random", "portfolio"];

/// Builds a selector over `specs` from its config: a name (`"cycle"`) or an object with a `type` and
/// options (`{"type": "chain", "thresholds": [1000, 5000]}`), plus the spawn controls
/// `stop_after_evals` and `stop_after_optimizers` and `restarts` (`"ipop"` or `"bipop"`, see
/// [`Restarts`]; `"increasing_population": true` is the older spelling of `"restarts": "ipop"`) for
/// any type.
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
        "portfolio" => Box::new(PortfolioSelector::new(specs)?),
        other => return Err(crate::fields::unknown_component(at, "selector", other, SELECTORS)),
    };
    let stop_after_evals = f.u64("stop_after_evals", u64::MAX)?;
    let stop_after_optimizers = f.u64("stop_after_optimizers", u64::MAX)?;
    let increasing = f.bool("increasing_population", false)?;
    let restarts = match f.string("restarts")? {
        None => None,
        Some(name) => match name.to_ascii_lowercase().as_str() {
            "ipop" => Some(RestartMode::Ipop),
            "bipop" => Some(RestartMode::Bipop),
            _ => {
                return Err(f.error(
                    "restarts",
                    format!("unknown `{name}`; {}", crate::expr::expected_one_of(&name, RestartMode::NAMES)),
                ));
            }
        },
    };
    let mode = match (restarts, increasing) {
        (Some(RestartMode::Bipop), true) => {
            return Err(
                f.error("increasing_population", "is IPOP, but `restarts` asks for bipop; give one of them")
            );
        }
        (Some(mode), _) => Some(mode),
        (None, true) => Some(RestartMode::Ipop),
        (None, false) => None,
    };
    f.finish()?;
    let mut selector = inner;
    if let Some(mode) = mode {
        selector = Box::new(Restarts::new(selector, mode, seed));
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
