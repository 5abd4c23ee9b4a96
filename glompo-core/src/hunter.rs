//! Hunters: conditions under which the manager kills an optimizer.
//!
//! At every hunt the owner of the global best is the *hunter*, and every other running optimizer with
//! at least one evaluation is a *victim* tested with the run's hunter expression. Combine hunters with
//! `&` and `|` (short-circuit); a kill is logged with the expression and each leaf's value.
//!
//! ```
//! use glompo_core::hunter::{self, HunterExpr};
//! let h: HunterExpr = hunter::min_evals(500) & (hunter::best_unmoving(2000, 0.01) | hunter::parameter_distance(0.05));
//! assert_eq!(h.to_string(), "min_evals(500) & (best_unmoving(2000, 0.01) | parameter_distance(0.05))");
//! ```

use std::fmt;

use serde_json::Value;

use crate::expr::{
    self, Call, Expr, FRACTION, LeafResult, NON_NEGATIVE, POSITIVE, ParseError, Signature, fmt_num,
};
use crate::point::{Bounds, Evaluation};
use crate::record::{Lifecycle, OptimizerRecord};
use crate::rng::{RunSeeds, SeededRng};
use crate::state::{self, StateError};

/// What a hunter sees: the hunter, one victim, every optimizer of the run and the bounds.
#[derive(Debug, Clone, Copy)]
pub struct HuntContext<'a> {
    /// The owner of the global best.
    pub hunter: &'a OptimizerRecord,
    /// The optimizer on trial.
    pub victim: &'a OptimizerRecord,
    /// Every optimizer started so far, ended ones included.
    pub optimizers: &'a [OptimizerRecord],
    /// The search box.
    pub bounds: &'a Bounds,
}

/// A kill condition: `true` means kill the victim. Its `Display` is its config form, e.g.
/// `best_unmoving(2000, 0.01)`.
///
/// ```
/// use std::fmt;
/// use glompo_core::hunter::{HuntContext, Hunter, HunterExpr};
///
/// /// Kills victims whose best is more than `gap` above the hunter's.
/// struct Behind { gap: f64 }
///
/// impl fmt::Display for Behind {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "behind({})", self.gap) }
/// }
///
/// impl Hunter for Behind {
///     fn hunt(&mut self, ctx: &HuntContext<'_>) -> bool {
///         match (ctx.hunter.best(), ctx.victim.best()) {
///             (Some(h), Some(v)) => v.fx - h.fx > self.gap,
///             _ => false,
///         }
///     }
/// }
///
/// let expr = glompo_core::hunter::min_evals(10) & HunterExpr::leaf(Box::new(Behind { gap: 5.0 }));
/// assert_eq!(expr.to_string(), "min_evals(10) & behind(5)");
/// ```
pub trait Hunter: Send + fmt::Display {
    /// Whether to kill `ctx.victim`.
    fn hunt(&mut self, ctx: &HuntContext<'_>) -> bool;

    /// How many recent evaluations of history it reads from the records (the manager keeps that
    /// many per optimizer); 0 when it reads only counters, bests and last points.
    fn window(&self) -> u64 {
        0
    }

    /// The optimizer type this hunter names, if it names one (`type_hunter(nelder-mead)`), so that a
    /// config can refuse a type that its run never starts. The default: none.
    fn optimizer_type(&self) -> Option<&str> {
        None
    }

    /// Its state, for a checkpoint: everything its later verdicts depend on besides its configuration
    /// and the [`HuntContext`] (the random hunters' RNGs). The default, for a stateless hunter:
    /// `null`. See [`crate::state`].
    fn save(&self) -> Value {
        Value::Null
    }

    /// Continues from `state`, made by [`Hunter::save`] of a hunter built from the same configuration.
    /// A state of another shape is an error naming the hunter; a stateful hunter refuses `null`. The
    /// default, for a stateless hunter, accepts `null` only.
    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        state::stateless(&format!("hunter {self}"), state)
    }
}

/// A combination of hunters.
pub type HunterExpr = Expr<dyn Hunter>;

impl std::ops::BitOr for HunterExpr {
    type Output = HunterExpr;
    fn bitor(self, rhs: Self) -> Self {
        self.or(rhs)
    }
}

impl std::ops::BitAnd for HunterExpr {
    type Output = HunterExpr;
    fn bitand(self, rhs: Self) -> Self {
        self.and(rhs)
    }
}

impl HunterExpr {
    /// Evaluates the expression for one victim, recording each leaf's value.
    pub fn hunt(&mut self, ctx: &HuntContext<'_>) -> bool {
        self.eval(&mut |leaf| leaf.hunt(ctx))
    }

