//! Coordinate search: one global line search per coordinate, the others held fixed.
//!
//! A sweep visits the coordinates in order. For coordinate `i` of width `w_i` it asks, as one batch,
//! a grid of `grid` values spanning the whole interval, `lo_i + (k + u) w_i / grid` for
//! `k = 0 … grid − 1` with a random phase `u ∈ [0, 1)` drawn per line (so no grid favours the centre
//! of the box). The grid's local minima (the current value among them) are its candidates: the
//! `candidates` best are refined side by side, one point each per batch, by golden sections on the
//! two grid cells around them until their brackets are below an eighth of a cell. A grid ranks basins
//! only to within the variation of the function over a cell, which is why several are refined, not
//! the best grid value alone. Around the best value seen on the line one more golden section runs
//! until its bracket is below `xtol · w_i`, and coordinate `i` moves to the best value of the line.
//! The first batch also holds `x0`, so the current point's value is always known, and a line never
//! makes it worse.
//!
//! On a separable function (a sum of one-dimensional terms, however multimodal: Rastrigin,
//! Schwefel) one sweep finds the global minimum of every term to the grid's resolution; on others
//! it is a cheap first look at the landscape, which is why the default strategy starts one before
//! CMA-ES. It converges with `max_sweeps` after that many sweeps (default 2: the second tells
//! whether moving one coordinate at a time still gains anything), or with `ftol` when a sweep
//! improved the value by at most `ftol · max(1, |f|)`. With the defaults a line costs about 100
//! evaluations (32 for the grid, up to 5 × 8 for the candidates, 30 for the refinement), a sweep
//! `100 n` in `n` dimensions. Failed (non-finite) values count as `+inf`. Injected points are ignored.

use glompo_core::{
    Bounds, Evaluation, Optimizer, OptimizerError, OptimizerFactory, SeededRng, StartContext, Status,
};
use serde::{Deserialize, Serialize};

use crate::util::{self, BestRecord, exact, rank_value};

/// The options of [`CoordinateSearch`], as written in a config entry of type `coordinate-search`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinateSearchConfig {
    /// Grid values per line, asked as one batch; default 32. At least 2.
    pub grid: Option<usize>,
    /// The best local minima of a line's grid that are refined side by side; default 5. At least 1.
    pub candidates: Option<usize>,
    /// The golden-section search of a line ends when its bracket is below `xtol` times the coordinate's
    /// bound width; default 1e-8. In (0, 1).
    pub xtol: Option<f64>,
    /// Sweeps after which the search converges (`max_sweeps`); default 2. At least 1.
    pub max_sweeps: Option<usize>,
    /// A sweep that improved the value by at most `ftol · max(1, |f|)` ends the search (`ftol`);
    /// default 1e-12. At least 0.
    pub ftol: Option<f64>,
}

impl CoordinateSearchConfig {
    /// The default of [`CoordinateSearchConfig::grid`].
    pub const DEFAULT_GRID: usize = 32;
    /// The default of [`CoordinateSearchConfig::candidates`].
    pub const DEFAULT_CANDIDATES: usize = 5;
    /// The default of [`CoordinateSearchConfig::xtol`].
    pub const DEFAULT_XTOL: f64 = 1e-8;
    /// The default of [`CoordinateSearchConfig::max_sweeps`].
    pub const DEFAULT_MAX_SWEEPS: usize = 2;
    /// The default of [`CoordinateSearchConfig::ftol`].
    pub const DEFAULT_FTOL: f64 = 1e-12;

