//! CMA-ES, the covariance matrix adaptation evolution strategy, with pycma's defaults.
//!
//! The algorithm is that of Hansen's tutorial (arXiv:1604.00772) as pycma (`cma.CMAEvolutionStrategy`,
//! version 4.5) implements it by default:
//!
//! - **Parameters**: λ = 4 + ⌊3 ln n⌋ (options `popsize` and `popsize_factor`), μ = ⌊λ/2⌋,
//!   logarithmic weights, and pycma's formulas for μ_eff, c_σ = min(1/2, (μ_eff + 2)/(n + μ_eff + 3)),
//!   its damping d_σ (which grows with μ_eff for large populations), c_c, c_1 and c_μ.
//! - **Active CMA** (option `active`, on by default as in pycma): the worse half of the population gets
//!   negative weights, scaled by pycma's `finalize_negative_weights` and, in the update, by
//!   n / ‖C^{-1/2} y‖², so that C stays positive definite. Injected solutions get no negative weight
//!   (pycma's `CMA_active_injected = 0`).
//! - **Updates**: cumulative step-size adaptation on the conjugate path p_σ, rank-one update on p_c with
//!   the stall indicator h_σ and its variance correction, rank-μ update; the step-size change is clipped
//!   to a factor of e. C is updated by one matrix product over all update vectors and kept exactly
//!   symmetric (`model.rs`).
//! - **Eigendecomposition**: lazy, renewed at sampling time once 0.5 / (n (c_1 + c_μ)) updates of C have
//!   accumulated, with nalgebra's `SymmetricEigen`. That is the gap of Hansen's reference implementation
//!   `purecma` and of the `cmaes` crate, five times pycma's `lazy_update_gap`; between decompositions C
//!   changes by about 1/(2n) relatively, evaluation counts are the same as pycma's
//!   (`bench/NOTES.md`), and the decompositions, the dominant cost from n ≈ 10 on, become five times
//!   rarer. Should an eigenvalue come out non-positive, the smallest previous eigenvalue is added to the
//!   diagonal and the decomposition repeated, as pycma does, and eigenvalues are finally floored at a
//!   tiny positive value.
//! - **Bounds**: pycma's default `BoundTransform`: the strategy samples in an unbounded space and every
//!   point is mapped into the box by a smooth periodic transformation that is the identity away from the
//!   bounds (see `boundary.rs`). Every asked point, and so [`best`](Optimizer::best), is inside the box.
//! - **Step size**: `sigma0`, in the units of the variables; by default a quarter of the mean bound width.
//! - **Failures**: non-finite values rank worst (pycma replaces NaN by the median of the others); an
//!   update that would overflow is undone and reported as `Converged("numerics")`.
//! - **Injection**: [`inject`](Optimizer::inject) works like pycma's `inject`: the direction from the
//!   mean to the (preimage of the) point becomes one member of the next population, shortened to a
//!   random typical length if its Mahalanobis length exceeds √n; the point is then evaluated and ranked
//!   with its real value.
//! - **Stopping**: after every `tell` the criteria `maxiter`, `tolfacupx`, `tolx`, `tolfun`, `tolfunhist`,
//!   `tolstagnation`, `tolxstagnation`, `tolupsigma`, `noeffectcoord`, `noeffectaxis`,
//!   `tolconditioncov` and `tolflatfitness` are checked with pycma's definitions and defaults, and the
//!   first that holds is reported as `Converged(name)`. `tolx` compares magnitudes (pycma compares
//!   σ p_c with its sign), and `noeffectcoord` includes the first coordinate (pycma's test skips it).
//! - **Restarts**: IPOP, a restart with twice the population, is
//!   [`CmaEsFactory::with_popsize_factor`]`(2^k)`, pycma's `popsize_factor`.
//!
//! Not implemented: mirrored sampling, which pycma uses only for λ < 6 (by default in one dimension);
//! pycma's conditioning alleviation (`conditioncov_alleviate`, which moves a condition number above
//! 1e8 into a diagonal scaling and above 1e12 into a linear transformation, so that with pycma
//! `tolconditioncov` hardly ever triggers), its rescaling when σ exceeds 10⁹ σ0, `maxstd` (with bounds,
//! pycma limits every standard deviation to a third of the bound range), `tolfunrel` (off by default
//! in pycma) and diagonal decoding (off by default).

