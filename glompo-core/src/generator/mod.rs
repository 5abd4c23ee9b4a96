//! Generators: where a new optimizer starts.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{CoreError, Result};
use crate::point::{Bounds, Evaluation};
use crate::record::OptimizerRecord;
use crate::rng::{RngState, SeededRng};
use crate::state::{self, StateError};

mod annealing;

pub use annealing::AnnealingGenerator;

/// What a generator sees when the manager starts an optimizer.
#[derive(Debug, Clone, Copy)]
pub struct GenerateContext<'a> {
    /// The search box; the generated point must lie inside it.
    pub bounds: &'a Bounds,
    /// The run's best evaluation so far.
    pub best: Option<&'a Evaluation>,
    /// Every optimizer started so far.
    pub optimizers: &'a [OptimizerRecord],
    /// Evaluations logged so far.
    pub evaluations: u64,
}

/// Chooses the start point of each new optimizer. Random generators own a seeded RNG.
///
/// A generator that needs evaluations of its own (the annealing generator) asks for them with
/// [`Generator::wants`] and receives them in [`Generator::tell`]: the manager evaluates them, logs them
/// under optimizer id 0 and counts them against the budget, so a generator never evaluates anything
/// itself.
///
/// ```
/// use glompo_core::generator::{GenerateContext, Generator};
///
/// /// Starts every optimizer at the centre of the box.
/// #[derive(Debug)]
/// struct Centre;
///
/// impl Generator for Centre {
///     fn name(&self) -> &str { "centre" }
///     fn generate(&mut self, ctx: &GenerateContext<'_>) -> Vec<f64> { ctx.bounds.centre() }
/// }
///
/// let bounds = glompo_core::Bounds::uniform(2, -1.0, 3.0).unwrap();
/// let ctx = GenerateContext { bounds: &bounds, best: None, optimizers: &[], evaluations: 0 };
/// assert_eq!(Centre.generate(&ctx), vec![1.0, 1.0]);
/// ```
pub trait Generator: Send + fmt::Debug {
    /// The generator's name, as in configs.
    fn name(&self) -> &str;

    /// A start point inside `ctx.bounds`.
    fn generate(&mut self, ctx: &GenerateContext<'_>) -> Vec<f64>;

    /// Points to evaluate before the next [`Generator::generate`]; the manager asks again after each
    /// [`Generator::tell`] until this is empty. The default wants nothing.
    fn wants(&mut self, ctx: &GenerateContext<'_>) -> Vec<Vec<f64>> {
        let _ = ctx;
        Vec::new()
    }

    /// The values of the points it wanted, in order (NaN for a failed evaluation).
    fn tell(&mut self, evals: &[Evaluation]) {
        let _ = evals;
    }

    /// Its state, for a checkpoint: everything its later points depend on besides its configuration
    /// and the [`GenerateContext`] (an RNG, an adapted step, an annealing chain and the point it
    /// waits for). The default, for a stateless generator: `null`. See [`crate::state`].
    fn save(&self) -> Value {
        Value::Null
    }

    /// Continues from `state`, made by [`Generator::save`] of a generator built from the same
    /// configuration. A state of another shape is an error naming the generator; a stateful generator
    /// refuses `null`. The default, for a stateless generator, accepts `null` only.
    fn restore(&mut self, state: &Value) -> std::result::Result<(), StateError> {
        state::stateless(&format!("generator {}", self.name()), state)
    }
}

/// Uniformly random start points in the box.
#[derive(Debug, Clone)]
pub struct RandomGenerator {
    rng: SeededRng,
}

impl RandomGenerator {
    /// A random generator with its own seed.
    pub fn new(seed: u64) -> Self {
        RandomGenerator { rng: SeededRng::new(seed) }
    }
}

fn uniform_point(rng: &mut SeededRng, bounds: &Bounds) -> Vec<f64> {
    bounds.pairs().map(|(lo, hi)| rng.uniform_in(lo, hi)).collect()
}

impl Generator for RandomGenerator {
    fn name(&self) -> &str {
        "random"
    }

