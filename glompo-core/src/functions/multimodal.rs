//! Multimodal functions whose minima are not in closed form: Easom, Langermann, Michalewicz, Rana,
//! Shekel and Shubert.
//!
//! Every stored minimiser was found offline by a dense grid search over the bounds followed by a
//! Newton refinement of the gradient in 30-digit `mpmath` arithmetic, and is rounded to the nearest
//! `f64`. The tests re-check each one against uniform samples over the bounds and a cloud around it.

use std::f64::consts::{FRAC_PI_2, PI};

use super::{Formula, Function, Params, Parts, shifted};
use crate::error::CoreError;

/// Easom: `-cos(x_1)·cos(x_2)·exp(-(x_1-π)² - (x_2-π)²)` on `[-100, 100]²`; f(π, π) = -1, plus 1
/// with `shift_positive`.
pub(super) fn easom(_: usize, p: &Params<'_>) -> Result<Parts, CoreError> {
    let shift = if p.bool("shift_positive", false)? { 1.0 } else { 0.0 };
    let f = Formula(|x| match x {
        [a, b, ..] => -a.cos() * b.cos() * (-(a - PI).powi(2) - (b - PI).powi(2)).exp(),
        _ => f64::NAN,
    });
    Ok(Parts::new(shifted(f, shift), 2, -100.0, 100.0).min(shift - 1.0, Some(vec![PI, PI])))
}

/// The centres and weights of the Langermann function.
const LANGERMANN_A: [f64; 5] = [3.0, 5.0, 2.0, 1.0, 7.0];
const LANGERMANN_B: [f64; 5] = [5.0, 2.0, 1.0, 4.0, 9.0];
const LANGERMANN_C: [f64; 5] = [1.0, 2.0, 5.0, 2.0, 3.0];
/// The global minimiser, refined from the published (2.00299219, 1.006096); mpmath:
/// (2.002992119934465444, 1.0060959402921884515).
const LANGERMANN_X: [f64; 2] = [2.002_992_119_934_465_4, 1.006_095_940_292_188_5];
/// The global minimum (mpmath: -5.1621261599639824253; published as -5.1621259).
const LANGERMANN_F: f64 = -5.162_126_159_963_982;

/// Langermann: `-Σ c_i·cos(π r_i)·exp(-r_i/π)` with `r_i = (x_1-a_i)² + (x_2-b_i)²` on `[0, 10]²`,
/// plus 5.2 with `shift_positive` (as in the original, which leaves the minimum at about 0.03787).
pub(super) fn langermann(_: usize, p: &Params<'_>) -> Result<Parts, CoreError> {
    let shift = if p.bool("shift_positive", false)? { 5.2 } else { 0.0 };
    let f = Formula(|x| match x {
        [x1, x2, ..] => -(0..5)
            .map(|i| {
                let r = (x1 - LANGERMANN_A[i]).powi(2) + (x2 - LANGERMANN_B[i]).powi(2);
                LANGERMANN_C[i] * (PI * r).cos() * (-r / PI).exp()
            })
            .sum::<f64>(),
        _ => f64::NAN,
    });
    Ok(Parts::new(shifted(f, shift), 2, 0.0, 10.0).min(LANGERMANN_F + shift, Some(LANGERMANN_X.to_vec())))
}

/// Michalewicz with steepness `m`.
#[derive(Debug)]
struct Michalewicz {
    m: f64,
}

impl Function for Michalewicz {
    fn value(&self, x: &[f64]) -> f64 {
        // sin^(2m) is computed as (sin²)^m, which equals it for integer m and stays real otherwise.
        -x.iter()
            .enumerate()
            .map(|(i, v)| v.sin() * ((i + 1) as f64 * v * v / PI).sin().powi(2).powf(self.m))
            .sum::<f64>()
    }
}

/// The per-coordinate minimisers for m = 10. The function is a sum of one-dimensional terms
/// `-sin(x)·sin^20(i·x²/π)`, so coordinate i is minimised on its own (grid of 400 001 points on
/// `[0, π]`, then a root of the derivative in mpmath); coordinates 2, 6 and 10 are exactly π/2.
const MICHALEWICZ_X: [f64; 10] = [
    2.202_905_520_172_609_3,
    FRAC_PI_2,
    1.284_991_570_552_924_5,
    1.923_058_469_866_362_9,
    1.720_469_772_565_841_3,
    FRAC_PI_2,
    1.454_413_971_362_379,
    1.756_086_520_945_026_5,
    1.655_717_416_821_029_1,
    FRAC_PI_2,
];