mod boundary;
mod model;
mod params;
mod state;
mod stop;
mod strategy;
#[cfg(test)]
mod tests;

use glompo_core::{
    Bounds, Evaluation, Optimizer, OptimizerError, OptimizerFactory, SeededRng, StartContext, Status,
};
use serde::{Deserialize, Serialize};

use self::boundary::BoundTransform;
use self::model::Model;
use self::params::Params;
use self::stop::{FitHistory, Tolerances, View, XStagnation};
use self::strategy::{Generation, Scratch};
use crate::util::{self, BestRecord, rank_value};

/// The options of [`CmaEs`], as written in a config entry of type `cma-es`. Every option is optional;
/// the defaults are pycma's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CmaEsConfig {
    /// The initial step size, positive; default a quarter of the mean bound width.
    pub sigma0: Option<f64>,
    /// A multiplier of the initial step size (`sigma0` or its default), positive; default 1. BIPOP's
    /// small-population restarts draw it (see [`CmaEsFactory::with_sigma0_factor`]).
    pub sigma0_factor: Option<f64>,
    /// The population size λ, at least 2; default 4 + ⌊3 ln n⌋.
    pub popsize: Option<usize>,
    /// A multiplier of the population size, positive, as pycma's `popsize_factor`:
    /// λ = ⌊factor · base⌋ with base `popsize` if set, else 4 + 3 ln n (unrounded); default 1. IPOP
    /// restarts double it (see [`CmaEsFactory::with_popsize_factor`]).
    pub popsize_factor: Option<f64>,
    /// Active CMA (negative recombination weights); default `true`.
    pub active: Option<bool>,
    /// Stop when the values of the last generation and of the recent best values span less; default 1e-11.
    pub tolfun: Option<f64>,
    /// Stop when the recent best values span less; default 1e-12.
    pub tolfunhist: Option<f64>,
    /// Stop when every standard deviation and σ·p_c are smaller; default 1e-11.
    pub tolx: Option<f64>,
    /// The window of the stagnation test, in generations; default ⌊100 + 100 n^1.5 / λ⌋; 0 turns it off.
    pub tolstagnation: Option<usize>,
    /// Stop when the condition number of C exceeds this; default 1e14.
    pub tolconditioncov: Option<f64>,
    /// Stop when σ / max √eig(C) exceeds this multiple of σ0 ("creeping"); default 1e20.
    pub tolupsigma: Option<f64>,
    /// Stop when a standard deviation exceeds this multiple of σ0 (divergence); default 1e3.
    pub tolfacupx: Option<f64>,
    /// Generations with a flat best quartile tolerated; default 1.
    pub tolflatfitness: Option<usize>,
    /// Stop after this many generations; default 100 + ⌊150 (n + 3)² / √λ⌋.
    pub maxiter: Option<usize>,
}

