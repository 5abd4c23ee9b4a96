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

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::expr::{
    self, ANY, Call, Expr, LeafResult, NON_NEGATIVE, POSITIVE, ParseError, Signature, fmt_num,
};
use crate::state::{self, StateError};

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
/// A checker that remembers something (here the first best value) saves and restores it, so that a
/// resumed run ends when the uninterrupted one would have:
///
/// ```
/// use std::fmt;
/// use glompo_core::checker::{Checker, CheckerExpr, RunState};
/// use glompo_core::serde_json::{Value, json};
/// use glompo_core::state::StateError;
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
///
///     fn save(&self) -> Value {
///         json!({ "first": self.first })
///     }
///
///     fn restore(&mut self, state: &Value) -> Result<(), StateError> {
///         match state.get("first") {
///             Some(Value::Null) => self.first = None,
///             Some(v) if v.is_f64() => self.first = v.as_f64(),
///             _ => return Err(StateError::new(format!("checker {self}"), format!("expected {{\"first\": …}}, found {state}"))),
///         }
///         Ok(())
///     }
/// }
///
/// let mut c = CheckerExpr::leaf(Box::new(Fraction { first: None, ratio: 0.5 }));
/// assert!(!c.check(&RunState { best_fx: Some(8.0), ..Default::default() }));
/// let mut resumed = CheckerExpr::leaf(Box::new(Fraction { first: None, ratio: 0.5 }));
/// resumed.restore(&c.save()).unwrap();
/// assert!(resumed.check(&RunState { best_fx: Some(4.0), ..Default::default() }));
/// ```
pub trait Checker: Send + fmt::Display {
    /// Whether the run should end.
    fn check(&mut self, run: &RunState) -> bool;

    /// The number of logged evaluations from which this checker is true whatever else happens (a
    /// budget), if there is one. The manager starts no evaluation past the budget of the run's
    /// expression ([`CheckerExpr::budget`]). The default: none.
    fn budget(&self) -> Option<u64> {
        None
    }

    /// What this checker being true says about the end of the run. The default:
    /// [`EndCause::Criterion`].
    fn cause(&self) -> EndCause {
        EndCause::Criterion
    }

    /// Its state, for a checkpoint: what its later answers depend on besides its configuration and
    /// the [`RunState`]. Of the built-in checkers only [`KillsAfterConvergence`] has one (the kill
    /// count it latched); the others read only the run's counters and clocks, which the manager keeps.
    /// The default, for a stateless checker: `null`. See [`crate::state`].
    fn save(&self) -> Value {
        Value::Null
    }

    /// Continues from `state`, made by [`Checker::save`] of a checker built from the same
    /// configuration. A state of another shape is an error naming the checker; a stateful checker
    /// refuses `null`. The default, for a stateless checker, accepts `null` only.
    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        state::stateless(&format!("checker {self}"), state)
    }
}

/// Why a checker ends a run, in words a user reads as what happened: a spent budget is not a
/// converged fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndCause {
    /// The evaluation budget is spent (`max_evals`).
    BudgetSpent,
    /// The best value reached the target (`target_cost`).
    TargetReached,
    /// The time limit passed (`max_seconds`).
    TimeLimit,
    /// Optimizers converged by their own criteria (`n_converged`, `kills_after_convergence`).
    OptimizersConverged,
    /// Enough optimizers were killed (`max_kills`).
    KillLimit,
    /// Enough optimizers were started (`max_optimizers_started`).
    StartLimit,
    /// Another condition (a checker of the user's own).
    Criterion,
}