    /// The longest history window any leaf reads.
    pub fn window(&self) -> u64 {
        self.leaves().iter().map(|leaf| leaf.window()).max().unwrap_or(0)
    }

    /// The optimizer types the leaves name ([`Hunter::optimizer_type`]), left to right.
    ///
    /// ```
    /// let h = glompo_core::hunter::parse("min_evals(5) & type_hunter(nelder-mead)", 0).unwrap();
    /// assert_eq!(h.optimizer_types(), ["nelder_mead"]);
    /// ```
    pub fn optimizer_types(&self) -> Vec<&str> {
        self.leaves().into_iter().filter_map(|leaf| leaf.optimizer_type()).collect()
    }

    /// The states of the leaves ([`Hunter::save`]), as a list in leaf order.
    ///
    /// ```
    /// let h = glompo_core::hunter::parse("min_evals(5) & time_annealing(2)", 7).unwrap();
    /// let saved = h.save();
    /// assert!(saved[0].is_null() && saved[1]["rng"].is_object());
    /// let mut fresh = glompo_core::hunter::parse("min_evals(5) & time_annealing(2)", 7).unwrap();
    /// fresh.restore(&saved).unwrap();
    /// assert!(fresh.restore(&serde_json::json!([null])).is_err(), "one state per leaf");
    /// ```
    pub fn save(&self) -> Value {
        self.save_leaves(|leaf| leaf.save())
    }

    /// Restores every leaf from a list made by [`HunterExpr::save`] of the same expression; a list of
    /// another length, or a leaf's state of another shape, is an error naming the leaf.
    pub fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        self.restore_leaves("hunter", state, &mut |leaf, s| leaf.restore(s))
    }
}

/// Kills nothing by itself: true once the victim has at least `min` evaluations. Use it as an `&` guard.
#[derive(Debug, Clone)]
pub struct MinEvals {
    /// The number of evaluations.
    pub min: u64,
}

impl Hunter for MinEvals {
    fn hunt(&mut self, ctx: &HuntContext<'_>) -> bool {
        ctx.victim.evaluations() >= self.min
    }
}

impl fmt::Display for MinEvals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "min_evals({})", self.min)
    }
}

/// True when the victim's best has not improved over its last `calls` evaluations by more than
/// `tol` relative to its earlier best: `|best − best_before| ≤ |best_before · tol|`, with more than `calls`
/// evaluations.
#[derive(Debug, Clone)]
pub struct BestUnmoving {
    /// The window, in evaluations.
    pub calls: u64,
    /// The relative tolerance.
    pub tol: f64,
}

impl Hunter for BestUnmoving {
    fn hunt(&mut self, ctx: &HuntContext<'_>) -> bool {
        let Some(before) = ctx.victim.best_before(self.calls) else { return false };
        let now = ctx.victim.best().map_or(f64::INFINITY, |b| b.fx);
        (now - before).abs() <= (before * self.tol).abs()
    }

    fn window(&self) -> u64 {
        self.calls
    }
}

impl fmt::Display for BestUnmoving {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "best_unmoving({}, {})", self.calls, fmt_num(self.tol))
    }
}

/// True when the victim's last point is within `relative_distance · ‖hi − lo‖` of the hunter's last
/// point (or, with `test_all`, of any other optimizer's last point).
#[derive(Debug, Clone)]
pub struct ParameterDistance {
    /// The distance, as a fraction of the box diagonal.
    pub relative_distance: f64,
    /// Compare with every other optimizer, not only the hunter.
    pub test_all: bool,
}

impl Hunter for ParameterDistance {
    fn hunt(&mut self, ctx: &HuntContext<'_>) -> bool {
        let Some(v) = ctx.victim.last() else { return false };
        let limit = self.relative_distance * ctx.bounds.diagonal();
        let close = |other: &OptimizerRecord| {
            other.last().is_some_and(|o| {
                o.x.iter().zip(&v.x).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt() <= limit
            })
        };
        if self.test_all {
            ctx.optimizers.iter().filter(|o| o.id() != ctx.victim.id()).any(close)
        } else {
            close(ctx.hunter)
        }
    }
}

impl fmt::Display for ParameterDistance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parameter_distance({}", fmt_num(self.relative_distance))?;
        if self.test_all {
            f.write_str(", test_all=true")?;
        }
        f.write_str(")")
    }
}

/// True when the victim's last `calls` values hardly vary: their standard deviation is at most
/// `|fx_last · tol|`. Non-finite values in the window are left out; with fewer than two finite ones it
/// is false.
#[derive(Debug, Clone)]
pub struct EvaluationsUnmoving {
    /// The window, in evaluations.
    pub calls: u64,
    /// The relative tolerance.
    pub tol: f64,
}