impl CmaEsConfig {
    /// The option names, as accepted in a config entry.
    pub const OPTIONS: &'static [&'static str] = &[
        "sigma0",
        "sigma0_factor",
        "popsize",
        "popsize_factor",
        "active",
        "tolfun",
        "tolfunhist",
        "tolx",
        "tolstagnation",
        "tolconditioncov",
        "tolupsigma",
        "tolfacupx",
        "tolflatfitness",
        "maxiter",
    ];

    /// Checks every option; the error names the first invalid one.
    pub fn validate(&self) -> Result<(), OptimizerError> {
        let positive = [
            ("sigma0", self.sigma0),
            ("sigma0_factor", self.sigma0_factor),
            ("popsize_factor", self.popsize_factor),
            ("tolconditioncov", self.tolconditioncov),
            ("tolupsigma", self.tolupsigma),
            ("tolfacupx", self.tolfacupx),
        ];
        for (name, v) in positive {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(OptimizerError::invalid_option(name, format!("{v} is not a finite value > 0")));
            }
        }
        for (name, v) in [("tolfun", self.tolfun), ("tolfunhist", self.tolfunhist), ("tolx", self.tolx)] {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(OptimizerError::invalid_option(name, format!("{v} is not a finite value >= 0")));
            }
        }
        if let Some(p) = self.popsize.filter(|&p| p < 2) {
            return Err(OptimizerError::invalid_option("popsize", format!("{p} is below the minimum of 2")));
        }
        if self.maxiter == Some(0) {
            return Err(OptimizerError::invalid_option("maxiter", "must be at least 1"));
        }
        Ok(())
    }

    /// The initial step size in `bounds`: `sigma0`, by default a quarter of the box's mean width, times
    /// `sigma0_factor`.
    pub fn resolved_sigma0(&self, bounds: &Bounds) -> f64 {
        let n = bounds.dim().max(1) as f64;
        let sigma0 =
            self.sigma0.unwrap_or_else(|| 0.25 * bounds.pairs().map(|(lo, hi)| hi - lo).sum::<f64>() / n);
        sigma0 * self.sigma0_factor.unwrap_or(1.0)
    }

    /// The population size λ in dimension `n`; an error if `popsize_factor` makes it smaller than 2.
    pub fn resolved_popsize(&self, n: usize) -> Result<usize, OptimizerError> {
        let lambda = match (self.popsize, self.popsize_factor) {
            (Some(p), None) => p,
            (None, None) => params::default_popsize(n),
            (p, Some(factor)) => {
                let base = p.map_or_else(|| 4.0 + 3.0 * (n as f64).ln(), |p| p as f64);
                (factor * base).floor() as usize
            }
        };
        if lambda < 2 {
            return Err(OptimizerError::invalid_option(
                "popsize_factor",
                format!("makes the population size {lambda}, below the minimum of 2"),
            ));
        }
        Ok(lambda)
    }

    fn tolerances(&self, n: usize, lambda: usize) -> Tolerances {
        let (nf, lf) = (n as f64, lambda as f64);
        Tolerances {
            tolfun: self.tolfun.unwrap_or(1e-11),
            tolfunhist: self.tolfunhist.unwrap_or(1e-12),
            tolx: self.tolx.unwrap_or(1e-11),
            tolstagnation: self.tolstagnation.unwrap_or((100.0 + 100.0 * nf.powf(1.5) / lf) as usize),
            tolconditioncov: self.tolconditioncov.unwrap_or(1e14),
            tolupsigma: self.tolupsigma.unwrap_or(1e20),
            tolfacupx: self.tolfacupx.unwrap_or(1e3),
            tolflatfitness: self.tolflatfitness.unwrap_or(1),
            maxiter: self.maxiter.unwrap_or(100 + (150.0 * (nf + 3.0).powi(2) / lf.sqrt()).floor() as usize),
        }
    }
}

util::config_factory!(
    /// Builds [`CmaEs`] optimizers.
    CmaEsFactory, CmaEsConfig
);

impl CmaEsFactory {
    /// The same factory with its population multiplied by `factor` on top of its own
    /// `popsize_factor`: IPOP's k-th restart is `base.with_popsize_factor(2^k)`.
    ///
    /// ```
    /// use glompo_core::{Bounds, StartContext};
    /// use glompo_optimizers::{CmaEs, CmaEsConfig, CmaEsFactory};
    ///
    /// let base = CmaEsFactory::new(CmaEsConfig::default()).unwrap();
    /// let bounds = Bounds::uniform(10, -5.0, 5.0).unwrap();
    /// let ctx = StartContext { opt_id: 1, x0: &[0.0; 10], bounds: &bounds, seed: 1, workers: 1 };
    /// let sizes: Vec<usize> = (0..4)
    ///     .map(|k| {
    ///         let f = base.with_popsize_factor(2f64.powi(k)).unwrap();
    ///         CmaEs::new(f.config(), &ctx).unwrap().popsize()
    ///     })
    ///     .collect();
    /// // pycma's IPOP: ⌊2^k (4 + 3 ln 10)⌋.
    /// assert_eq!(sizes, vec![10, 21, 43, 87]);
    /// ```
    pub fn with_popsize_factor(&self, factor: f64) -> Result<Self, OptimizerError> {
        let mut config = self.config.clone();
        config.popsize_factor = Some(config.popsize_factor.unwrap_or(1.0) * factor);
        Self::new(config)
    }