    /// The option names, as accepted in a config entry.
    pub const OPTIONS: &'static [&'static str] = &["grid", "candidates", "xtol", "max_sweeps", "ftol"];

    /// Checks every option; the error names the first invalid one.
    pub fn validate(&self) -> Result<(), OptimizerError> {
        if let Some(g) = self.grid.filter(|g| *g < 2) {
            return Err(OptimizerError::invalid_option("grid", format!("{g} is below 2")));
        }
        if self.candidates == Some(0) {
            return Err(OptimizerError::invalid_option("candidates", "must be at least 1"));
        }
        if let Some(t) = self.xtol.filter(|t| !(t.is_finite() && *t > 0.0 && *t < 1.0)) {
            return Err(OptimizerError::invalid_option("xtol", format!("{t} is not in (0, 1)")));
        }
        if self.max_sweeps == Some(0) {
            return Err(OptimizerError::invalid_option("max_sweeps", "must be at least 1"));
        }
        if let Some(t) = self.ftol.filter(|t| !(t.is_finite() && *t >= 0.0)) {
            return Err(OptimizerError::invalid_option("ftol", format!("{t} is not a finite value >= 0")));
        }
        Ok(())
    }

    fn resolved(&self) -> Resolved {
        Resolved {
            grid: self.grid.unwrap_or(Self::DEFAULT_GRID),
            candidates: self.candidates.unwrap_or(Self::DEFAULT_CANDIDATES),
            xtol: self.xtol.unwrap_or(Self::DEFAULT_XTOL),
            max_sweeps: self.max_sweeps.unwrap_or(Self::DEFAULT_MAX_SWEEPS),
            ftol: self.ftol.unwrap_or(Self::DEFAULT_FTOL),
        }
    }
}

/// The options with their defaults filled in.
struct Resolved {
    grid: usize,
    candidates: usize,
    xtol: f64,
    max_sweeps: usize,
    ftol: f64,
}

util::config_factory!(
    /// Builds [`CoordinateSearch`] optimizers.
    CoordinateSearchFactory, CoordinateSearchConfig
);

impl OptimizerFactory for CoordinateSearchFactory {
    fn name(&self) -> &str {
        CoordinateSearch::NAME
    }

    /// The resolved options.
    fn settings(&self) -> serde_json::Value {
        let r = self.config.resolved();
        serde_json::json!({
            "grid": r.grid,
            "candidates": r.candidates,
            "xtol": r.xtol,
            "max_sweeps": r.max_sweeps,
            "ftol": r.ftol,
        })
    }

    fn build(&self, ctx: &StartContext<'_>) -> Result<Box<dyn Optimizer>, OptimizerError> {
        Ok(Box::new(CoordinateSearch::new(&self.config, ctx)?))
    }
}

/// 1/φ, the golden section's shrink factor per step.
const INV_PHI: f64 = 0.618_033_988_749_894_9;

/// A candidate's golden section ends when its bracket is below this fraction of a grid cell.
const CANDIDATE_TOL: f64 = 1.0 / 8.0;

/// One golden-section search on `[a, b]` with interior points `c < d`, along the current coordinate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Golden {
    #[serde(with = "exact")]
    a: f64,
    #[serde(with = "exact")]
    b: f64,
    #[serde(with = "exact")]
    c: f64,
    #[serde(with = "exact")]
    d: f64,
    #[serde(with = "exact")]
    fc: f64,
    #[serde(with = "exact")]
    fd: f64,
    /// The interior points the pending batch holds for it: none once it has ended.
    awaiting: Awaiting,
}

/// Which interior points of a golden section the pending batch holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Awaiting {
    /// Both `c` and `d` (the first step).
    Both,
    /// The new lower point `c`.
    Lower,
    /// The new upper point `d`.
    Upper,
    /// Nothing: the bracket is below its tolerance.
    Done,
}

impl Golden {
    fn new(a: f64, b: f64) -> Self {
        let (c, d) = (b - INV_PHI * (b - a), a + INV_PHI * (b - a));
        Golden { a, b, c, d, fc: f64::NAN, fd: f64::NAN, awaiting: Awaiting::Both }
    }

    /// The coordinate values it waits for.
    fn pending(&self) -> Vec<f64> {
        match self.awaiting {
            Awaiting::Both => vec![self.c, self.d],
            Awaiting::Lower => vec![self.c],
            Awaiting::Upper => vec![self.d],
            Awaiting::Done => Vec::new(),
        }
    }