    fn generate(&mut self, ctx: &GenerateContext<'_>) -> Vec<f64> {
        uniform_point(&mut self.rng, ctx.bounds)
    }

    /// `{"rng": …}`.
    fn save(&self) -> Value {
        state::save_rng(&self.rng)
    }

    fn restore(&mut self, state: &Value) -> std::result::Result<(), StateError> {
        self.rng = state::load_rng("generator random", state)?;
        Ok(())
    }
}

/// Space-filling start points away from what the run has explored: of `candidates` uniform draws,
/// the one farthest from every start point it gave before and from the best point of every optimizer
/// (the basins found or being explored), distances measured with each coordinate divided by its
/// bound width (maximin). Its first point is its first draw.
#[derive(Debug, Clone)]
pub struct SpreadGenerator {
    rng: SeededRng,
    candidates: usize,
    /// The start points it gave, in order.
    starts: Vec<Vec<f64>>,
}

/// The state of a [`SpreadGenerator`].
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SpreadState {
    rng: crate::rng::RngState,
    starts: Vec<state::ExactPoint>,
}

impl SpreadGenerator {
    /// A spread generator choosing among `candidates` (at least 1) draws, with its own seed.
    pub fn new(candidates: u64, seed: u64) -> Result<Self> {
        if candidates == 0 {
            return Err(crate::CoreError::config("generator.candidates", "must be at least 1"));
        }
        let candidates = usize::try_from(candidates).unwrap_or(usize::MAX).min(1 << 20);
        Ok(SpreadGenerator { rng: SeededRng::new(seed), candidates, starts: Vec::new() })
    }
}

impl Generator for SpreadGenerator {
    fn name(&self) -> &str {
        "spread"
    }

    fn generate(&mut self, ctx: &GenerateContext<'_>) -> Vec<f64> {
        let widths: Vec<f64> = ctx.bounds.pairs().map(|(lo, hi)| hi - lo).collect();
        let known: Vec<&[f64]> = self
            .starts
            .iter()
            .map(Vec::as_slice)
            .chain(ctx.optimizers.iter().filter_map(|o| o.best()).map(|b| b.x.as_slice()))
            .collect();
        let nearest = |x: &[f64]| {
            known
                .iter()
                .map(|k| k.iter().zip(x).zip(&widths).map(|((a, b), w)| ((a - b) / w).powi(2)).sum::<f64>())
                .fold(f64::INFINITY, f64::min)
        };
        let mut chosen: Option<(f64, Vec<f64>)> = None;
        for _ in 0..self.candidates {
            let x = uniform_point(&mut self.rng, ctx.bounds);
            let d = nearest(&x);
            if chosen.as_ref().is_none_or(|(best, _)| d > *best) {
                chosen = Some((d, x));
            }
        }
        let x = chosen.map_or_else(|| uniform_point(&mut self.rng, ctx.bounds), |(_, x)| x);
        self.starts.push(x.clone());
        x
    }

    /// `{"rng": …, "starts": [[…], …]}`.
    fn save(&self) -> Value {
        state::save(&SpreadState {
            rng: self.rng.state(),
            starts: self.starts.iter().cloned().map(state::ExactPoint).collect(),
        })
    }

    fn restore(&mut self, state: &Value) -> std::result::Result<(), StateError> {
        let saved: SpreadState = state::load("generator spread", state)?;
        self.rng = state::rng("generator spread", &saved.rng)?;
        self.starts = saved.starts.into_iter().map(|p| p.0).collect();
        Ok(())
    }
}

/// Always the same start point: the one given, or one drawn uniformly at construction. It is
/// stateless: the point is a function of its configuration and seed, so it saves `null`.
#[derive(Debug, Clone)]
pub struct SinglePointGenerator {
    x: Vec<f64>,
}

impl SinglePointGenerator {
    /// Starts every optimizer at `x`, or, without it, at one uniformly random point drawn from `seed`.
    /// The point must lie inside `bounds`.
    pub fn new(x: Option<Vec<f64>>, bounds: &Bounds, seed: u64) -> Result<Self> {
        let x = x.unwrap_or_else(|| uniform_point(&mut SeededRng::new(seed), bounds));
        if !bounds.contains(&x) {
            return Err(CoreError::config("generator.x", format!("{x:?} is not inside the bounds")));
        }
        Ok(SinglePointGenerator { x })
    }
}

impl Generator for SinglePointGenerator {
    fn name(&self) -> &str {
        "single_point"
    }

