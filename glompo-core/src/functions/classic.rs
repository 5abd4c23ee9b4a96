//! Scalable, deterministic functions whose minimum is known in closed form or per coordinate.
//!
//! Most are separable sums, so their minimum is `d` times a one-dimensional minimum; the one-dimensional
//! minimisers that are not closed-form were found to 30 significant digits with `mpmath`'s `findroot`
//! on the derivative and are rounded to the nearest `f64` here.

use std::f64::consts::{E, PI, TAU};

use super::{Formula, Function, Params, Parts, shifted};
use crate::error::CoreError;

/// Sphere: `Σ x_i²` on `[-5.12, 5.12]`, minimum 0 at the origin.
pub(super) fn sphere(dim: usize, _: &Params<'_>) -> Result<Parts, CoreError> {
    let f = Formula(|x| x.iter().map(|v| v * v).sum());
    Ok(Parts::new(f, dim, -5.12, 5.12).min(0.0, Some(vec![0.0; dim])))
}

/// The weight of coordinate `i` of the ellipsoid in `n` dimensions: `10^(6i/(n-1))`.
fn ellipsoid_weight(i: usize, n: usize) -> f64 {
    if n < 2 { 1.0 } else { 10f64.powf(6.0 * i as f64 / (n - 1) as f64) }
}

/// Ellipsoid: `Σ 10^(6i/(n-1)) x_i²` (i from 0) on `[-5, 5]`, condition number 1e6; `x²` when n = 1.
pub(super) fn ellipsoid(dim: usize, _: &Params<'_>) -> Result<Parts, CoreError> {
    let f = Formula(|x| {
        let n = x.len();
        x.iter().enumerate().map(|(i, v)| ellipsoid_weight(i, n) * v * v).sum()
    });
    Ok(Parts::new(f, dim, -5.0, 5.0).min(0.0, Some(vec![0.0; dim])))
}

/// Ackley with its three parameters.
#[derive(Debug)]
struct Ackley {
    a: f64,
    b: f64,
    c: f64,
}

impl Function for Ackley {
    fn value(&self, x: &[f64]) -> f64 {
        let n = x.len().max(1) as f64;
        let sq = x.iter().map(|v| v * v).sum::<f64>() / n;
        let cos = x.iter().map(|v| (self.c * v).cos()).sum::<f64>() / n;
        -self.a * (-self.b * sq.sqrt()).exp() - cos.exp() + self.a + E
    }
}

/// Ackley: `-a·exp(-b·√(mean x²)) - exp(mean cos(c·x)) + a + e` on `[-32.768, 32.768]`; f(0) = 0.
pub(super) fn ackley(dim: usize, p: &Params<'_>) -> Result<Parts, CoreError> {
    let f = Ackley { a: p.f64("a", 20.0)?, b: p.f64("b", 0.2)?, c: p.f64("c", TAU)? };
    // The origin is the global minimum with value 0 whenever a >= 0 and b >= 0: both exponential terms
    // are then smallest there, whatever c is.
    let known = f.a >= 0.0 && f.b >= 0.0;
    let parts = Parts::new(f, dim, -32.768, 32.768);
    Ok(if known { parts.min(0.0, Some(vec![0.0; dim])) } else { parts })
}

/// Alpine01: `Σ |x_i·sin(x_i) + 0.1·x_i|` on `[-10, 10]`; f(0) = 0.
pub(super) fn alpine01(dim: usize, _: &Params<'_>) -> Result<Parts, CoreError> {
    let f = Formula(|x| x.iter().map(|v| (v * v.sin() + 0.1 * v).abs()).sum());
    Ok(Parts::new(f, dim, -10.0, 10.0).min(0.0, Some(vec![0.0; dim])))
}

/// The maximiser of `√x·sin x` on `[0, 10]`: the root of `sin x + 2x·cos x` near 7.917
/// (mpmath: 7.91705268466620707697715691349).
pub(super) const ALPINE02_X: f64 = 7.917_052_684_666_207;
/// `√x·sin x` at [`ALPINE02_X`] (mpmath: 2.80813118000700489938002836912).
pub(super) const ALPINE02_G: f64 = 2.808_131_180_007_005;