/// Michalewicz: `-Σ sin(x_i)·sin^(2m)(i·x_i²/π)` on `[0, π]`.
///
/// The minimum is given for the published cases, m = 10 and d = 2, 5 or 10: -1.8013034100985525,
/// -4.687658179088146 and -9.66015171564134 (mpmath sums of the per-coordinate minima; published as
/// -1.8013, -4.687658 and -9.66015). Other cases have no stored minimum.
pub(super) fn michalewicz(dim: usize, p: &Params<'_>) -> Result<Parts, CoreError> {
    let m = p.f64_positive("m", 10.0)?;
    let parts = Parts::new(Michalewicz { m }, dim, 0.0, PI);
    let min_fx = match dim {
        2 => -1.801_303_410_098_552_5,
        5 => -4.687_658_179_088_146,
        10 => -9.660_151_715_641_34,
        _ => return Ok(parts),
    };
    Ok(if m == 10.0 { parts.min(min_fx, Some(MICHALEWICZ_X[..dim].to_vec())) } else { parts })
}

/// Half the width of the Rana bounds, as in the original.
const RANA_BOUND: f64 = 500.000_001;

/// One term of the Rana function as the Python original writes it, with `u = x_1` and `y = x_i`.
fn rana_term(u: f64, y: f64) -> f64 {
    let a = (u - y + 1.0).abs().sqrt();
    let b = (u + y + 1.0).abs().sqrt();
    y * a.sin() * b.cos() + (u + 1.0) * b.sin() * a.cos()
}

/// `rana_term(-L, -L)`, the i = 1 term at the lower corner (mpmath: -464.273934478560826902758797806).
const RANA_A: f64 = -464.273_934_478_560_8;
/// The minimiser of `rana_term(-L, y)` over y (mpmath: 496.111738526179395893437348544).
const RANA_Y: f64 = 496.111_738_526_179_4;
/// `rana_term(-L, RANA_Y)` (mpmath: -498.951996784705730107293685039).
const RANA_B: f64 = -498.951_996_784_705_7;
/// For d = 8, 9 and 10: the optimal x_1 (every other coordinate is at -L) and the minimum (mpmath).
const RANA_LARGE: [(f64, f64); 3] = [
    (-499.070_559_086_089_5, -3_957.304_006_205_599_8),
    (-499.068_397_425_550_4, -4_457.236_583_314_78),
    (-499.066_713_116_265_2, -4_957.170_888_699_818_5),
];

/// Rana as the Python original writes it: `Σ_i x_i·sin(√|x_1-x_i+1|)·cos(√|x_1+x_i+1|) + (x_1+1)·
/// sin(√|x_1+x_i+1|)·cos(√|x_1-x_i+1|)`, with i from 1 to d, on `[-500.000001, 500.000001]`.
///
/// The original claims the minimum is at (-500, …, -500) (-928.5478 in 2-D); that is false for d ≥ 2.
/// Every term depends only on x_1 and x_i, so the minimum is `min over u of [t(u, u) + (d-1)·min over
/// y of t(u, y)]`, a two-dimensional problem solved by a grid search (20 001 values of u, each with a
/// refined inner minimisation over y) and refined in mpmath. For d ≤ 7 the minimiser is
/// (-L, 496.1117…, …, 496.1117…); for d = 8 to 10 it is (u_d, -L, …, -L) with u_d near -499.07. For
/// d > 10 no minimum is stored.
pub(super) fn rana(dim: usize, _: &Params<'_>) -> Result<Parts, CoreError> {
    let f = Formula(|x| match x.first() {
        Some(&u) => x.iter().map(|&y| rana_term(u, y)).sum(),
        None => 0.0,
    });
    let parts = Parts::new(f, dim, -RANA_BOUND, RANA_BOUND);
    Ok(match dim {
        1..=7 => {
            let mut x = vec![RANA_Y; dim];
            x[0] = -RANA_BOUND;
            parts.min(RANA_A + (dim - 1) as f64 * RANA_B, Some(x))
        }
        8..=10 => {
            let (u, fx) = RANA_LARGE[dim - 8];
            let mut x = vec![-RANA_BOUND; dim];
            x[0] = u;
            parts.min(fx, Some(x))
        }
        _ => parts,
    })
}