impl Hunter for EvaluationsUnmoving {
    fn hunt(&mut self, ctx: &HuntContext<'_>) -> bool {
        let Some(values) = ctx.victim.recent_values(self.calls) else { return false };
        let finite: Vec<f64> = values.filter(|v| v.is_finite()).collect();
        let Some(&last) = finite.last() else { return false };
        if finite.len() < 2 {
            return false;
        }
        let mean = finite.iter().sum::<f64>() / finite.len() as f64;
        let std = (finite.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / finite.len() as f64).sqrt();
        std <= (last * self.tol).abs()
    }

    fn window(&self) -> u64 {
        self.calls
    }
}

impl fmt::Display for EvaluationsUnmoving {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "evaluations_unmoving({}, {})", self.calls, fmt_num(self.tol))
    }
}

/// True when the victim's last `n` evaluations all failed or were not finite.
#[derive(Debug, Clone)]
pub struct LastPointsInvalid {
    /// How many in a row.
    pub n: u64,
}

impl Hunter for LastPointsInvalid {
    fn hunt(&mut self, ctx: &HuntContext<'_>) -> bool {
        ctx.victim.trailing_invalid() >= self.n
    }
}

impl fmt::Display for LastPointsInvalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "last_points_invalid({})", self.n)
    }
}

/// True when the victim has at least `calls` evaluations and the mean distance between its last
/// `calls` consecutive points is at most `relative_tol · ‖hi − lo‖`: it is taking tiny steps.
#[derive(Debug, Clone)]
pub struct StepSize {
    /// The window, in evaluations.
    pub calls: u64,
    /// The step size, as a fraction of the box diagonal.
    pub relative_tol: f64,
}

impl Hunter for StepSize {
    fn hunt(&mut self, ctx: &HuntContext<'_>) -> bool {
        let steps = self.calls.saturating_sub(1).max(1);
        if ctx.victim.evaluations() < self.calls {
            return false;
        }
        let Some(recent) = ctx.victim.recent_steps(steps) else { return false };
        let mean = recent.sum::<f64>() / steps as f64;
        mean <= self.relative_tol * ctx.bounds.diagonal()
    }

    fn window(&self) -> u64 {
        self.calls
    }
}

impl fmt::Display for StepSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step_size({}, {})", self.calls, fmt_num(self.relative_tol))
    }
}

/// True when the victim converges into a basin already explored: its best point is closer than
/// `factor` times its own step size to an explored end point whose value is no worse than the
/// victim's best, while that step is below `relative_step · ‖hi − lo‖` (it has stopped exploring).
/// The step size is the median distance between its last `calls` consecutive points, which for a
/// population optimizer is a few times its σ; the explored end points are the best points of the
/// optimizers that have ended (the run book keeps them in their records) and the hunter's, when it is
/// not the victim. How fast the victim improves plays no part, so a large population that improves
/// slowly at first is never killed for it, and the step bound keeps a restart that starts wide near
/// an explored point alive until it has settled into that basin.
#[derive(Debug, Clone)]
pub struct ExploredBasin {
    /// The window of steps, in evaluations.
    pub calls: u64,
    /// The distance, in step sizes.
    pub factor: f64,
    /// The largest step of a victim that counts as settled, as a fraction of the box diagonal.
    pub relative_step: f64,
}

impl Hunter for ExploredBasin {
    fn hunt(&mut self, ctx: &HuntContext<'_>) -> bool {
        let steps = self.calls.saturating_sub(1).max(1);
        let (Some(best), Some(recent)) = (ctx.victim.best(), ctx.victim.recent_steps(steps)) else {
            return false;
        };
        let mut recent: Vec<f64> = recent.collect();
        recent.sort_by(f64::total_cmp);
        let step = recent[recent.len() / 2];
        if !step.is_finite() || step > self.relative_step * ctx.bounds.diagonal() {
            return false;
        }
        let explored: Vec<&Evaluation> = ctx
            .optimizers
            .iter()
            .filter(|o| {
                o.id() != ctx.victim.id() && (*o.lifecycle() == Lifecycle::Ended || o.id() == ctx.hunter.id())
            })
            .filter_map(OptimizerRecord::best)
            .collect();
        let distance =
            |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
        explored.iter().filter(|e| e.fx <= best.fx).any(|e| {
            // Settled inside e's basin: closer than a step, and the step smaller than half the way
            // to the nearest other explored end point (the basins' spacing as far as the run knows).
            let spacing = explored
                .iter()
                .filter(|o| !std::ptr::eq(**o, *e))
                .map(|o| distance(&o.x, &e.x))
                .fold(f64::INFINITY, f64::min);
            distance(&e.x, &best.x) < self.factor * step && step < 0.5 * spacing
        })
    }

