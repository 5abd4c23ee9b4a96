//! The Lennard-Jones cluster energy: a classic, hard global optimisation problem from physics.

use std::f64::consts::PI;

use super::{Function, Params, Parts, dim_error, param_error};
use crate::error::CoreError;

/// Putative global minima of three-dimensional Lennard-Jones clusters in units of ε, for 2 to 15
/// atoms, as listed in the Cambridge Cluster Database (Wales & Doye, J. Phys. Chem. A 101, 5111
/// (1997)), where they are given to six decimals. 2 to 4 atoms are exact (a simplex); every other
/// value was re-found independently by basin hopping from random starts (each hop relaxed by gradient
/// descent to a gradient norm of 1e-7), and the tests relax known structures for 5, 6, 7 and 13 atoms
/// to them.
const LJ_3D_MINIMA: [f64; 14] = [
    -1.0,
    -3.0,
    -6.0,
    -9.103_852,
    -12.712_062,
    -16.505_384,
    -19.821_489,
    -24.113_360,
    -28.422_532,
    -32.765_970,
    -37.967_600,
    -44.326_801,
    -47.845_157,
    -52.322_627,
];

/// A cluster of `dim / spatial` atoms; coordinates are grouped per atom.
#[derive(Debug)]
struct LennardJones {
    spatial: usize,
    eps: f64,
    sigma2: f64,
}

impl Function for LennardJones {
    fn value(&self, x: &[f64]) -> f64 {
        let s = self.spatial;
        let n = x.len() / s;
        let mut sum = 0.0;
        // Plain index loops: this is the hot loop of large clusters, and they stay fast in debug builds.
        for i in 0..n {
            for j in i + 1..n {
                let mut r2 = 0.0;
                for k in 0..s {
                    let d = x[i * s + k] - x[j * s + k];
                    r2 += d * d;
                }
                if r2 == 0.0 {
                    // Two atoms in the same place: the repulsion is infinite (and inf - inf would be NaN).
                    return f64::INFINITY;
                }
                let s3 = (self.sigma2 / r2).powi(3);
                sum += s3 * s3 - s3;
            }
        }
        4.0 * self.eps * sum
    }
}