    /// Takes the values of [`Golden::pending`] (ranked) and steps, or ends below `tol`.
    fn tell(&mut self, values: &[f64], tol: f64) {
        match self.awaiting {
            Awaiting::Both => (self.fc, self.fd) = (values[0], values[1]),
            Awaiting::Lower => self.fc = values[0],
            Awaiting::Upper => self.fd = values[0],
            Awaiting::Done => return,
        }
        if self.b - self.a < tol {
            self.awaiting = Awaiting::Done;
        } else if self.fc <= self.fd {
            (self.b, self.d, self.fd) = (self.d, self.c, self.fc);
            self.c = self.b - INV_PHI * (self.b - self.a);
            self.awaiting = Awaiting::Lower;
        } else {
            (self.a, self.c, self.fc) = (self.c, self.d, self.fd);
            self.d = self.a + INV_PHI * (self.b - self.a);
            self.awaiting = Awaiting::Upper;
        }
    }
}

/// Where the line search of the current coordinate stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
enum Phase {
    /// The grid batch (with `x0` last in the very first batch).
    Grid,
    /// Golden sections around the best grid candidates, side by side, to an eighth of a cell.
    Candidates { searches: Vec<Golden> },
    /// The golden section around the line's best, to `xtol`.
    Refine { search: Golden },
}

/// Everything that changes while the search runs, RNG aside.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    /// The current point.
    #[serde(with = "exact::vec")]
    x: Vec<f64>,
    /// Its value (`+inf` until known or if it failed).
    #[serde(with = "exact")]
    fx: f64,
    /// Whether the pending batch ends with `x` itself (the very first batch).
    x_pending: bool,
    /// The coordinate being searched.
    coord: usize,
    /// Sweeps completed.
    sweeps: usize,
    /// The value at the start of the current sweep.
    #[serde(with = "exact")]
    sweep_fx: f64,
    /// The best value of the current coordinate seen on this line, and its value.
    #[serde(with = "exact")]
    line_x: f64,
    #[serde(with = "exact")]
    line_f: f64,
    phase: Phase,
    /// The batch asked or to be asked.
    #[serde(with = "exact::vecs")]
    pending: Vec<Vec<f64>>,
    best: BestRecord,
}

/// Coordinate search; see the [module docs](self) for the algorithm and its options.
///
/// ```
/// use glompo_core::{Bounds, Evaluation, Optimizer, OptimizerFactory, StartContext, Status};
/// use glompo_optimizers::{CoordinateSearchConfig, CoordinateSearchFactory};
///
/// // Rastrigin in 4-D: separable, so one sweep finds its global minimum 0 at the origin.
/// let bounds = Bounds::uniform(4, -5.12, 5.12).unwrap();
/// let rastrigin = |x: &[f64]| {
///     x.iter().map(|v| v * v - 10.0 * (2.0 * std::f64::consts::PI * v).cos() + 10.0).sum::<f64>()
/// };
/// let factory = CoordinateSearchFactory::new(CoordinateSearchConfig::default()).unwrap();
/// let ctx = StartContext { opt_id: 1, x0: &[3.1, -2.2, 4.0, 1.3], bounds: &bounds, seed: 5, workers: 1 };
/// let mut opt = factory.build(&ctx).unwrap();
/// let mut evaluations = 0;
/// let reason = loop {
///     let batch = opt.ask().unwrap();
///     evaluations += batch.len();
///     let evals: Vec<Evaluation> = batch.into_iter().map(|x| Evaluation { fx: rastrigin(&x), x }).collect();
///     if let Status::Converged(reason) = opt.tell(&evals).unwrap() {
///         break reason;
///     }
/// };
/// assert_eq!(reason, "ftol");
/// assert!(opt.best().unwrap().fx < 1e-9);
/// // Two sweeps of 4 lines, about 100 evaluations each.
/// assert!(evaluations <= 2 * 4 * 110);
/// ```
#[derive(Debug)]
pub struct CoordinateSearch {
    bounds: Bounds,
    grid: usize,
    candidates: usize,
    xtol: f64,
    max_sweeps: usize,
    ftol: f64,
    rng: SeededRng,
    state: State,
}

