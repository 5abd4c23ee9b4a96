//! Functions that use randomness: Deceptive (random minimiser), Stochastic (noise at every call) and
//! ExpLeastSquaresCost (random truth and training data, optional noise).
//!
//! Each takes a `seed` parameter (default 0) and draws from its own [`SeededRng`], so an instance is
//! reproducible: the same seed gives the same function and, for the noisy ones, the same sequence of
//! values for the same sequence of calls. Per-call noise comes from a generator behind a [`Mutex`], so
//! that the function stays `Sync`; concurrent callers share the one stream in lock order.

use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

use super::{Function, Params, Parts, param_error};
use crate::error::CoreError;
use crate::rng::SeededRng;

/// Locks the generator; a poisoned lock (a panic while it was held) is still usable, since a
/// generator has no invariant that a panic could break.
fn lock(rng: &Mutex<SeededRng>) -> MutexGuard<'_, SeededRng> {
    rng.lock().unwrap_or_else(|e| e.into_inner())
}

/// Deceptive with its random minimiser `a`.
#[derive(Debug)]
struct Deceptive {
    a: Vec<f64>,
    b: f64,
    shift: f64,
}

/// The piecewise-linear `g(x)` of the Deceptive function for one coordinate; it is 1 at `x = a`, in
/// `[0, 1]` on `[0, 1]`, and 0 outside.
fn deceptive_g(x: f64, a: f64) -> f64 {
    if (0.0..=0.8 * a).contains(&x) {
        0.8 - x / a
    } else if x > 0.8 * a && x <= a {
        5.0 * x / a - 4.0
    } else if x > a && x <= (1.0 + 4.0 * a) / 5.0 {
        5.0 * (x - a) / (a - 1.0) + 1.0
    } else if x > (1.0 + 4.0 * a) / 5.0 && x <= 1.0 {
        (x - 1.0) / (1.0 - a) + 0.8
    } else {
        0.0
    }
}

impl Function for Deceptive {
    fn value(&self, x: &[f64]) -> f64 {
        let n = self.a.len() as f64;
        let mean = x.iter().zip(&self.a).map(|(&v, &a)| deceptive_g(v, a)).sum::<f64>() / n;
        self.shift - mean.powf(self.b)
    }
}

/// Deceptive: `-((1/d)·Σ g_i(x_i))^b` on `[0, 1]`, where each `g_i` peaks at a random `a_i` drawn
/// uniformly from `(0, 1)` with `seed`; f(a) = -1, plus 1 with `shift_positive`.
pub(super) fn deceptive(dim: usize, p: &Params<'_>) -> Result<Parts, CoreError> {
    let b = p.f64_positive("b", 2.0)?;
    let shift = if p.bool("shift_positive", false)? { 1.0 } else { 0.0 };
    let mut rng = SeededRng::new(p.u64("seed", 0)?);
    // `a` must be strictly inside (0, 1) for the pieces of g to be defined.
    let a: Vec<f64> = (0..dim)
        .map(|_| {
            loop {
                let v = rng.uniform();
                if v > 0.0 {
                    break v;
                }
            }
        })
        .collect();
    let min_x = a.clone();
    Ok(Parts::new(Deceptive { a, b, shift }, dim, 0.0, 1.0).min(shift - 1.0, Some(min_x)))
}

/// Stochastic with its noise generator.
#[derive(Debug)]
struct Stochastic {
    rng: Mutex<SeededRng>,
}

impl Function for Stochastic {
    fn value(&self, x: &[f64]) -> f64 {
        let mut rng = lock(&self.rng);
        x.iter().enumerate().map(|(i, v)| rng.uniform() * (v - 1.0 / (i + 1) as f64).abs()).sum()
    }
}

/// Stochastic: `Σ ε_i·|x_i - 1/i|` with i from 1 and fresh `ε_i ~ U[0, 1)` at every call, on `[-5, 5]`;
/// the minimum 0 is at `x_i = 1/i`. (The Python original's docstring says `1/d` but its code uses
/// `1/i`, which is what is used here.)
pub(super) fn stochastic(dim: usize, p: &Params<'_>) -> Result<Parts, CoreError> {
    let rng = Mutex::new(SeededRng::new(p.u64("seed", 0)?));
    let min_x = (1..=dim).map(|i| 1.0 / i as f64).collect();
    Ok(Parts::new(Stochastic { rng }, dim, -5.0, 5.0).min(0.0, Some(min_x)))
}