    /// The same factory with its initial step size multiplied by `factor` on top of its own
    /// `sigma0_factor`: BIPOP's small-population restarts start with `σ0 · 10^{−2v}`.
    pub fn with_sigma0_factor(&self, factor: f64) -> Result<Self, OptimizerError> {
        let mut config = self.config.clone();
        config.sigma0_factor = Some(config.sigma0_factor.unwrap_or(1.0) * factor);
        Self::new(config)
    }
}

impl OptimizerFactory for CmaEsFactory {
    fn name(&self) -> &str {
        CmaEs::NAME
    }

    /// The resolved options; those that depend on the dimension or the bounds (`sigma0`, `popsize`,
    /// `tolstagnation`, `maxiter`) are `null` unless set.
    fn settings(&self) -> serde_json::Value {
        let c = &self.config;
        let t = c.tolerances(1, 4);
        serde_json::json!({
            "sigma0": c.sigma0,
            "sigma0_factor": c.sigma0_factor.unwrap_or(1.0),
            "popsize": c.popsize,
            "popsize_factor": c.popsize_factor.unwrap_or(1.0),
            "active": c.active.unwrap_or(true),
            "tolfun": t.tolfun,
            "tolfunhist": t.tolfunhist,
            "tolx": t.tolx,
            "tolstagnation": c.tolstagnation,
            "tolconditioncov": t.tolconditioncov,
            "tolupsigma": t.tolupsigma,
            "tolfacupx": t.tolfacupx,
            "tolflatfitness": t.tolflatfitness,
            "maxiter": c.maxiter,
        })
    }

    /// With `sigma0`, `popsize`, `tolstagnation` and `maxiter` as they are for the dimension and box
    /// of `bounds` (the population as `popsize_factor` scales it).
    fn resolved_settings(&self, bounds: &Bounds, _workers: usize) -> serde_json::Value {
        let mut settings = self.settings();
        let c = &self.config;
        let Ok(lambda) = c.resolved_popsize(bounds.dim()) else { return settings };
        let t = c.tolerances(bounds.dim(), lambda);
        let resolved = [
            ("sigma0", serde_json::json!(c.resolved_sigma0(bounds))),
            ("popsize", lambda.into()),
            ("tolstagnation", t.tolstagnation.into()),
            ("maxiter", t.maxiter.into()),
        ];
        for (key, value) in resolved {
            settings[key] = value;
        }
        settings
    }

    /// IPOP and BIPOP: the same options with `factor` times the population.
    fn with_population_factor(&self, factor: f64) -> Option<std::sync::Arc<dyn OptimizerFactory>> {
        let scaled = self.with_popsize_factor(factor).ok()?;
        Some(std::sync::Arc::new(scaled))
    }

    /// BIPOP: the same options with `factor` times the initial step size.
    fn with_step_factor(&self, factor: f64) -> Option<std::sync::Arc<dyn OptimizerFactory>> {
        Some(std::sync::Arc::new(self.with_sigma0_factor(factor).ok()?))
    }

    /// λ for the dimension of `bounds`.
    fn popsize(&self, bounds: &Bounds, _workers: usize) -> Option<usize> {
        self.config.resolved_popsize(bounds.dim()).ok()
    }

    fn with_settings(&self, settings: &serde_json::Value) -> Option<std::sync::Arc<dyn OptimizerFactory>> {
        Some(std::sync::Arc::new(Self::from_options(settings.as_object()?).ok()?))
    }

    fn build(&self, ctx: &StartContext<'_>) -> Result<Box<dyn Optimizer>, OptimizerError> {
        Ok(Box::new(CmaEs::new(&self.config, ctx)?))
    }
}

