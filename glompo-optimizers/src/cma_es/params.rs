//! The strategy parameters of CMA-ES as functions of the dimension and the population size, with pycma's
//! default formulas (`cma/options_parameters.py`, `cma/recombination_weights.py`,
//! `cma/sigma_adaptation.py`, `cma/interfaces.py`), which refine those of Hansen's tutorial
//! (arXiv:1604.00772).

/// The strategy parameters for one dimension and population size.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Params {
    /// The dimension `n`.
    pub(crate) n: usize,
    /// The population size λ.
    pub(crate) lambda: usize,
    /// The number of positive weights μ = ⌊λ/2⌋.
    pub(crate) mu: usize,
    /// λ recombination weights, decreasing: the first μ are positive and sum to 1; the rest are zero or,
    /// with active CMA, negative.
    pub(crate) weights: Vec<f64>,
    /// The variance-effective selection mass of the positive weights.
    pub(crate) mueff: f64,
    /// The learning rate of the conjugate evolution path `p_σ`.
    pub(crate) cs: f64,
    /// The step-size damping.
    pub(crate) damps: f64,
    /// The learning rate of the evolution path `p_c`.
    pub(crate) cc: f64,
    /// The rank-one learning rate.
    pub(crate) c1: f64,
    /// The rank-μ learning rate.
    pub(crate) cmu: f64,
    /// E‖N(0, I)‖, as pycma computes it.
    pub(crate) chi_n: f64,
    /// The number of generations between eigendecompositions, as a real number: the decomposition is
    /// renewed when at least this many updates of C happened since the last one. It is
    /// 0.5 / (n (c1 + cμ)), the gap of Hansen's reference implementation `purecma` (and of the `cmaes`
    /// crate); pycma's `lazy_update_gap` is a fifth of it. Between decompositions C changes by a
    /// relative amount of about 1/(2n), which does not change evaluation counts measurably
    /// (`bench/NOTES.md`), while the decompositions, the dominant cost for n ≥ 10, become five times
    /// rarer.
    pub(crate) lazy_gap: f64,
}

impl Params {
    /// The default parameters for dimension `n >= 1` and population size `lambda >= 2`.
    pub(crate) fn new(n: usize, lambda: usize, active: bool) -> Self {
        let nf = n as f64;
        let lf = lambda as f64;
        // Raw weights ln((λ+1)/2) − ln(i): positive for i < (λ+1)/2, zero in the middle for odd λ.
        let raw: Vec<f64> = (1..=lambda).map(|i| ((lf + 1.0) / 2.0).ln() - (i as f64).ln()).collect();
        let mu = raw.iter().filter(|&&w| w > 0.0).count();
        let spos: f64 = raw[..mu].iter().sum();
        let mut weights: Vec<f64> = raw.iter().map(|w| w / spos).collect();
        let mueff = 1.0 / weights[..mu].iter().map(|w| w * w).sum::<f64>();
        let sneg: f64 = weights[mu..].iter().sum();
        if sneg != 0.0 {
            for w in &mut weights[mu..] {
                *w /= -sneg;
            }
        }

        let c1 = lf.min(6.0) / 6.0 * 2.0 / ((nf + 1.3).powi(2) + mueff);
        let cmu = (1.0 - c1).min(2.0 * (0.25 + mueff + 1.0 / mueff - 2.0) / ((nf + 2.0).powi(2) + mueff));
        let cc = (4.0 + mueff / nf) / (nf + 4.0 + 2.0 * mueff / nf);
        let cs = ((mueff + 2.0) / (nf + mueff + 3.0)).min(0.5);
        // pycma's damping without mirrored sampling, 1 + 2 max(0, a √((μeff−1)/(n+1)) − 1) + c_σ, where
        // a = max(1, 3 (1 − 2^(−n/9))) damps the step size more for large populations in larger dimensions.
        let a = (3.0 * (1.0 - 0.5f64.powf(nf / 9.0))).max(1.0);
        let damps = 1.0 + 2.0 * (a * ((mueff - 1.0) / (nf + 1.0)).sqrt() - 1.0).max(0.0) + cs;

        if active {
            finalize_negative_weights(&mut weights, mu, mueff, nf, c1, cmu);
        } else {
            for w in &mut weights[mu..] {
                *w = 0.0;
            }
        }

        Params {
            n,
            lambda,
            mu,
            weights,
            mueff,
            cs,
            damps,
            cc,
            c1,
            cmu,
            chi_n: chi_n(n),
            lazy_gap: 0.5 / (c1 + cmu + 1e-23) / nf,
        }
    }

