//! CMA-ES, the covariance matrix adaptation evolution strategy, with pycma's defaults.
//!
//! The algorithm is that of Hansen's tutorial (arXiv:1604.00772) as pycma (`cma.CMAEvolutionStrategy`,
//! version 4) implements it by default:
//!
//! - **Parameters**: λ = 4 + ⌊3 ln n⌋ (option `popsize`), μ = ⌊λ/2⌋, logarithmic weights, and pycma's
//!   formulas for μ_eff, c_σ = (μ_eff + 2)/(n + μ_eff + 3), d_σ, c_c, c_1 and c_μ.
//! - **Active CMA** (option `active`, on by default as in pycma): the worse half of the population gets
//!   negative weights, scaled by pycma's `finalize_negative_weights` and, in the update, by
//!   n / ‖C^{-1/2} y‖², so that C stays positive definite. Injected solutions get no negative weight
//!   (pycma's `CMA_active_injected = 0`).
//! - **Updates**: cumulative step-size adaptation on the conjugate path p_σ, rank-one update on p_c with
//!   the stall indicator h_σ and its variance correction, rank-μ update; C is kept symmetric.
//! - **Eigendecomposition**: lazy, renewed at sampling time once `1 / (10 n (c_1 + c_μ))` updates of C
//!   have accumulated (pycma's `lazy_update_gap`), with nalgebra's `SymmetricEigen`; should an
//!   eigenvalue come out non-positive, the smallest previous eigenvalue is added to the diagonal and the
//!   decomposition repeated, as pycma does, and eigenvalues are finally floored at a tiny positive value.
//! - **Bounds**: pycma's default `BoundTransform`: the strategy samples in an unbounded space and every
//!   point is mapped into the box by a smooth periodic transformation that is the identity away from the
//!   bounds (see `boundary.rs`). Every asked point, and so [`best`](Optimizer::best), is inside the box.
//! - **Step size**: `sigma0`, in the units of the variables; by default a quarter of the mean bound width.
//!   pycma's `maxstd` limit of a third of the bound range is not applied.
//! - **Failures**: non-finite values rank worst (pycma replaces NaN by the median of the others).
//! - **Injection**: [`inject`](Optimizer::inject) works like pycma's `inject`: the direction from the
//!   mean to the (preimage of the) point becomes one member of the next population, shortened to a
//!   random typical length if its Mahalanobis length exceeds √n; the point is then evaluated and ranked
//!   with its real value.
//! - **Stopping**: after every `tell` the criteria `maxiter`, `tolfacupx`, `tolx`, `tolfun`, `tolfunhist`,
//!   `tolstagnation`, `tolxstagnation`, `tolupsigma`, `noeffectcoord`, `noeffectaxis`,
//!   `tolconditioncov` and `tolflatfitness` are checked with pycma's definitions and defaults, and the
//!   first that holds is reported as `Converged(name)`. `tolx` compares magnitudes (pycma compares
//!   σ p_c with its sign).
//!
//! Left for later: mirrored sampling for λ < 6 (pycma uses it in one dimension), pycma's conditioning
//! alleviation (`conditioncov_alleviate`) and its rescaling when σ exceeds 10⁹ σ0, `maxstd`, `tolfunrel`
//! (off by default in pycma) and diagonal decoding (off by default).

mod boundary;
mod params;
mod stop;
#[cfg(test)]
mod tests;

use glompo_core::{
    Evaluation, Optimizer, OptimizerError, OptimizerFactory, RngState, SeededRng, StartContext, Status,
};
use nalgebra::{DMatrix, SymmetricEigen};
use serde::{Deserialize, Serialize};

use self::boundary::BoundTransform;
use self::params::Params;
use self::stop::{FitHistory, Tolerances, View, XStagnation};
use crate::util::{self, BestRecord, exact, rank_value};

/// The options of [`CmaEs`], as written in a config entry of type `cma-es`. Every option is optional;
/// the defaults are pycma's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CmaEsConfig {
    /// The initial step size, positive; default a quarter of the mean bound width.
    pub sigma0: Option<f64>,
    /// The population size λ, at least 2; default 4 + ⌊3 ln n⌋.
    pub popsize: Option<usize>,
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
        "popsize",
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

/// Builds [`CmaEs`] optimizers.
#[derive(Debug, Clone)]
pub struct CmaEsFactory {
    config: CmaEsConfig,
}

impl CmaEsFactory {
    /// A factory for validated options.
    pub fn new(config: CmaEsConfig) -> Result<Self, OptimizerError> {
        config.validate()?;
        Ok(CmaEsFactory { config })
    }

