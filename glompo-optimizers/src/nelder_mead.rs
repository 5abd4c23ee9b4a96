//! Bounded Nelder–Mead simplex search as an ask/tell state machine.
//!
//! The algorithm follows SciPy's `minimize(method="Nelder-Mead")`, bounded variant: every vertex and
//! every asked point is clipped into the bounds. One iteration asks one reflection point and then, as
//! needed, one expansion or contraction point, or a shrink batch of `n` points; the initial simplex is
//! one batch of `n + 1` points. Failed (non-finite) values count as `+inf`.
//!
//! - **Initial simplex**: `x0` and, for each coordinate `i`, `x0 + s_i e_i` with the step
//!   `s_i = 0.05 · max(|x0_i|, w_i / 10)` (`w_i` the bound width): SciPy's 5 % of `x0_i`, except that a
//!   coordinate near zero, relative to its box, takes 0.5 % of the width instead of SciPy's absolute
//!   0.00025. With the option `initial_step = s`, `s_i = s · w_i`. A vertex that would leave the box
//!   steps the other way, and is clipped if that leaves it too.
//! - **Coefficients**: reflection ρ = 1, expansion χ, contraction ψ, shrink σ. With `adaptive` (the
//!   default) they are Gao & Han's (2012) χ = 1 + 2/n, ψ = 0.75 − 1/(2n), σ = 1 − 1/n, which equal the
//!   standard 2, 0.5, 0.5 at n = 2 and scale better in higher dimensions; at n = 1 they degenerate
//!   (σ = 0), so one dimension always uses the standard ones.
//! - **Convergence** (`xatol`, `fatol`, SciPy's test and defaults 1e-4): every vertex within `xatol` of
//!   the best one in every coordinate and every value within `fatol` of the best value. Both must hold;
//!   the reason reported is `fatol` if the vertices were already within `xatol` at the previous
//!   iteration (the value test was the last to hold), else `xatol`. `max_iters`
//!   (default none: the manager's checkers bound the budget) reports `max_iters`.

use glompo_core::{Bounds, Evaluation, Optimizer, OptimizerError, OptimizerFactory, StartContext, Status};
use serde::{Deserialize, Serialize};

use crate::util::{self, BestRecord, exact, rank_value};

/// The options of [`NelderMead`], as written in a config entry of type `nelder-mead`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NelderMeadConfig {
    /// Absolute tolerance on vertex coordinates; default 1e-4 (SciPy's). At least 0.
    pub xatol: Option<f64>,
    /// Absolute tolerance on vertex values; default 1e-4 (SciPy's). At least 0.
    pub fatol: Option<f64>,
    /// Gao & Han's dimension-dependent coefficients; default `true`.
    pub adaptive: Option<bool>,
    /// The initial simplex step as a fraction of each bound width, in `(0, 1]`; by default the step is
    /// derived from `x0` as described in the [module docs](self).
    pub initial_step: Option<f64>,
    /// Iterations after which the search stops with `max_iters`; default none. At least 1.
    pub max_iters: Option<usize>,
}

impl NelderMeadConfig {
    /// The default of `xatol` and `fatol`, SciPy's.
    pub const DEFAULT_TOL: f64 = 1e-4;

    /// The option names, as accepted in a config entry.
    pub const OPTIONS: &'static [&'static str] = &["xatol", "fatol", "adaptive", "initial_step", "max_iters"];

    /// Checks every option; the error names the first invalid one.
    pub fn validate(&self) -> Result<(), OptimizerError> {
        for (name, v) in [("xatol", self.xatol), ("fatol", self.fatol)] {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(OptimizerError::invalid_option(name, format!("{v} is not a finite value >= 0")));
            }
        }
        if let Some(s) = self.initial_step.filter(|s| !(s.is_finite() && *s > 0.0 && *s <= 1.0)) {
            return Err(OptimizerError::invalid_option("initial_step", format!("{s} is not in (0, 1]")));
        }
        if self.max_iters == Some(0) {
            return Err(OptimizerError::invalid_option("max_iters", "must be at least 1"));
        }
        Ok(())
    }
}

util::config_factory!(
    /// Builds [`NelderMead`] optimizers.
    NelderMeadFactory, NelderMeadConfig
);

impl OptimizerFactory for NelderMeadFactory {
    fn name(&self) -> &str {
        NelderMead::NAME
    }

    /// The resolved options; `initial_step` and `max_iters` are `null` when unset.
    fn settings(&self) -> serde_json::Value {
        let c = &self.config;
        serde_json::json!({
            "xatol": c.xatol.unwrap_or(NelderMeadConfig::DEFAULT_TOL),
            "fatol": c.fatol.unwrap_or(NelderMeadConfig::DEFAULT_TOL),
            "adaptive": c.adaptive.unwrap_or(true),
            "initial_step": c.initial_step,
            "max_iters": c.max_iters,
        })
    }

