//! The built-in benchmark functions: the 23 test functions of the Python GloMPO plus `sphere` and
//! `ellipsoid`, each with its default bounds and, where it is known, its global minimum.
//!
//! A function is built by name with [`build`], which returns a [`Benchmark`]; [`catalogue`] lists them
//! all. A [`Benchmark`] is an [`Objective`]: `evaluate` sleeps for the `delay_s` parameter (a stand-in
//! for an expensive objective) and then returns [`Benchmark::value`].
//!
//! ```
//! use glompo_core::serde_json::json;
//! use glompo_core::{functions, Objective};
//!
//! let params = json!({"delay_s": 0.0}).as_object().cloned().unwrap_or_default();
//! let f = functions::build("Styblinski-Tang", 2, &params).unwrap();
//! assert_eq!(f.name(), "styblinski_tang");
//! let x = f.min_x().unwrap();
//! let fx = f.evaluate(&x).unwrap();
//! assert!((fx - f.min_fx().unwrap()).abs() < 1e-9);
//! ```
//!
//! # The functions
//!
//! Sums run over i = 1..d. "(+s)" is the constant added with `shift_positive`.
//!
//! | name | f(x) | bounds | minimum |
//! |---|---|---|---|
//! | `ackley` | −a·exp(−b·√(Σx²/d)) − exp(Σcos(c·x)/d) + a + e | ±32.768 | 0 at 0 |
//! | `alpine01` | Σ\|x·sin x + 0.1x\| | ±10 | 0 at 0 |
//! | `alpine02` | −Π √x·sin x | [0, 10] | −2.808131180007005^d at 7.917052684666207 |
//! | `deceptive` | −(Σg_i(x_i)/d)^b (+1) | [0, 1] | −1 at a random point |
//! | `easom` | −cos x₁·cos x₂·exp(−(x₁−π)² − (x₂−π)²) (+1), d = 2 | ±100 | −1 at (π, π) |
//! | `ellipsoid` | Σ 10^(6(i−1)/(d−1))·x² | ±5 | 0 at 0 |
//! | `exp_least_squares_cost` | Σ_h (Σ_j exp(−p_j·u_h) − g_h)² | `p_range` | 0 (if `sigma_fixed` = 0) |
//! | `griewank` | 1 + Σx²/4000 − Π cos(x_i/√i) | ±600 | 0 at 0 |
//! | `langermann` | −Σ c_k·cos(π·r_k)·exp(−r_k/π) (+5.2), d = 2 | [0, 10] | −5.162126159963982 |
//! | `lennard_jones` | 4ε·Σ_{pairs} (σ/r)¹² − (σ/r)⁶ | ±σ·∛(πN/(3√2)) | up to 15 atoms in 3-D |
//! | `levy` | sin²(πw₁) + Σ_{i<d}(w−1)²(1 + 10sin²(πw+1)) + (w_d−1)²(1 + sin²(2πw_d)) | ±10 | 0 at 1 |
//! | `michalewicz` | −Σ sin x·sin^(2m)(i·x²/π) | [0, π] | d = 2, 5, 10 with m = 10 |
//! | `qing` | Σ (x² − i)² | ±500 | 0 at ±√i |
//! | `rana` | Σ_i t(x₁, x_i), the original's variant | ±500.000001 | d ≤ 10 |
//! | `rastrigin` | 10d + Σ x² − 10cos(2πx) | ±5.12 | 0 at 0 |
//! | `rosenbrock` | Σ_{i<d} 100(x_{i+1} − x_i²)² + (1 − x_i)², d ≥ 2 | ±2.048 | 0 at 1 |
//! | `schwefel` | −Σ x·sin√\|x\| (+418.9830·d) | ±500 | −418.9828872724337·d at 420.968746359982 |
//! | `shekel` | −Σ_{k≤m} 1/(‖x − A_k‖² + c_k) (+12), d ≤ 4 | ±32.768 | every m and d, near 4 |
//! | `shubert` | style 1: Π Σ_j j·cos((j+1)x + j); 3: −Σ Σ_j j·sin(…); 4: −Σ Σ_j j·cos(…) | ±10 | every d |
//! | `sphere` | Σ x² | ±5.12 | 0 at 0 |
//! | `stochastic` | Σ ε_i·\|x − 1/i\|, ε_i ~ U[0, 1) per call | ±5 | 0 at 1/i |
//! | `styblinski_tang` | Σ (x⁴ − 16x² + 5x)/2 | ±500 | −39.16616570377141·d at −2.903534027771177 |
//! | `trigonometric` | 1 + Σ 8sin²(7(x−0.9)²) + 6sin²(14(x−0.9)²) + (x−0.9)² | ±500 | 1 at 0.9 |
//! | `vincent` | −Σ sin(10·ln x) | [0.25, 10] | −d at exp(13π/20) |
//! | `zero_sum` | 0 if Σx = 0, else 1 + √(10⁴·\|Σx\|) | ±10 | 0 on Σx = 0 |
//!
//! # Differences from the Python original
//!
//! The formulas, bounds, parameters and defaults follow the original, with its known errors fixed:
//! `zero_sum` reports its own minimum (not Vincent's); `alpine02`, `styblinski_tang`, `schwefel`,
//! `langermann` and `vincent` give their minima to full precision; `levy` is the standard form;
//! `shubert` styles 3 and 4 have the minus sign of their published definitions (so that the published
//! minima hold) and a minimum in every dimension; `shekel` uses the standard widths and exact minima;
//! `rana`'s minimum is the true one (the original's corner is not a minimum for d ≥ 2);
//! `lennard_jones` honours `delay_s` and has minima for small clusters; `stochastic` uses 1/i, as the
//! original's code (not its docstring) does. The comments beside each constant say where it comes from.

