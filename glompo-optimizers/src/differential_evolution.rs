//! Differential evolution (Storn & Price) as an ask/tell state machine, with SciPy's defaults.
//!
//! The algorithm follows `scipy.optimize.differential_evolution` with deferred updating, the variant
//! SciPy uses for parallel evaluation: every generation the whole population of trial vectors is one
//! batch, so that an optimizer given `workers` level-2 slots keeps all of them busy.
//!
//! - **Population**: `max(5, popsize · n)` members (option `popsize`, default 15), initialised by Latin
//!   hypercube sampling of the box, with `x0` as the first member (SciPy's `x0`). The first batch is the
//!   initial population.
//! - **Mutation** (option `strategy`): `best1bin` (the default, SciPy's) builds each mutant from the best
//!   member, `b + F (r₀ − r₁)`, and converges fastest, which suits a manager that runs several
//!   optimizers and restarts them; `rand1bin`, `r₀ + F (r₁ − r₂)`, explores more on multimodal problems.
//!   The rᵢ are distinct members other than the target. F is drawn uniformly from `mutation` = [0.5, 1)
//!   once per generation (dithering); a single number fixes it.
//! - **Crossover**: binomial with probability `recombination` (0.7), one random coordinate always from
//!   the mutant.
//! - **Bounds**: the search works in the unit cube; a trial coordinate outside [0, 1] is redrawn
//!   uniformly (SciPy's `_ensure_constraint`), so that every asked point is inside the box.
//! - **Selection**: a trial replaces its target when its value is lower or equal. Failed evaluations
//!   (NaN) count as `+inf`.
//! - **Convergence** (SciPy's test): the standard deviation of the population's values is at most
//!   `atol + tol · |mean|` (defaults `tol` = 0.01, `atol` = 0), never while a value is infinite; the
//!   reason is `tol`. After `maxiter` generations (1000) the reason is `maxiter`.
//! - **Injection**: an injected point becomes the trial of the worst member in the next generation, so it
//!   is evaluated and replaces that member if it is better.
//!
//! SciPy's final polishing with L-BFGS-B is not done: the manager decides what runs next.

use glompo_core::{
    Bounds, Evaluation, Optimizer, OptimizerError, OptimizerFactory, SeededRng, StartContext, Status,
};
use serde::{Deserialize, Serialize};

use crate::util::{self, BestRecord, exact, rank_value};

/// The mutation strategy of [`DifferentialEvolution`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// `best + F (r₀ − r₁)` with binomial crossover (SciPy's default).
    #[default]
    Best1Bin,
    /// `r₀ + F (r₁ − r₂)` with binomial crossover.
    Rand1Bin,
}

/// The mutation factor F: fixed, or drawn uniformly from `[lo, hi)` every generation (dithering).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged, expecting = "a number or a [lo, hi] pair of numbers")]
pub enum Mutation {
    /// A fixed F.
    Constant(f64),
    /// `[lo, hi]`: F is drawn uniformly from `[lo, hi)` every generation.
    Dither([f64; 2]),
}

/// The options of [`DifferentialEvolution`], as written in a config entry of type
/// `differential-evolution`. Every option is optional; the defaults are SciPy's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DifferentialEvolutionConfig {
    /// `best1bin` (default) or `rand1bin`.
    pub strategy: Option<Strategy>,
    /// The population size as a multiple of the dimension (at least 5 members); default 15.
    pub popsize: Option<usize>,
    /// F in [0, 2), or `[lo, hi]` with 0 ≤ lo ≤ hi < 2 for dithering; default `[0.5, 1.0]`.
    pub mutation: Option<Mutation>,
    /// The crossover probability, in [0, 1]; default 0.7.
    pub recombination: Option<f64>,
    /// Relative tolerance of the convergence test; default 0.01.
    pub tol: Option<f64>,
    /// Absolute tolerance of the convergence test; default 0.
    pub atol: Option<f64>,
    /// Generations after which the search stops with `maxiter`; default 1000.
    pub maxiter: Option<usize>,
}

