//! Unit tests of CMA-ES internals.

use super::*;
use glompo_core::Bounds;

fn build(config: &CmaEsConfig, x0: &[f64], bounds: &Bounds, seed: u64) -> CmaEs {
    CmaEs::new(config, &StartContext { opt_id: 1, x0, bounds, seed, workers: 1 }).unwrap()
}

fn run_generation(es: &mut CmaEs, f: impl Fn(&[f64]) -> f64) -> Status {
    let batch = es.ask().unwrap();
    let evals: Vec<Evaluation> = batch.into_iter().map(|x| Evaluation { fx: f(&x), x }).collect();
    es.tell(&evals).unwrap()
}

fn sphere(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

#[test]
fn first_population_is_centred_on_x0_with_sigma0() {
    let bounds = Bounds::uniform(3, -100.0, 100.0).unwrap();
    let es_config = CmaEsConfig { sigma0: Some(0.5), popsize: Some(2000), ..Default::default() };
    let mut es = build(&es_config, &[1.0, 2.0, 3.0], &bounds, 5);
    let batch = es.ask().unwrap();
    assert_eq!(batch.len(), 2000);
    for (j, centre) in [1.0, 2.0, 3.0].iter().enumerate() {
        let m = batch.iter().map(|x| x[j]).sum::<f64>() / 2000.0;
        let sd = (batch.iter().map(|x| (x[j] - m).powi(2)).sum::<f64>() / 1999.0).sqrt();
        assert!((m - centre).abs() < 0.05, "mean {m}");
        assert!((sd - 0.5).abs() < 0.05, "sd {sd}");
    }
}

#[test]
fn eigendecomposition_is_lazy_and_consistent() {
    // In 30-D the gap is larger than one generation only for large populations; use a small λ in 40-D.
    let bounds = Bounds::uniform(40, -5.0, 5.0).unwrap();
    let mut es = build(&CmaEsConfig::default(), &[1.0; 40], &bounds, 1);
    assert!(es.params.lazy_gap < 1.0);
    for _ in 0..5 {
        run_generation(&mut es, sphere);
    }
    // After an ask the decomposition reproduces C.
    es.ask().unwrap();
    let n = 40;
    let rebuilt =
        DMatrix::from_fn(n, n, |i, j| (0..n).map(|k| es.b[(i, k)] * es.d[k].powi(2) * es.b[(j, k)]).sum());
    let err = (&rebuilt - &es.c).abs().max();
    assert!(err < 1e-12, "{err}");
    assert!(es.d.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(es.last_update, es.count_tell);
}

#[test]
fn lazy_gap_skips_decompositions_for_large_gaps() {
    let bounds = Bounds::uniform(2, -5.0, 5.0).unwrap();
    let mut es = build(&CmaEsConfig::default(), &[1.0, 1.0], &bounds, 1);
    es.params.lazy_gap = 3.0;
    for _ in 0..4 {
        run_generation(&mut es, sphere);
        es.ask().unwrap();
        assert_eq!(es.last_update, es.count_tell / 3 * 3);
    }
}

#[test]
fn non_finite_values_rank_worst_and_keep_state_finite() {
    let bounds = Bounds::uniform(4, -5.0, 5.0).unwrap();
    let mut es = build(&CmaEsConfig::default(), &[2.0; 4], &bounds, 9);
    let mut k = 0usize;
    for _ in 0..30 {
        let batch = es.ask().unwrap();
        let evals: Vec<Evaluation> = batch
            .into_iter()
            .map(|x| {
                k += 1;
                let fx = match k % 5 {
                    0 => f64::NAN,
                    1 => f64::NEG_INFINITY,
                    _ => sphere(&x),
                };
                Evaluation { fx, x }
            })
            .collect();
        es.tell(&evals).unwrap();
        assert!(es.state_is_finite());
    }
    let best = es.best().unwrap();
    assert!(best.fx.is_finite() && best.fx < 8.0);
}

#[test]
fn all_failures_stop_on_flat_fitness() {
    let bounds = Bounds::uniform(3, -5.0, 5.0).unwrap();
    let mut es = build(&CmaEsConfig::default(), &[2.0; 3], &bounds, 9);
    assert_eq!(run_generation(&mut es, |_| f64::NAN), Status::Running);
    assert_eq!(run_generation(&mut es, |_| f64::NAN), Status::Converged("tolflatfitness".into()));
    assert!(es.best().is_none());
    assert!(es.state_is_finite());
}

#[test]
fn injected_point_is_asked_unchanged_when_close() {
    let bounds = Bounds::uniform(3, -5.0, 5.0).unwrap();
    let mut es = build(&CmaEsConfig { sigma0: Some(1.0), ..Default::default() }, &[0.0; 3], &bounds, 2);
    run_generation(&mut es, sphere);
    let target = [0.3, -0.2, 0.1];
    es.inject(&target, 0.14);
    es.inject(&[0.0; 2], 0.0);
    let batch = es.ask().unwrap();
    for (a, b) in batch[0].iter().zip(&target) {
        assert!((a - b).abs() < 1e-12, "{:?}", batch[0]);
    }
    assert_eq!(es.pending.as_ref().unwrap().injected, 1);
    // A far point is shortened to a typical Mahalanobis length, but stays on the line to it.
    run_generation(&mut es, sphere);
    es.inject(&[4.9, 4.9, 4.9], 1.0);
    let mean_pheno = es.transform.transform(&es.mean);
    let batch = es.ask().unwrap();
    let dist = batch[0].iter().zip(&mean_pheno).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
    assert!(dist < 4.0 * es.sigma * es.d.iter().copied().fold(0.0, f64::max) * 3f64.sqrt(), "{dist}");
}

#[test]
fn injected_solutions_get_no_negative_weight() {
    // Inject a terrible point into every generation: the covariance must stay positive definite and the
    // run must still converge.
    let bounds = Bounds::uniform(3, -5.0, 5.0).unwrap();
    let mut es = build(&CmaEsConfig { sigma0: Some(1.0), ..Default::default() }, &[1.0; 3], &bounds, 4);
    for _ in 0..200 {
        es.inject(&[4.0, -4.0, 4.0], 48.0);
        if let Status::Converged(_) = run_generation(&mut es, sphere) {
            break;
        }
    }
    assert!(es.best().unwrap().fx < 1e-8);
}

#[test]
fn garbage_states_are_rejected() {
    let bounds = Bounds::uniform(3, -5.0, 5.0).unwrap();
    let mut es = build(&CmaEsConfig::default(), &[1.0; 3], &bounds, 4);
    run_generation(&mut es, sphere);
    let good = es.save().unwrap();
    let mut wrong_dim = good.clone();
    wrong_dim["state"]["mean"] = serde_json::json!(["1", "2"]);
    let mut wrong_matrix = good.clone();
    wrong_matrix["state"]["c"] = serde_json::json!([["1"]]);
    let mut not_a_number = good.clone();
    not_a_number["state"]["sigma"] = serde_json::json!("sigma");
    for bad in [
        serde_json::json!(null),
        serde_json::json!({"optimizer": "cma-es"}),
        wrong_dim,
        wrong_matrix,
        not_a_number,
    ] {
        assert!(matches!(es.restore(&bad), Err(OptimizerError::BadState { .. })), "{bad}");
    }
    es.restore(&good).unwrap();
}