    fn generate(&mut self, _ctx: &GenerateContext<'_>) -> Vec<f64> {
        self.x.clone()
    }
}

/// The run's best point so far, or a uniformly random one before there is any.
#[derive(Debug, Clone)]
pub struct IncumbentGenerator {
    rng: SeededRng,
    /// With a scale: a perturbation of the incumbent, `scale` of each width wide.
    scale: Option<f64>,
}

impl IncumbentGenerator {
    /// An incumbent generator with its own seed (for the random points).
    pub fn new(seed: u64) -> Self {
        IncumbentGenerator { rng: SeededRng::new(seed), scale: None }
    }

    /// Starts at a normal perturbation of the incumbent instead, truncated to the box: coordinate `i`
    /// drawn from `N(best_i, (scale · w_i)²)`, `w_i` its bound width (GloMPO's incumbent
    /// perturbation); `scale` must be positive.
    pub fn perturbed(seed: u64, scale: f64) -> Result<Self> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(CoreError::config("generator.scale", format!("{scale} is not a finite value > 0")));
        }
        Ok(IncumbentGenerator { rng: SeededRng::new(seed), scale: Some(scale) })
    }
}

/// A draw of `N(m, s²)` truncated to `[lo, hi]`: rejection keeps it exact; far-out bounds are clipped
/// after 1000 tries.
fn truncated_normal(rng: &mut SeededRng, m: f64, s: f64, lo: f64, hi: f64) -> f64 {
    let v = (0..1000).map(|_| m + s * rng.normal()).find(|v| *v >= lo && *v <= hi);
    v.unwrap_or(m).clamp(lo, hi)
}

impl Generator for IncumbentGenerator {
    fn name(&self) -> &str {
        "incumbent"
    }

    fn generate(&mut self, ctx: &GenerateContext<'_>) -> Vec<f64> {
        match (ctx.best, self.scale) {
            (None, _) => uniform_point(&mut self.rng, ctx.bounds),
            (Some(b), None) => b.x.clone(),
            (Some(b), Some(scale)) => {
                b.x.iter()
                    .zip(ctx.bounds.pairs())
                    .map(|(&m, (lo, hi))| truncated_normal(&mut self.rng, m, scale * (hi - lo), lo, hi))
                    .collect()
            }
        }
    }

    /// `{"rng": …}`.
    fn save(&self) -> Value {
        state::save_rng(&self.rng)
    }

    fn restore(&mut self, state: &Value) -> std::result::Result<(), StateError> {
        self.rng = state::load_rng("generator incumbent", state)?;
        Ok(())
    }
}

/// Explores early and exploits late: picks an optimizer's best by roulette (weights `max(s) − s` with
/// `s = f − min f`, so better ones are likelier) and returns `α · best + (1 − α) · random` with
/// `α = min(1, evaluations / max_evals)^focus`. Random while there is nothing to pick from or every
/// weight is equal.
#[derive(Debug, Clone)]
pub struct ExploitExploreGenerator {
    /// The evaluation budget over which exploitation grows to full.
    pub max_evals: u64,
    /// The exponent on the exploitation fraction; above 1 explores longer.
    pub focus: f64,
    rng: SeededRng,
}

