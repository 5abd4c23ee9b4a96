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

use crate::expr::{self, Call, Expr, ParseError, Signature, fmt_num};
use crate::point::Bounds;
use crate::record::OptimizerRecord;

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

/// The hunters the expression language knows, with their parameters.
pub const HUNTERS: &[Signature] = &[
    Signature { name: "min_evals", params: &["min"], required: 1 },
    Signature { name: "best_unmoving", params: &["calls", "tol"], required: 1 },
    Signature { name: "parameter_distance", params: &["relative_distance", "test_all"], required: 1 },
];

fn build(call: &Call) -> Result<Box<dyn Hunter>, (usize, String)> {
    let sig = HUNTERS
        .iter()
        .find(|s| s.name == call.name)
        .ok_or_else(|| expr::unknown_name("hunter", call, HUNTERS))?;
    let b = sig.bind(call)?;
    Ok(match sig.name {
        "min_evals" => Box::new(MinEvals { min: b.count("min", 0)? }),
        "best_unmoving" => Box::new(BestUnmoving {
            calls: b.count("calls", 0)?,
            tol: b.num("tol", 0.0, (|v| v >= 0.0, "≥ 0"))?,
        }),
        _ => Box::new(ParameterDistance {
            relative_distance: b.num("relative_distance", 0.0, (|v| v > 0.0, "> 0"))?,
            test_all: b.flag("test_all", false)?,
        }),
    })
}

/// Parses a hunter expression such as `min_evals(500) & (best_unmoving(2000, 0.01) | parameter_distance(0.05))`.
pub fn parse(text: &str) -> Result<HunterExpr, ParseError> {
    expr::parse(text, &mut build)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u64, values: &[f64], xs: &[f64]) -> OptimizerRecord {
        let mut r = OptimizerRecord::new(id, "t", 1);
        for (fx, x) in values.iter().zip(xs.iter().cycle()) {
            r.record(&[*x, 0.0], *fx);
        }
        r
    }

    fn verdict(h: &mut HunterExpr, hunter: &OptimizerRecord, victim: &OptimizerRecord) -> bool {
        let bounds = Bounds::uniform(2, 0.0, 10.0).unwrap();
        let all = [hunter.clone(), victim.clone()];
        let ctx = HuntContext { hunter, victim, optimizers: &all, bounds: &bounds };
        h.hunt(&ctx)
    }

    #[test]
    fn best_unmoving_truth_table() {
        // The original's case: [10]*10 + [1]*10 + [0.9]*10.
        let vals: Vec<f64> = std::iter::repeat_n(10.0, 10)
            .chain(std::iter::repeat_n(1.0, 10))
            .chain(std::iter::repeat_n(0.9, 10))
            .collect();
        let victim = record(2, &vals, &[1.0]);
        let hunter = record(1, &[0.0], &[1.0]);
        for (calls, tol, expected) in
            [(12, 0.0, false), (8, 0.0, true), (11, 0.1, true), (12, 0.91, true), (30, 0.0, false)]
        {
            assert_eq!(
                verdict(&mut best_unmoving(calls, tol), &hunter, &victim),
                expected,
                "calls {calls} tol {tol}"
            );
        }
    }

    #[test]
    fn min_evals_and_distance() {
        let hunter = record(1, &[0.0], &[5.0]);
        let near = record(2, &[1.0, 2.0, 3.0], &[5.5]);
        let far = record(3, &[1.0, 2.0, 3.0], &[9.0]);
        assert!(verdict(&mut min_evals(3), &hunter, &near));
        assert!(!verdict(&mut min_evals(4), &hunter, &near));
        // The diagonal of [0, 10]^2 is 14.14; 0.05 of it is 0.707.
        assert!(verdict(&mut parameter_distance(0.05), &hunter, &near));
        assert!(!verdict(&mut parameter_distance(0.05), &hunter, &far));
        assert!(verdict(&mut parameter_distance(0.3), &hunter, &far));
    }

    #[test]
    fn parse_builds_leaves_and_reports_errors() {
        let mut h =
            parse("min_evals(3) & (best-unmoving(calls=8) | parameter_distance(0.05, test_all=true))")
                .unwrap();
        assert_eq!(
            h.to_string(),
            "min_evals(3) & (best_unmoving(8, 0) | parameter_distance(0.05, test_all=true))"
        );
        let vals = [5.0; 12];
        let victim = record(2, &vals, &[9.0]);
        let hunter = record(1, &[0.0], &[1.0]);
        assert!(verdict(&mut h, &hunter, &victim));
        assert_eq!(
            h.with_values().to_string(),
            "[min_evals(3) = true & [best_unmoving(8, 0) = true | parameter_distance(0.05, test_all=true) = skipped]]"
        );
        let err = parse("min_evals(3) & best_unmovin(5)").unwrap_err();
        assert_eq!(err.column, 16);
        assert_eq!(
            err.message,
            "unknown hunter `best_unmovin`; expected one of min_evals, best_unmoving, parameter_distance"
        );
        let err = parse("parameter_distance(0)").unwrap_err();
        assert_eq!(err.message, "`relative_distance` of parameter_distance must be > 0");
    }
}