    /// A factory from a config entry's options (without `type`, `workers` and `evaluator`).
    pub fn from_options(
        options: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, OptimizerError> {
        Self::new(util::parse_options(options, CmaEsConfig::OPTIONS)?)
    }

    /// The options this factory builds with.
    pub fn config(&self) -> &CmaEsConfig {
        &self.config
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
            "popsize": c.popsize,
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

    fn build(&self, ctx: &StartContext<'_>) -> Result<Box<dyn Optimizer>, OptimizerError> {
        Ok(Box::new(CmaEs::new(&self.config, ctx)?))
    }
}

/// One asked population: the points in the search space, their images in the box, and how many of the
/// first ones were injected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Generation {
    #[serde(with = "exact::vecs")]
    geno: Vec<Vec<f64>>,
    #[serde(with = "exact::vecs")]
    pheno: Vec<Vec<f64>>,
    injected: usize,
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
    c: DMatrix<f64>,
    /// Eigenvectors (columns) and square roots of the eigenvalues (ascending) of C at the last
    /// decomposition.
    b: DMatrix<f64>,
    d: Vec<f64>,
    pc: Vec<f64>,
    ps: Vec<f64>,
    /// Updates of C so far, and their number at the last decomposition.
    count_tell: usize,
    last_update: usize,
    countiter: usize,
    countevals: usize,
    fit: FitHistory,
    best: BestRecord,
    best_evals: usize,
    xstag: XStagnation,
    pending: Option<Generation>,
    /// Directions from the mean to injected points, for the next population.
    injections: Vec<Vec<f64>>,
}

/// The saved form of a [`CmaEs`]: every field of its state, floats exact.
#[derive(Serialize, Deserialize)]
struct Saved {
    rng: RngState,
    #[serde(with = "exact")]
    sigma0: f64,
    #[serde(with = "exact::vec")]
    mean: Vec<f64>,
    #[serde(with = "exact")]
    sigma: f64,
    #[serde(with = "exact::vecs")]
    c: Vec<Vec<f64>>,
    #[serde(with = "exact::vecs")]
    b: Vec<Vec<f64>>,
    #[serde(with = "exact::vec")]
    d: Vec<f64>,
    #[serde(with = "exact::vec")]
    pc: Vec<f64>,
    #[serde(with = "exact::vec")]
    ps: Vec<f64>,
    count_tell: usize,
    last_update: usize,
    countiter: usize,
    countevals: usize,
    fit: FitHistory,
    best: BestRecord,
    best_evals: usize,
    xstag: XStagnation,
    pending: Option<Generation>,
    #[serde(with = "exact::vecs")]
    injections: Vec<Vec<f64>>,
}

fn rows(m: &DMatrix<f64>) -> Vec<Vec<f64>> {
    (0..m.nrows()).map(|i| m.row(i).iter().copied().collect()).collect()
}

fn matrix(rows: &[Vec<f64>], n: usize) -> Option<DMatrix<f64>> {
    (rows.len() == n && rows.iter().all(|r| r.len() == n)).then(|| DMatrix::from_fn(n, n, |i, j| rows[i][j]))
}

impl CmaEs {
    /// The canonical type name.
    pub const NAME: &'static str = "cma-es";