impl fmt::Display for EndCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EndCause::BudgetSpent => "budget spent",
            EndCause::TargetReached => "target reached",
            EndCause::TimeLimit => "time limit reached",
            EndCause::OptimizersConverged => "optimizers converged",
            EndCause::KillLimit => "kill limit reached",
            EndCause::StartLimit => "start limit reached",
            EndCause::Criterion => "stop criterion met",
        })
    }
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

    /// The number of logged evaluations from which the whole expression is true whatever else happens:
    /// the smaller budget of an `|`, the larger of an `&` whose sides both have one.
    ///
    /// ```
    /// use glompo_core::checker::{max_evals, target_cost};
    /// assert_eq!((max_evals(500) | target_cost(0.0, 1e-6)).budget(), Some(500));
    /// assert_eq!((max_evals(500) & target_cost(0.0, 1e-6)).budget(), None);
    /// assert_eq!((max_evals(500) & max_evals(800) | max_evals(900)).budget(), Some(800));
    /// ```
    pub fn budget(&self) -> Option<u64> {
        match self {
            Expr::Leaf(leaf, _) => leaf.budget(),
            Expr::Or(a, b) => match (a.budget(), b.budget()) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            },
            Expr::And(a, b) => Some(a.budget()?.max(b.budget()?)),
        }
    }

    /// The states of the leaves ([`Checker::save`]), as a list in leaf order.
    pub fn save(&self) -> Value {
        self.save_leaves(|leaf| leaf.save())
    }

    /// Restores every leaf from a list made by [`CheckerExpr::save`] of the same expression; a list of
    /// another length, or a leaf's state of another shape, is an error naming the leaf.
    pub fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        self.restore_leaves("checker", state, &mut |leaf, s| leaf.restore(s))
    }

    /// The causes of the leaves that were true at the last evaluation, each once, left to right.
    pub fn causes(&self) -> Vec<EndCause> {
        let mut causes = Vec::new();
        for (leaf, value) in self.leaves().into_iter().zip(self.leaf_values()) {
            if value == Some(true) && !causes.contains(&leaf.cause()) {
                causes.push(leaf.cause());
            }
        }
        causes
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

    fn budget(&self) -> Option<u64> {
        Some(self.max)
    }

    fn cause(&self) -> EndCause {
        EndCause::BudgetSpent
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

    fn cause(&self) -> EndCause {
        EndCause::TargetReached
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

    fn cause(&self) -> EndCause {
        EndCause::TimeLimit
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

    fn cause(&self) -> EndCause {
        EndCause::OptimizersConverged
    }
}

impl fmt::Display for NConverged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n_converged({})", self.n)
    }
}

/// True once at least `n` optimizers were killed (by hunts or STOP files).
#[derive(Debug, Clone)]
pub struct MaxKills {
    /// The count.
    pub n: u64,
}

impl Checker for MaxKills {
    fn check(&mut self, run: &RunState) -> bool {
        run.optimizers_killed >= self.n
    }

    fn cause(&self) -> EndCause {
        EndCause::KillLimit
    }
}

impl fmt::Display for MaxKills {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "max_kills({})", self.n)
    }
}

/// True once at least `n` optimizers were started.
#[derive(Debug, Clone)]
pub struct MaxOptimizersStarted {
    /// The count.
    pub n: u64,
}

impl Checker for MaxOptimizersStarted {
    fn check(&mut self, run: &RunState) -> bool {
        run.optimizers_started >= self.n
    }

    fn cause(&self) -> EndCause {
        EndCause::StartLimit
    }
}

impl fmt::Display for MaxOptimizersStarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "max_optimizers_started({})", self.n)
    }
}

/// The original's default: once `n_converged` optimizers have converged by their own criteria, it
/// notes the number of kills so far and becomes true when `n_killed` more kills have happened since.
/// `kills_after_convergence(0, 1)` stops at the first converged optimizer.
#[derive(Debug, Clone)]
pub struct KillsAfterConvergence {
    /// Kills needed after the convergences.
    pub n_killed: u64,
    /// Convergences needed first.
    pub n_converged: u64,
    kills_at_convergence: Option<u64>,
}

impl KillsAfterConvergence {
    /// A fresh checker (not yet latched).
    pub fn new(n_killed: u64, n_converged: u64) -> Self {
        KillsAfterConvergence { n_killed, n_converged, kills_at_convergence: None }
    }
}