/// Alpine02: `-Π √x_i·sin(x_i)` on `[0, 10]`.
///
/// The minimum is `-(2.80813…)^d` at `x_i = 7.91705…`: `√x·sin x` ranges over about `[-2.18, 2.808]`
/// on the bounds, so the product is largest with every factor at its maximum. (The Python original's
/// docstring says -6.1295 and its code rounds the constants to 7.917 and 2.808.)
pub(super) fn alpine02(dim: usize, _: &Params<'_>) -> Result<Parts, CoreError> {
    let f = Formula(|x| -x.iter().map(|v| v.sqrt() * v.sin()).product::<f64>());
    let min_fx = -ALPINE02_G.powi(dim as i32);
    Ok(Parts::new(f, dim, 0.0, 10.0).min(min_fx, Some(vec![ALPINE02_X; dim])))
}

/// Griewank: `1 + Σ x_i²/4000 - Π cos(x_i/√i)` (i from 1) on `[-600, 600]`; f(0) = 0.
pub(super) fn griewank(dim: usize, _: &Params<'_>) -> Result<Parts, CoreError> {
    let f = Formula(|x| {
        let sum = x.iter().map(|v| v * v).sum::<f64>() / 4000.0;
        let prod: f64 = x.iter().enumerate().map(|(i, v)| (v / ((i + 1) as f64).sqrt()).cos()).product();
        1.0 + sum - prod
    });
    Ok(Parts::new(f, dim, -600.0, 600.0).min(0.0, Some(vec![0.0; dim])))
}

/// Levy (the standard form, whose middle sum runs over i = 1..d-1):
/// `sin²(πw_1) + Σ_{i<d} (w_i-1)²[1 + 10sin²(πw_i+1)] + (w_d-1)²[1 + sin²(2πw_d)]`, `w = 1 + (x-1)/4`,
/// on `[-10, 10]`; f(1, …, 1) = 0. (The Python original sums the middle term over all d.)
pub(super) fn levy(dim: usize, _: &Params<'_>) -> Result<Parts, CoreError> {
    let f = Formula(|x| {
        let w = |v: f64| 1.0 + (v - 1.0) / 4.0;
        let (Some(&first), Some(&last)) = (x.first(), x.last()) else { return 0.0 };
        let (w1, wd) = (w(first), w(last));
        let middle: f64 = x[..x.len() - 1]
            .iter()
            .map(|&v| {
                let wi = w(v);
                (wi - 1.0).powi(2) * (1.0 + 10.0 * (PI * wi + 1.0).sin().powi(2))
            })
            .sum();
        (PI * w1).sin().powi(2) + middle + (wd - 1.0).powi(2) * (1.0 + (TAU * wd).sin().powi(2))
    });
    Ok(Parts::new(f, dim, -10.0, 10.0).min(0.0, Some(vec![1.0; dim])))
}

/// Qing: `Σ (x_i² - i)²` (i from 1) on `[-500, 500]`; zero at every `x_i = ±√i`.
pub(super) fn qing(dim: usize, _: &Params<'_>) -> Result<Parts, CoreError> {
    let f = Formula(|x| x.iter().enumerate().map(|(i, v)| (v * v - (i + 1) as f64).powi(2)).sum());
    let min_x = (1..=dim).map(|i| (i as f64).sqrt()).collect();
    Ok(Parts::new(f, dim, -500.0, 500.0).min(0.0, Some(min_x)))
}

/// Rastrigin: `10d + Σ (x_i² - 10cos(2πx_i))` on `[-5.12, 5.12]`; f(0) = 0.
pub(super) fn rastrigin(dim: usize, _: &Params<'_>) -> Result<Parts, CoreError> {
    let f =
        Formula(|x| 10.0 * x.len() as f64 + x.iter().map(|v| v * v - 10.0 * (TAU * v).cos()).sum::<f64>());
    Ok(Parts::new(f, dim, -5.12, 5.12).min(0.0, Some(vec![0.0; dim])))
}

/// Rosenbrock: `Σ_{i<d} 100(x_{i+1} - x_i²)² + (1 - x_i)²` on `[-2.048, 2.048]`; f(1, …, 1) = 0.
/// It needs at least two dimensions (in one it is the constant 0).
pub(super) fn rosenbrock(dim: usize, _: &Params<'_>) -> Result<Parts, CoreError> {
    let f =
        Formula(|x| x.windows(2).map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2)).sum());
    Ok(Parts::new(f, dim, -2.048, 2.048).min(0.0, Some(vec![1.0; dim])))
}