impl DifferentialEvolutionConfig {
    /// The option names, as accepted in a config entry.
    pub const OPTIONS: &'static [&'static str] =
        &["strategy", "popsize", "mutation", "recombination", "tol", "atol", "maxiter"];

    /// Checks every option; the error names the first invalid one.
    pub fn validate(&self) -> Result<(), OptimizerError> {
        if self.popsize == Some(0) {
            return Err(OptimizerError::invalid_option("popsize", "must be at least 1"));
        }
        let in_range = |v: f64| v.is_finite() && (0.0..2.0).contains(&v);
        match self.mutation {
            Some(Mutation::Constant(f)) if !in_range(f) => {
                return Err(OptimizerError::invalid_option("mutation", format!("{f} is not in [0, 2)")));
            }
            Some(Mutation::Dither([lo, hi])) if !(in_range(lo) && in_range(hi) && lo <= hi) => {
                return Err(OptimizerError::invalid_option(
                    "mutation",
                    format!("[{lo}, {hi}] is not an interval [lo, hi] with 0 <= lo <= hi < 2"),
                ));
            }
            _ => {}
        }
        if let Some(r) = self.recombination.filter(|r| !(r.is_finite() && (0.0..=1.0).contains(r))) {
            return Err(OptimizerError::invalid_option("recombination", format!("{r} is not in [0, 1]")));
        }
        for (name, v) in [("tol", self.tol), ("atol", self.atol)] {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(OptimizerError::invalid_option(name, format!("{v} is not a finite value >= 0")));
            }
        }
        if self.maxiter == Some(0) {
            return Err(OptimizerError::invalid_option("maxiter", "must be at least 1"));
        }
        Ok(())
    }

    fn resolved(&self) -> Resolved {
        Resolved {
            strategy: self.strategy.unwrap_or_default(),
            popsize: self.popsize.unwrap_or(15),
            mutation: self.mutation.unwrap_or(Mutation::Dither([0.5, 1.0])),
            recombination: self.recombination.unwrap_or(0.7),
            tol: self.tol.unwrap_or(0.01),
            atol: self.atol.unwrap_or(0.0),
            maxiter: self.maxiter.unwrap_or(1000),
        }
    }
}

/// The options with their defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct Resolved {
    strategy: Strategy,
    popsize: usize,
    mutation: Mutation,
    recombination: f64,
    tol: f64,
    atol: f64,
    maxiter: usize,
}

util::config_factory!(
    /// Builds [`DifferentialEvolution`] optimizers.
    DifferentialEvolutionFactory, DifferentialEvolutionConfig
);

impl OptimizerFactory for DifferentialEvolutionFactory {
    fn name(&self) -> &str {
        DifferentialEvolution::NAME
    }

    /// The resolved options.
    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(self.config.resolved()).unwrap_or_default()
    }

    /// The same options with `factor` times the population (`popsize` members per dimension,
    /// rounded down, at least 1).
    fn with_population_factor(&self, factor: f64) -> Option<std::sync::Arc<dyn OptimizerFactory>> {
        let mut config = self.config.clone();
        let scaled = (self.config.resolved().popsize as f64 * factor).floor();
        config.popsize =
            Some(if scaled >= usize::MAX as f64 { usize::MAX } else { (scaled as usize).max(1) });
        Some(std::sync::Arc::new(DifferentialEvolutionFactory::new(config).ok()?))
    }

    /// `max(5, popsize · n)` members.
    fn popsize(&self, bounds: &Bounds, _workers: usize) -> Option<usize> {
        Some(self.config.resolved().popsize.saturating_mul(bounds.dim()).max(5))
    }

    fn with_settings(&self, settings: &serde_json::Value) -> Option<std::sync::Arc<dyn OptimizerFactory>> {
        Some(std::sync::Arc::new(Self::from_options(settings.as_object()?).ok()?))
    }

    fn build(&self, ctx: &StartContext<'_>) -> Result<Box<dyn Optimizer>, OptimizerError> {
        Ok(Box::new(DifferentialEvolution::new(&self.config, ctx)?))
    }
}