impl CoordinateSearch {
    /// The canonical type name.
    pub const NAME: &'static str = "coordinate-search";

    /// A search for one start context; the options must be valid and `x0` inside the bounds.
    pub fn new(config: &CoordinateSearchConfig, ctx: &StartContext<'_>) -> Result<Self, OptimizerError> {
        config.validate()?;
        util::check_start(ctx)?;
        let r = config.resolved();
        let n = ctx.bounds.dim();
        util::check_state_size(
            "grid",
            (r.grid as f64 + 1.0) * n as f64,
            &format!("coordinate search asks batches of {} points × {n} dimensions", r.grid),
        )?;
        let mut search = CoordinateSearch {
            bounds: ctx.bounds.clone(),
            grid: r.grid,
            candidates: r.candidates,
            xtol: r.xtol,
            max_sweeps: r.max_sweeps,
            ftol: r.ftol,
            rng: SeededRng::new(ctx.seed),
            state: State {
                x: ctx.x0.to_vec(),
                fx: f64::INFINITY,
                x_pending: true,
                coord: 0,
                sweeps: 0,
                sweep_fx: f64::INFINITY,
                line_x: ctx.x0[0],
                line_f: f64::INFINITY,
                phase: Phase::Grid,
                pending: Vec::new(),
                best: BestRecord::default(),
            },
        };
        search.start_line();
        search.state.pending.push(ctx.x0.to_vec());
        Ok(search)
    }

    /// The current point with the current coordinate set to `v`.
    fn on_line(&self, v: f64) -> Vec<f64> {
        let mut x = self.state.x.clone();
        x[self.state.coord] = v;
        x
    }

    /// The current coordinate's bounds and grid cell.
    fn line(&self) -> (f64, f64, f64) {
        let i = self.state.coord;
        let (lo, hi) = (self.bounds.lower()[i], self.bounds.upper()[i]);
        (lo, hi, (hi - lo) / self.grid as f64)
    }

    /// Asks the grid of the current coordinate.
    fn start_line(&mut self) {
        let (lo, hi, cell) = self.line();
        let phase = self.rng.uniform();
        let grid: Vec<Vec<f64>> =
            (0..self.grid).map(|k| self.on_line((lo + (k as f64 + phase) * cell).min(hi))).collect();
        self.state.line_x = self.state.x[self.state.coord];
        self.state.line_f = self.state.fx;
        self.state.phase = Phase::Grid;
        self.state.pending = grid;
    }

    /// Records a value on the current line.
    fn offer(&mut self, x: &[f64], fx: f64) {
        self.state.best.offer(x, fx);
        let v = rank_value(fx);
        if v < self.state.line_f {
            self.state.line_f = v;
            self.state.line_x = x[self.state.coord];
        }
    }

    /// Moves the current coordinate to the line's best and starts the next line, or ends a sweep.
    fn finish_line(&mut self) -> Status {
        let s = &mut self.state;
        s.x[s.coord] = s.line_x;
        s.fx = s.line_f;
        s.coord += 1;
        let mut status = Status::Running;
        if s.coord == s.x.len() {
            s.coord = 0;
            s.sweeps += 1;
            let gain = s.sweep_fx - s.fx;
            s.sweep_fx = s.fx;
            if s.fx.is_finite() && gain <= self.ftol * s.fx.abs().max(1.0) {
                status = Status::Converged("ftol".into());
            } else if s.sweeps >= self.max_sweeps {
                status = Status::Converged("max_sweeps".into());
            }
        }
        self.start_line();
        status
    }

    /// A golden section on the cells either side of `centre`, clipped into the bounds.
    fn around(&self, centre: f64, half: f64) -> Golden {
        let (lo, hi, _) = self.line();
        Golden::new((centre - half).max(lo), (centre + half).min(hi))
    }