impl ExploitExploreGenerator {
    /// Checked parameters: `max_evals ≥ 2`, `focus > 0`.
    pub fn new(max_evals: u64, focus: f64, seed: u64) -> Result<Self> {
        if max_evals < 2 {
            return Err(CoreError::config("generator.max_evals", "must be at least 2"));
        }
        if !(focus.is_finite() && focus > 0.0) {
            return Err(CoreError::config("generator.focus", "must be > 0"));
        }
        Ok(ExploitExploreGenerator { max_evals, focus, rng: SeededRng::new(seed) })
    }
}

impl Generator for ExploitExploreGenerator {
    fn name(&self) -> &str {
        "exploit_explore"
    }

    fn generate(&mut self, ctx: &GenerateContext<'_>) -> Vec<f64> {
        let random = uniform_point(&mut self.rng, ctx.bounds);
        let bests: Vec<&Evaluation> = ctx.optimizers.iter().filter_map(|o| o.best()).collect();
        let Some(min) = bests.iter().map(|b| b.fx).reduce(f64::min) else { return random };
        let shifts: Vec<f64> = bests.iter().map(|b| b.fx - min).collect();
        let top = shifts.iter().copied().fold(0.0, f64::max);
        let weights: Vec<f64> = shifts.iter().map(|s| top - s).collect();
        let total: f64 = weights.iter().sum();
        if total <= 0.0 || total.is_nan() {
            return random;
        }
        let mut pick = self.rng.uniform() * total;
        let chosen = weights.iter().position(|&w| {
            pick -= w;
            pick < 0.0
        });
        let best = bests[chosen.unwrap_or(bests.len() - 1)];
        let alpha = (ctx.evaluations as f64 / self.max_evals as f64).min(1.0).powf(self.focus);
        let mut x: Vec<f64> =
            best.x.iter().zip(&random).map(|(b, r)| alpha * b + (1.0 - alpha) * r).collect();
        ctx.bounds.clip(&mut x);
        x
    }

    /// `{"rng": …}`.
    fn save(&self) -> Value {
        state::save_rng(&self.rng)
    }

    fn restore(&mut self, state: &Value) -> std::result::Result<(), StateError> {
        self.rng = state::load_rng("generator exploit_explore", state)?;
        Ok(())
    }
}

/// A normal perturbation of a reference point, truncated to the box: coordinate `i` is drawn from
/// `N(x0_i, scale_i²)` until it falls inside its bounds.
#[derive(Debug, Clone)]
pub struct PerturbationGenerator {
    x0: Vec<f64>,
    scale: Vec<f64>,
    rng: SeededRng,
}

impl PerturbationGenerator {
    /// `x0` inside the bounds and one positive scale per dimension (or one for all).
    pub fn new(x0: Vec<f64>, scale: Vec<f64>, bounds: &Bounds, seed: u64) -> Result<Self> {
        if !bounds.contains(&x0) {
            return Err(CoreError::config("generator.x0", format!("{x0:?} is not inside the bounds")));
        }
        let scale = match scale.len() {
            1 => vec![scale[0]; x0.len()],
            n if n == x0.len() => scale,
            n => {
                return Err(CoreError::config(
                    "generator.scale",
                    format!("{n} values for {} dimensions", x0.len()),
                ));
            }
        };
        if scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(CoreError::config("generator.scale", "every scale must be > 0"));
        }
        Ok(PerturbationGenerator { x0, scale, rng: SeededRng::new(seed) })
    }
}

impl Generator for PerturbationGenerator {
    fn name(&self) -> &str {
        "perturbation"
    }

    fn generate(&mut self, ctx: &GenerateContext<'_>) -> Vec<f64> {
        let mut x = Vec::with_capacity(self.x0.len());
        for ((&m, &s), (lo, hi)) in self.x0.iter().zip(&self.scale).zip(ctx.bounds.pairs()) {
            x.push(truncated_normal(&mut self.rng, m, s, lo, hi));
        }
        x
    }

    /// `{"rng": …}`.
    fn save(&self) -> Value {
        state::save_rng(&self.rng)
    }

    fn restore(&mut self, state: &Value) -> std::result::Result<(), StateError> {
        self.rng = state::load_rng("generator perturbation", state)?;
        Ok(())
    }
}