/// The least-squares cost with its training data.
#[derive(Debug)]
struct ExpLeastSquares {
    u: Vec<f64>,
    g_train: Vec<f64>,
    sigma_eval: f64,
    rng: Mutex<SeededRng>,
}

/// `g(p, u) = Σ_j exp(-p_j·u)`.
fn exp_sum(p: &[f64], u: f64) -> f64 {
    p.iter().map(|pj| (-pj * u).exp()).sum()
}

impl ExpLeastSquares {
    /// The residuals `(g(x, u_h) - g_train_h)·(1 + ε)`, with one `ε ~ U[-sigma_eval, sigma_eval]` per call.
    fn residuals(&self, x: &[f64]) -> Vec<f64> {
        let scale = if self.sigma_eval > 0.0 {
            1.0 + lock(&self.rng).uniform_in(-self.sigma_eval, self.sigma_eval)
        } else {
            1.0
        };
        self.u.iter().zip(&self.g_train).map(|(&u, &gt)| (exp_sum(x, u) - gt) * scale).collect()
    }
}

impl Function for ExpLeastSquares {
    fn value(&self, x: &[f64]) -> f64 {
        self.residuals(x).iter().map(|r| r * r).sum()
    }

    fn detailed(&self, x: &[f64]) -> (f64, Option<Value>) {
        let r = self.residuals(x);
        let fx = r.iter().map(|v| v * v).sum();
        (fx, Some(serde_json::json!({ "residuals": r })))
    }
}

/// Reads a `[lo, hi]` pair with `lo < hi`.
fn range(key: &str, v: &Value) -> Result<(f64, f64), CoreError> {
    match v.as_array().map(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>()) {
        Some(Some(pair)) if pair.len() == 2 && pair.iter().all(|x| x.is_finite()) && pair[0] < pair[1] => {
            Ok((pair[0], pair[1]))
        }
        _ => Err(param_error(key, format!("expected [lo, hi] with finite lo < hi, got {v}"))),
    }
}

