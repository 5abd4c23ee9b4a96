//! pycma's `BoundTransform` (`BoxConstraintsLinQuadTransformation` in `cma/transformations.py`): a smooth,
//! periodic map from the unbounded search space ("genotype") into the box ("phenotype").
//!
//! Per coordinate with bounds `[lb, ub]` and margins `al = min((ub − lb)/2, max(1, |lb|)/20)`,
//! `au = min((ub − lb)/2, max(1, |ub|)/20)`, the map is the identity on `[lb + al, ub − au]`, quadratic
//! (C¹) on `[lb − al, lb + al]` and `[ub − au, ub + au]` so that it touches the bounds with zero slope,
//! mirrored beyond and periodic with period `2 (ub − lb + al + au)`. Every image lies in `[lb, ub]`.

use glompo_core::Bounds;

/// The transformation for one box.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BoundTransform {
    lb: Vec<f64>,
    ub: Vec<f64>,
    al: Vec<f64>,
    au: Vec<f64>,
}

impl BoundTransform {
    pub(crate) fn new(bounds: &Bounds) -> Self {
        let margin = |b: f64| b.abs().max(1.0) / 20.0;
        let half = |(l, u): (f64, f64)| (u - l) / 2.0;
        BoundTransform {
            lb: bounds.lower().to_vec(),
            ub: bounds.upper().to_vec(),
            al: bounds.pairs().map(|p| half(p).min(margin(p.0))).collect(),
            au: bounds.pairs().map(|p| half(p).min(margin(p.1))).collect(),
        }
    }

    /// Maps a genotype into the box. A non-finite coordinate maps to the centre of its interval.
    pub(crate) fn transform(&self, x: &[f64]) -> Vec<f64> {
        x.iter().enumerate().map(|(i, &v)| self.transform_i(v, i)).collect()
    }

    /// Maps coordinate `i` of a genotype into its interval.
    pub(crate) fn transform_i(&self, x: f64, i: usize) -> f64 {
        let (lb, ub, al, au) = (self.lb[i], self.ub[i], self.al[i], self.au[i]);
        if x >= lb + al && x <= ub - au {
            // The identity region, where almost every sample falls.
            return x;
        }
        if !x.is_finite() {
            return 0.5 * (lb + ub);
        }
        let x = self.shift_or_mirror_i(x, i);
        let y = if x < lb + al {
            lb + (x - (lb - al)).powi(2) / 4.0 / al
        } else if x < ub - au {
            x
        } else {
            ub - (x - (ub + au)).powi(2) / 4.0 / au
        };
        // Rounding cannot take the image out of the box in exact arithmetic; make sure it does not in
        // floating point either.
        y.clamp(lb, ub)
    }

    /// Brings `x` into the invertible domain `[lb − al, ub + au]`: far values shift by whole periods, values
    /// just outside mirror at `lb − al` or `ub + au`.
    fn shift_or_mirror_i(&self, mut x: f64, i: usize) -> f64 {
        let (lb, ub, al, au) = (self.lb[i], self.ub[i], self.al[i], self.au[i]);
        if x < lb - 2.0 * al - (ub - lb) / 2.0 || x > ub + 2.0 * au + (ub - lb) / 2.0 {
            let period = 2.0 * (ub - lb + al + au);
            let start = lb - 2.0 * al - (ub - lb) / 2.0;
            x -= period * ((x - start) / period).floor();
        }
        if x > ub + au {
            x -= 2.0 * (x - ub - au);
        }
        if x < lb - al {
            x += 2.0 * (lb - al - x);
        }
        x
    }

    /// The preimage of a point of the box in `[lb − al, ub + au]`; coordinates outside the box are clipped
    /// first.
    pub(crate) fn inverse(&self, y: &[f64]) -> Vec<f64> {
        y.iter()
            .enumerate()
            .map(|(i, &v)| {
                let (lb, ub, al, au) = (self.lb[i], self.ub[i], self.al[i], self.au[i]);
                let v = v.clamp(lb, ub);
                if v < lb + al {
                    (lb - al) + 2.0 * (al * (v - lb)).sqrt()
                } else if v < ub - au {
                    v
                } else {
                    (ub + au) - 2.0 * (au * (ub - v)).sqrt()
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rounded(v: &[f64]) -> Vec<f64> {
        v.iter().map(|x| (x * 1e9).round() / 1e9).collect()
    }

    /// The example of pycma's docstring (with its default `margin_width2`).
    #[test]
    fn matches_pycma_docstring() {
        let b = Bounds::new([(1.0, 2.0), (1.0, 11.0), (1.0, 11.0), (1.0, 11.0), (1.0, 11.0), (1.0, 11.0)])
            .unwrap();
        let t = BoundTransform::new(&b);
        assert_eq!(
            rounded(&t.transform(&[1.52, -2.2, -0.2, 2.0, 4.0, 10.4])),
            vec![1.52, 4.1, 2.1, 2.0, 4.0, 10.4]
        );
        assert_eq!(rounded(&t.au[..4]), vec![0.1, 0.55, 0.55, 0.55]);
        let three = Bounds::new([(1.0, 2.0), (1.0, 11.0), (1.0, 11.0)]).unwrap();
        assert_eq!(BoundTransform::new(&three).transform(&[1.5, 1.5, 1.5]), vec![1.5, 1.5, 1.5]);
    }

    #[test]
    fn images_stay_in_the_box_and_inverse_round_trips() {
        let b = Bounds::new([(-5.0, 5.0), (0.0, 1e-3), (1e6, 1e6 + 1.0), (-1e9, 1e9)]).unwrap();
        let t = BoundTransform::new(&b);
        let mut x = [0.0; 4];
        for k in 0..2000 {
            let s = (k as f64 * 0.7311).sin() * 10f64.powi(k % 12 - 2);
            x.iter_mut().enumerate().for_each(|(i, v)| *v = s * (i as f64 + 1.0) + b.centre()[i]);
            let y = t.transform(&x);
            assert!(b.contains(&y), "{x:?} -> {y:?}");
            let back = t.transform(&t.inverse(&y));
            for (a, c) in back.iter().zip(&y) {
                assert!((a - c).abs() <= 1e-9 * (1.0 + c.abs()), "{back:?} vs {y:?}");
            }
        }
        assert!(b.contains(&t.transform(&[f64::NAN, f64::INFINITY, -1e308, 1e308])));
        assert_eq!(t.transform(&t.lb.iter().zip(&t.al).map(|(l, a)| l - a).collect::<Vec<_>>()), t.lb);
    }
}