/// Lennard-Jones: `4ε·Σ_{i<j} [(σ/r_ij)^12 - (σ/r_ij)^6]` for `atoms` atoms in `spatial_dims`
/// dimensions (default 3), so `dim = atoms·spatial_dims`; atom i has coordinates
/// `x[i·spatial_dims..(i+1)·spatial_dims]`. The bounds are `±σ·∛(πN/(3√2))` in every coordinate, as in
/// the original.
///
/// The minimum is known when `atoms ≤ spatial_dims + 1` (a regular simplex puts every pair at the
/// bottom of the well, `-ε·N(N-1)/2`) and, in three dimensions, for up to 15 atoms (the Cambridge
/// Cluster Database values). No minimiser is given: the minimum is degenerate under rotations,
/// translations and permutations of the atoms.
pub(super) fn lennard_jones(dim: usize, p: &Params<'_>) -> Result<Parts, CoreError> {
    let spatial = p.count("spatial_dims", 3)?;
    let eps = p.f64_positive("eps", 1.0)?;
    let sigma = p.f64_positive("sigma", 1.0)?;
    let rule = format!("atoms·spatial_dims with spatial_dims = {spatial} and at least 2 atoms");
    if !dim.is_multiple_of(spatial) || dim / spatial < 2 {
        return Err(dim_error("lennard_jones", dim, &rule));
    }
    let atoms = dim / spatial;
    if p.has("atoms") {
        let given = p.count("atoms", atoms)?;
        if given != atoms {
            return Err(param_error(
                "atoms",
                format!(
                    "{given} atoms in {spatial} spatial dimensions need dim {}, got dim {dim}",
                    given * spatial
                ),
            ));
        }
    }
    let half = sigma * (PI * atoms as f64 / (3.0 * 2f64.sqrt())).cbrt();
    let f = LennardJones { spatial, eps, sigma2: sigma * sigma };
    let parts = Parts::new(f, dim, -half, half);
    let min_fx = if atoms <= spatial + 1 {
        Some(-eps * (atoms * (atoms - 1) / 2) as f64)
    } else if spatial == 3 {
        LJ_3D_MINIMA.get(atoms - 2).map(|e| eps * e)
    } else {
        None
    };
    Ok(match min_fx {
        Some(fx) => parts.min(fx, None),
        None => parts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::build;

    fn lj(dim: usize, extra: serde_json::Value) -> crate::functions::Benchmark {
        build("lennard_jones", dim, extra.as_object().unwrap()).unwrap()
    }

    /// The gradient of the energy (ε = σ = 1, three dimensions).
    fn gradient(x: &[f64], g: &mut [f64]) {
        g.fill(0.0);
        let n = x.len() / 3;
        for i in 0..n {
            for j in i + 1..n {
                let d = [x[3 * i] - x[3 * j], x[3 * i + 1] - x[3 * j + 1], x[3 * i + 2] - x[3 * j + 2]];
                let r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
                let s6 = r2.powi(-3);
                let coef = (-48.0 * s6 * s6 + 24.0 * s6) / r2;
                for k in 0..3 {
                    g[3 * i + k] += coef * d[k];
                    g[3 * j + k] -= coef * d[k];
                }
            }
        }
    }

    /// Steepest descent with Barzilai–Borwein steps and an Armijo backtracking safeguard, until the
    /// gradient norm is below 1e-7 or no step lowers the energy any more (rounding stops it near 1e-7).
    fn relax(f: &crate::functions::Benchmark, mut x: Vec<f64>) -> f64 {
        let m = x.len();
        let mut e = f.value(&x);
        let (mut g, mut gn, mut xn) = (vec![0.0; m], vec![0.0; m], vec![0.0; m]);
        gradient(&x, &mut g);
        let mut step = 1e-3;
        for _ in 0..5_000 {
            let gg: f64 = g.iter().map(|v| v * v).sum();
            if gg.sqrt() < 1e-7 {
                break;
            }
            let mut s = step;
            let en = loop {
                for k in 0..m {
                    xn[k] = x[k] - s * g[k];
                }
                let en = f.value(&xn);
                if en <= e - 1e-4 * s * gg || s < 1e-12 {
                    break en;
                }
                s *= 0.5;
            };
            if en >= e {
                break;
            }
            gradient(&xn, &mut gn);
            let (mut sy, mut ss) = (0.0, 0.0);
            for k in 0..m {
                let (sk, yk) = (xn[k] - x[k], gn[k] - g[k]);
                sy += sk * yk;
                ss += sk * sk;
            }
            step = if sy > 0.0 { (ss / sy).min(1.0) } else { 1e-3 };
            std::mem::swap(&mut x, &mut xn);
            std::mem::swap(&mut g, &mut gn);
            e = en;
        }
        e
    }

    #[test]
    fn simplex_clusters_reach_the_pair_minimum() {
        let r = 2f64.powf(1.0 / 6.0);
        let f = lj(6, serde_json::json!({"eps": 3.0, "sigma": 2.0}));
        assert_eq!(f.min_fx(), Some(-3.0));
        assert!((f.value(&[0.0, 0.0, 0.0, 2.0 * r, 0.0, 0.0]) + 3.0).abs() < 1e-12);
        // A regular tetrahedron with edge 2^(1/6): every one of the six pairs is at the bottom of the well.
        let a = r / 8f64.sqrt();
        let tet = [a, a, a, a, -a, -a, -a, a, -a, -a, -a, a];
        let f = lj(12, serde_json::json!({}));
        assert_eq!(f.min_fx(), Some(-6.0));
        assert!((f.value(&tet) + 6.0).abs() < 1e-12);
        // Three atoms in a plane form a triangle; in a line they cannot.
        assert_eq!(lj(6, serde_json::json!({"spatial_dims": 2})).min_fx(), Some(-3.0));
        assert_eq!(lj(3, serde_json::json!({"spatial_dims": 1})).min_fx(), None);
    }

    /// Relaxes `x` (an approximate cluster, three coordinates per atom) and compares with the table.
    fn check_relaxed(x: Vec<f64>) {
        let f = lj(x.len(), serde_json::json!({}));
        assert!(f.bounds().contains(&x));
        let e = relax(&f, x);
        // The table has six decimals, so it can be off by 5e-7.
        assert!((e - f.min_fx().unwrap()).abs() < 1e-6, "{} atoms: relaxed to {e}", f.dim() / 3);
    }

    #[test]
    fn relaxed_known_structures_match_the_table() {
        let r = 1.12;
        // Five atoms: a triangular bipyramid.
        let (c, h) = (r / 3f64.sqrt(), r * (2.0f64 / 3.0).sqrt());
        let mut x = vec![0.0, 0.0, h, 0.0, 0.0, -h];
        for k in 0..3 {
            let t = k as f64 * std::f64::consts::TAU / 3.0;
            x.extend([c * t.cos(), c * t.sin(), 0.0]);
        }
        check_relaxed(x);
        // Six atoms: an octahedron.
        let a = r / 2f64.sqrt();
        check_relaxed(vec![a, 0.0, 0.0, -a, 0.0, 0.0, 0.0, a, 0.0, 0.0, -a, 0.0, 0.0, 0.0, a, 0.0, 0.0, -a]);
        // Seven atoms: a pentagonal bipyramid.
        let c = r / (2.0 * (PI / 5.0).sin());
        let mut x = vec![0.0, 0.0, 0.55, 0.0, 0.0, -0.55];
        for k in 0..5 {
            let t = k as f64 * std::f64::consts::TAU / 5.0;
            x.extend([c * t.cos(), c * t.sin(), 0.0]);
        }
        check_relaxed(x);
        // Thirteen atoms: the Mackay icosahedron, a centre and the twelve vertices (0, ±1, ±φ) and
        // their cyclic permutations, scaled to an edge near the pair distance.
        let phi = (1.0 + 5f64.sqrt()) / 2.0;
        let mut x = vec![0.0, 0.0, 0.0];
        for (s1, s2) in [(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)] {
            for v in [[0.0, s1, s2 * phi], [s1, s2 * phi, 0.0], [s2 * phi, 0.0, s1]] {
                x.extend(v.iter().map(|c| 0.55 * c));
            }
        }
        check_relaxed(x);
    }

    #[test]
    fn dimension_and_atom_checks() {
        let m = serde_json::Map::new();
        let err = build("lennard_jones", 10, &m).unwrap_err().to_string();
        assert!(err.starts_with("objective.dim:") && err.contains("spatial_dims = 3"), "{err}");
        let err = build("lennard_jones", 3, &m).unwrap_err().to_string();
        assert!(err.starts_with("objective.dim:"), "{err}");
        let p = serde_json::json!({"atoms": 4});
        let err = build("lennard_jones", 9, p.as_object().unwrap()).unwrap_err().to_string();
        assert!(err.starts_with("objective.atoms:") && err.contains("need dim 12"), "{err}");
        assert_eq!(lj(8, serde_json::json!({"spatial_dims": 2})).dim(), 8);
        assert_eq!(lj(48, serde_json::json!({})).min_fx(), None);
        let f = lj(6, serde_json::json!({}));
        assert_eq!(f.value(&[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]), f64::INFINITY);
    }
}