/// The minimiser of `-x·sin(√|x|)` on `[-500, 500]` (mpmath: 420.968746359982027311844365019).
pub(super) const SCHWEFEL_X: f64 = 420.968_746_359_982;
/// `-x·sin(√|x|)` at [`SCHWEFEL_X`] (mpmath: -418.982887272433706274786435196).
pub(super) const SCHWEFEL_F: f64 = -418.982_887_272_433_7;
/// The constant the Python original adds per dimension with `shift_positive`.
const SCHWEFEL_SHIFT: f64 = 418.9830;

/// Schwefel as in the Python original: `-Σ x_i·sin(√|x_i|)` on `[-500, 500]`, plus `418.9830·d` with
/// `shift_positive`. The minimum is `-418.98288727…·d` at `x_i = 420.96874636…` (so about
/// `1.127e-4·d` when shifted; the original rounds these to -418.9829·d and 0.0001·d).
pub(super) fn schwefel(dim: usize, p: &Params<'_>) -> Result<Parts, CoreError> {
    let shift = if p.bool("shift_positive", false)? { SCHWEFEL_SHIFT * dim as f64 } else { 0.0 };
    let f = Formula(|x| -x.iter().map(|v| v * v.abs().sqrt().sin()).sum::<f64>());
    let min_fx = SCHWEFEL_F * dim as f64 + shift;
    Ok(Parts::new(shifted(f, shift), dim, -500.0, 500.0).min(min_fx, Some(vec![SCHWEFEL_X; dim])))
}

/// The minimiser of `(x⁴ - 16x² + 5x)/2`: the root of `4x³ - 32x + 5` near -2.9035
/// (mpmath: -2.90353402777117709511891759551; the Python original's -2.903534018185960 is off in the
/// ninth digit, which hardly changes the value because the minimum is flat).
pub(super) const STYBLINSKI_TANG_X: f64 = -2.903_534_027_771_177;
/// `(x⁴ - 16x² + 5x)/2` at [`STYBLINSKI_TANG_X`] (mpmath: -39.1661657037714154638931697395).
pub(super) const STYBLINSKI_TANG_F: f64 = -39.166_165_703_771_41;

/// Styblinski–Tang: `Σ (x_i⁴ - 16x_i² + 5x_i)/2` on `[-500, 500]` (the original's bounds); the
/// minimum is `-39.16616570377141·d` at `x_i = -2.903534027771177` (the original gives
/// -39.16616570377142, one unit in the last place lower).
pub(super) fn styblinski_tang(dim: usize, _: &Params<'_>) -> Result<Parts, CoreError> {
    let f = Formula(|x| 0.5 * x.iter().map(|v| v.powi(4) - 16.0 * v * v + 5.0 * v).sum::<f64>());
    let min_fx = STYBLINSKI_TANG_F * dim as f64;
    Ok(Parts::new(f, dim, -500.0, 500.0).min(min_fx, Some(vec![STYBLINSKI_TANG_X; dim])))
}

/// Trigonometric (type II): `1 + Σ 8sin²(7(x_i-0.9)²) + 6sin²(14(x_i-0.9)²) + (x_i-0.9)²` on
/// `[-500, 500]`; f(0.9, …, 0.9) = 1.
pub(super) fn trigonometric(dim: usize, _: &Params<'_>) -> Result<Parts, CoreError> {
    let f = Formula(|x| {
        1.0 + x
            .iter()
            .map(|v| {
                let c = (v - 0.9).powi(2);
                8.0 * (7.0 * c).sin().powi(2) + 6.0 * (14.0 * c).sin().powi(2) + c
            })
            .sum::<f64>()
    });
    Ok(Parts::new(f, dim, -500.0, 500.0).min(1.0, Some(vec![0.9; dim])))
}

/// Vincent: `-Σ sin(10·ln x_i)` on `[0.25, 10]`; the minimum -d is reached wherever every
/// `10·ln x_i ≡ π/2 (mod 2π)`; the one given is `x_i = exp(13π/20) = 7.70627725…` (the original's
/// 7.70628098 is a rounding of it).
pub(super) fn vincent(dim: usize, _: &Params<'_>) -> Result<Parts, CoreError> {
    let f = Formula(|x| -x.iter().map(|v| (10.0 * v.ln()).sin()).sum::<f64>());
    let x = (13.0 * PI / 20.0).exp();
    Ok(Parts::new(f, dim, 0.25, 10.0).min(-(dim as f64), Some(vec![x; dim])))
}