    fn build(&self, ctx: &StartContext<'_>) -> Result<Box<dyn Optimizer>, OptimizerError> {
        Ok(Box::new(NelderMead::new(&self.config, ctx)?))
    }
}

/// The four simplex coefficients.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Coefficients {
    reflect: f64,
    expand: f64,
    contract: f64,
    shrink: f64,
}

impl Coefficients {
    fn new(n: usize, adaptive: bool) -> Self {
        if adaptive && n >= 2 {
            let n = n as f64;
            Coefficients {
                reflect: 1.0,
                expand: 1.0 + 2.0 / n,
                contract: 0.75 - 0.5 / n,
                shrink: 1.0 - 1.0 / n,
            }
        } else {
            Coefficients { reflect: 1.0, expand: 2.0, contract: 0.5, shrink: 0.5 }
        }
    }
}

/// Where the state machine stands: which point(s) it waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
enum Phase {
    /// The `n + 1` vertices of the initial simplex.
    Initial,
    /// The reflection of the worst vertex.
    Reflect,
    /// The expansion, after a reflection better than the best vertex.
    Expand {
        #[serde(with = "exact::vec")]
        xr: Vec<f64>,
        #[serde(with = "exact")]
        fxr: f64,
    },
    /// The outside contraction, after a reflection between the second-worst and the worst vertex.
    OutsideContract {
        #[serde(with = "exact::vec")]
        xr: Vec<f64>,
        #[serde(with = "exact")]
        fxr: f64,
    },
    /// The inside contraction, after a reflection no better than the worst vertex.
    InsideContract,
    /// The `n` shrunk vertices.
    Shrink,
    /// An injected point, evaluated between iterations.
    Inject,
}

/// Everything that changes while the search runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    /// The vertices, sorted by value at every iteration boundary.
    #[serde(with = "exact::vecs")]
    sim: Vec<Vec<f64>>,
    /// Their values, `+inf` for failures.
    #[serde(with = "exact::vec")]
    fsim: Vec<f64>,
    phase: Phase,
    /// The points of the current phase.
    #[serde(with = "exact::vecs")]
    pending: Vec<Vec<f64>>,
    /// Whether `pending` has been handed out by `ask`.
    asked: bool,
    /// An injected point waiting for the next iteration boundary.
    #[serde(with = "exact::vecs")]
    injected: Vec<Vec<f64>>,
    iterations: usize,
    /// Whether the vertices were within `xatol` of the best one at the previous boundary.
    x_close_before: bool,
    best: BestRecord,
}

/// Bounded Nelder–Mead; see the [module docs](self) for the algorithm and its options.
///
/// ```
/// use glompo_core::{Bounds, Evaluation, Optimizer, OptimizerFactory, StartContext, Status};
/// use glompo_optimizers::{NelderMeadConfig, NelderMeadFactory};
///
/// let bounds = Bounds::uniform(3, -5.0, 5.0).unwrap();
/// let factory = NelderMeadFactory::new(NelderMeadConfig { xatol: Some(1e-6), fatol: Some(1e-10),
///                                                         ..Default::default() }).unwrap();
/// let ctx = StartContext { opt_id: 1, x0: &[1.0, -2.0, 0.5], bounds: &bounds, seed: 0, workers: 1 };
/// let mut opt = factory.build(&ctx).unwrap();
/// let sphere = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>();
/// let reason = loop {
///     let batch = opt.ask().unwrap();
///     let evals: Vec<Evaluation> = batch.into_iter().map(|x| Evaluation { fx: sphere(&x), x }).collect();
///     if let Status::Converged(reason) = opt.tell(&evals).unwrap() {
///         break reason;
///     }
/// };
/// assert!(reason == "xatol" || reason == "fatol");
/// assert!(opt.best().unwrap().fx < 1e-8);
/// ```
#[derive(Debug)]
pub struct NelderMead {
    bounds: Bounds,
    coef: Coefficients,
    xatol: f64,
    fatol: f64,
    max_iters: Option<usize>,
    state: State,
}

impl NelderMead {
    /// The canonical type name.
    pub const NAME: &'static str = "nelder-mead";