/// ExpLeastSquaresCost: `Σ_h (g(p, u_h) - g_train_h)²` with `g(p, u) = Σ_j exp(-p_j·u)`, on `p_range`.
///
/// The true parameters `p_true` are drawn uniformly from `p_range` and the training data is
/// `g_train_h = g(p_true, u_h)·(1 + U[-sigma_fixed, sigma_fixed])`. `u_train` is a number `v` (`n_train`
/// points drawn from `[0, v)`), a pair `[lo, hi]` (`n_train` points drawn from it) or an explicit list
/// of another length (then `n_train` is its length). `sigma_eval` scales the residuals of every call by
/// `1 + U[-sigma_eval, sigma_eval]`. The draws, in order u, p_true, training noise, come from `seed`;
/// the per-call noise comes from a second stream of it.
///
/// With `sigma_fixed = 0` the minimum is 0 at `p_true`. With `sigma_fixed > 0` the minimum is not
/// known (the noise can let another point fit better), so none is given; the original returns the cost
/// at `p_true` as an estimate.
pub(super) fn exp_least_squares_cost(dim: usize, p: &Params<'_>) -> Result<Parts, CoreError> {
    let seed = p.u64("seed", 0)?;
    let sigma_eval = p.f64_at_least("sigma_eval", 0.0, 0.0)?;
    let sigma_fixed = p.f64_at_least("sigma_fixed", 0.0, 0.0)?;
    let (lo, hi) = match p.get("p_range") {
        Some(v) => range("p_range", v)?,
        None => (-2.0, 2.0),
    };
    let mut rng = SeededRng::new(seed);
    let n_train = p.count("n_train", 10)?;
    let u: Vec<f64> = match p.get("u_train") {
        None => (0..n_train).map(|_| rng.uniform_in(0.0, 10.0)).collect(),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() && v > 0.0 => (0..n_train).map(|_| rng.uniform_in(0.0, v)).collect(),
            _ => {
                return Err(param_error(
                    "u_train",
                    format!("a single number must be finite and above 0, got {n}"),
                ));
            }
        },
        Some(v @ Value::Array(a)) if a.len() == 2 => {
            let (ulo, uhi) = range("u_train", v)?;
            (0..n_train).map(|_| rng.uniform_in(ulo, uhi)).collect()
        }
        Some(Value::Array(a)) if !a.is_empty() => {
            let points: Option<Vec<f64>> = a.iter().map(|x| x.as_f64().filter(|v| v.is_finite())).collect();
            let points = points
                .ok_or_else(|| param_error("u_train", "every training point must be a finite number"))?;
            if p.has("n_train") && n_train != points.len() {
                return Err(param_error(
                    "n_train",
                    format!("{n_train} does not match the {} explicit u_train points", points.len()),
                ));
            }
            points
        }
        Some(v) => {
            return Err(param_error(
                "u_train",
                format!("expected a number, a [lo, hi] pair or a list of training points, got {v}"),
            ));
        }
    };
    let p_true: Vec<f64> = (0..dim).map(|_| rng.uniform_in(lo, hi)).collect();
    let g_train: Vec<f64> = u
        .iter()
        .map(|&uh| {
            let noise = rng.uniform_in(-1.0, 1.0) * sigma_fixed;
            exp_sum(&p_true, uh) * (1.0 + noise)
        })
        .collect();
    let rng = Mutex::new(SeededRng::with_stream(seed, 1));
    let parts = Parts::new(ExpLeastSquares { u, g_train, sigma_eval, rng }, dim, lo, hi);
    Ok(if sigma_fixed == 0.0 { parts.min(0.0, Some(p_true)) } else { parts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::build;
    use crate::objective::Objective;

    fn params(v: serde_json::Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn deceptive_g_is_one_at_a_and_zero_at_the_kinks() {
        for a in [0.1, 0.5, 0.93] {
            assert!((deceptive_g(a, a) - 1.0).abs() < 1e-12);
            assert!(deceptive_g((1.0 + 4.0 * a) / 5.0, a).abs() < 1e-12);
            assert!((deceptive_g(0.0, a) - 0.8).abs() < 1e-12);
            assert!((deceptive_g(1.0, a) - 0.8).abs() < 1e-12);
            assert_eq!(deceptive_g(1.5, a), 0.0);
        }
    }

    #[test]
    fn explicit_training_points_and_residual_extras() {
        let f = build("exp_least_squares_cost", 2, &params(serde_json::json!({"u_train": [0.5, 1.0, 2.0]})))
            .unwrap();
        let x = f.min_x().unwrap();
        let out = f.evaluate_detailed(&x).unwrap();
        assert!(out.fx.abs() < 1e-20);
        let r = out.extras.unwrap();
        assert_eq!(r["residuals"].as_array().unwrap().len(), 3);
        let x = [0.0, 0.0];
        let out = f.evaluate_detailed(&x).unwrap();
        let sum: f64 = out.extras.unwrap()["residuals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap().powi(2))
            .sum();
        assert!((sum - out.fx).abs() <= 1e-12 * out.fx.max(1.0));
        let err = build(
            "exp_least_squares_cost",
            2,
            &params(serde_json::json!({"u_train": [0.5, 1.0, 2.0], "n_train": 4})),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("objective.n_train:"), "{err}");
        let err =
            build("exp_least_squares_cost", 2, &params(serde_json::json!({"p_range": [2, -2]}))).unwrap_err();
        assert!(err.to_string().starts_with("objective.p_range:"), "{err}");
        let err =
            build("exp_least_squares_cost", 2, &params(serde_json::json!({"u_train": "x"}))).unwrap_err();
        assert!(err.to_string().starts_with("objective.u_train:"), "{err}");
    }

    #[test]
    fn fixed_noise_hides_the_minimum_and_eval_noise_keeps_it() {
        let f = build("exp_least_squares_cost", 3, &params(serde_json::json!({"sigma_fixed": 0.1}))).unwrap();
        assert_eq!(f.min_fx(), None);
        assert_eq!(f.min_x(), None);
        let f = build("exp_least_squares_cost", 3, &params(serde_json::json!({"sigma_eval": 0.1}))).unwrap();
        assert_eq!(f.min_fx(), Some(0.0));
        let x = vec![0.3, -0.2, 1.0];
        let (a, b) = (f.value(&x), f.value(&x));
        assert_ne!(a, b, "the evaluation noise changes every call");
        assert!(a > 0.0 && b > 0.0);
    }

    #[test]
    fn stochastic_noise_is_bounded_by_the_noiseless_distance() {
        let f = build("stochastic", 3, &serde_json::Map::new()).unwrap();
        let x = [1.5, 0.5, 1.0];
        let bound: f64 = x.iter().enumerate().map(|(i, v)| (v - 1.0 / (i + 1) as f64).abs()).sum();
        let values: Vec<f64> = (0..200).map(|_| f.value(&x)).collect();
        assert!(values.iter().all(|&v| (0.0..bound).contains(&v)));
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!((mean - bound / 2.0).abs() < 0.15 * bound, "mean {mean}, bound {bound}");
    }
}