/// Everything that changes while the search runs, RNG aside.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    /// The members in the unit cube.
    #[serde(with = "exact::vecs")]
    population: Vec<Vec<f64>>,
    /// Their values (`+inf` for failures and before the first evaluation).
    #[serde(with = "exact::vec")]
    energies: Vec<f64>,
    /// Whether the initial population has been evaluated.
    initialised: bool,
    /// Generations completed.
    generations: usize,
    /// The trial vectors asked and not yet told (the initial population at first), in the unit cube.
    #[serde(with = "exact::vecs")]
    trials: Vec<Vec<f64>>,
    /// Whether `trials` is a pending batch.
    asked: bool,
    /// A point waiting to replace the worst member's trial, in the unit cube.
    #[serde(with = "exact::opt_vec")]
    injected: Option<Vec<f64>>,
    best: BestRecord,
}

/// Differential evolution; see the [module docs](self) for the algorithm and its options.
///
/// ```
/// use glompo_core::{Bounds, Evaluation, Optimizer, OptimizerFactory, StartContext, Status};
/// use glompo_optimizers::{DifferentialEvolutionConfig, DifferentialEvolutionFactory};
///
/// let bounds = Bounds::uniform(3, -5.0, 5.0).unwrap();
/// let config = DifferentialEvolutionConfig { tol: Some(1e-6), ..Default::default() };
/// let factory = DifferentialEvolutionFactory::new(config).unwrap();
/// let ctx = StartContext { opt_id: 1, x0: &[2.0, -3.0, 1.0], bounds: &bounds, seed: 7, workers: 4 };
/// let mut opt = factory.build(&ctx).unwrap();
/// let sphere = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>();
/// let reason = loop {
///     let batch = opt.ask().unwrap();
///     assert_eq!(batch.len(), 45); // the whole population is one batch
///     let evals: Vec<Evaluation> = batch.into_iter().map(|x| Evaluation { fx: sphere(&x), x }).collect();
///     if let Status::Converged(reason) = opt.tell(&evals).unwrap() {
///         break reason;
///     }
/// };
/// assert_eq!(reason, "tol");
/// assert!(opt.best().unwrap().fx < 1e-6);
/// ```
#[derive(Debug)]
pub struct DifferentialEvolution {
    bounds: Bounds,
    options: Resolved,
    rng: SeededRng,
    state: State,
}

impl DifferentialEvolution {
    /// The canonical type name.
    pub const NAME: &'static str = "differential-evolution";

    /// A search for one start context; the options must be valid and `x0` inside the bounds.
    pub fn new(config: &DifferentialEvolutionConfig, ctx: &StartContext<'_>) -> Result<Self, OptimizerError> {
        config.validate()?;
        util::check_start(ctx)?;
        let options = config.resolved();
        let n = ctx.bounds.dim();
        let members = options.popsize.saturating_mul(n).max(5);
        // The population and the trial vectors.
        util::check_state_size(
            "popsize",
            2.0 * members as f64 * n as f64,
            &format!("differential evolution holds 2 × {members} members × {n} dimensions"),
        )?;
        let mut rng = SeededRng::new(ctx.seed);
        // Latin hypercube: in every coordinate, one uniform draw in each of `members` equal segments,
        // the segments shuffled independently per coordinate.
        let mut population = vec![vec![0.0; n]; members];
        let mut order: Vec<usize> = (0..members).collect();
        for j in 0..n {
            for k in (1..members).rev() {
                order.swap(k, rng.below(k + 1));
            }
            for (member, &segment) in population.iter_mut().zip(&order) {
                member[j] = (segment as f64 + rng.uniform()) / members as f64;
            }
        }
        let mut opt = DifferentialEvolution {
            bounds: ctx.bounds.clone(),
            options,
            rng,
            state: State {
                population: Vec::new(),
                energies: vec![f64::INFINITY; members],
                initialised: false,
                generations: 0,
                trials: Vec::new(),
                asked: false,
                injected: None,
                best: BestRecord::default(),
            },
        };
        population[0] = opt.to_unit(ctx.x0);
        opt.state.trials = population.clone();
        opt.state.population = population;
        Ok(opt)
    }