    /// The positive recombination weights, which sum to 1.
    pub(crate) fn positive_weights(&self) -> &[f64] {
        &self.weights[..self.mu]
    }
}

/// Scales the negative weights, which sum to −1 on entry, as pycma's `finalize_negative_weights` does:
/// to the sum −(1 + c1/cμ) that makes the decay of C vanish, then limited by the positive-definiteness
/// bound (1 − c1 − cμ)/(n cμ) and by 1 + 2 μeff⁻/(μeff + 2).
fn finalize_negative_weights(weights: &mut [f64], mu: usize, mueff: f64, n: f64, c1: f64, cmu: f64) {
    let neg = &mut weights[mu..];
    let sum = |w: &[f64]| w.iter().sum::<f64>();
    if neg.last().is_none_or(|&w| w >= 0.0) {
        return;
    }
    let mueff_minus = sum(neg).powi(2) / neg.iter().map(|w| w * w).sum::<f64>();
    let scale_to = |w: &mut [f64], value: f64, only_limit: bool| {
        let s = sum(w);
        if only_limit && s >= -value {
            return;
        }
        let factor = (value / s).abs();
        if !only_limit || factor < 1.0 {
            for x in w.iter_mut() {
                *x *= factor;
            }
        }
    };
    if cmu > 0.0 {
        scale_to(neg, 1.0 + c1 / cmu, false);
        scale_to(neg, (1.0 - c1 - cmu) / cmu / n, true);
    }
    scale_to(neg, 1.0 + 2.0 * mueff_minus / (mueff + 2.0), true);
}

/// E‖N(0, I_n)‖ = √2 Γ((n+1)/2) / Γ(n/2): exact up to n = 100, as pycma 4.5 tabulates it, and pycma's
/// approximation √n (1 − 1/(4n) + 1/(32 n²)) beyond.
pub(crate) fn chi_n(n: usize) -> f64 {
    if n <= 100 {
        // r(k) = Γ((k+1)/2) / Γ(k/2) satisfies r(1) = 1/√π and r(k+1) = k / (2 r(k)).
        let mut r = 1.0 / std::f64::consts::PI.sqrt();
        for k in 1..n {
            r = k as f64 / (2.0 * r);
        }
        std::f64::consts::SQRT_2 * r
    } else {
        let n = n as f64;
        n.sqrt() * (1.0 - 1.0 / (4.0 * n) + 1.0 / (32.0 * n * n))
    }
}

