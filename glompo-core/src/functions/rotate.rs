//! The `rotate` option of every built-in function with a known minimiser: `f(m + R(x − m))` in the
//! unchanged box, `m` the minimiser (moved by `shift` if that is given too) and `R` a random
//! rotation, so that a separable function (a sum of one-dimensional terms: rastrigin, schwefel, …)
//! no longer is, and a search along the coordinates gains nothing over any other direction.
//!
//! `"rotate": true` draws `R` from `SeededRng::new(rotate_seed)` (default seed 0): a `d × d` matrix
//! of standard normal draws, row by row, made orthonormal by Gram–Schmidt on its rows, in order.
//! The minimiser and the minimum value stay the same. For the functions whose stated minimum does not
//! hold outside their box (`schwefel` and the others of `shift`'s `FOLDED`), every coordinate of
//! `m + R(x − m)` that leaves the box is mirrored back in, as `shift` does.

use serde_json::Value;

use super::Function;
use super::params::{Params, param_error};
use super::shift::{FOLDED, fold_into};
use crate::error::CoreError;
use crate::point::Bounds;
use crate::rng::SeededRng;

/// `inner(m + R(x − m))`, folded into the box for the functions of [`FOLDED`].
#[derive(Debug)]
pub(super) struct Rotated {
    inner: Box<dyn Function>,
    /// The rows of `R`.
    rotation: Vec<Vec<f64>>,
    centre: Vec<f64>,
    fold: Option<Vec<(f64, f64)>>,
}

impl Rotated {
    /// The point `inner` is evaluated at.
    fn moved(&self, x: &[f64]) -> Vec<f64> {
        let d: Vec<f64> = x.iter().zip(&self.centre).map(|(x, m)| x - m).collect();
        let mut y: Vec<f64> = self
            .rotation
            .iter()
            .zip(&self.centre)
            .map(|(row, m)| m + row.iter().zip(&d).map(|(r, d)| r * d).sum::<f64>())
            .collect();
        fold_into(&mut y, self.fold.as_deref());
        y
    }
}

impl Function for Rotated {
    fn value(&self, x: &[f64]) -> f64 {
        self.inner.value(&self.moved(x))
    }

    fn detailed(&self, x: &[f64]) -> (f64, Option<Value>) {
        self.inner.detailed(&self.moved(x))
    }
}

/// A random rotation of `dim` dimensions from `seed` (see the [module docs](self)).
pub(crate) fn rotation(dim: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = SeededRng::new(seed);
    let mut rows: Vec<Vec<f64>> = Vec::with_capacity(dim);
    while rows.len() < dim {
        let mut v = vec![0.0; dim];
        rng.fill_normal(&mut v);
        for r in &rows {
            let dot: f64 = r.iter().zip(&v).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(r).for_each(|(v, r)| *v -= dot * r);
        }
        let norm = v.iter().map(|v| v * v).sum::<f64>().sqrt();
        // A draw (almost) inside the span of the rows so far is drawn again.
        if norm > 1e-8 {
            rows.push(v.into_iter().map(|v| v / norm).collect());
        }
    }
    rows
}

/// `inner` rotated about `min_x` when `p` asks for it (`rotate` and `rotate_seed`); `inner` itself
/// otherwise.
pub(super) fn rotated(
    p: &Params<'_>,
    name: &str,
    inner: Box<dyn Function>,
    bounds: &Bounds,
    min_x: Option<&[f64]>,
) -> Result<Box<dyn Function>, CoreError> {
    if p.has("rotate_seed") && !p.has("rotate") {
        return Err(param_error("rotate_seed", "is only used with `rotate`"));
    }
    if !p.bool("rotate", false)? {
        return Ok(inner);
    }
    let Some(m) = min_x else {
        return Err(param_error("rotate", format!("{name} has no known minimiser, so it cannot be rotated")));
    };
    let rotation = rotation(m.len(), p.u64("rotate_seed", 0)?);
    let fold = FOLDED.contains(&name).then(|| bounds.pairs().collect());
    Ok(Box::new(Rotated { inner, rotation, centre: m.to_vec(), fold }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rotation_is_orthonormal_and_seeded() {
        let r = rotation(7, 3);
        for (i, a) in r.iter().enumerate() {
            for (j, b) in r.iter().enumerate() {
                let dot: f64 = a.iter().zip(b).map(|(a, b)| a * b).sum();
                assert!((dot - f64::from(u8::from(i == j))).abs() < 1e-12, "{i} {j} {dot}");
            }
        }
        assert_eq!(rotation(7, 3), r);
        assert_ne!(rotation(7, 4), r);
    }
}