mod classic;
mod lennard_jones;
mod multimodal;
mod params;
mod random;
mod rotate;
mod shift;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{CoreError, EvalError};
use crate::objective::{EvalOutput, Objective};
use crate::point::Bounds;
use params::{Params, param_error};

/// A built-in benchmark function instance, made by [`build`].
///
/// It knows its default bounds and, where it is known, its global minimum. Evaluating it through
/// [`Objective::evaluate`] sleeps for its `delay_s` first; [`Benchmark::value`] does not.
#[derive(Debug)]
pub struct Benchmark {
    name: &'static str,
    dim: usize,
    delay_s: f64,
    delay: Duration,
    bounds: Bounds,
    min_fx: Option<f64>,
    min_x: Option<Vec<f64>>,
    shift: Option<Vec<f64>>,
    func: Box<dyn Function>,
}

impl Benchmark {
    /// The canonical snake_case name, e.g. `"rastrigin"`.
    pub fn name(&self) -> &str {
        self.name
    }

    /// The number of dimensions.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The function's default bounds.
    pub fn bounds(&self) -> Bounds {
        self.bounds.clone()
    }

    /// The value of the global minimum, or `None` where it is not known.
    pub fn min_fx(&self) -> Option<f64> {
        self.min_fx
    }

    /// One global minimiser, or `None` where none is known. Several functions have many; this is one.
    pub fn min_x(&self) -> Option<Vec<f64>> {
        self.min_x.clone()
    }

    /// The shift `s` of the `shift` parameter (the function is `f(x − s)`), or `None` without one.
    pub fn shift(&self) -> Option<&[f64]> {
        self.shift.as_deref()
    }

    /// The seconds slept by each call of [`Objective::evaluate`].
    pub fn delay_s(&self) -> f64 {
        self.delay_s
    }

    /// `f(x)`, without the delay.
    ///
    /// `x` should have [`Benchmark::dim`] coordinates; [`Objective::evaluate`] checks that, this does
    /// not. With another length the value is meaningless, but it is still computed without a panic.
    pub fn value(&self, x: &[f64]) -> f64 {
        self.func.value(x)
    }

