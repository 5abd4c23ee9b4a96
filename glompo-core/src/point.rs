//! Plain data: box bounds and evaluated points.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::expr::fmt_num;

/// Box bounds: one finite `[lo, hi]` interval with `lo < hi` per dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<(f64, f64)>", into = "Vec<(f64, f64)>")]
pub struct Bounds {
    lo: Vec<f64>,
    hi: Vec<f64>,
}

impl Bounds {
    /// Validated bounds from one `(lo, hi)` pair per dimension.
    ///
    /// Errors name the offending dimension as `bounds[i]`.
    pub fn new(pairs: impl IntoIterator<Item = (f64, f64)>) -> Result<Self> {
        let (lo, hi): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        if lo.is_empty() {
            return Err(CoreError::config("bounds", "at least one dimension is needed"));
        }
        for (i, (&l, &h)) in lo.iter().zip(&hi).enumerate() {
            if !l.is_finite() || !h.is_finite() {
                return Err(CoreError::config(
                    format!("bounds[{i}]"),
                    format!("[{}, {}] is not finite", fmt_num(l), fmt_num(h)),
                ));
            }
            if l >= h {
                return Err(CoreError::config(
                    format!("bounds[{i}]"),
                    format!("lower bound {} is not below upper bound {}", fmt_num(l), fmt_num(h)),
                ));
            }
            // A width beyond the largest number would put every random point on a corner.
            if !(h - l).is_finite() {
                return Err(CoreError::config(
                    format!("bounds[{i}]"),
                    format!(
                        "[{}, {}] is too wide: its width exceeds the largest number, 1.8e308",
                        fmt_num(l),
                        fmt_num(h)
                    ),
                ));
            }
        }
        let bounds = Bounds { lo, hi };
        if !bounds.diagonal().is_finite() {
            return Err(CoreError::config(
                "bounds",
                "the box is too large: its diagonal exceeds the largest number, 1.8e308",
            ));
        }
        Ok(bounds)
    }

    /// The same interval `[lo, hi]` in each of `dim` dimensions.
    pub fn uniform(dim: usize, lo: f64, hi: f64) -> Result<Self> {
        Self::new(std::iter::repeat_n((lo, hi), dim))
    }

    /// The number of dimensions.
    pub fn dim(&self) -> usize {
        self.lo.len()
    }

    /// The lower bounds.
    pub fn lower(&self) -> &[f64] {
        &self.lo
    }

    /// The upper bounds.
    pub fn upper(&self) -> &[f64] {
        &self.hi
    }

    /// The `(lo, hi)` pairs.
    pub fn pairs(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.lo.iter().copied().zip(self.hi.iter().copied())
    }

    /// Whether `x` has the right dimension and lies inside the box (bounds included).
    pub fn contains(&self, x: &[f64]) -> bool {
        x.len() == self.dim() && self.pairs().zip(x).all(|((l, h), &v)| v >= l && v <= h)
    }

    /// Moves every coordinate of `x` into its interval.
    pub fn clip(&self, x: &mut [f64]) {
        for ((l, h), v) in self.pairs().zip(x.iter_mut()) {
            *v = v.clamp(l, h);
        }
    }

    /// The length of the box's diagonal, `‖hi − lo‖`, computed with the widths scaled by the largest
    /// one so that the squares of wide dimensions do not overflow.
    pub fn diagonal(&self) -> f64 {
        let widest = self.pairs().map(|(l, h)| h - l).fold(0.0, f64::max);
        if widest == 0.0 || !widest.is_finite() {
            return widest;
        }
        widest * self.pairs().map(|(l, h)| ((h - l) / widest).powi(2)).sum::<f64>().sqrt()
    }

    /// The centre of the box (halves added, so that bounds near the largest number do not overflow).
    pub fn centre(&self) -> Vec<f64> {
        self.pairs().map(|(l, h)| 0.5 * l + 0.5 * h).collect()
    }
}

impl TryFrom<Vec<(f64, f64)>> for Bounds {
    type Error = CoreError;
    fn try_from(pairs: Vec<(f64, f64)>) -> Result<Self> {
        Bounds::new(pairs)
    }
}

impl From<Bounds> for Vec<(f64, f64)> {
    fn from(b: Bounds) -> Self {
        b.pairs().collect()
    }
}

/// One evaluated point, as the manager hands it back to the optimizer that asked for it.
///
/// A failed evaluation arrives as `fx = NaN`; optimizers must rank non-finite values worst.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The point.
    #[serde(with = "crate::exact::vec")]
    pub x: Vec<f64>,
    /// Its value; non-finite when the evaluation failed.
    #[serde(with = "crate::exact")]
    pub fx: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_bounds_name_the_dimension() {
        let err = Bounds::new([(0.0, 1.0), (2.0, 2.0)]).unwrap_err().to_string();
        assert_eq!(err, "bounds[1]: lower bound 2 is not below upper bound 2");
        let err = Bounds::new([(f64::NEG_INFINITY, 1.0)]).unwrap_err().to_string();
        assert!(err.starts_with("bounds[0]:"), "{err}");
        assert!(Bounds::new([]).is_err());
    }

    #[test]
    fn bounds_whose_width_overflows_are_refused() {
        let err = Bounds::new([(0.0, 1.0), (-1e308, 1e308)]).unwrap_err().to_string();
        assert_eq!(
            err,
            "bounds[1]: [-1e308, 1e308] is too wide: its width exceeds the largest number, 1.8e308"
        );
        // Wide but representable boxes keep a finite diagonal and centre.
        let b = Bounds::new([(-8e307, 8e307), (1e308, 1.7e308), (0.0, 1e300)]).unwrap();
        assert!(b.diagonal().is_finite() && b.diagonal() >= 1.6e308, "{}", b.diagonal());
        assert!(b.centre().iter().all(|c| c.is_finite()), "{:?}", b.centre());
        assert!(b.contains(&b.centre()));
        // Many dimensions of a width just below the largest number: the diagonal overflows.
        let err = Bounds::uniform(4, -0.8e308, 0.8e308).unwrap_err().to_string();
        assert_eq!(err, "bounds: the box is too large: its diagonal exceeds the largest number, 1.8e308");
    }

    #[test]
    fn geometry() {
        let b = Bounds::new([(0.0, 3.0), (-2.0, 2.0)]).unwrap();
        assert_eq!(b.diagonal(), 5.0);
        assert_eq!(b.centre(), vec![1.5, 0.0]);
        let mut x = vec![4.0, -5.0];
        assert!(!b.contains(&x));
        b.clip(&mut x);
        assert_eq!(x, vec![3.0, -2.0]);
        assert!(b.contains(&x));
        assert!(!b.contains(&[1.0]));
    }

    #[test]
    fn serde_validates() {
        let b: Bounds = serde_json::from_str("[[0, 1], [-1, 1]]").unwrap();
        assert_eq!(b.dim(), 2);
        assert!(serde_json::from_str::<Bounds>("[[1, 0]]").is_err());
    }
}