/// CMA-ES with pycma's defaults; see the [module docs](self) for the algorithm and its options.
///
/// ```
/// use glompo_core::{Bounds, Evaluation, Optimizer, OptimizerFactory, StartContext, Status};
/// use glompo_optimizers::{CmaEsConfig, CmaEsFactory};
///
/// let bounds = Bounds::uniform(5, -10.0, 10.0).unwrap();
/// let factory = CmaEsFactory::new(CmaEsConfig { sigma0: Some(1.0), ..Default::default() }).unwrap();
/// let ctx = StartContext { opt_id: 1, x0: &[3.0; 5], bounds: &bounds, seed: 42, workers: 1 };
/// let mut opt = factory.build(&ctx).unwrap();
/// let sphere = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>();
/// let reason = loop {
///     let batch = opt.ask().unwrap();
///     let evals: Vec<Evaluation> = batch.into_iter().map(|x| Evaluation { fx: sphere(&x), x }).collect();
///     if let Status::Converged(reason) = opt.tell(&evals).unwrap() {
///         break reason;
///     }
/// };
/// assert_eq!(reason, "tolfun");
/// assert!(opt.best().unwrap().fx < 1e-10);
/// ```
#[derive(Debug)]
pub struct CmaEs {
    params: Params,
    tol: Tolerances,
    transform: BoundTransform,
    rng: SeededRng,
    sigma0: f64,
    /// The distribution mean, in the unbounded search space.
    mean: Vec<f64>,
    sigma: f64,
    /// C and its eigendecomposition.
    model: Model,
    pc: Vec<f64>,
    ps: Vec<f64>,
    /// Generations told.
    countiter: usize,
    countevals: usize,
    fit: FitHistory,
    best: BestRecord,
    /// The evaluation count at which the best value was found.
    best_evals: usize,
    xstag: XStagnation,
    /// The asked population waiting for its values.
    pending: Option<Generation>,
    /// Directions from the mean to injected points, for the next population.
    injections: Vec<Vec<f64>>,
    /// Buffers reused from generation to generation; not part of the state.
    scratch: Scratch,
}

impl CmaEs {
    /// The canonical type name.
    pub const NAME: &'static str = "cma-es";

    /// A strategy for one start context; the options must be valid and `x0` inside the bounds.
    pub fn new(config: &CmaEsConfig, ctx: &StartContext<'_>) -> Result<Self, OptimizerError> {
        config.validate()?;
        util::check_start(ctx)?;
        let n = ctx.bounds.dim();
        let lambda = config.resolved_popsize(n)?;
        // Three n × n matrices (C, B and B·D) and about four λ × n ones (the generation and the updates).
        let (square, population) = (3.0 * (n as f64).powi(2), 4.0 * lambda as f64 * n as f64);
        let option = match (population > square, config.popsize_factor) {
            (true, Some(_)) => "popsize_factor",
            (true, None) => "popsize",
            (false, _) => "type",
        };
        util::check_state_size(
            option,
            square + population,
            &format!(
                "cma-es holds 3 n² + 4 λ n numbers for n = {n} dimensions and a population λ = {lambda}"
            ),
        )?;
        let params = Params::new(n, lambda, config.active.unwrap_or(true));
        let sigma0 = config.resolved_sigma0(ctx.bounds);
        let transform = BoundTransform::new(ctx.bounds);
        let mean = transform.inverse(ctx.x0);
        Ok(CmaEs {
            tol: config.tolerances(n, lambda),
            scratch: Scratch::new(n, lambda),
            params,
            transform,
            rng: SeededRng::new(ctx.seed),
            sigma0,
            xstag: XStagnation::new(&mean),
            mean,
            sigma: sigma0,
            model: Model::identity(n),
            pc: vec![0.0; n],
            ps: vec![0.0; n],
            countiter: 0,
            countevals: 0,
            fit: FitHistory::default(),
            best: BestRecord::default(),
            best_evals: 0,
            pending: None,
            injections: Vec::new(),
        })
    }

    /// The population size λ.
    pub fn popsize(&self) -> usize {
        self.params.lambda
    }

    /// The distribution mean, mapped into the bounds.
    pub fn mean(&self) -> Vec<f64> {
        self.transform.transform(&self.mean)
    }

    /// The current step size σ.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// The number of generations told so far.
    pub fn generations(&self) -> usize {
        self.countiter
    }