    /// The number of population members.
    pub fn population_size(&self) -> usize {
        self.state.energies.len()
    }

    /// The number of completed generations.
    pub fn generations(&self) -> usize {
        self.state.generations
    }

    fn to_unit(&self, x: &[f64]) -> Vec<f64> {
        self.bounds.pairs().zip(x).map(|((lo, hi), v)| ((v - lo) / (hi - lo)).clamp(0.0, 1.0)).collect()
    }

    fn to_box(&self, u: &[f64]) -> Vec<f64> {
        let mut x: Vec<f64> = self.bounds.pairs().zip(u).map(|((lo, hi), v)| lo + v * (hi - lo)).collect();
        self.bounds.clip(&mut x);
        x
    }

    /// `count` distinct member indices other than `target`.
    fn pick(&mut self, target: usize, count: usize, out: &mut [usize; 3]) {
        let members = self.population_size();
        let mut k = 0;
        while k < count {
            let r = self.rng.below(members);
            if r != target && !out[..k].contains(&r) {
                out[k] = r;
                k += 1;
            }
        }
    }

    /// The trial vectors of the next generation.
    fn make_trials(&mut self) -> Vec<Vec<f64>> {
        let n = self.bounds.dim();
        let members = self.population_size();
        let scale = match self.options.mutation {
            Mutation::Constant(f) => f,
            Mutation::Dither([lo, hi]) => self.rng.uniform_in(lo, hi),
        };
        let best = (0..members)
            .min_by(|&a, &b| self.state.energies[a].total_cmp(&self.state.energies[b]))
            .unwrap_or(0);
        let mut trials = Vec::with_capacity(members);
        let mut r = [0usize; 3];
        for target in 0..members {
            let fill = self.rng.below(n);
            let (base, a, b) = match self.options.strategy {
                Strategy::Best1Bin => {
                    self.pick(target, 2, &mut r);
                    (best, r[0], r[1])
                }
                Strategy::Rand1Bin => {
                    self.pick(target, 3, &mut r);
                    (r[0], r[1], r[2])
                }
            };
            let pop = &self.state.population;
            let mut trial = pop[target].clone();
            for (j, t) in trial.iter_mut().enumerate() {
                let u = self.rng.uniform();
                if j == fill || u < self.options.recombination {
                    *t = pop[base][j] + scale * (pop[a][j] - pop[b][j]);
                }
            }
            for v in &mut trial {
                if !(0.0..=1.0).contains(v) {
                    *v = self.rng.uniform();
                }
            }
            trials.push(trial);
        }
        if let Some(x) = self.state.injected.take() {
            let worst = (0..members)
                .max_by(|&a, &b| self.state.energies[a].total_cmp(&self.state.energies[b]))
                .unwrap_or(0);
            trials[worst] = x;
        }
        trials
    }

    fn converged(&self) -> bool {
        let e = &self.state.energies;
        if e.iter().any(|v| !v.is_finite()) {
            return false;
        }
        let mean = e.iter().sum::<f64>() / e.len() as f64;
        let std = (e.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / e.len() as f64).sqrt();
        std <= self.options.atol + self.options.tol * mean.abs()
    }
}

impl Optimizer for DifferentialEvolution {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn popsize(&self) -> Option<usize> {
        Some(self.state.trials.len())
    }

    /// The whole population: the initial one first, then one trial vector per member. Asking again
    /// before telling returns the same batch.
    fn ask(&mut self) -> Result<Vec<Vec<f64>>, OptimizerError> {
        if !self.state.asked {
            if self.state.initialised {
                self.state.trials = self.make_trials();
            }
            self.state.asked = true;
        }
        Ok(self.state.trials.iter().map(|u| self.to_box(u)).collect())
    }