    fn window(&self) -> u64 {
        self.calls
    }
}

impl fmt::Display for ExploredBasin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "explored_basin({}, {}, {})", self.calls, fmt_num(self.factor), fmt_num(self.relative_step))
    }
}

/// Kills at random, more often the longer the victim has run compared with the hunter: true when
/// `U(0, crit_ratio) > n_hunter / n_victim` (evaluation counts).
#[derive(Debug, Clone)]
pub struct TimeAnnealing {
    /// The critical ratio; larger kills more.
    pub crit_ratio: f64,
    rng: SeededRng,
}

impl TimeAnnealing {
    /// A time-annealing hunter with its own seed.
    pub fn new(crit_ratio: f64, seed: u64) -> Self {
        TimeAnnealing { crit_ratio, rng: SeededRng::new(seed) }
    }
}

impl Hunter for TimeAnnealing {
    fn hunt(&mut self, ctx: &HuntContext<'_>) -> bool {
        let ratio = ctx.hunter.evaluations() as f64 / ctx.victim.evaluations().max(1) as f64;
        self.rng.uniform_in(0.0, self.crit_ratio) > ratio
    }

    /// `{"rng": …}`.
    fn save(&self) -> Value {
        state::save_rng(&self.rng)
    }

    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        self.rng = state::load_rng(&format!("hunter {self}"), state)?;
        Ok(())
    }
}

impl fmt::Display for TimeAnnealing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "time_annealing({})", fmt_num(self.crit_ratio))
    }
}

/// Kills at random, more often the worse the victim's best is compared with the hunter's: false when
/// the hunter's best is 0 or the victim's is no worse, else true with probability
/// `1 − med_kill_chance^|(f_h − f_v) / f_h|` (so a victim twice as bad dies with `1 − med_kill_chance`).
#[derive(Debug, Clone)]
pub struct ValueAnnealing {
    /// The kill chance at a relative difference of 1, in (0, 1).
    pub med_kill_chance: f64,
    rng: SeededRng,
}

impl ValueAnnealing {
    /// A value-annealing hunter with its own seed.
    pub fn new(med_kill_chance: f64, seed: u64) -> Self {
        ValueAnnealing { med_kill_chance, rng: SeededRng::new(seed) }
    }
}

impl Hunter for ValueAnnealing {
    fn hunt(&mut self, ctx: &HuntContext<'_>) -> bool {
        let (Some(h), Some(v)) = (ctx.hunter.best(), ctx.victim.best()) else { return false };
        if h.fx == 0.0 || v.fx <= h.fx {
            return false;
        }
        let keep = (self.med_kill_chance.ln() * ((h.fx - v.fx) / h.fx).abs()).exp();
        self.rng.uniform() > keep
    }

    /// `{"rng": …}`.
    fn save(&self) -> Value {
        state::save_rng(&self.rng)
    }

    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        self.rng = state::load_rng(&format!("hunter {self}"), state)?;
        Ok(())
    }
}

impl fmt::Display for ValueAnnealing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "value_annealing({})", fmt_num(self.med_kill_chance))
    }
}

/// True when the victim is of the given optimizer type (`type_hunter("nelder-mead")`).
#[derive(Debug, Clone)]
pub struct TypeHunter {
    /// The type name, normalised (lowercase, `_` for `-`).
    pub type_name: String,
}

impl Hunter for TypeHunter {
    fn hunt(&mut self, ctx: &HuntContext<'_>) -> bool {
        expr::normalise_name(ctx.victim.type_name()) == self.type_name
    }

    fn optimizer_type(&self) -> Option<&str> {
        Some(&self.type_name)
    }
}

impl fmt::Display for TypeHunter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "type_hunter(\"{}\")", self.type_name.replace('_', "-"))
    }
}

/// `min_evals(min)` as an expression.
pub fn min_evals(min: u64) -> HunterExpr {
    Expr::leaf(Box::new(MinEvals { min }))
}

/// `best_unmoving(calls, tol)` as an expression.
pub fn best_unmoving(calls: u64, tol: f64) -> HunterExpr {
    Expr::leaf(Box::new(BestUnmoving { calls, tol }))
}

/// `parameter_distance(relative_distance)` as an expression.
pub fn parameter_distance(relative_distance: f64) -> HunterExpr {
    Expr::leaf(Box::new(ParameterDistance { relative_distance, test_all: false }))
}