    /// The golden sections around the best local minima of the grid (the current value among them),
    /// or the end of the line when nothing finite was seen.
    fn start_candidates(&mut self, grid: &[(f64, f64)]) -> Status {
        if !self.state.line_f.is_finite() {
            return self.finish_line();
        }
        let mut points: Vec<(f64, f64)> = grid.to_vec();
        points.push((self.state.x[self.state.coord], self.state.fx));
        points.sort_by(|p, q| p.0.total_cmp(&q.0));
        let mut minima: Vec<(f64, f64)> = (0..points.len())
            .filter(|&k| {
                let f = points[k].1;
                f.is_finite()
                    && (k == 0 || f <= points[k - 1].1)
                    && (k + 1 == points.len() || f <= points[k + 1].1)
            })
            .map(|k| points[k])
            .collect();
        minima.sort_by(|p, q| p.1.total_cmp(&q.1));
        let (_, _, cell) = self.line();
        let searches: Vec<Golden> =
            minima.iter().take(self.candidates).map(|&(v, _)| self.around(v, cell)).collect();
        self.ask_searches(Phase::Candidates { searches })
    }

    /// Sets `phase` and asks the points its searches wait for.
    fn ask_searches(&mut self, phase: Phase) -> Status {
        let values: Vec<f64> = match &phase {
            Phase::Grid => Vec::new(),
            Phase::Candidates { searches } => searches.iter().flat_map(Golden::pending).collect(),
            Phase::Refine { search } => search.pending(),
        };
        self.state.pending = values.into_iter().map(|v| self.on_line(v)).collect();
        self.state.phase = phase;
        Status::Running
    }
}

impl Optimizer for CoordinateSearch {
    fn name(&self) -> &str {
        Self::NAME
    }

    /// The pending batch: a line's grid (with `x0` in the first), or the golden-section points.
    fn ask(&mut self) -> Result<Vec<Vec<f64>>, OptimizerError> {
        Ok(self.state.pending.clone())
    }

    fn tell(&mut self, evals: &[Evaluation]) -> Result<Status, OptimizerError> {
        util::check_tell(Some(&self.state.pending), evals)?;
        let asked = std::mem::take(&mut self.state.pending);
        let mut evals = evals;
        if std::mem::take(&mut self.state.x_pending)
            && let (Some(x), Some((e, rest))) = (asked.last(), evals.split_last())
        {
            // `x0` itself: the line starts from its value.
            self.state.fx = rank_value(e.fx);
            self.state.line_f = self.state.fx;
            self.state.best.offer(x, e.fx);
            evals = rest;
        }
        let i = self.state.coord;
        for (x, e) in asked.iter().zip(evals) {
            self.offer(x, e.fx);
        }
        let values: Vec<f64> = evals.iter().map(|e| rank_value(e.fx)).collect();
        let (_, _, cell) = self.line();
        Ok(match self.state.phase.clone() {
            Phase::Grid => {
                let grid: Vec<(f64, f64)> = asked.iter().zip(&values).map(|(x, &f)| (x[i], f)).collect();
                self.start_candidates(&grid)
            }
            Phase::Candidates { mut searches } => {
                let mut rest = values.as_slice();
                for search in &mut searches {
                    let (mine, others) = rest.split_at(search.pending().len());
                    search.tell(mine, CANDIDATE_TOL * cell);
                    rest = others;
                }
                if searches.iter().all(|s| s.awaiting == Awaiting::Done) {
                    let search = self.around(self.state.line_x, CANDIDATE_TOL * cell);
                    self.ask_searches(Phase::Refine { search })
                } else {
                    self.ask_searches(Phase::Candidates { searches })
                }
            }
            Phase::Refine { mut search } => {
                let width = self.bounds.upper()[i] - self.bounds.lower()[i];
                search.tell(&values, self.xtol * width);
                if search.awaiting == Awaiting::Done {
                    self.finish_line()
                } else {
                    self.ask_searches(Phase::Refine { search })
                }
            }
        })
    }

    fn best(&self) -> Option<Evaluation> {
        self.state.best.get().cloned()
    }