    /// Checks the length of `x` and sleeps for the delay.
    fn prepare(&self, x: &[f64]) -> Result<(), EvalError> {
        if x.len() != self.dim {
            return Err(EvalError::new(format!(
                "{} expects {} coordinates, got {}",
                self.name,
                self.dim,
                x.len()
            )));
        }
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        Ok(())
    }
}

impl Objective for Benchmark {
    fn evaluate(&self, x: &[f64]) -> Result<f64, EvalError> {
        self.prepare(x)?;
        Ok(self.func.value(x))
    }

    /// Like `evaluate`; `exp_least_squares_cost` also returns its residual vector as the extras
    /// `{"residuals": [...]}`.
    fn evaluate_detailed(&self, x: &[f64]) -> Result<EvalOutput, EvalError> {
        self.prepare(x)?;
        let (fx, extras) = self.func.detailed(x);
        Ok(EvalOutput { fx, extras })
    }
}

/// One line of the function catalogue, as printed by `glompo functions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionInfo {
    /// The canonical snake_case name.
    pub name: &'static str,
    /// A one-line description.
    pub summary: &'static str,
    /// The supported dimensions: `"any"`, a single number, a range such as `"1-4"`, or a rule.
    pub dims: &'static str,
    /// The function's own parameters with their defaults (every function also takes `delay_s=0`,
    /// `shift` and `shift_seed=0`).
    pub params: &'static str,
}

/// All built-in functions, in alphabetical order.
pub fn catalogue() -> &'static [FunctionInfo] {
    static CATALOGUE: OnceLock<Vec<FunctionInfo>> = OnceLock::new();
    CATALOGUE.get_or_init(|| SPECS.iter().map(|s| s.info).collect())
}