    fn tell(&mut self, evals: &[Evaluation]) -> Result<Status, OptimizerError> {
        let asked: Vec<Vec<f64>> = if self.state.asked {
            self.state.trials.iter().map(|u| self.to_box(u)).collect()
        } else {
            Vec::new()
        };
        util::check_tell(self.state.asked.then_some(asked.as_slice()), evals)?;
        self.state.asked = false;
        for (x, e) in asked.iter().zip(evals) {
            self.state.best.offer(x, e.fx);
        }
        let trials = std::mem::take(&mut self.state.trials);
        for (k, (trial, e)) in trials.into_iter().zip(evals).enumerate() {
            let value = rank_value(e.fx);
            if !self.state.initialised || value <= self.state.energies[k] {
                self.state.population[k] = trial;
                self.state.energies[k] = value;
            }
        }
        if !self.state.initialised {
            self.state.initialised = true;
            return Ok(Status::Running);
        }
        self.state.generations += 1;
        Ok(if self.converged() {
            Status::Converged("tol".into())
        } else if self.state.generations >= self.options.maxiter {
            Status::Converged("maxiter".into())
        } else {
            Status::Running
        })
    }

    fn best(&self) -> Option<Evaluation> {
        self.state.best.get().cloned()
    }

    /// Makes `x` (clipped into the bounds) the trial of the worst member in the next generation, so
    /// that it is evaluated and replaces that member if it is better. `fx` only filters: a non-finite
    /// value, or a point of the wrong dimension, is ignored. Only the newest injection is kept.
    fn inject(&mut self, x: &[f64], fx: f64) {
        if x.len() != self.bounds.dim() || !fx.is_finite() || x.iter().any(|v| !v.is_finite()) {
            return;
        }
        self.state.injected = Some(self.to_unit(x));
    }

