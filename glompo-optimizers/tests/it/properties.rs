//! Property tests of mathematical invariants.

use glompo_core::{Bounds, Evaluation, Optimizer, StartContext};
use glompo_optimizers::{CmaEs, CmaEsConfig, NelderMead, NelderMeadConfig};
use proptest::prelude::*;

/// Whether a Cholesky factorisation succeeds, that is whether `c` is positive definite.
fn is_positive_definite(c: &[Vec<f64>]) -> bool {
    let n = c.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = c[i][i] - s;
                if d.is_nan() || d <= 0.0 {
                    return false;
                }
                l[i][j] = d.sqrt();
            } else {
                l[i][j] = (c[i][j] - s) / l[j][j];
            }
        }
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever values are told, NaN and infinities included, C stays symmetric and positive definite.
    #[test]
    fn cma_covariance_stays_symmetric_positive_definite(
        seed in 0u64..1000,
        n in 1usize..6,
        popsize in prop::option::of(2usize..16),
        active in any::<bool>(),
        values in prop::collection::vec(prop_oneof![
            8 => -1e6f64..1e6,
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
        ], 400),
    ) {
        let bounds = Bounds::uniform(n, -2.0, 2.0).unwrap();
        let x0 = vec![0.5; n];
        let config = CmaEsConfig { popsize, active: Some(active), ..Default::default() };
        let mut es = CmaEs::new(&config, &StartContext { opt_id: 1, x0: &x0, bounds: &bounds, seed, workers: 1 })
            .unwrap();
        let w = es.weights();
        let mu = w.iter().filter(|&&v| v > 0.0).count();
        prop_assert!((w[..mu].iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mut k = 0;
        for _ in 0..20 {
            let batch = es.ask().unwrap();
            let evals: Vec<Evaluation> = batch.into_iter().map(|x| {
                k += 1;
                Evaluation { x, fx: values[k % values.len()] }
            }).collect();
            es.tell(&evals).unwrap();
            let c = es.covariance();
            for (i, row) in c.iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    prop_assert_eq!(*v, c[j][i]);
                }
            }
            prop_assert!(is_positive_definite(&c), "not positive definite: {:?}", c);
            prop_assert!(es.sigma().is_finite() && es.sigma() > 0.0);
        }
    }

    /// After every completed iteration the simplex is inside the bounds and sorted by value.
    #[test]
    fn nelder_mead_simplex_stays_feasible_and_sorted(
        n in 1usize..5,
        centre in prop::collection::vec(-3.0f64..3.0, 4),
        fail_every in 2usize..9,
        x0 in prop::collection::vec(-1.0f64..1.0, 4),
        adaptive in any::<bool>(),
    ) {
        let bounds = Bounds::uniform(n, -1.0, 1.0).unwrap();
        let config = NelderMeadConfig { adaptive: Some(adaptive), ..Default::default() };
        let mut opt = NelderMead::new(&config, &StartContext {
            opt_id: 1, x0: &x0[..n], bounds: &bounds, seed: 0, workers: 1,
        }).unwrap();
        let mut calls = 0;
        for _ in 0..150 {
            let batch = opt.ask().unwrap();
            let evals: Vec<Evaluation> = batch.into_iter().map(|x| {
                calls += 1;
                let fx = if calls % fail_every == 0 {
                    f64::NAN
                } else {
                    x.iter().zip(&centre).map(|(a, c)| (a - c).powi(2)).sum()
                };
                Evaluation { x, fx }
            }).collect();
            opt.tell(&evals).unwrap();
            if opt.at_iteration_boundary() {
                let (sim, fsim) = opt.simplex();
                prop_assert!(sim.iter().all(|v| bounds.contains(v)));
                prop_assert!(fsim.windows(2).all(|w| w[0] <= w[1]), "{:?}", fsim);
                prop_assert!(!fsim.iter().any(|f| f.is_nan()));
            }
        }
    }
}
