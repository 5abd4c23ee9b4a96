//! Checkers: conditions that end the whole run.
//!
//! The manager evaluates its checker expression after every batch of results and on its timer; the
//! first time it is true the run ends, and the expression with each leaf's value becomes the end reason.
//!
//! ```
//! use glompo_core::checker::{self, CheckerExpr, RunState};
//! let mut c: CheckerExpr = checker::max_evals(100_000) | checker::target_cost(0.0, 1e-6);
//! let state = RunState { evaluations: 10, best_fx: Some(5e-7), ..RunState::default() };
//! assert!(c.check(&state));
//! assert_eq!(c.with_values().to_string(), "[max_evals(100000) = false | target_cost(0, 1e-6) = true]");
//! ```

use std::fmt;

use crate::expr::{self, Call, Expr, ParseError, Signature, fmt_num};

/// The run's counters, as checkers see them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunState {
    /// Evaluations logged so far (all of them, those of killed optimizers included).
    pub evaluations: u64,
    /// The best finite value so far.
    pub best_fx: Option<f64>,
    /// Seconds since this session started.
    pub session_seconds: f64,
    /// Seconds over all sessions of the run (a resumed run counts its earlier sessions).
    pub overall_seconds: f64,
    /// Optimizers started.
    pub optimizers_started: u64,
    /// Optimizers killed by hunts or STOP files.
    pub optimizers_killed: u64,
    /// Optimizers that converged by their own criteria.
    pub optimizers_converged: u64,
    /// Hunts made.
    pub hunts: u64,
}

/// A stop condition: `true` ends the run. Its `Display` is its config form, e.g. `max_evals(1000)`.
///
/// ```
/// use std::fmt;
/// use glompo_core::checker::{Checker, CheckerExpr, RunState};
///
/// /// Stops when the best value has dropped below a fraction of the first one seen.
/// struct Fraction { first: Option<f64>, ratio: f64 }
///
/// impl fmt::Display for Fraction {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "fraction({})", self.ratio) }
/// }
///
/// impl Checker for Fraction {
///     fn check(&mut self, run: &RunState) -> bool {
///         let Some(best) = run.best_fx else { return false };
///         let first = *self.first.get_or_insert(best);
///         best <= first * self.ratio
///     }
/// }
///
/// let mut c = CheckerExpr::leaf(Box::new(Fraction { first: None, ratio: 0.5 }));
/// assert!(!c.check(&RunState { best_fx: Some(8.0), ..Default::default() }));
/// assert!(c.check(&RunState { best_fx: Some(4.0), ..Default::default() }));
/// ```
pub trait Checker: Send + fmt::Display {
    /// Whether the run should end.
    fn check(&mut self, run: &RunState) -> bool;
}

/// A combination of checkers.
pub type CheckerExpr = Expr<dyn Checker>;

impl std::ops::BitOr for CheckerExpr {
    type Output = CheckerExpr;
    fn bitor(self, rhs: Self) -> Self {
        self.or(rhs)
    }
}

impl std::ops::BitAnd for CheckerExpr {
    type Output = CheckerExpr;
    fn bitand(self, rhs: Self) -> Self {
        self.and(rhs)
    }
}

impl CheckerExpr {
    /// Evaluates the expression on `run`, recording each leaf's value.
    pub fn check(&mut self, run: &RunState) -> bool {
        self.eval(&mut |leaf| leaf.check(run))
    }
}

/// True once at least `max` evaluations were logged.
#[derive(Debug, Clone)]
pub struct MaxEvals {
    /// The budget.
    pub max: u64,
}

impl Checker for MaxEvals {
    fn check(&mut self, run: &RunState) -> bool {
        run.evaluations >= self.max
    }
}

impl fmt::Display for MaxEvals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "max_evals({})", self.max)
    }
}

/// True once the best value is at most `target + atol`.
#[derive(Debug, Clone)]
pub struct TargetCost {
    /// The target value.
    pub target: f64,
    /// The absolute tolerance.
    pub atol: f64,
}

impl Checker for TargetCost {
    fn check(&mut self, run: &RunState) -> bool {
        run.best_fx.is_some_and(|fx| fx <= self.target + self.atol)
    }
}

impl fmt::Display for TargetCost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "target_cost({}, {})", fmt_num(self.target), fmt_num(self.atol))
    }
}

/// True once the session (or, with `overall`, the whole run across resumes) has lasted `seconds`.
#[derive(Debug, Clone)]
pub struct MaxSeconds {
    /// The limit.
    pub seconds: f64,
    /// Count the time of earlier sessions too.
    pub overall: bool,
}

impl Checker for MaxSeconds {
    fn check(&mut self, run: &RunState) -> bool {
        (if self.overall { run.overall_seconds } else { run.session_seconds }) >= self.seconds
    }
}

impl fmt::Display for MaxSeconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let which = if self.overall { "overall" } else { "session" };
        write!(f, "max_seconds({which}={})", fmt_num(self.seconds))
    }
}

/// True once at least `n` optimizers converged by their own criteria.
#[derive(Debug, Clone)]
pub struct NConverged {
    /// The count.
    pub n: u64,
}