/// Basin hopping over the optimizers' minima: starts from the run's best point, Metropolis-hops to a
/// random other optimizer's best with probability `exp(−Δf / temperature)` (always when it is better),
/// and returns that point displaced uniformly by up to `step` of each dimension's width, clipped to the
/// box. Every `interval` starts the step is divided by `factor` when more than `target_accept_rate` of
/// hops were accepted, and multiplied by it otherwise.
#[derive(Debug, Clone)]
pub struct BasinHoppingGenerator {
    /// The Metropolis temperature.
    pub temperature: f64,
    /// The current step, as a fraction of each dimension's width.
    pub step: f64,
    /// The acceptance rate the step adapts towards.
    pub target_accept_rate: f64,
    /// Starts between step adaptations.
    pub interval: u64,
    /// The step adaptation factor, in (0, 1).
    pub factor: f64,
    trials: u64,
    accepted: u64,
    rng: SeededRng,
}

impl BasinHoppingGenerator {
    /// Checked parameters.
    pub fn new(
        temperature: f64,
        max_step_size: f64,
        target_accept_rate: f64,
        interval: u64,
        factor: f64,
        seed: u64,
    ) -> Result<Self> {
        let bad = |f: &str, m: &str| Err(CoreError::config(format!("generator.{f}"), m));
        if !(temperature > 0.0 && temperature.is_finite()) {
            return bad("temperature", "must be > 0");
        }
        if !(max_step_size > 0.0 && max_step_size <= 1.0) {
            return bad("max_step_size", "must be in (0, 1]");
        }
        if !(target_accept_rate > 0.0 && target_accept_rate < 1.0) {
            return bad("target_accept_rate", "must be in (0, 1)");
        }
        if interval == 0 {
            return bad("interval", "must be at least 1");
        }
        if !(factor > 0.0 && factor < 1.0) {
            return bad("factor", "must be in (0, 1)");
        }
        Ok(BasinHoppingGenerator {
            temperature,
            step: max_step_size,
            target_accept_rate,
            interval,
            factor,
            trials: 0,
            accepted: 0,
            rng: SeededRng::new(seed),
        })
    }
}

impl Generator for BasinHoppingGenerator {
    fn name(&self) -> &str {
        "basin_hopping"
    }

    fn generate(&mut self, ctx: &GenerateContext<'_>) -> Vec<f64> {
        let Some(best) = ctx.best else { return uniform_point(&mut self.rng, ctx.bounds) };
        let mut here = best;
        let others: Vec<&Evaluation> =
            ctx.optimizers.iter().filter_map(|o| o.best()).filter(|b| b.x != best.x).collect();
        if !others.is_empty() {
            let candidate = others[self.rng.below(others.len())];
            let delta = candidate.fx - here.fx;
            self.trials += 1;
            if self.rng.uniform() < (-delta / self.temperature).min(0.0).exp() {
                here = candidate;
                self.accepted += 1;
            }
            if self.trials.is_multiple_of(self.interval) {
                let rate = self.accepted as f64 / self.trials as f64;
                self.step = if rate > self.target_accept_rate {
                    (self.step / self.factor).min(1.0)
                } else {
                    self.step * self.factor
                };
            }
        }
        let mut x: Vec<f64> = here
            .x
            .iter()
            .zip(ctx.bounds.pairs())
            .map(|(v, (lo, hi))| v + self.step * (hi - lo) * self.rng.uniform_in(-1.0, 1.0))
            .collect();
        ctx.bounds.clip(&mut x);
        x
    }

    /// `{"step": 0.45, "trials": 12, "accepted": 3, "rng": …}`: the adapted step and the hop counts
    /// it adapts by.
    fn save(&self) -> Value {
        state::save(&BasinHoppingState {
            step: self.step,
            trials: self.trials,
            accepted: self.accepted,
            rng: self.rng.state(),
        })
    }