/// Builds the function `name` in `dim` dimensions.
///
/// Names are case-insensitive, and `-` and `_` may be written or left out (`Styblinski-Tang`,
/// `styblinski_tang` and `styblinskitang` are the same function). `params` are the function's own
/// parameters as found in a JSON config, e.g. `{"delay_s": 0.01, "shift_positive": true}`; every
/// function takes `delay_s` (seconds slept per evaluation, default 0) and `shift` (below), and the functions that use
/// randomness take `seed` (default 0) and are reproducible for a fixed seed.
///
/// `shift` moves the optimum: the function becomes `f(x − s)` in the same box, with the same minimum
/// value at the moved minimiser. `"shift": 0.4` draws each `s_i` uniformly within ±0.4 × half the
/// box's width (narrowed where needed so that the minimiser stays inside the box) from
/// `SeededRng::new(shift_seed)`, `shift_seed` defaulting to 0; `"shift": [..]` gives `s` itself (one
/// number per dimension), and is rejected when it moves the minimiser out of the box.
/// [`Benchmark::shift`] returns `s` and [`Benchmark::min_x`] the moved minimiser. Outside their box,
/// `schwefel`, `alpine02`, `vincent` and a few others are not bounded below by their minimum (or are not
/// defined), so for them a coordinate of `x − s` that leaves the box is mirrored back in.
///
/// `"rotate": true` (with `rotate_seed`, default 0) rotates the function about its minimiser (the
/// moved one, with `shift`): `f(m + R(x − m))` with `R` a random rotation drawn from
/// `SeededRng::new(rotate_seed)`, so that a separable function no longer is; the minimiser and the
/// minimum stay, and the functions that are folded for `shift` are folded here too.
///
/// An unknown name, an unknown parameter, a value of the wrong type or out of range, or a dimension
/// the function does not support is a [`CoreError::Config`] whose field is `objective.function`,
/// `objective.<param>` or `objective.dim`, and whose message lists what is valid.
pub fn build(name: &str, dim: usize, params: &Map<String, Value>) -> Result<Benchmark, CoreError> {
    let key = squash(name);
    let Some(spec) = SPECS.iter().find(|s| squash(s.info.name) == key) else {
        let names: Vec<&str> = SPECS.iter().map(|s| s.info.name).collect();
        return Err(CoreError::config(
            "objective.function",
            format!("unknown function `{name}`; {}", crate::expr::expected_one_of(name, &names)),
        ));
    };
    let fname = spec.info.name;
    for k in params.keys() {
        if !COMMON_PARAMS.contains(&k.as_str()) && !spec.params.contains(&k.as_str()) {
            let mut valid = COMMON_PARAMS.to_vec();
            valid.extend_from_slice(spec.params);
            return Err(CoreError::config(
                format!("objective.{k}"),
                format!("unknown parameter of {fname}; {}", crate::expr::expected_one_of(k, &valid)),
            ));
        }
    }
    spec.dims.check(fname, dim)?;
    let p = Params::new(params);
    let delay_s = p.f64_at_least("delay_s", 0.0, 0.0)?;
    let delay = Duration::try_from_secs_f64(delay_s).map_err(|_| {
        param_error("delay_s", format!("{} seconds is too long", crate::expr::fmt_num(delay_s)))
    })?;
    let parts = (spec.make)(dim, &p)?;
    let bounds = Bounds::new(parts.bounds).map_err(|e| CoreError::config("objective", e.to_string()))?;
    let (mut func, mut min_x) = (parts.func, parts.min_x);
    let shift = shift::shift_of(&p, fname, &bounds, min_x.as_deref())?;
    if let Some(s) = &shift {
        min_x = min_x.map(|m| m.iter().zip(s).map(|(m, s)| m + s).collect());
        func = Box::new(shift::translated(fname, func, s.clone(), &bounds));
    }
    let func = rotate::rotated(&p, fname, func, &bounds, min_x.as_deref())?;
    Ok(Benchmark { name: fname, dim, delay_s, delay, bounds, min_fx: parts.min_fx, min_x, shift, func })
}

/// The parameters every function takes besides its own: `delay_s`, `shift` with `shift_seed` and
/// `rotate` with `rotate_seed` (see the modules `shift` and `rotate`).
const COMMON_PARAMS: &[&str] = &["delay_s", "shift", "shift_seed", "rotate", "rotate_seed"];

/// Lower-cases `name` and drops `-` and `_`, so that the spellings of a name compare equal.
fn squash(name: &str) -> String {
    name.chars().filter(|c| *c != '-' && *c != '_').flat_map(char::to_lowercase).collect()
}

/// The evaluation of one built-in function; the bounds and minimum live in [`Benchmark`].
trait Function: fmt::Debug + Send + Sync {
    /// `f(x)`.
    fn value(&self, x: &[f64]) -> f64;

    /// `f(x)` with extras to log; the default has none.
    fn detailed(&self, x: &[f64]) -> (f64, Option<Value>) {
        (self.value(x), None)
    }
}

/// A parameterless function given by a formula.
struct Formula(fn(&[f64]) -> f64);

impl fmt::Debug for Formula {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Formula")
    }
}

impl Function for Formula {
    fn value(&self, x: &[f64]) -> f64 {
        (self.0)(x)
    }
}

/// A function with a constant added to every value (`shift_positive`).
#[derive(Debug)]
struct Shifted<F> {
    inner: F,
    shift: f64,
}

impl<F: Function> Function for Shifted<F> {
    fn value(&self, x: &[f64]) -> f64 {
        self.inner.value(x) + self.shift
    }
}

/// Wraps `inner` so that `shift` is added to its values (a shift of 0 leaves it unchanged).
fn shifted<F: Function>(inner: F, shift: f64) -> Shifted<F> {
    Shifted { inner, shift }
}