impl Checker for NConverged {
    fn check(&mut self, run: &RunState) -> bool {
        run.optimizers_converged >= self.n
    }
}

impl fmt::Display for NConverged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n_converged({})", self.n)
    }
}

/// `max_evals(max)` as an expression.
pub fn max_evals(max: u64) -> CheckerExpr {
    Expr::leaf(Box::new(MaxEvals { max }))
}

/// `target_cost(target, atol)` as an expression.
pub fn target_cost(target: f64, atol: f64) -> CheckerExpr {
    Expr::leaf(Box::new(TargetCost { target, atol }))
}

/// `max_seconds(session=seconds)` as an expression.
pub fn max_seconds(seconds: f64) -> CheckerExpr {
    Expr::leaf(Box::new(MaxSeconds { seconds, overall: false }))
}

/// `n_converged(n)` as an expression.
pub fn n_converged(n: u64) -> CheckerExpr {
    Expr::leaf(Box::new(NConverged { n }))
}

/// The checkers the expression language knows, with their parameters.
pub const CHECKERS: &[Signature] = &[
    Signature { name: "max_evals", params: &["max"], required: 1 },
    Signature { name: "target_cost", params: &["target", "atol"], required: 1 },
    Signature { name: "max_seconds", params: &["session", "overall"], required: 0 },
    Signature { name: "n_converged", params: &["n"], required: 1 },
];

fn build(call: &Call) -> Result<Box<dyn Checker>, (usize, String)> {
    let sig = CHECKERS
        .iter()
        .find(|s| s.name == call.name)
        .ok_or_else(|| expr::unknown_name("checker", call, CHECKERS))?;
    let b = sig.bind(call)?;
    let positive = (|v: f64| v > 0.0) as fn(f64) -> bool;
    Ok(match sig.name {
        "max_evals" => Box::new(MaxEvals { max: b.count("max", 0)? }),
        "target_cost" => Box::new(TargetCost {
            target: b.num("target", 0.0, (|_| true, "a finite number"))?,
            atol: b.num("atol", 1e-6, (|v| v >= 0.0, "≥ 0"))?,
        }),
        "max_seconds" => {
            let session = b.num("session", f64::NAN, (positive, "> 0"))?;
            let overall = b.num("overall", f64::NAN, (positive, "> 0"))?;
            match (session.is_nan(), overall.is_nan()) {
                (false, true) => Box::new(MaxSeconds { seconds: session, overall: false }),
                (true, false) => Box::new(MaxSeconds { seconds: overall, overall: true }),
                _ => return Err((call.column, "max_seconds takes one of `session` or `overall`".into())),
            }
        }
        _ => Box::new(NConverged { n: b.count("n", 0)? }),
    })
}

/// Parses a checker expression such as `max_evals(100000) | target_cost(0, 1e-6)`.
pub fn parse(text: &str) -> Result<CheckerExpr, ParseError> {
    expr::parse(text, &mut build)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(c: &mut CheckerExpr, run: &RunState) -> bool {
        c.check(run)
    }

    #[test]
    fn target_cost_edges() {
        let at = |fx: f64| RunState { best_fx: Some(fx), ..RunState::default() };
        // The original's cases: TargetCost(0.9e-6) is true at fx = 0 (within atol); TargetCost(-2e-6) is false.
        assert!(check(&mut parse("target_cost(0.9e-6)").unwrap(), &at(0.0)));
        assert!(!check(&mut parse("target_cost(-2e-6)").unwrap(), &at(0.0)));
        assert!(check(&mut target_cost(1.0, 0.0), &at(1.0)));
        assert!(!check(&mut target_cost(1.0, 0.0), &at(1.0 + 1e-12)));
        assert!(!check(&mut target_cost(1.0, 0.0), &RunState::default()));
    }

    #[test]
    fn counters_and_time() {
        let run = RunState {
            evaluations: 100,
            session_seconds: 5.0,
            overall_seconds: 12.0,
            optimizers_converged: 2,
            ..RunState::default()
        };
        assert!(check(&mut max_evals(100), &run));
        assert!(!check(&mut max_evals(101), &run));
        assert!(check(&mut max_seconds(5.0), &run));
        assert!(!check(&mut max_seconds(6.0), &run));
        assert!(check(&mut parse("max_seconds(overall=10)").unwrap(), &run));
        assert!(check(&mut n_converged(2), &run));
        assert!(!check(&mut n_converged(3), &run));
    }

    #[test]
    fn strings_round_trip() {
        for text in [
            "max_evals(100000) | target_cost(0, 1e-6)",
            "max_seconds(overall=60) & n_converged(3)",
            "max_seconds(session=2.5)",
        ] {
            assert_eq!(parse(text).unwrap().to_string(), text);
        }
        let err = parse("max_seconds()").unwrap_err();
        assert_eq!(err.message, "max_seconds takes one of `session` or `overall`");
        let err = parse("max_evals(10) | max_evalz(3)").unwrap_err();
        assert_eq!(err.column, 17);
        assert!(
            err.message.starts_with("unknown checker `max_evalz`; expected one of max_evals,"),
            "{}",
            err.message
        );
    }
}