    /// A search for one start context; the options must be valid and `x0` inside the bounds.
    pub fn new(config: &NelderMeadConfig, ctx: &StartContext<'_>) -> Result<Self, OptimizerError> {
        config.validate()?;
        util::check_start(ctx)?;
        let n = ctx.bounds.dim();
        util::check_state_size(
            "type",
            (n as f64 + 1.0) * n as f64,
            &format!("nelder-mead holds a simplex of {} points × {n} dimensions", n + 1),
        )?;
        let x0 = ctx.x0.to_vec();
        let mut sim = vec![x0.clone()];
        for (i, (lo, hi)) in ctx.bounds.pairs().enumerate() {
            let width = hi - lo;
            let step = match config.initial_step {
                Some(s) => s * width,
                None => 0.05 * x0[i].abs().max(0.1 * width),
            };
            let mut y = x0.clone();
            y[i] = if x0[i] + step <= hi {
                x0[i] + step
            } else if x0[i] - step >= lo {
                x0[i] - step
            } else if hi - x0[i] >= x0[i] - lo {
                hi
            } else {
                lo
            };
            sim.push(y);
        }
        Ok(NelderMead {
            bounds: ctx.bounds.clone(),
            coef: Coefficients::new(n, config.adaptive.unwrap_or(true)),
            xatol: config.xatol.unwrap_or(NelderMeadConfig::DEFAULT_TOL),
            fatol: config.fatol.unwrap_or(NelderMeadConfig::DEFAULT_TOL),
            max_iters: config.max_iters,
            state: State {
                pending: sim.clone(),
                fsim: vec![f64::INFINITY; n + 1],
                sim,
                phase: Phase::Initial,
                asked: false,
                injected: Vec::new(),
                iterations: 0,
                x_close_before: false,
                best: BestRecord::default(),
            },
        })
    }

    /// The vertices and their values (`+inf` for failures); sorted at every iteration boundary.
    #[doc(hidden)]
    pub fn simplex(&self) -> (&[Vec<f64>], &[f64]) {
        (&self.state.sim, &self.state.fsim)
    }

    /// Whether the last `tell` completed an iteration (or the initial simplex), so that the simplex is
    /// sorted.
    #[doc(hidden)]
    pub fn at_iteration_boundary(&self) -> bool {
        matches!(self.state.phase, Phase::Reflect | Phase::Inject)
    }

    /// The number of completed iterations.
    pub fn iterations(&self) -> usize {
        self.state.iterations
    }

    /// `(1 - t) · centroid + t · worst`, clipped into the bounds; `t = -ρ` reflects, `t = -ρχ` expands,
    /// `t = -ψρ` contracts outside and `t = ψ` inside.
    fn towards_worst(&self, t: f64) -> Vec<f64> {
        let n = self.bounds.dim();
        let s = &self.state.sim;
        let mut x: Vec<f64> = (0..n)
            .map(|j| {
                let centroid = s[..n].iter().map(|v| v[j]).sum::<f64>() / n as f64;
                (1.0 - t) * centroid + t * s[n][j]
            })
            .collect();
        self.bounds.clip(&mut x);
        x
    }

    fn enter(&mut self, phase: Phase, pending: Vec<Vec<f64>>) {
        self.state.phase = phase;
        self.state.pending = pending;
        self.state.asked = false;
    }

    fn accept_worst(&mut self, x: Vec<f64>, fx: f64) {
        let n = self.bounds.dim();
        self.state.sim[n] = x;
        self.state.fsim[n] = fx;
    }

    /// Sorts the simplex, checks convergence and enters the next phase: an injected point if one waits,
    /// else the next reflection.
    fn settle(&mut self) -> Status {
        let mut order: Vec<usize> = (0..self.state.fsim.len()).collect();
        order.sort_by(|&a, &b| self.state.fsim[a].total_cmp(&self.state.fsim[b]));
        self.state.sim = order.iter().map(|&i| self.state.sim[i].clone()).collect();
        self.state.fsim = order.iter().map(|&i| self.state.fsim[i]).collect();

        let (sim, fsim) = (&self.state.sim, &self.state.fsim);
        let x_close =
            sim[1..].iter().all(|v| v.iter().zip(&sim[0]).all(|(a, b)| (a - b).abs() <= self.xatol));
        let f_close = fsim[1..].iter().all(|f| (fsim[0] - f).abs() <= self.fatol);
        // Both tolerances must hold; the reason names the one that held last (`fatol` when the vertices
        // were already close at the previous boundary).
        let reason = if self.state.x_close_before { "fatol" } else { "xatol" };
        self.state.x_close_before = x_close;
        let status = if x_close && f_close {
            Status::Converged(reason.into())
        } else if self.max_iters.is_some_and(|m| self.state.iterations >= m) {
            Status::Converged("max_iters".into())
        } else {
            Status::Running
        };

        if self.state.injected.is_empty() {
            let xr = self.towards_worst(-self.coef.reflect);
            self.enter(Phase::Reflect, vec![xr]);
        } else {
            let x = self.state.injected.remove(0);
            self.enter(Phase::Inject, vec![x]);
        }
        status
    }

