//! Property tests of mathematical invariants.

use glompo_core::{Bounds, Evaluation, Optimizer, StartContext, Status};
use glompo_optimizers::{CmaEs, CmaEsConfig, NAMES, NelderMead, NelderMeadConfig, factory};
use proptest::prelude::*;

/// A test objective that fails (NaN) where `fail` says, as a function of the point alone.
fn objective(x: &[f64], centre: f64, fail: u64) -> f64 {
    if fail > 0 && x[0].to_bits().is_multiple_of(fail) {
        f64::NAN
    } else {
        x.iter().map(|v| (v - centre).powi(2)).sum()
    }
}

/// One ask/evaluate/tell step; returns the asked points and the status.
fn step(opt: &mut dyn Optimizer, centre: f64, fail: u64) -> (Vec<Vec<f64>>, Status) {
    let batch = opt.ask().unwrap();
    let evals: Vec<Evaluation> =
        batch.iter().map(|x| Evaluation { x: x.clone(), fx: objective(x, centre, fail) }).collect();
    (batch, opt.tell(&evals).unwrap())
}

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

    /// For every optimizer, after any number of steps, injections and an optional pending ask, a state
    /// sent through JSON text and restored into a fresh optimizer continues bit for bit, and saving the
    /// restored optimizer gives the same state back.
    #[test]
    fn save_restore_round_trips_for_every_optimizer(
        which in 0usize..4,
        seed in 0u64..1000,
        n in 1usize..5,
        steps in 0usize..12,
        inject in any::<bool>(),
        mid_ask in any::<bool>(),
        centre in -1.5f64..1.5,
        fail in prop_oneof![Just(0u64), 2u64..7],
    ) {
        let name = NAMES[which];
        let options = serde_json::json!({"popsize": 2}).as_object().cloned().unwrap();
        let f = match name {
            "differential-evolution" => factory(name, &options).unwrap(),
            _ => factory(name, &serde_json::Map::new()).unwrap(),
        };
        let bounds = Bounds::uniform(n, -2.0, 2.0).unwrap();
        let x0 = vec![0.5; n];
        let ctx = StartContext { opt_id: 1, x0: &x0, bounds: &bounds, seed, workers: 2 };
        let mut a = f.build(&ctx).unwrap();
        for _ in 0..steps {
            if let (_, Status::Converged(_)) = step(a.as_mut(), centre, fail) {
                break;
            }
        }
        if inject {
            a.inject(&vec![centre.clamp(-2.0, 2.0); n], 0.0);
        }
        if mid_ask {
            a.ask().unwrap();
        }
        let saved = a.save().unwrap();
        let text = serde_json::to_string(&saved).unwrap();
        let mut b = f.build(&ctx).unwrap();
        b.restore(&serde_json::from_str(&text).unwrap()).unwrap();
        prop_assert_eq!(&b.save().unwrap(), &saved, "{}: save(restore(s)) != s", name);
        for round in 0..8 {
            let (pa, sa) = step(a.as_mut(), centre, fail);
            let (pb, sb) = step(b.as_mut(), centre, fail);
            let bits = |p: &[Vec<f64>]| p.iter().flatten().map(|v| v.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&pa), bits(&pb), "{}: round {} differs", name, round);
            prop_assert_eq!(&sa, &sb);
            prop_assert_eq!(a.best(), b.best());
            if sa != Status::Running {
                break;
            }
        }
    }
}