/// What a constructor returns: the function, its bounds and its known minimum.
struct Parts {
    func: Box<dyn Function>,
    bounds: Vec<(f64, f64)>,
    min_fx: Option<f64>,
    min_x: Option<Vec<f64>>,
}

impl Parts {
    /// A function with the same interval in every dimension.
    fn new(func: impl Function + 'static, dim: usize, lo: f64, hi: f64) -> Self {
        Parts { func: Box::new(func), bounds: vec![(lo, hi); dim], min_fx: None, min_x: None }
    }

    /// Sets the known minimum.
    fn min(mut self, min_fx: f64, min_x: Option<Vec<f64>>) -> Self {
        self.min_fx = Some(min_fx);
        self.min_x = min_x;
        self
    }
}

/// A constructor: the dimension has been checked against [`Spec::dims`].
type Make = fn(usize, &Params<'_>) -> Result<Parts, CoreError>;

/// The dimensions a function supports.
#[derive(Debug, Clone, Copy)]
enum Dims {
    /// Any positive number.
    Any,
    /// At least this many.
    AtLeast(usize),
    /// An inclusive range.
    Range(usize, usize),
    /// The constructor checks the dimension itself.
    Custom,
}

impl Dims {
    fn check(self, name: &str, dim: usize) -> Result<(), CoreError> {
        let (ok, valid) = match self {
            Dims::Any | Dims::Custom => (dim >= 1, "at least 1".to_owned()),
            Dims::AtLeast(n) => (dim >= n.max(1), format!("at least {n}")),
            Dims::Range(lo, hi) if lo == hi => (dim == lo, format!("exactly {lo}")),
            Dims::Range(lo, hi) => ((lo..=hi).contains(&dim), format!("{lo} to {hi}")),
        };
        if ok { Ok(()) } else { Err(dim_error(name, dim, &valid)) }
    }
}

/// The error for an unsupported dimension.
fn dim_error(name: &str, dim: usize, valid: &str) -> CoreError {
    CoreError::config("objective.dim", format!("{name} supports a dimension of {valid}, got {dim}"))
}

/// A function's entry in the registry.
struct Spec {
    info: FunctionInfo,
    /// The parameters it accepts besides `delay_s`.
    params: &'static [&'static str],
    dims: Dims,
    make: Make,
}