    /// The covariance matrix C (without σ²), by rows.
    #[doc(hidden)]
    pub fn covariance(&self) -> Vec<Vec<f64>> {
        state::rows(&self.model.c)
    }

    /// The λ recombination weights.
    #[doc(hidden)]
    pub fn weights(&self) -> &[f64] {
        &self.params.weights
    }

    /// Whether σ is positive and finite and the mean and the paths are finite.
    fn vectors_are_finite(&self) -> bool {
        self.sigma.is_finite()
            && self.sigma > 0.0
            && self.mean.iter().chain(&self.pc).chain(&self.ps).all(|v| v.is_finite())
    }

    #[cfg(test)]
    fn state_is_finite(&self) -> bool {
        self.vectors_are_finite() && self.model.c.iter().all(|v| v.is_finite())
    }
}

impl Optimizer for CmaEs {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn popsize(&self) -> Option<usize> {
        Some(self.params.lambda)
    }

    /// A new population of λ points inside the bounds; asking again before telling returns the same one.
    fn ask(&mut self) -> Result<Vec<Vec<f64>>, OptimizerError> {
        if self.pending.is_none() {
            let generation = self.sample();
            self.pending = Some(generation);
        }
        Ok(self.pending.as_ref().map(Generation::points).unwrap_or_default())
    }

    fn tell(&mut self, evals: &[Evaluation]) -> Result<Status, OptimizerError> {
        let Some(generation) = self.pending.take() else {
            return Err(OptimizerError::Protocol("tell was called without a pending ask".into()));
        };
        if let Err(e) = generation.check_tell(evals) {
            self.pending = Some(generation);
            return Err(e);
        }
        let n = self.params.n;
        let mut values = std::mem::take(&mut self.scratch.values);
        values.clear();
        values.extend(evals.iter().map(|e| rank_value(e.fx)));
        for (k, (x, e)) in generation.pheno.as_slice().chunks_exact(n).zip(evals).enumerate() {
            if self.best.offer(x, e.fx) {
                self.best_evals = self.countevals + k + 1;
            }
        }
        self.countiter += 1;
        self.countevals += evals.len();

        let finite = self.update(&generation, &values);
        self.scratch.values = values;
        self.scratch.spare = Some(generation);
        if !finite {
            // Only an absurd run (σ grown for thousands of generations) gets here; keep a sane state.
            return Ok(Status::Converged("numerics".into()));
        }

        let view = View {
            n,
            lambda: self.params.lambda,
            countiter: self.countiter,
            countevals: self.countevals,
            best_evals: self.best_evals,
            sigma: self.sigma,
            sigma0: self.sigma0,
            mean: &self.mean,
            pc: &self.pc,
            c: &self.model.c,
            d: &self.model.d,
            b: &self.model.b,
            fit: &self.scratch.sorted,
        };
        Ok(match stop::check(&self.tol, &view, &mut self.fit, &self.xstag) {
            Some(name) => Status::Converged(name.into()),
            None => Status::Running,
        })
    }

    fn best(&self) -> Option<Evaluation> {
        self.best.get().cloned()
    }

    /// Puts `x` (clipped into the bounds) into the next population, as pycma's `inject` does; see the
    /// [module docs](self). `fx` only filters: a non-finite value, or a point of the wrong dimension, is
    /// ignored. At most λ − 1 injections wait; older ones are dropped.
    fn inject(&mut self, x: &[f64], fx: f64) {
        let n = self.params.n;
        if x.len() != n || !fx.is_finite() || x.iter().any(|v| !v.is_finite()) {
            return;
        }
        let geno = self.transform.inverse(x);
        self.injections.push(geno.iter().zip(&self.mean).map(|(g, m)| g - m).collect());
        if self.injections.len() > self.params.lambda - 1 {
            self.injections.remove(0);
        }
    }

    fn save(&self) -> Result<serde_json::Value, OptimizerError> {
        util::save_state(Self::NAME, &state::Saved::of(self))
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), OptimizerError> {
        let saved: state::Saved = util::load_state(Self::NAME, state)?;
        saved.restore_into(self)
    }
}