impl Checker for KillsAfterConvergence {
    fn check(&mut self, run: &RunState) -> bool {
        if self.kills_at_convergence.is_none() && run.optimizers_converged >= self.n_converged {
            self.kills_at_convergence = Some(run.optimizers_killed);
        }
        self.kills_at_convergence.is_some_and(|k| run.optimizers_killed - k >= self.n_killed)
    }

    /// `{"kills_at_convergence": 6}`, or `null` in it before the convergences: the kill count it
    /// latched.
    fn save(&self) -> Value {
        state::save(&KillsAfterConvergenceState { kills_at_convergence: self.kills_at_convergence })
    }

    fn restore(&mut self, state: &Value) -> Result<(), StateError> {
        let saved: KillsAfterConvergenceState = state::load(&format!("checker {self}"), state)?;
        self.kills_at_convergence = saved.kills_at_convergence;
        Ok(())
    }

    fn cause(&self) -> EndCause {
        EndCause::OptimizersConverged
    }
}

impl fmt::Display for KillsAfterConvergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kills_after_convergence({}, {})", self.n_killed, self.n_converged)
    }
}

/// The state of a [`KillsAfterConvergence`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KillsAfterConvergenceState {
    #[serde(deserialize_with = "Option::deserialize")]
    kills_at_convergence: Option<u64>,
}

/// `kills_after_convergence(n_killed, n_converged)` as an expression: the default checker.
pub fn kills_after_convergence(n_killed: u64, n_converged: u64) -> CheckerExpr {
    Expr::leaf(Box::new(KillsAfterConvergence::new(n_killed, n_converged)))
}

/// `max_kills(n)` as an expression.
pub fn max_kills(n: u64) -> CheckerExpr {
    Expr::leaf(Box::new(MaxKills { n }))
}

/// `max_optimizers_started(n)` as an expression.
pub fn max_optimizers_started(n: u64) -> CheckerExpr {
    Expr::leaf(Box::new(MaxOptimizersStarted { n }))
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
    Signature { name: "max_kills", params: &["n"], required: 1 },
    Signature { name: "max_optimizers_started", params: &["n"], required: 1 },
    Signature { name: "kills_after_convergence", params: &["n_killed", "n_converged"], required: 0 },
];

fn build(call: &Call) -> LeafResult<Box<dyn Checker>> {
    let sig = CHECKERS
        .iter()
        .find(|s| s.name == call.name)
        .ok_or_else(|| expr::unknown_name("checker", call, CHECKERS))?;
    let b = sig.bind(call)?;
    Ok(match sig.name {
        "max_evals" => Box::new(MaxEvals { max: b.count("max", 0)? }),
        "target_cost" => Box::new(TargetCost {
            target: b.num("target", 0.0, ANY)?,
            atol: b.num("atol", 1e-6, NON_NEGATIVE)?,
        }),
        "max_seconds" => {
            let session = b.num("session", f64::NAN, POSITIVE)?;
            let overall = b.num("overall", f64::NAN, POSITIVE)?;
            match (session.is_nan(), overall.is_nan()) {
                (false, true) => Box::new(MaxSeconds { seconds: session, overall: false }),
                (true, false) => Box::new(MaxSeconds { seconds: overall, overall: true }),
                _ => return Err((call.column, "max_seconds takes one of `session` or `overall`".into())),
            }
        }
        "n_converged" => Box::new(NConverged { n: b.count("n", 0)? }),
        "max_kills" => Box::new(MaxKills { n: b.count("n", 0)? }),
        "max_optimizers_started" => Box::new(MaxOptimizersStarted { n: b.count("n", 0)? }),
        "kills_after_convergence" => {
            Box::new(KillsAfterConvergence::new(b.count("n_killed", 0)?, b.count("n_converged", 1)?))
        }
        name => return Err((call.column, format!("the checker `{name}` has no builder"))),
    })
}

/// Parses a checker expression such as `max_evals(100000) | target_cost(0, 1e-6)`.
pub fn parse(text: &str) -> Result<CheckerExpr, ParseError> {
    expr::parse(text, &mut build)
}

#[cfg(test)]
mod tests;
