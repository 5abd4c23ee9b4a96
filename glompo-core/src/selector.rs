//! Selectors: which optimizer configuration starts next when worker slots are free.

use std::fmt;
use std::sync::Arc;

use crate::evaluator::{EvaluatorFactory, Serial};
use crate::optimizer::OptimizerFactory;
use crate::rng::SeededRng;

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

    /// An optimizer this selector started has ended: `factory` is the one its [`Selection::Start`]
    /// named, and `converged` says whether it converged by its own criteria (not killed, crashed or
    /// stopped). The default ignores it.
    fn ended(&mut self, factory: &Arc<dyn OptimizerFactory>, converged: bool) {
        let _ = (factory, converged);
    }
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
    /// The factories of the optimizers started and not ended yet, with their configuration's key.
    issued: Vec<(Arc<dyn OptimizerFactory>, String)>,
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
        let key = format!("{}:{}", spec.factory.name(), spec.factory.settings());
        let doublings = *self.doublings(&key);
        if doublings > 0
            && let Some(scaled) = spec.factory.with_population_factor(1usize << doublings)
        {
            spec.factory = scaled;
        }
        self.issued.push((Arc::clone(&spec.factory), key));
        Selection::Start(spec)
    }

    fn ended(&mut self, factory: &Arc<dyn OptimizerFactory>, converged: bool) {
        if let Some(i) = self.issued.iter().position(|(f, _)| Arc::ptr_eq(f, factory)) {
            let (_, key) = self.issued.swap_remove(i);
            if converged {
                let doublings = self.doublings(&key);
                *doublings = (*doublings + 1).min(MAX_DOUBLINGS);
            }
        }
        self.inner.ended(factory, converged);
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

    fn spec(name: &str, workers: usize) -> OptimizerSpec {
        OptimizerSpec::new(Arc::new(ScriptedFactory::named(name))).workers(workers)
    }

    fn pick(s: &mut dyn Selector, free: usize, evaluations: u64, started: u64) -> String {
        match s.select(&SelectContext { free_slots: free, evaluations, optimizers_started: started }) {
            Selection::Start(spec) => spec.factory.name().to_string(),
            Selection::Wait => "wait".into(),
            Selection::Stop => "stop".into(),
        }
    }

    #[test]
    fn chain_follows_thresholds_and_stops_after_the_last() {
        let specs = vec![spec("a", 1), spec("b", 1), spec("c", 1)];
        let mut s = ChainSelector::new(specs.clone(), vec![10, 20, 30]).unwrap();
        let seq: Vec<String> =
            [0, 9, 10, 19, 20, 29, 30, 40].iter().map(|&e| pick(&mut s, 1, e, 0)).collect();
        assert_eq!(seq, ["a", "a", "b", "b", "c", "c", "stop", "stop"]);
        // Several thresholds passed between two calls all count.
        let mut s = ChainSelector::new(specs.clone(), vec![10, 20]).unwrap();
        assert_eq!(pick(&mut s, 1, 25, 0), "c");
        assert_eq!(pick(&mut s, 1, 1000, 0), "c", "with n − 1 thresholds the last one stays");
        assert_eq!(
            ChainSelector::new(specs.clone(), vec![10]).unwrap_err().to_string(),
            "selector.thresholds: 1 thresholds for 3 optimizers; give 2 or 3"
        );
        assert!(ChainSelector::new(specs, vec![20, 10]).is_err());
    }

    #[test]
    fn random_picks_only_what_fits_and_covers_it() {
        let mut s = RandomSelector::new(vec![spec("small", 1), spec("big", 3)], 4).unwrap();
        let mut seen = std::collections::HashMap::new();
        for _ in 0..400 {
            *seen.entry(pick(&mut s, 3, 0, 0)).or_insert(0) += 1;
            assert_eq!(pick(&mut s, 2, 0, 0), "small");
        }
        assert!(seen["small"] > 150 && seen["big"] > 150, "{seen:?}");
        assert_eq!(pick(&mut s, 0, 0, 0), "wait");
    }

    #[test]
    fn spawn_controls_stop_spawning() {
        let cycle = || Box::new(CycleSelector::new(vec![spec("a", 1)]).unwrap());
        let mut s = SpawnControl::new(cycle(), Some(5), None);
        assert_eq!(pick(&mut s, 1, 4, 0), "a");
        assert_eq!(pick(&mut s, 1, 5, 0), "stop");
        let mut s = SpawnControl::new(cycle(), None, Some(3));
        assert_eq!(pick(&mut s, 1, 100, 2), "a");
        assert_eq!(pick(&mut s, 1, 100, 3), "stop");
    }

    #[test]
    fn increasing_population_doubles_after_convergences_only_and_stops_at_the_cap() {
        let base = OptimizerSpec::new(Arc::new(ScriptedFactory::named("a").batch(3)));
        let mut s = IncreasingPopulation::new(Box::new(CycleSelector::new(vec![base]).unwrap()));
        let ctx = SelectContext { free_slots: 1, evaluations: 0, optimizers_started: 0 };
        let start = |s: &mut IncreasingPopulation| match s.select(&ctx) {
            Selection::Start(spec) => spec.factory,
            other => panic!("expected a start, got {other:?}"),
        };
        let batch = |f: &Arc<dyn OptimizerFactory>| f.settings()["batch"].as_u64().unwrap();
        let mut batches = Vec::new();
        // A kill (not converged) keeps the size; each convergence doubles the next start's.
        for converged in [false, true, true, false, true] {
            let factory = start(&mut s);
            batches.push(batch(&factory));
            s.ended(&factory, converged);
        }
        assert_eq!(batches, [3, 3, 6, 12, 12]);
        for _ in 0..20 {
            let factory = start(&mut s);
            s.ended(&factory, true);
        }
        assert_eq!(batch(&start(&mut s)), 3 << MAX_DOUBLINGS);
    }

    #[test]
    fn configs_build_selectors_and_name_bad_fields() {
        let specs = || vec![spec("a", 1), spec("b", 1)];
        let mut s = from_config(
            &serde_json::json!({"type": "chain", "thresholds": [5], "stop_after_optimizers": 4}),
            specs(),
            1,
        )
        .unwrap();
        assert_eq!(s.name(), "chain");
        assert_eq!(pick(s.as_mut(), 1, 6, 0), "b");
        assert_eq!(pick(s.as_mut(), 1, 6, 4), "stop");
        assert_eq!(from_config(&serde_json::json!("Random"), specs(), 1).unwrap().name(), "random");
        let err = |v: serde_json::Value| from_config(&v, specs(), 1).unwrap_err().to_string();
        assert_eq!(
            err(serde_json::json!("roulette")),
            "selector: unknown selector `roulette`; expected one of cycle, chain, random"
        );
        assert_eq!(err(serde_json::json!({"type": "chain"})), "selector.thresholds: missing");
        assert_eq!(
            err(serde_json::json!({"type": "cycle", "thresholds": [1]})),
            "selector.thresholds: unknown option; expected one of stop_after_evals, stop_after_optimizers, increasing_population"
        );
        assert_eq!(
            err(serde_json::json!({"type": "cycle", "stop_after_evals": -1})),
            "selector.stop_after_evals: expected a whole number ≥ 0, found -1"
        );
    }
}