/// ZeroSum: 0 where `Σ x_i = 0`, else `1 + √(10000·|Σ x_i|)`, on `[-10, 10]`. The minimum 0 is reached
/// on the whole hyperplane; the one given is the origin. (The Python original reports Vincent's
/// minimum here by mistake.)
pub(super) fn zero_sum(dim: usize, _: &Params<'_>) -> Result<Parts, CoreError> {
    let f = Formula(|x| {
        let s: f64 = x.iter().sum();
        if s == 0.0 { 0.0 } else { 1.0 + (10000.0 * s.abs()).sqrt() }
    });
    Ok(Parts::new(f, dim, -10.0, 10.0).min(0.0, Some(vec![0.0; dim])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::build;

    fn f(name: &str, dim: usize) -> crate::functions::Benchmark {
        build(name, dim, &serde_json::Map::new()).unwrap()
    }

    #[test]
    fn known_values_off_the_minimum() {
        // Hand-computed values at simple points catch a wrong formula that still has the right minimum.
        assert!((f("sphere", 3).value(&[1.0, 2.0, 3.0]) - 14.0).abs() < 1e-12);
        assert!((f("ellipsoid", 3).value(&[1.0, 1.0, 1.0]) - (1.0 + 1e3 + 1e6)).abs() < 1e-6);
        assert!((f("ellipsoid", 1).value(&[2.0]) - 4.0).abs() < 1e-12);
        assert!((f("rastrigin", 2).value(&[1.0, 0.5]) - 21.25).abs() < 1e-9);
        assert!((f("rosenbrock", 2).value(&[0.0, 1.0]) - 101.0).abs() < 1e-12);
        assert!((f("qing", 2).value(&[0.0, 0.0]) - 5.0).abs() < 1e-12);
        assert!((f("zero_sum", 2).value(&[1.0, 3.0]) - 201.0).abs() < 1e-9);
        assert_eq!(f("zero_sum", 2).value(&[2.5, -2.5]), 0.0);
        let trig = 2.0 + 8.0 * 7f64.sin().powi(2) + 6.0 * 14f64.sin().powi(2);
        assert!((f("trigonometric", 1).value(&[1.9]) - trig).abs() < 1e-12);
        // Levy at the origin in 2-D: w = 0.75, so the value is
        // sin²(0.75π) + 0.0625(1 + 10sin²(0.75π+1)) + 0.0625(1 + sin²(1.5π)).
        let w = 0.75f64;
        let expect = (PI * w).sin().powi(2)
            + (w - 1.0).powi(2) * (1.0 + 10.0 * (PI * w + 1.0).sin().powi(2))
            + (w - 1.0).powi(2) * (1.0 + (TAU * w).sin().powi(2));
        assert!((f("levy", 2).value(&[0.0, 0.0]) - expect).abs() < 1e-12);
    }

    #[test]
    fn one_dimensional_constants_are_stationary_points() {
        // The derivative of each one-dimensional factor vanishes at the stored minimiser.
        let x = ALPINE02_X;
        assert!((x.sin() + 2.0 * x * x.cos()).abs() < 1e-12);
        assert!((x.sqrt() * x.sin() - ALPINE02_G).abs() < 1e-14);
        let x = STYBLINSKI_TANG_X;
        assert!((4.0 * x.powi(3) - 32.0 * x + 5.0).abs() < 1e-12);
        let x = SCHWEFEL_X;
        assert!((x.sqrt().sin() + 0.5 * x.sqrt() * x.sqrt().cos()).abs() < 1e-12);
        assert!((-x * x.sqrt().sin() - SCHWEFEL_F).abs() < 1e-11);
    }

    #[test]
    fn shifted_schwefel_and_ackley_parameters() {
        let mut m = serde_json::Map::new();
        m.insert("shift_positive".into(), true.into());
        let s = build("schwefel", 3, &m).unwrap();
        assert!((s.min_fx().unwrap() - 3.0 * (SCHWEFEL_SHIFT + SCHWEFEL_F)).abs() < 1e-12);
        assert!(s.min_fx().unwrap() > 0.0);
        let mut m = serde_json::Map::new();
        m.insert("a".into(), 10.0.into());
        let a = build("ackley", 2, &m).unwrap();
        assert!(a.value(&[0.0, 0.0]).abs() < 1e-12);
        assert!((a.value(&[1.0, 0.0]) - f("ackley", 2).value(&[1.0, 0.0])).abs() > 1e-3);
    }
}
