//! The `shift` option of every built-in function: `f(x − s)` in the unchanged box, so that the
//! optimum moves off the point where the function puts it (for most, the box centre).
//!
//! `"shift": 0.4` draws `s` from `SeededRng::new(shift_seed)` (default seed 0): for coordinate `i`,
//! in order, `s_i = lo_i' + (hi_i' − lo_i')·u_i` with `u_i` one [`SeededRng::uniform`] draw, where
//! `[lo_i', hi_i'] = [−r_i, r_i] ∩ [lo_i − m_i, hi_i − m_i]`, `r_i` = shift × half the width of the
//! box, and `m` the known minimiser. For a function whose minimiser is the box centre the
//! intersection is `[−r_i, r_i]`; for the others (`rosenbrock`, `levy`, `schwefel`, …) it is narrowed
//! so that the moved minimiser `m + s` stays inside the box. `"shift": [s_1, …, s_d]` gives `s`
//! itself, and is rejected when `m + s` leaves the box.
//!
//! The minimum value stays the same. Most functions are evaluated at `x − s` itself, because their
//! stated minimum is the least value on the whole space. A few are not bounded below by it (or are
//! not defined) outside their box — `schwefel` goes below its minimum beyond ±500, `alpine02` and
//! `vincent` take roots and logarithms — so for those ([`FOLDED`]) every coordinate of `x − s`
//! that leaves the box is mirrored back in at the bound it crossed; inside the box the value is still
//! `f(x − s)`. A function without a known minimiser cannot be shifted.

use serde_json::Value;

use super::Function;
use super::params::{Params, param_error};
use crate::error::CoreError;
use crate::point::Bounds;
use crate::rng::SeededRng;

/// The functions whose stated minimum does not hold outside their box, so that a shifted point is
/// folded back into it.
pub(super) const FOLDED: &[&str] = &[
    "alpine02",
    "deceptive",
    "exp_least_squares_cost",
    "langermann",
    "michalewicz",
    "rana",
    "schwefel",
    "shekel",
    "shubert",
    "vincent",
];

/// The largest random shift, as a fraction of the half-width: beyond 1 the draw is all clipping.
const MAX_FRACTION: f64 = 1.0;

/// `inner(x − s)`, with the coordinates of `x − s` folded into `fold` where that is given.
#[derive(Debug)]
pub(super) struct Translated {
    inner: Box<dyn Function>,
    shift: Vec<f64>,
    fold: Option<Vec<(f64, f64)>>,
}

impl Translated {
    /// The point `inner` is evaluated at.
    fn moved(&self, x: &[f64]) -> Vec<f64> {
        let mut y: Vec<f64> = x.iter().zip(&self.shift).map(|(x, s)| x - s).collect();
        fold_into(&mut y, self.fold.as_deref());
        y
    }
}

impl Function for Translated {
    fn value(&self, x: &[f64]) -> f64 {
        self.inner.value(&self.moved(x))
    }

    fn detailed(&self, x: &[f64]) -> (f64, Option<Value>) {
        self.inner.detailed(&self.moved(x))
    }
}

/// Mirrors every coordinate of `y` into its interval of `fold`, where that is given.
pub(super) fn fold_into(y: &mut [f64], fold: Option<&[(f64, f64)]>) {
    for (v, &(lo, hi)) in y.iter_mut().zip(fold.unwrap_or_default()) {
        *v = mirror(*v, lo, hi);
    }
}

/// `v` mirrored into `[lo, hi]` at the bounds it crosses, as often as needed (a triangle wave).
fn mirror(v: f64, lo: f64, hi: f64) -> f64 {
    let width = hi - lo;
    if (lo..=hi).contains(&v) || width <= 0.0 {
        return v.clamp(lo, hi);
    }
    let t = (v - lo).rem_euclid(2.0 * width);
    lo + if t > width { 2.0 * width - t } else { t }
}

/// The shift asked for by `p` (`shift` and `shift_seed`), or `None` when `shift` is absent.
///
/// `min_x` is the known minimiser, which must stay inside `bounds` once moved.
pub(super) fn shift_of(
    p: &Params<'_>,
    name: &str,
    bounds: &Bounds,
    min_x: Option<&[f64]>,
) -> Result<Option<Vec<f64>>, CoreError> {
    if p.has("shift_seed") && !p.has("shift") {
        return Err(param_error("shift_seed", "is only used with `shift`"));
    }
    let Some(value) = p.get("shift") else { return Ok(None) };
    let Some(m) = min_x else {
        return Err(param_error("shift", format!("{name} has no known minimiser, so it cannot be shifted")));
    };
    let pairs: Vec<(f64, f64)> = bounds.pairs().collect();
    let shift = match value {
        Value::Array(items) => {
            if items.len() != m.len() {
                return Err(param_error(
                    "shift",
                    format!("expected {} numbers (one per dimension), got {}", m.len(), items.len()),
                ));
            }
            let mut s = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item.as_f64() {
                    Some(v) if v.is_finite() => s.push(v),
                    _ => {
                        return Err(param_error(
                            "shift",
                            format!("element {i}: expected a finite number, got {item}"),
                        ));
                    }
                }
            }
            s
        }
        _ => {
            let fraction = p.f64_at_least("shift", 0.0, 0.0)?;
            if fraction > MAX_FRACTION {
                return Err(param_error(
                    "shift",
                    format!("a fraction of the half-width must be at most {MAX_FRACTION}, got {fraction}"),
                ));
            }
            let mut rng = SeededRng::new(p.u64("shift_seed", 0)?);
            pairs
                .iter()
                .zip(m)
                .map(|(&(lo, hi), &mi)| {
                    let r = fraction * (hi - lo) / 2.0;
                    let (a, b) = ((lo - mi).max(-r), (hi - mi).min(r));
                    a + (b - a) * rng.uniform()
                })
                .collect()
        }
    };
    for (i, ((&(lo, hi), &mi), &si)) in pairs.iter().zip(m).zip(&shift).enumerate() {
        let moved = mi + si;
        if !(lo..=hi).contains(&moved) {
            return Err(param_error(
                "shift",
                format!(
                    "moves the minimiser of {name} out of its bounds in coordinate {i}: {mi} + {si} = {moved}, \
                     outside [{lo}, {hi}]"
                ),
            ));
        }
    }
    Ok(Some(shift))
}

/// `inner` evaluated at `x − shift`, folded into `bounds` for the functions of [`FOLDED`].
pub(super) fn translated(
    name: &str,
    inner: Box<dyn Function>,
    shift: Vec<f64>,
    bounds: &Bounds,
) -> Translated {
    let fold = FOLDED.contains(&name).then(|| bounds.pairs().collect());
    Translated { inner, shift, fold }
}