    fn finish_iteration(&mut self) -> Status {
        self.state.iterations += 1;
        self.settle()
    }

    fn shrink(&mut self) {
        let n = self.bounds.dim();
        let best = self.state.sim[0].clone();
        let points = self.state.sim[1..=n]
            .iter()
            .map(|v| {
                let mut y: Vec<f64> =
                    v.iter().zip(&best).map(|(a, b)| b + self.coef.shrink * (a - b)).collect();
                self.bounds.clip(&mut y);
                y
            })
            .collect();
        self.enter(Phase::Shrink, points);
    }
}

impl Optimizer for NelderMead {
    fn name(&self) -> &str {
        Self::NAME
    }

    /// The points of the current phase; asking again before telling returns the same points.
    fn ask(&mut self) -> Result<Vec<Vec<f64>>, OptimizerError> {
        self.state.asked = true;
        Ok(self.state.pending.clone())
    }

    fn tell(&mut self, evals: &[Evaluation]) -> Result<Status, OptimizerError> {
        let pending = self.state.asked.then_some(self.state.pending.as_slice());
        util::check_tell(pending, evals)?;
        let asked = std::mem::take(&mut self.state.pending);
        for (x, e) in asked.iter().zip(evals) {
            self.state.best.offer(x, e.fx);
        }
        let values: Vec<f64> = evals.iter().map(|e| rank_value(e.fx)).collect();
        let n = self.bounds.dim();
        let c = self.coef;
        let mut points = asked.into_iter();
        let mut first = || points.next().unwrap_or_default();
        let status = match std::mem::replace(&mut self.state.phase, Phase::Initial) {
            Phase::Initial => {
                self.state.sim = (0..=n).map(|_| first()).collect();
                self.state.fsim = values;
                self.settle()
            }
            Phase::Inject => {
                if values[0] < self.state.fsim[n] {
                    self.accept_worst(first(), values[0]);
                }
                self.settle()
            }
            Phase::Reflect => {
                let (xr, fxr) = (first(), values[0]);
                if fxr < self.state.fsim[0] {
                    let xe = self.towards_worst(-c.reflect * c.expand);
                    self.enter(Phase::Expand { xr, fxr }, vec![xe]);
                    Status::Running
                } else if fxr < self.state.fsim[n - 1] {
                    self.accept_worst(xr, fxr);
                    self.finish_iteration()
                } else if fxr < self.state.fsim[n] {
                    let xc = self.towards_worst(-c.contract * c.reflect);
                    self.enter(Phase::OutsideContract { xr, fxr }, vec![xc]);
                    Status::Running
                } else {
                    let xcc = self.towards_worst(c.contract);
                    self.enter(Phase::InsideContract, vec![xcc]);
                    Status::Running
                }
            }
            Phase::Expand { xr, fxr } => {
                if values[0] < fxr {
                    self.accept_worst(first(), values[0]);
                } else {
                    self.accept_worst(xr, fxr);
                }
                self.finish_iteration()
            }
            Phase::OutsideContract { fxr, .. } => {
                if values[0] <= fxr {
                    self.accept_worst(first(), values[0]);
                    self.finish_iteration()
                } else {
                    self.shrink();
                    Status::Running
                }
            }
            Phase::InsideContract => {
                if values[0] < self.state.fsim[n] {
                    self.accept_worst(first(), values[0]);
                    self.finish_iteration()
                } else {
                    self.shrink();
                    Status::Running
                }
            }
            Phase::Shrink => {
                for (k, f) in values.into_iter().enumerate() {
                    self.state.sim[k + 1] = first();
                    self.state.fsim[k + 1] = f;
                }
                self.finish_iteration()
            }
        };
        Ok(status)
    }

    fn best(&self) -> Option<Evaluation> {
        self.state.best.get().cloned()
    }

    /// Evaluates `x` (clipped into the bounds) at the next iteration boundary, or at once if the
    /// optimizer stands at one and has not handed out its next point yet; the point replaces the worst
    /// vertex if its value, as evaluated here, is better. `fx` only filters: a non-finite value, or one no
    /// better than the worst vertex, is ignored, as is a point of the wrong dimension. Only the newest
    /// injection is kept.
    fn inject(&mut self, x: &[f64], fx: f64) {
        let n = self.bounds.dim();
        if x.len() != n || !fx.is_finite() || x.iter().any(|v| !v.is_finite()) {
            return;
        }
        if self.state.phase != Phase::Initial && fx >= self.state.fsim[n] {
            return;
        }
        let mut x = x.to_vec();
        self.bounds.clip(&mut x);
        if self.state.phase == Phase::Reflect && !self.state.asked {
            self.enter(Phase::Inject, vec![x]);
        } else {
            self.state.injected = vec![x];
        }
    }