    fn save(&self) -> Result<serde_json::Value, OptimizerError> {
        util::save_state(Self::NAME, &util::Saved { rng: self.rng.state(), state: self.state.clone() })
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), OptimizerError> {
        let saved: util::Saved<State> = util::load_state(Self::NAME, state)?;
        let bad = |message: String| OptimizerError::BadState { optimizer: Self::NAME.into(), message };
        let dim = self.bounds.dim();
        let s = &saved.state;
        let points = std::iter::once(&s.x).chain(&s.pending).chain(s.best.get().map(|e| &e.x));
        if points.into_iter().any(|x| x.len() != dim) {
            return Err(bad(format!("a point does not have {dim} coordinates")));
        }
        if s.coord >= dim {
            return Err(bad(format!("coordinate {} is not below the dimension {dim}", s.coord)));
        }
        // The pending batch is what the phase waits for (and `x0` after it in the very first batch).
        let waits = match &s.phase {
            Phase::Grid => self.grid,
            Phase::Candidates { searches } => searches.iter().map(|g| g.pending().len()).sum(),
            Phase::Refine { search } => search.pending().len(),
        } + usize::from(s.x_pending);
        if s.pending.is_empty() || s.pending.len() != waits {
            return Err(bad(format!(
                "{} points are pending where the phase waits for {waits}",
                s.pending.len()
            )));
        }
        self.rng = SeededRng::from_state(&saved.rng).map_err(bad)?;
        self.state = saved.state;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        config: &CoordinateSearchConfig,
        bounds: &Bounds,
        x0: &[f64],
        f: impl Fn(&[f64]) -> f64,
    ) -> (CoordinateSearch, usize, String) {
        let ctx = StartContext { opt_id: 1, x0, bounds, seed: 7, workers: 1 };
        let mut cs = CoordinateSearch::new(config, &ctx).unwrap();
        let mut evaluations = 0;
        loop {
            let batch = cs.ask().unwrap();
            evaluations += batch.len();
            let evals: Vec<Evaluation> = batch.into_iter().map(|x| Evaluation { fx: f(&x), x }).collect();
            if let Status::Converged(reason) = cs.tell(&evals).unwrap() {
                return (cs, evaluations, reason);
            }
        }
    }

    fn schwefel(x: &[f64]) -> f64 {
        418.982_887_272_433_9 * x.len() as f64 - x.iter().map(|v| v * v.abs().sqrt().sin()).sum::<f64>()
    }

    #[test]
    fn one_sweep_solves_a_separable_function_and_the_second_confirms_it() {
        let bounds = Bounds::uniform(6, -500.0, 500.0).unwrap();
        let x0 = [-300.0, 100.0, 0.0, 250.0, -450.0, 10.0];
        let (cs, evaluations, reason) = run(&CoordinateSearchConfig::default(), &bounds, &x0, schwefel);
        assert_eq!(reason, "ftol");
        let best = cs.best().unwrap();
        assert!(best.fx < 1e-7, "{}", best.fx);
        assert!(best.x.iter().all(|v| (v - 420.968_746).abs() < 1e-3), "{:?}", best.x);
        // Two sweeps of 6 lines, each a grid of 32, five candidates of 8 and a refinement of 30.
        assert!((2 * 6 * 80..=2 * 6 * 105).contains(&evaluations), "{evaluations}");
    }