/// Shorthand for a registry entry.
const fn spec(
    name: &'static str,
    summary: &'static str,
    dims: (Dims, &'static str),
    params: (&'static [&'static str], &'static str),
    make: Make,
) -> Spec {
    Spec {
        info: FunctionInfo { name, summary, dims: dims.1, params: params.1 },
        params: params.0,
        dims: dims.0,
        make,
    }
}

const ANY: (Dims, &str) = (Dims::Any, "any");
const NONE: (&[&str], &str) = (&[], "—");
const SHIFT: (&[&str], &str) = (&["shift_positive"], "shift_positive=false");

/// The registry, in alphabetical order.
static SPECS: [Spec; 25] = [
    spec(
        "ackley",
        "flat outer region with many shallow dips and one deep hole at the origin",
        ANY,
        (&["a", "b", "c"], "a=20, b=0.2, c=2π"),
        classic::ackley,
    ),
    spec(
        "alpine01",
        "non-periodic, highly oscillating sum of |x·sin x + 0.1x|",
        ANY,
        NONE,
        classic::alpine01,
    ),
    spec(
        "alpine02",
        "moderately oscillating product of √x·sin x; minimum at 7.917…",
        ANY,
        NONE,
        classic::alpine02,
    ),
    spec(
        "deceptive",
        "small global minimum at a random point a, with slopes leading away from it",
        ANY,
        (&["b", "shift_positive", "seed"], "b=2, shift_positive=false, seed=0"),
        random::deceptive,
    ),
    spec(
        "easom",
        "flat plane with one small, deep hole at (π, π)",
        (Dims::Range(2, 2), "2"),
        SHIFT,
        multimodal::easom,
    ),
    spec(
        "ellipsoid",
        "ill-conditioned quadratic Σ 10^(6i/(n-1))·x_i² (condition number 1e6)",
        ANY,
        NONE,
        classic::ellipsoid,
    ),
    spec(
        "exp_least_squares_cost",
        "least-squares fit of a sum of exponentials to noisy training data",
        ANY,
        (
            &["n_train", "sigma_eval", "sigma_fixed", "u_train", "p_range", "seed"],
            "n_train=10, sigma_eval=0, sigma_fixed=0, u_train=10, p_range=[-2, 2], seed=0",
        ),
        random::exp_least_squares_cost,
    ),
    spec("griewank", "many regular local minima on a wide parabola", ANY, NONE, classic::griewank),
    spec(
        "langermann",
        "ripples around five centres, like drops falling on water",
        (Dims::Range(2, 2), "2"),
        SHIFT,
        multimodal::langermann,
    ),
    spec(
        "lennard_jones",
        "energy of a cluster of atoms under the Lennard-Jones pair potential",
        (Dims::Custom, "atoms*spatial_dims"),
        (
            &["atoms", "spatial_dims", "eps", "sigma"],
            "atoms=dim/spatial_dims, spatial_dims=3, eps=1, sigma=1",
        ),
        lennard_jones::lennard_jones,
    ),
    spec("levy", "moderately oscillating surface with its minimum at (1, …, 1)", ANY, NONE, classic::levy),
    spec(
        "michalewicz",
        "flat plane with steep narrow valleys; m sets their steepness",
        ANY,
        (&["m"], "m=10"),
        multimodal::michalewicz,
    ),
    spec("qing", "flat with parabolic walls; 2^d degenerate minima at ±√i", ANY, NONE, classic::qing),
    spec("rana", "chaotic and highly multimodal; minimum on the boundary", ANY, NONE, multimodal::rana),
    spec(
        "rastrigin",
        "paraboloid modulated by a regular grid of local minima",
        ANY,
        NONE,
        classic::rastrigin,
    ),
    spec(
        "rosenbrock",
        "narrow curved valley with its minimum at (1, …, 1)",
        (Dims::AtLeast(2), ">=2"),
        NONE,
        classic::rosenbrock,
    ),
    spec(
        "schwefel",
        "deceptive: the best minimum is far from the second best",
        ANY,
        SHIFT,
        classic::schwefel,
    ),
    spec(
        "shekel",
        "m holes of different depths on a flat plane",
        (Dims::Range(1, 4), "1-4"),
        (&["m", "shift_positive"], "m=10 (5, 7 or 10), shift_positive=false"),
        multimodal::shekel,
    ),
    spec(
        "shubert",
        "highly oscillating and periodic with many degenerate global minima",
        ANY,
        (&["style", "shift_positive"], "style=1 (1, 3 or 4), shift_positive=false"),
        multimodal::shubert,
    ),
    spec("sphere", "the quadratic bowl Σ x_i²", ANY, NONE, classic::sphere),
    spec(
        "stochastic",
        "Σ ε_i·|x_i - 1/i| with fresh uniform noise ε_i at every call",
        ANY,
        (&["seed"], "seed=0"),
        random::stochastic,
    ),
    spec(
        "styblinski_tang",
        "quartic with 2^d nearly degenerate minima; the best at -2.9035…",
        ANY,
        NONE,
        classic::styblinski_tang,
    ),
    spec(
        "trigonometric",
        "parabola that turns into a field of peaks near its minimum at 0.9",
        ANY,
        NONE,
        classic::trigonometric,
    ),
    spec("vincent", "flat with periodic peaks and troughs of varying width", ANY, NONE, classic::vincent),
    spec(
        "zero_sum",
        "a single non-axis-aligned valley: zero wherever Σ x_i = 0",
        ANY,
        NONE,
        classic::zero_sum,
    ),
];