/// The ten Shekel centres (only the first d coordinates are used in d dimensions).
const SHEKEL_A: [[f64; 4]; 10] = [
    [4.0, 4.0, 4.0, 4.0],
    [1.0, 1.0, 1.0, 1.0],
    [8.0, 8.0, 8.0, 8.0],
    [6.0, 6.0, 6.0, 6.0],
    [3.0, 7.0, 3.0, 7.0],
    [2.0, 9.0, 2.0, 9.0],
    [5.0, 5.0, 3.0, 3.0],
    [8.0, 1.0, 8.0, 1.0],
    [6.0, 2.0, 6.0, 2.0],
    [7.0, 3.6, 7.0, 3.6],
];
/// The standard Shekel widths; m centres use the first m.
const SHEKEL_C: [f64; 10] = [0.1, 0.2, 0.2, 0.4, 0.4, 0.6, 0.3, 0.7, 0.5, 0.5];

/// A known minimum: the value and a minimiser.
type Minimum = (f64, &'static [f64]);

/// Shekel's minima for m = 5, 7, 10 (outer index 0, 1, 2) and d = 1..4: the value and minimiser, from a
/// Newton refinement in mpmath started at every centre (the best is always near x = 4). The 4-D values
/// agree with the published -10.1532, -10.4029 and -10.5364.
const SHEKEL_MIN: [[Minimum; 4]; 3] = [
    [
        (-11.113_827_871_165_515, &[3.995_678_413_549_845_8]),
        (-10.301_230_256_987_376, &[4.000_139_140_504_965, 4.000_509_061_134_142]),
        (-10.225_887_629_338_002, &[4.000_029_806_393_343, 4.000_337_647_885_768, 4.000_029_806_393_343]),
        (
            -10.153_199_679_058_227,
            &[4.000_037_152_819_676, 4.000_133_276_591_56, 4.000_037_152_819_676, 4.000_133_276_591_56],
        ),
    ],
    [
        (-12.098_654_945_958_96, &[4.000_718_773_598_238]),
        (-10.770_780_055_308_688, &[4.002_018_692_413_275, 4.002_468_371_317_695]),
        (-10.559_006_779_094_428, &[4.000_932_930_441_127, 4.001_302_810_598_162, 3.999_091_250_437_248]),
        (
            -10.402_940_566_818_66,
            &[4.000_572_916_185_823, 4.000_689_366_185_304, 3.999_489_708_859_150_6, 3.999_606_158_858_631_6],
        ),
    ],
    [
        (-12.486_451_417_135_012, &[4.002_223_473_191_018]),
        (-11.030_999_671_295_373, &[4.002_677_927_534_656, 4.002_104_064_442_514]),
        (-10.716_552_140_781_982, &[4.001_169_579_082_86, 4.001_145_937_550_789, 3.999_328_441_147_546]),
        (
            -10.536_409_816_692_043,
            &[4.000_746_531_592_047, 4.000_592_934_138_532, 3.999_663_398_040_322_4, 3.999_509_800_586_807_7],
        ),
    ],
];

/// Shekel with its number of centres.
#[derive(Debug)]
struct Shekel {
    m: usize,
    shift: f64,
}

impl Function for Shekel {
    fn value(&self, x: &[f64]) -> f64 {
        let mut sum = 0.0;
        for (a, c) in SHEKEL_A.iter().zip(SHEKEL_C).take(self.m) {
            let mut r = c;
            for (v, aj) in x.iter().zip(a) {
                r += (v - aj) * (v - aj);
            }
            sum += 1.0 / r;
        }
        self.shift - sum
    }
}

/// Shekel: `-Σ_{i≤m} 1/(Σ_j (x_j - A_ij)² + c_i)` on `[-32.768, 32.768]`, d from 1 to 4, m ∈ {5, 7,
/// 10}; plus 12 with `shift_positive` (as in the original; the minimum is then not exactly 0).
///
/// The widths are the standard `c = 0.1·(1, 2, 2, 4, 4, 6, 3, 7, 5, 5)`; the Python original uses 0.6
/// for the fifth width when m = 5, which does not match the published minimum -10.1532.
pub(super) fn shekel(dim: usize, p: &Params<'_>) -> Result<Parts, CoreError> {
    let m = p.choice("m", 10, &[5, 7, 10])?;
    let shift = if p.bool("shift_positive", false)? { 12.0 } else { 0.0 };
    let row = match m {
        5 => 0,
        7 => 1,
        _ => 2,
    };
    let (fx, x) = SHEKEL_MIN[row][dim - 1];
    let f = Shekel { m: m as usize, shift };
    Ok(Parts::new(f, dim, -32.768, 32.768).min(fx + shift, Some(x.to_vec())))
}

/// `Σ_{j=1}^{5} j·cos((j+1)x + j)`.
fn shubert_cos(x: f64) -> f64 {
    (1..=5).map(|j| j as f64 * ((j + 1) as f64 * x + j as f64).cos()).sum()
}

/// `Σ_{j=1}^{5} j·sin((j+1)x + j)`.
fn shubert_sin(x: f64) -> f64 {
    (1..=5).map(|j| j as f64 * ((j + 1) as f64 * x + j as f64).sin()).sum()
}

/// The extremes of [`shubert_cos`] and [`shubert_sin`] on `[-10, 10]` and where they are reached
/// (grid of 20 001 points, then a root of the derivative in mpmath).
const COS_MIN: (f64, f64) = (4.858_056_878_859_826, -12.870_885_497_725_684);
const COS_MAX: (f64, f64) = (5.482_864_206_707_613, 14.508_007_927_195_033);
const SIN_MAX: (f64, f64) = (5.791_794_470_920_272, 12.031_249_442_167_14);

/// Shubert with its style.
#[derive(Debug)]
struct Shubert {
    style: u64,
    shift: f64,
}

impl Function for Shubert {
    fn value(&self, x: &[f64]) -> f64 {
        let raw = match self.style {
            1 => x.iter().map(|&v| shubert_cos(v)).product(),
            3 => -x.iter().map(|&v| shubert_sin(v)).sum::<f64>(),
            _ => -x.iter().map(|&v| shubert_cos(v)).sum::<f64>(),
        };
        raw + self.shift
    }
}

/// Shubert on `[-10, 10]`, in one of three styles (Gavana's Shubert01, Shubert03 and Shubert04):
/// style 1 is `Π_i Σ_j j·cos((j+1)x_i + j)`, style 3 is `-Σ_i Σ_j j·sin((j+1)x_i + j)` and style 4 is
/// `-Σ_i Σ_j j·cos((j+1)x_i + j)`.
///
/// The minimum is known in every dimension: styles 3 and 4 are separable sums (minimum -12.0312…·d and
/// -14.5080…·d; -24.062499 and -29.016015 in 2-D, the values the original states), and a product of
/// factors in `[-12.87…, 14.51…]` is smallest with one factor at its minimum and the others at their
/// maximum (-12.87…·14.51…^(d-1), which is -186.7309 in 2-D). The Python original drops the minus
/// sign of styles 3 and 4, so its stated minima did not match its code. `shift_positive` adds exactly
/// minus the minimum, so that the shifted minimum is 0 in every dimension (the original adds the 2-D
/// constants 186.731, 24.062499 and 29.016015 whatever the dimension).
pub(super) fn shubert(dim: usize, p: &Params<'_>) -> Result<Parts, CoreError> {
    let style = p.choice("style", 1, &[1, 3, 4])?;
    let (min_fx, min_x) = match style {
        1 => {
            let mut x = vec![COS_MAX.0; dim];
            x[0] = COS_MIN.0;
            (COS_MIN.1 * COS_MAX.1.powi(dim as i32 - 1), x)
        }
        3 => (-SIN_MAX.1 * dim as f64, vec![SIN_MAX.0; dim]),
        _ => (-COS_MAX.1 * dim as f64, vec![COS_MAX.0; dim]),
    };
    let shift = if p.bool("shift_positive", false)? { -min_fx } else { 0.0 };
    let f = Shubert { style, shift };
    Ok(Parts::new(f, dim, -10.0, 10.0).min(min_fx + shift, Some(min_x)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::build;

    fn params(pairs: &[(&str, serde_json::Value)]) -> serde_json::Map<String, serde_json::Value> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    #[test]
    fn shubert_extremes_are_stationary_and_match_the_published_2d_minima() {
        let h = 1e-6;
        for (x, fx, g) in [
            (COS_MIN.0, COS_MIN.1, shubert_cos as fn(f64) -> f64),
            (COS_MAX.0, COS_MAX.1, shubert_cos),
            (SIN_MAX.0, SIN_MAX.1, shubert_sin),
        ] {
            assert!((g(x) - fx).abs() < 1e-12);
            assert!(((g(x + h) - g(x - h)) / (2.0 * h)).abs() < 1e-6);
        }
        assert!((COS_MIN.1 * COS_MAX.1 + 186.7309).abs() < 1e-4);
        assert!((2.0 * SIN_MAX.1 - 24.062499).abs() < 1e-6);
        assert!((2.0 * COS_MAX.1 - 29.016015).abs() < 1e-6);
    }

    #[test]
    fn shifted_shubert_has_minimum_zero_in_any_dimension() {
        for style in [1, 3, 4] {
            for dim in [1, 2, 3] {
                let p = params(&[("style", style.into()), ("shift_positive", true.into())]);
                let f = build("shubert", dim, &p).unwrap();
                assert_eq!(f.min_fx(), Some(0.0));
                let v = f.value(&f.min_x().unwrap());
                assert!(v.abs() < 1e-9 * COS_MAX.1.powi(dim as i32), "style {style} dim {dim}: {v}");
            }
        }
    }

    #[test]
    fn michalewicz_minimisers_are_per_coordinate_stationary_points() {
        let h = 1e-7;
        for (i, &x) in MICHALEWICZ_X.iter().enumerate() {
            let t = |v: f64| -v.sin() * ((i + 1) as f64 * v * v / PI).sin().powi(20);
            let d = (t(x + h) - t(x - h)) / (2.0 * h);
            assert!(d.abs() < 1e-6, "coordinate {i}: derivative {d}");
        }
        let f = build("michalewicz", 3, &serde_json::Map::new()).unwrap();
        assert_eq!(f.min_fx(), None);
        let f = build("michalewicz", 2, &params(&[("m", 5.into())])).unwrap();
        assert_eq!(f.min_fx(), None);
    }

    #[test]
    fn rana_minimum_beats_the_originals_corner_claim() {
        let f = build("rana", 2, &serde_json::Map::new()).unwrap();
        let corner = f.value(&[-500.0, -500.0]);
        assert!((corner + 928.5478).abs() < 1e-3);
        assert!(f.min_fx().unwrap() < corner - 30.0);
        // The inner minimiser is a stationary point of the second term.
        let h = 1e-5;
        let d = (rana_term(-RANA_BOUND, RANA_Y + h) - rana_term(-RANA_BOUND, RANA_Y - h)) / (2.0 * h);
        assert!(d.abs() < 1e-6, "{d}");
        // For d = 8 to 10 the optimal x_1 is a stationary point in u.
        for (k, &(u, _)) in RANA_LARGE.iter().enumerate() {
            let t = (k + 7) as f64;
            let g = |u: f64| rana_term(u, u) + t * rana_term(u, -RANA_BOUND);
            let d = (g(u + h) - g(u - h)) / (2.0 * h);
            assert!(d.abs() < 1e-4, "d = {}: {d}", k + 8);
        }
    }

    #[test]
    fn shekel_minimisers_are_stationary_and_the_widths_are_standard() {
        for (row, m) in [5usize, 7, 10].into_iter().enumerate() {
            for dim in 1..=4 {
                let (_, x) = SHEKEL_MIN[row][dim - 1];
                let f = Shekel { m, shift: 0.0 };
                for j in 0..dim {
                    let h = 1e-6;
                    let (mut a, mut b) = (x.to_vec(), x.to_vec());
                    a[j] += h;
                    b[j] -= h;
                    let d = (f.value(&a) - f.value(&b)) / (2.0 * h);
                    assert!(d.abs() < 1e-5, "m {m} dim {dim} coordinate {j}: {d}");
                }
            }
        }
        assert_eq!(SHEKEL_C[4], 0.4);
    }
}