    #[test]
    fn max_sweeps_ends_a_coupled_function_and_lines_never_get_worse() {
        let bounds = Bounds::uniform(3, -2.0, 2.0).unwrap();
        let rosenbrock = |x: &[f64]| {
            x.windows(2).map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2)).sum::<f64>()
        };
        let config = CoordinateSearchConfig { max_sweeps: Some(3), ..Default::default() };
        let ctx = StartContext { opt_id: 1, x0: &[-1.5, 1.8, -0.7], bounds: &bounds, seed: 3, workers: 1 };
        let mut cs = CoordinateSearch::new(&config, &ctx).unwrap();
        let mut current = f64::INFINITY;
        let reason = loop {
            let batch = cs.ask().unwrap();
            let evals: Vec<Evaluation> =
                batch.into_iter().map(|x| Evaluation { fx: rosenbrock(&x), x }).collect();
            let status = cs.tell(&evals).unwrap();
            assert!(cs.state.fx <= current, "the current value rose from {current} to {}", cs.state.fx);
            current = cs.state.fx;
            if let Status::Converged(reason) = status {
                break reason;
            }
        };
        assert_eq!(reason, "max_sweeps");
        assert_eq!(cs.state.sweeps, 3);
        assert!(cs.best().unwrap().fx < rosenbrock(&[-1.5, 1.8, -0.7]));
    }

    #[test]
    fn failed_values_rank_worst_and_a_line_of_failures_keeps_the_point() {
        let bounds = Bounds::uniform(2, -1.0, 1.0).unwrap();
        // Fails wherever x[0] > 0; elsewhere a bowl at (-0.5, 0.25).
        let f = |x: &[f64]| if x[0] > 0.0 { f64::NAN } else { (x[0] + 0.5).powi(2) + (x[1] - 0.25).powi(2) };
        let (cs, _, _) = run(&CoordinateSearchConfig::default(), &bounds, &[-0.9, 0.9], f);
        let best = cs.best().unwrap();
        assert!((best.x[0] + 0.5).abs() < 1e-6 && (best.x[1] - 0.25).abs() < 1e-6, "{:?}", best.x);
        let all_fail = |_: &[f64]| f64::NAN;
        let (cs, _, reason) = run(&CoordinateSearchConfig::default(), &bounds, &[0.3, 0.4], all_fail);
        assert_eq!(reason, "max_sweeps");
        assert_eq!(cs.state.x, vec![0.3, 0.4]);
        assert!(cs.best().is_none());
    }

    #[test]
    fn a_restored_search_asks_what_the_original_asks() {
        let bounds = Bounds::uniform(3, -500.0, 500.0).unwrap();
        let ctx = StartContext { opt_id: 1, x0: &[1.0, 2.0, 3.0], bounds: &bounds, seed: 9, workers: 1 };
        let config = CoordinateSearchConfig::default();
        let mut a = CoordinateSearch::new(&config, &ctx).unwrap();
        let step = |o: &mut CoordinateSearch| {
            let batch = o.ask().unwrap();
            let evals: Vec<Evaluation> =
                batch.into_iter().map(|x| Evaluation { fx: schwefel(&x), x }).collect();
            o.tell(&evals).unwrap()
        };
        for _ in 0..40 {
            step(&mut a);
        }
        let text = serde_json::to_string(&a.save().unwrap()).unwrap();
        let mut b = CoordinateSearch::new(&config, &ctx).unwrap();
        b.restore(&serde_json::from_str(&text).unwrap()).unwrap();
        for _ in 0..200 {
            assert_eq!(a.ask().unwrap(), b.ask().unwrap());
            assert_eq!(step(&mut a), step(&mut b));
        }
        let mut wrong = a.save().unwrap();
        wrong["state"]["state"]["coord"] = serde_json::json!(3);
        assert!(matches!(b.restore(&wrong), Err(OptimizerError::BadState { .. })));
        // A pending batch that is not what the phase waits for is refused, not a panic at the next tell.
        let mut short = a.save().unwrap();
        short["state"]["state"]["pending"].as_array_mut().unwrap().pop();
        let err = b.restore(&short).unwrap_err().to_string();
        assert!(err.contains("points are pending where the phase waits for"), "{err}");
    }

    #[test]
    fn options_are_validated() {
        let bad = [
            CoordinateSearchConfig { grid: Some(1), ..Default::default() },
            CoordinateSearchConfig { xtol: Some(1.0), ..Default::default() },
            CoordinateSearchConfig { max_sweeps: Some(0), ..Default::default() },
            CoordinateSearchConfig { ftol: Some(-1.0), ..Default::default() },
        ];
        let names: Vec<String> = bad
            .iter()
            .map(|c| match c.validate() {
                Err(OptimizerError::InvalidOption { option, .. }) => option,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["grid", "xtol", "max_sweeps", "ftol"]);
    }
}