    fn save(&self) -> Result<serde_json::Value, OptimizerError> {
        util::save_state(Self::NAME, &util::Saved { rng: self.rng.state(), state: self.state.clone() })
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), OptimizerError> {
        let saved: util::Saved<State> = util::load_state(Self::NAME, state)?;
        let bad = |message: String| OptimizerError::BadState { optimizer: Self::NAME.into(), message };
        let (n, members) = (self.bounds.dim(), self.population_size());
        let s = &saved.state;
        let points_fit = s.population.iter().chain(&s.trials).chain(&s.injected).all(|x| x.len() == n)
            && s.best.get().is_none_or(|e| e.x.len() == n);
        if !points_fit
            || s.population.len() != members
            || s.energies.len() != members
            || (s.asked && s.trials.len() != members)
        {
            return Err(bad(format!("the state does not fit {members} members of dimension {n}")));
        }
        self.rng = SeededRng::from_state(&saved.rng).map_err(bad)?;
        self.state = saved.state;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn de(
        config: DifferentialEvolutionConfig,
        x0: &[f64],
        bounds: &Bounds,
        seed: u64,
    ) -> DifferentialEvolution {
        DifferentialEvolution::new(&config, &StartContext { opt_id: 1, x0, bounds, seed, workers: 1 })
            .unwrap()
    }

    fn tell_with(opt: &mut DifferentialEvolution, f: impl Fn(&[f64]) -> f64) -> Status {
        let batch = opt.ask().unwrap();
        let evals: Vec<Evaluation> = batch.into_iter().map(|x| Evaluation { fx: f(&x), x }).collect();
        opt.tell(&evals).unwrap()
    }

    #[test]
    fn initial_population_is_a_latin_hypercube_with_x0_first() {
        let bounds = Bounds::new([(0.0, 10.0), (-1.0, 1.0)]).unwrap();
        let mut opt = de(
            DifferentialEvolutionConfig { popsize: Some(10), ..Default::default() },
            &[2.5, 0.5],
            &bounds,
            3,
        );
        let batch = opt.ask().unwrap();
        assert_eq!(batch.len(), 20);
        assert_eq!(batch[0], vec![2.5, 0.5]);
        // Apart from the member x0 replaced, every coordinate has one member in each of the 20 segments.
        for (j, (lo, hi)) in bounds.pairs().enumerate() {
            let mut segments: Vec<usize> =
                batch[1..].iter().map(|x| ((x[j] - lo) / (hi - lo) * 20.0) as usize).collect();
            segments.sort_unstable();
            segments.dedup();
            assert_eq!(segments.len(), 19, "coordinate {j}");
        }
    }

    #[test]
    fn out_of_range_trial_coordinates_are_redrawn_inside() {
        let bounds = Bounds::uniform(4, -1.0, 1.0).unwrap();
        // A large F throws most mutants out of the unit cube.
        let config =
            DifferentialEvolutionConfig { mutation: Some(Mutation::Constant(1.99)), ..Default::default() };
        let mut opt = de(config, &[0.9; 4], &bounds, 1);
        for _ in 0..20 {
            tell_with(&mut opt, |x| x.iter().map(|v| (v - 0.9).powi(2)).sum());
            assert!(
                opt.state
                    .trials
                    .iter()
                    .chain(&opt.state.population)
                    .flatten()
                    .all(|v| (0.0..=1.0).contains(v))
            );
        }
    }

    #[test]
    fn selection_keeps_the_better_of_target_and_trial() {
        let bounds = Bounds::uniform(2, -1.0, 1.0).unwrap();
        let mut opt = de(DifferentialEvolutionConfig::default(), &[0.0, 0.0], &bounds, 5);
        tell_with(&mut opt, |x| x[0] + x[1]);
        let before = opt.state.energies.clone();
        tell_with(&mut opt, |_| f64::NAN);
        // Failed trials never replace finite members.
        assert_eq!(opt.state.energies, before);
        tell_with(&mut opt, |_| -10.0);
        assert!(opt.state.energies.iter().all(|&e| e == -10.0));
    }

    #[test]
    fn injection_replaces_the_worst_members_trial() {
        let bounds = Bounds::uniform(2, -1.0, 1.0).unwrap();
        let mut opt = de(DifferentialEvolutionConfig::default(), &[0.5, 0.5], &bounds, 5);
        let f = |x: &[f64]| x[0] * x[0] + x[1] * x[1];
        tell_with(&mut opt, f);
        let worst = (0..opt.population_size())
            .max_by(|&a, &b| opt.state.energies[a].total_cmp(&opt.state.energies[b]))
            .unwrap();
        opt.inject(&[0.0, 0.0], 0.0);
        opt.inject(&[0.3, 0.3], f64::NAN);
        let batch = opt.ask().unwrap();
        assert_eq!(batch[worst], vec![0.0, 0.0]);
        tell_with(&mut opt, f);
        assert_eq!(opt.best().unwrap().fx, 0.0);
    }

    #[test]
    fn invalid_options_are_named() {
        let bad = [
            (DifferentialEvolutionConfig { popsize: Some(0), ..Default::default() }, "popsize"),
            (
                DifferentialEvolutionConfig { mutation: Some(Mutation::Constant(2.0)), ..Default::default() },
                "mutation",
            ),
            (
                DifferentialEvolutionConfig {
                    mutation: Some(Mutation::Dither([0.9, 0.5])),
                    ..Default::default()
                },
                "mutation",
            ),
            (DifferentialEvolutionConfig { recombination: Some(1.5), ..Default::default() }, "recombination"),
            (DifferentialEvolutionConfig { tol: Some(-1.0), ..Default::default() }, "tol"),
            (DifferentialEvolutionConfig { atol: Some(f64::NAN), ..Default::default() }, "atol"),
            (DifferentialEvolutionConfig { maxiter: Some(0), ..Default::default() }, "maxiter"),
        ];
        for (config, name) in bad {
            match config.validate() {
                Err(OptimizerError::InvalidOption { option, .. }) => assert_eq!(option, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}