    fn save(&self) -> Result<serde_json::Value, OptimizerError> {
        util::save_state(Self::NAME, &self.state)
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), OptimizerError> {
        let state: State = util::load_state(Self::NAME, state)?;
        let n = self.bounds.dim();
        let ok = state.sim.len() == n + 1
            && state.fsim.len() == n + 1
            && state.sim.iter().chain(&state.pending).chain(&state.injected).all(|x| x.len() == n)
            && match &state.phase {
                Phase::Initial => state.pending.len() == n + 1,
                Phase::Shrink => state.pending.len() == n,
                Phase::Expand { xr, .. } | Phase::OutsideContract { xr, .. } => {
                    xr.len() == n && state.pending.len() == 1
                }
                _ => state.pending.len() == 1,
            };
        if !ok {
            return Err(OptimizerError::BadState {
                optimizer: Self::NAME.into(),
                message: format!("the simplex does not fit {n} dimensions"),
            });
        }
        self.state = state;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nm(config: NelderMeadConfig, x0: &[f64], bounds: &Bounds) -> NelderMead {
        NelderMead::new(&config, &StartContext { opt_id: 1, x0, bounds, seed: 0, workers: 1 }).unwrap()
    }

    #[test]
    fn coefficients() {
        assert_eq!(Coefficients::new(2, true), Coefficients::new(2, false));
        assert_eq!(Coefficients::new(1, true), Coefficients::new(1, false));
        let c = Coefficients::new(4, true);
        assert_eq!((c.expand, c.contract, c.shrink), (1.5, 0.625, 0.75));
    }

    #[test]
    fn initial_simplex_stays_in_bounds_and_is_not_degenerate() {
        let bounds = Bounds::new([(0.0, 1.0), (-10.0, 10.0), (5.0, 5.001)]).unwrap();
        let mut opt = nm(NelderMeadConfig::default(), &[1.0, 0.0, 5.0005], &bounds);
        let batch = opt.ask().unwrap();
        assert_eq!(batch.len(), 4);
        assert!(batch.iter().all(|x| bounds.contains(x)));
        assert_eq!(batch[1][0], 0.95, "steps back from the upper bound");
        assert_eq!(batch[2][1], 0.1, "0.5 % of the width near zero");
        assert_eq!(batch[3][2], 5.001, "a step longer than the box goes to the farther bound");
        for (i, v) in batch[1..].iter().enumerate() {
            assert_ne!(v[i], batch[0][i]);
        }
    }

    #[test]
    fn failures_count_as_worst_and_trigger_contraction() {
        let bounds = Bounds::uniform(2, -5.0, 5.0).unwrap();
        let mut opt = nm(NelderMeadConfig::default(), &[1.0, 1.0], &bounds);
        let batch = opt.ask().unwrap();
        let evals: Vec<Evaluation> =
            batch.into_iter().enumerate().map(|(i, x)| Evaluation { fx: i as f64, x }).collect();
        assert_eq!(opt.tell(&evals).unwrap(), Status::Running);
        let xr = opt.ask().unwrap();
        opt.tell(&[Evaluation { x: xr[0].clone(), fx: f64::NAN }]).unwrap();
        assert_eq!(opt.state.phase, Phase::InsideContract);
        assert!(opt.best().unwrap().fx.is_finite());
    }

    #[test]
    fn injection_replaces_worst_vertex_when_better() {
        let bounds = Bounds::uniform(2, -5.0, 5.0).unwrap();
        let mut opt = nm(NelderMeadConfig::default(), &[1.0, 1.0], &bounds);
        let batch = opt.ask().unwrap();
        let evals: Vec<Evaluation> = batch.into_iter().map(|x| Evaluation { fx: x[0] + x[1], x }).collect();
        opt.tell(&evals).unwrap();
        opt.inject(&[-9.0, 0.0], -5.0);
        let asked = opt.ask().unwrap();
        assert_eq!(asked, vec![vec![-5.0, 0.0]]);
        opt.tell(&[Evaluation { x: asked[0].clone(), fx: -5.0 }]).unwrap();
        assert_eq!(opt.simplex().0[0], vec![-5.0, 0.0]);
        assert!(opt.at_iteration_boundary());
    }
}