/// pycma's default population size 4 + ⌊3 ln n⌋.
pub(crate) fn default_popsize(n: usize) -> usize {
    (4.0 + 3.0 * (n as f64).ln()).floor() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    /// Reference values printed by pycma 4.x (`es.sp.weights`, `es.sm.parameters()`, `es.sp.cc`,
    /// `es.adapt_sigma.cs`, `.damps` and `es.sm.lazy_update_gap`) for n = 5 and n = 10 with default λ.
    /// Our decomposition gap is five times pycma's (see [`Params::lazy_gap`]).
    #[test]
    fn matches_pycma() {
        let cases: [(usize, &[f64], [f64; 7]); 2] = [
            (
                5,
                &[
                    0.5299301844787792,
                    0.2857142857142857,
                    0.14285714285714282,
                    0.041498386949792215,
                    -0.14853743453079063,
                    -0.4055746760130295,
                    -0.6228965671385448,
                    -0.811149352026059,
                ],
                [
                    2.60017882611318,
                    0.047292304159400896,
                    0.04785904960298248,
                    0.45019955799280803,
                    0.43397181326609285,
                    1.4339718132660928,
                    0.21019143931409506,
                ],
            ),
            (
                10,
                &[
                    0.45627264690340597,
                    0.2707530970017852,
                    0.16223111715866978,
                    0.08523354710016448,
                    0.025509591835974777,
                    -0.08001260758087224,
                    -0.22176416099914653,
                    -0.34455494178482093,
                    -0.45286408637842196,
                    -0.5497499176973853,
                ],
                [
                    3.1672992814107017,
                    0.015283824524751714,
                    0.02355177665041747,
                    0.29499038303562225,
                    0.3196142529106334,
                    1.3196142529106334,
                    0.2574956920299673,
                ],
            ),
        ];
        for (n, weights, [mueff, c1, cmu, cc, cs, damps, gap]) in cases {
            let p = Params::new(n, default_popsize(n), true);
            assert_eq!((p.lambda, p.mu), (weights.len(), weights.len() / 2));
            for (a, b) in p.weights.iter().zip(weights) {
                assert!(close(*a, *b, 1e-12), "n={n}: {:?}", p.weights);
            }
            let got = [p.mueff, p.c1, p.cmu, p.cc, p.cs, p.damps, p.lazy_gap / 5.0];
            for (a, b) in got.iter().zip([mueff, c1, cmu, cc, cs, damps, gap]) {
                assert!(close(*a, b, 1e-12), "n={n}: {got:?}");
            }
            // With default λ the negative weights make the decay of C vanish: c1 + cμ Σw = 0.
            let sum: f64 = p.weights.iter().sum();
            assert!((p.c1 + p.cmu * sum).abs() < 1e-12, "{}", p.c1 + p.cmu * sum);
        }
    }

    /// Reference values printed by pycma 4.5 for a small dimension (where c_σ is capped at 1/2) and for
    /// large populations (where the damping grows with μeff, as after a few IPOP doublings).
    #[test]
    fn matches_pycma_for_large_populations() {
        let cases: [(usize, usize, [f64; 8]); 4] = [
            (
                2,
                6,
                [
                    2.0286114646100617,
                    0.5,
                    1.5,
                    0.6245545390268264,
                    0.1548153998964136,
                    0.08559277942666424,
                    0.6370425712412168,
                    -1.1559817781589212,
                ],
            ),
            (
                40,
                120,
                [
                    32.12175610531579,
                    0.4542193616650723,
                    4.441593768545815,
                    0.10531585000540922,
                    0.001150872637944564,
                    0.03385392727438352,
                    0.07131258142058576,
                    -0.021195288957687707,
                ],
            ),
            (
                10,
                320,
                [
                    83.10338336053664,
                    0.5,
                    8.30360159312711,
                    0.40202698548681226,
                    0.009487963844573058,
                    0.7165495763291716,
                    0.03233713473252057,
                    -0.0004279059554559025,
                ],
            ),
            (
                100,
                17,
                [
                    5.096188878610173,
                    0.06564698489582318,
                    1.0656469848958232,
                    0.03891342005784185,
                    0.000194802926953566,
                    0.0006806381419706107,
                    0.3150958752676225,
                    -0.26172644923877597,
                ],
            ),
        ];
        for (n, lambda, expected) in cases {
            let p = Params::new(n, lambda, true);
            let got = [p.mueff, p.cs, p.damps, p.cc, p.c1, p.cmu, p.weights[0], p.weights[lambda - 1]];
            for (a, b) in got.iter().zip(expected) {
                assert!(close(*a, b, 1e-12), "n={n}, λ={lambda}: {got:?}");
            }
        }
    }

    #[test]
    fn weights_are_normalised_and_decreasing() {
        for n in 1..30 {
            for lambda in [2, 3, default_popsize(n), 4 * default_popsize(n) + 1] {
                for active in [false, true] {
                    let p = Params::new(n, lambda, active);
                    assert_eq!(p.mu, lambda / 2);
                    assert!((p.positive_weights().iter().sum::<f64>() - 1.0).abs() < 1e-12);
                    assert!(p.weights.windows(2).all(|w| w[0] >= w[1]));
                    assert!(p.weights[p.mu..].iter().all(|&w| w <= 0.0));
                    if !active {
                        assert!(p.weights[p.mu..].iter().all(|&w| w == 0.0));
                    }
                    assert!(p.c1 + p.cmu <= 1.0 && p.c1 > 0.0 && p.cmu >= 0.0);
                    assert!(p.cs > 0.0 && p.cs < 1.0 && p.cc > 0.0 && p.cc <= 1.0 && p.damps >= 1.0);
                }
            }
        }
    }

    #[test]
    fn chi_n_matches_pycma_tables() {
        // Values of pycma 4.5's `Mh.chiN`: its table up to n = 100, its approximation beyond.
        let table = [
            (1, 0.7978845608028655),
            (2, 1.2533141373155003),
            (3, 1.595769121605731),
            (7, 2.553230594569169),
            (40, 6.2851542079433615),
            (100, 9.97503163955105),
        ];
        for (n, v) in table {
            assert!(close(chi_n(n), v, 1e-14), "n={n}: {} vs {v}", chi_n(n));
        }
        assert!(close(chi_n(1000), 31.61487189698008, 1e-7), "{}", chi_n(1000));
        assert_eq!(default_popsize(1), 4);
        assert_eq!(default_popsize(5), 8);
        assert_eq!(default_popsize(10), 10);
    }
}