    fn restore(&mut self, state: &Value) -> std::result::Result<(), StateError> {
        const NAME: &str = "generator basin_hopping";
        let saved: BasinHoppingState = state::load(NAME, state)?;
        if !(saved.step > 0.0 && saved.step <= 1.0) {
            return Err(StateError::new(NAME, format!("step = {} is not in (0, 1]", saved.step)));
        }
        if saved.accepted > saved.trials {
            return Err(StateError::new(
                NAME,
                format!("{} hops accepted of {} tried", saved.accepted, saved.trials),
            ));
        }
        self.rng = state::rng(NAME, &saved.rng)?;
        (self.step, self.trials, self.accepted) = (saved.step, saved.trials, saved.accepted);
        Ok(())
    }
}

/// The state of a [`BasinHoppingGenerator`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BasinHoppingState {
    #[serde(with = "crate::exact")]
    step: f64,
    trials: u64,
    accepted: u64,
    rng: RngState,
}

/// The generators a config may name.
pub const GENERATORS: &[&str] = &[
    "random",
    "spread",
    "single_point",
    "incumbent",
    "exploit_explore",
    "perturbation",
    "basin_hopping",
    "annealing",
];

/// Builds a generator from its config: a name (`"random"`) or an object with a `type` and options
/// (`{"type": "exploit_explore", "max_evals": 10000, "focus": 2}`). Random generators are seeded with
/// `seed`. `budget` is the run's evaluation budget, if it has one ([`crate::checker::CheckerExpr::budget`]):
/// `exploit_explore` takes it when its config gives no `max_evals`. Errors name the field
/// (`generator.focus`) and list the valid names.
pub fn from_config(
    value: &serde_json::Value,
    bounds: &Bounds,
    seed: u64,
    budget: Option<u64>,
) -> Result<Box<dyn Generator>> {
    let (name, options, at) = crate::fields::component("generator", value)?;
    let mut f = crate::fields::Fields::new("generator", options);
    let generator: Box<dyn Generator> = match name.as_str() {
        "random" => Box::new(RandomGenerator::new(seed)),
        "spread" => Box::new(SpreadGenerator::new(f.u64("candidates", 32)?, seed)?),
        "single_point" => Box::new(SinglePointGenerator::new(f.f64s("x")?, bounds, seed)?),
        "incumbent" if f.has("scale") => Box::new(IncumbentGenerator::perturbed(seed, f.f64("scale", 0.0)?)?),
        "incumbent" => Box::new(IncumbentGenerator::new(seed)),
        "exploit_explore" => {
            let max_evals = f.whole("max_evals")?.or(budget).ok_or_else(|| {
                f.missing(
                    "max_evals",
                    "missing, and the run has no evaluation budget to take it from; give it, or end the \
                     run with max_evals(N) in `convergence`",
                )
            })?;
            Box::new(ExploitExploreGenerator::new(max_evals, f.f64("focus", 1.0)?, seed)?)
        }
        "perturbation" => {
            let x0 = f.f64s("x0")?.ok_or_else(|| f.missing("x0", "missing"))?;
            let scale = f.f64s("scale")?.ok_or_else(|| f.missing("scale", "missing"))?;
            Box::new(PerturbationGenerator::new(x0, scale, bounds, seed)?)
        }
        "basin_hopping" => Box::new(BasinHoppingGenerator::new(
            f.f64("temperature", 1.0)?,
            f.f64("max_step_size", 0.5)?,
            f.f64("target_accept_rate", 0.5)?,
            f.u64("interval", 5)?,
            f.f64("factor", 0.9)?,
            seed,
        )?),
        "annealing" => Box::new(AnnealingGenerator::new(
            f.f64("qa", -5.0)?,
            f.f64("qv", 2.62)?,
            f.f64("initial_temp", 5230.0)?,
            f.f64("restart_temp_ratio", 2e-5)?,
            seed,
        )?),
        other => return Err(crate::fields::unknown_component(at, "generator", other, GENERATORS)),
    };
    f.finish()?;
    Ok(generator)
}

#[cfg(test)]
mod tests;