/// `evaluations_unmoving(calls, tol)` as an expression.
pub fn evaluations_unmoving(calls: u64, tol: f64) -> HunterExpr {
    Expr::leaf(Box::new(EvaluationsUnmoving { calls, tol }))
}

/// `last_points_invalid(n)` as an expression.
pub fn last_points_invalid(n: u64) -> HunterExpr {
    Expr::leaf(Box::new(LastPointsInvalid { n }))
}

/// `step_size(calls, relative_tol)` as an expression.
pub fn step_size(calls: u64, relative_tol: f64) -> HunterExpr {
    Expr::leaf(Box::new(StepSize { calls, relative_tol }))
}

/// `type_hunter(type_name)` as an expression.
pub fn type_hunter(type_name: &str) -> HunterExpr {
    Expr::leaf(Box::new(TypeHunter { type_name: expr::normalise_name(type_name) }))
}

/// The hunters the expression language knows, with their parameters.
pub const HUNTERS: &[Signature] = &[
    Signature { name: "min_evals", params: &["min"], required: 1 },
    Signature { name: "best_unmoving", params: &["calls", "tol"], required: 1 },
    Signature { name: "evaluations_unmoving", params: &["calls", "tol"], required: 1 },
    Signature { name: "explored_basin", params: &["calls", "factor", "relative_step"], required: 0 },
    Signature { name: "last_points_invalid", params: &["n"], required: 0 },
    Signature { name: "parameter_distance", params: &["relative_distance", "test_all"], required: 1 },
    Signature { name: "step_size", params: &["calls", "relative_tol"], required: 1 },
    Signature { name: "time_annealing", params: &["crit_ratio"], required: 0 },
    Signature { name: "type_hunter", params: &["type"], required: 1 },
    Signature { name: "value_annealing", params: &["med_kill_chance"], required: 0 },
];

fn build(call: &Call, seed: u64) -> LeafResult<Box<dyn Hunter>> {
    let sig = HUNTERS
        .iter()
        .find(|s| s.name == call.name)
        .ok_or_else(|| expr::unknown_name("hunter", call, HUNTERS))?;
    let b = sig.bind(call)?;
    Ok(match sig.name {
        "min_evals" => Box::new(MinEvals { min: b.count("min", 0)? }),
        "best_unmoving" => {
            Box::new(BestUnmoving { calls: b.count("calls", 0)?, tol: b.num("tol", 0.0, NON_NEGATIVE)? })
        }
        "evaluations_unmoving" => Box::new(EvaluationsUnmoving {
            calls: b.count("calls", 0)?,
            tol: b.num("tol", 0.0, NON_NEGATIVE)?,
        }),
        "explored_basin" => Box::new(ExploredBasin {
            calls: b.count("calls", 50)?.max(2),
            factor: b.num("factor", 1.0, POSITIVE)?,
            relative_step: b.num("relative_step", 0.01, POSITIVE)?,
        }),
        "last_points_invalid" => Box::new(LastPointsInvalid { n: b.count("n", 1)?.max(1) }),
        "parameter_distance" => Box::new(ParameterDistance {
            relative_distance: b.num("relative_distance", 0.0, POSITIVE)?,
            test_all: b.flag("test_all", false)?,
        }),
        "step_size" => Box::new(StepSize {
            calls: b.count("calls", 0)?.max(2),
            relative_tol: b.num("relative_tol", 0.05, POSITIVE)?,
        }),
        "time_annealing" => Box::new(TimeAnnealing::new(b.num("crit_ratio", 1.0, POSITIVE)?, seed)),
        "type_hunter" => {
            Box::new(TypeHunter { type_name: expr::normalise_name(&b.text("type")?.unwrap_or_default()) })
        }
        "value_annealing" => Box::new(ValueAnnealing::new(b.num("med_kill_chance", 0.5, FRACTION)?, seed)),
        name => return Err((call.column, format!("the hunter `{name}` has no builder"))),
    })
}

/// Parses a hunter expression such as `min_evals(500) & (best_unmoving(2000, 0.01) | parameter_distance(0.05))`.
/// Random hunters (`time_annealing`, `value_annealing`) get their own seeds derived from the run seed
/// `run_seed`, one per leaf ([`RunSeeds::hunter_leaf`]).
pub fn parse(text: &str, run_seed: u64) -> Result<HunterExpr, ParseError> {
    let seeds = RunSeeds::new(run_seed);
    let mut leaf = 0;
    expr::parse(text, &mut |call| {
        let seed = seeds.hunter_leaf(leaf);
        leaf += 1;
        build(call, seed)
    })
}

#[cfg(test)]
mod tests;