    /// A strategy for one start context; the options must be valid and `x0` inside the bounds.
    pub fn new(config: &CmaEsConfig, ctx: &StartContext<'_>) -> Result<Self, OptimizerError> {
        config.validate()?;
        util::check_start(ctx)?;
        let n = ctx.bounds.dim();
        let lambda = config.popsize.unwrap_or_else(|| params::default_popsize(n));
        let params = Params::new(n, lambda, config.active.unwrap_or(true));
        let sigma0 = config
            .sigma0
            .unwrap_or_else(|| 0.25 * ctx.bounds.pairs().map(|(lo, hi)| hi - lo).sum::<f64>() / n as f64);
        let transform = BoundTransform::new(ctx.bounds);
        let mean = transform.inverse(ctx.x0);
        Ok(CmaEs {
            tol: config.tolerances(n, lambda),
            params,
            transform,
            rng: SeededRng::new(ctx.seed),
            sigma0,
            xstag: XStagnation::new(&mean),
            mean,
            sigma: sigma0,
            c: DMatrix::identity(n, n),
            b: DMatrix::identity(n, n),
            d: vec![1.0; n],
            pc: vec![0.0; n],
            ps: vec![0.0; n],
            count_tell: 0,
            last_update: 0,
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
        rows(&self.c)
    }

    /// The λ recombination weights.
    #[doc(hidden)]
    pub fn weights(&self) -> &[f64] {
        &self.params.weights
    }

    /// `B D^{-1} Bᵀ v`, that is `C^{-1/2} v` for the last decomposition.
    fn inverse_sqrt_times(&self, v: &[f64]) -> Vec<f64> {
        let n = self.params.n;
        let b = self.b.as_slice();
        let mut out = vec![0.0; n];
        // B is stored by columns: column k is b[k n .. (k + 1) n].
        for (col, &dk) in b.chunks_exact(n).zip(&self.d) {
            let coeff = col.iter().zip(v).map(|(a, x)| a * x).sum::<f64>() / dk;
            for (o, a) in out.iter_mut().zip(col) {
                *o += a * coeff;
            }
        }
        out
    }

    /// The sample `mean + σ B (D ∘ z)`: a standard normal vector `z` shaped by the last decomposition.
    fn shape(&self, z: &[f64]) -> Vec<f64> {
        let n = self.params.n;
        let mut y = vec![0.0; n];
        for ((col, &dk), &zk) in self.b.as_slice().chunks_exact(n).zip(&self.d).zip(z) {
            let coeff = dk * zk;
            for (o, a) in y.iter_mut().zip(col) {
                *o += a * coeff;
            }
        }
        for (v, m) in y.iter_mut().zip(&self.mean) {
            *v = m + self.sigma * *v;
        }
        y
    }

    /// Renews the eigendecomposition if enough updates of C have accumulated.
    fn decompose_if_due(&mut self) {
        if (self.count_tell as f64) < self.last_update as f64 + self.params.lazy_gap {
            return;
        }
        self.decompose();
    }

    fn decompose(&mut self) {
        let n = self.params.n;
        symmetrize(&mut self.c);
        let d_old_min = self.d.iter().copied().fold(f64::INFINITY, f64::min);
        let mut attempt = 0;
        let (values, vectors) = loop {
            let eig = SymmetricEigen::try_new(self.c.clone(), f64::EPSILON, 1000 * n.max(10));
            match eig {
                Some(e) if e.eigenvalues.iter().all(|&v| v > 0.0 && v.is_finite()) || attempt >= 3 => {
                    break (e.eigenvalues, e.eigenvectors);
                }
                Some(_) => {
                    // pycma's repair: lift the diagonal by the smallest previous eigenvalue and retry.
                    for i in 0..n {
                        self.c[(i, i)] += d_old_min * d_old_min;
                    }
                    attempt += 1;
                }
                None => return,
            }
        };
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        let floor = values.iter().copied().fold(0.0, f64::max) * 1e-30 + f64::MIN_POSITIVE;
        self.d = order.iter().map(|&k| values[k].max(floor).sqrt()).collect();
        self.b = DMatrix::from_fn(n, n, |i, j| vectors[(i, order[j])]);
        self.last_update = self.count_tell;
    }

    fn sample(&mut self) -> Generation {
        self.decompose_if_due();
        let (n, lambda) = (self.params.n, self.params.lambda);
        let mut geno: Vec<Vec<f64>> = Vec::with_capacity(lambda);
        let take = self.injections.len().min(lambda - 1);
        let injections: Vec<Vec<f64>> = self.injections.drain(..take).collect();
        for y in injections {
            let z = self.inverse_sqrt_times(&y);
            let length = z.iter().map(|v| v * v).sum::<f64>().sqrt() / self.sigma;
            let factor = if length > (n as f64).sqrt() {
                let mut r = vec![0.0; n];
                self.rng.fill_normal(&mut r);
                r.iter().map(|v| v * v).sum::<f64>().sqrt() / length
            } else {
                1.0
            };
            geno.push(self.mean.iter().zip(&y).map(|(m, v)| m + factor * v).collect());
        }
        let injected = geno.len();
        let mut z = vec![0.0; n * (lambda - injected)];
        self.rng.fill_normal(&mut z);
        for zk in z.chunks(n) {
            geno.push(self.shape(zk));
        }
        let pheno = geno.iter().map(|x| self.transform.transform(x)).collect();
        Generation { geno, pheno, injected }
    }

    /// Updates the distribution with a told generation; `values` are ranked values (non-finite as +inf).
    /// Returns them sorted.
    fn update(&mut self, generation: &Generation, values: &[f64]) -> Vec<f64> {
        let p = &self.params;
        let (n, lambda) = (p.n, values.len());
        let mut order: Vec<usize> = (0..lambda).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        let sorted: Vec<f64> = order.iter().map(|&i| values[i]).collect();
        self.fit.record(&sorted, self.countiter, n, lambda);

        let mean_old = std::mem::take(&mut self.mean);
        self.mean = (0..n)
            .map(|j| p.positive_weights().iter().zip(&order).map(|(w, &i)| w * generation.geno[i][j]).sum())
            .collect();
        let shift: Vec<f64> = self.mean.iter().zip(&mean_old).map(|(a, b)| a - b).collect();

        // Cumulation for the step size and the stall indicator h_σ.
        let z = self.inverse_sqrt_times(&shift);
        let (cs, cc, mueff) = (p.cs, p.cc, p.mueff);
        for (ps, zi) in self.ps.iter_mut().zip(&z) {
            *ps = (1.0 - cs) * *ps + (cs * (2.0 - cs)).sqrt() * zi * mueff.sqrt() / self.sigma;
        }
        let ps_sq: f64 = self.ps.iter().map(|v| v * v).sum();
        let corrected = ps_sq / (1.0 - (1.0 - cs).powi(2 * self.countiter as i32));
        let hsig = if corrected / n as f64 - 1.0 < 1.0 + 4.0 / (n as f64 + 1.0) { 1.0 } else { 0.0 };
        let c1a = p.c1 * (1.0 - (1.0 - hsig) * cc * (2.0 - cc));
        for (pc, s) in self.pc.iter_mut().zip(&shift) {
            *pc = (1.0 - cc) * *pc + hsig * (cc * (2.0 - cc) * mueff).sqrt() * s / self.sigma;
        }

        // Covariance matrix: decay, rank-one and rank-μ (with active) terms.
        if c1a + p.cmu > 0.0 {
            let mut weights: Vec<f64> =
                p.weights[..lambda.min(p.weights.len())].iter().map(|w| p.cmu * w).collect();
            weights.resize(lambda, 0.0);
            for (w, &i) in weights.iter_mut().zip(&order) {
                if i < generation.injected && *w < 0.0 {
                    *w = 0.0;
                }
            }
            let decay = 1.0 - c1a - weights.iter().sum::<f64>();
            self.c *= decay;
            let f = (p.c1 / (c1a + 1e-23)).sqrt();
            let v0: Vec<f64> = self.pc.iter().map(|v| f * v).collect();
            add_outer(&mut self.c, c1a, &v0);
            for (w, &i) in weights.iter().zip(&order) {
                if *w == 0.0 {
                    continue;
                }
                let y: Vec<f64> =
                    generation.geno[i].iter().zip(&mean_old).map(|(a, b)| (a - b) / self.sigma).collect();
                let mut w = *w;
                if w < 0.0 {
                    let norm = self.inverse_sqrt_times(&y).iter().map(|v| v * v).sum::<f64>().sqrt();
                    w *= n as f64 / (norm + 1e-9).powi(2);
                }
                add_outer(&mut self.c, w, &y);
            }
            symmetrize(&mut self.c);
            self.count_tell += 1;
        }

        // Cumulative step-size adaptation, the change clipped to a factor of e as pycma does.
        let norm_ps = ps_sq.sqrt();
        let change = (p.cs / p.damps * (norm_ps / p.chi_n - 1.0)).clamp(-1.0, 1.0);
        self.sigma *= change.exp();
        self.xstag.update(&self.mean);
        sorted
    }

    fn state_is_finite(&self) -> bool {
        self.sigma.is_finite()
            && self.sigma > 0.0
            && self.mean.iter().chain(&self.pc).chain(&self.ps).all(|v| v.is_finite())
            && self.c.iter().all(|v| v.is_finite())
    }
}

fn symmetrize(c: &mut DMatrix<f64>) {
    let n = c.nrows();
    for i in 0..n {
        for j in 0..i {
            let v = 0.5 * (c[(i, j)] + c[(j, i)]);
            c[(i, j)] = v;
            c[(j, i)] = v;
        }
    }
}

fn add_outer(c: &mut DMatrix<f64>, w: f64, v: &[f64]) {
    let n = v.len();
    // C is stored by columns: column j is c[j n .. (j + 1) n].
    for (col, &vj) in c.as_mut_slice().chunks_exact_mut(n).zip(v) {
        let f = w * vj;
        for (cij, &vi) in col.iter_mut().zip(v) {
            *cij += f * vi;
        }
    }
}

impl Optimizer for CmaEs {
    fn name(&self) -> &str {
        Self::NAME
    }

    /// A new population of λ points inside the bounds; asking again before telling returns the same one.
    fn ask(&mut self) -> Result<Vec<Vec<f64>>, OptimizerError> {
        if self.pending.is_none() {
            self.pending = Some(self.sample());
        }
        Ok(self.pending.as_ref().map(|g| g.pheno.clone()).unwrap_or_default())
    }

    fn tell(&mut self, evals: &[Evaluation]) -> Result<Status, OptimizerError> {
        util::check_tell(self.pending.as_ref().map(|g| g.pheno.as_slice()), evals)?;
        let Some(generation) = self.pending.take() else {
            return Err(OptimizerError::Protocol("tell was called without a pending ask".into()));
        };
        let values: Vec<f64> = evals.iter().map(|e| rank_value(e.fx)).collect();
        for (i, (x, e)) in generation.pheno.iter().zip(evals).enumerate() {
            if self.best.offer(x, e.fx) {
                self.best_evals = self.countevals + i + 1;
            }
        }
        self.countiter += 1;
        self.countevals += evals.len();

        let before = (self.mean.clone(), self.sigma, self.c.clone(), self.pc.clone(), self.ps.clone());
        let sorted = self.update(&generation, &values);
        if !self.state_is_finite() {
            // Only an absurd run (σ grown for thousands of generations) gets here; keep the last sane state.
            (self.mean, self.sigma, self.c, self.pc, self.ps) = before;
            return Ok(Status::Converged("numerics".into()));
        }

        let view = View {
            n: self.params.n,
            lambda: self.params.lambda,
            countiter: self.countiter,
            countevals: self.countevals,
            best_evals: self.best_evals,
            sigma: self.sigma,
            sigma0: self.sigma0,
            mean: &self.mean,
            pc: &self.pc,
            c: &self.c,
            d: &self.d,
            b: &self.b,
            fit: &sorted,
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
        let saved = Saved {
            rng: self.rng.state(),
            sigma0: self.sigma0,
            mean: self.mean.clone(),
            sigma: self.sigma,
            c: rows(&self.c),
            b: rows(&self.b),
            d: self.d.clone(),
            pc: self.pc.clone(),
            ps: self.ps.clone(),
            count_tell: self.count_tell,
            last_update: self.last_update,
            countiter: self.countiter,
            countevals: self.countevals,
            fit: self.fit.clone(),
            best: self.best.clone(),
            best_evals: self.best_evals,
            xstag: self.xstag.clone(),
            pending: self.pending.clone(),
            injections: self.injections.clone(),
        };
        util::save_state(Self::NAME, &saved)
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), OptimizerError> {
        let s: Saved = util::load_state(Self::NAME, state)?;
        let (n, lambda) = (self.params.n, self.params.lambda);
        let bad = |message: String| OptimizerError::BadState { optimizer: Self::NAME.into(), message };
        let vectors_fit = [&s.mean, &s.d, &s.pc, &s.ps].iter().all(|v| v.len() == n)
            && s.injections.iter().all(|v| v.len() == n)
            && s.xstag.dim() == n
            && s.best.get().is_none_or(|e| e.x.len() == n);
        let pending_fits = s.pending.as_ref().is_none_or(|g| {
            g.geno.len() == lambda
                && g.pheno.len() == lambda
                && g.injected < lambda
                && g.geno.iter().chain(&g.pheno).all(|x| x.len() == n)
        });
        let (Some(c), Some(b)) = (matrix(&s.c, n), matrix(&s.b, n)) else {
            return Err(bad(format!("the covariance matrix is not {n} x {n}")));
        };
        if !vectors_fit || !pending_fits {
            return Err(bad(format!("the state does not fit dimension {n} and population size {lambda}")));
        }
        self.rng = SeededRng::from_state(&s.rng).map_err(bad)?;
        self.sigma0 = s.sigma0;
        self.mean = s.mean;
        self.sigma = s.sigma;
        self.c = c;
        self.b = b;
        self.d = s.d;
        self.pc = s.pc;
        self.ps = s.ps;
        self.count_tell = s.count_tell;
        self.last_update = s.last_update;
        self.countiter = s.countiter;
        self.countevals = s.countevals;
        self.fit = s.fit;
        self.best = s.best;
        self.best_evals = s.best_evals;
        self.xstag = s.xstag;
        self.pending = s.pending;
        self.injections = s.injections;
        Ok(())
    }
}
