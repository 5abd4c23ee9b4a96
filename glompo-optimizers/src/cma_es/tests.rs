//! Unit tests of CMA-ES internals.

use super::*;
use glompo_core::Bounds;
use nalgebra::DMatrix;

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
    // A large population makes the gap shorter than one generation, so that every ask decomposes.
    let n = 10;
    let bounds = Bounds::uniform(n, -5.0, 5.0).unwrap();
    let mut es = build(&CmaEsConfig { popsize: Some(40), ..Default::default() }, &[1.0; 10], &bounds, 1);
    assert!(es.params.lazy_gap < 1.0);
    for _ in 0..5 {
        run_generation(&mut es, sphere);
    }
    // After an ask the decomposition reproduces C.
    es.ask().unwrap();
    let rebuilt = DMatrix::from_fn(n, n, |i, j| {
        (0..n).map(|k| es.model.b[(i, k)] * es.model.d[k].powi(2) * es.model.b[(j, k)]).sum()
    });
    let err = (&rebuilt - &es.model.c).abs().max();
    assert!(err < 1e-12, "{err}");
    assert!(es.model.d.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(es.model.last_update, es.model.count_tell);
}

#[test]
fn lazy_gap_skips_decompositions_for_large_gaps() {
    let bounds = Bounds::uniform(2, -5.0, 5.0).unwrap();
    let mut es = build(&CmaEsConfig::default(), &[1.0, 1.0], &bounds, 1);
    es.params.lazy_gap = 3.0;
    for _ in 0..4 {
        run_generation(&mut es, sphere);
        es.ask().unwrap();
        assert_eq!(es.model.last_update, es.model.count_tell / 3 * 3);
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
    assert!(dist < 4.0 * es.sigma * es.model.d.iter().copied().fold(0.0, f64::max) * 3f64.sqrt(), "{dist}");
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

/// Recomputes one generation's update with the textbook formulas (explicit C^{-1/2}, one outer product
/// per vector) and compares it with the product-based update.
#[test]
fn update_matches_the_textbook_formulas() {
    let n = 6;
    let bounds = Bounds::uniform(n, -50.0, 50.0).unwrap();
    let mut es = build(&CmaEsConfig { sigma0: Some(0.8), ..Default::default() }, &[1.0; 6], &bounds, 3);
    let f = |x: &[f64]| x.iter().enumerate().map(|(i, v)| (i + 1) as f64 * v * v).sum::<f64>();
    for _ in 0..7 {
        run_generation(&mut es, f);
    }
    es.inject(&[0.5, -0.5, 0.2, 0.0, 0.1, 0.3], 1.0);
    let batch = es.ask().unwrap();
    let (mean, sigma, c, b, d) =
        (es.mean.clone(), es.sigma, es.model.c.clone(), es.model.b.clone(), es.model.d.clone());
    let (pc, ps) = (DMatrix::from_column_slice(n, 1, &es.pc), DMatrix::from_column_slice(n, 1, &es.ps));
    let g = es.pending.clone().unwrap();
    let values: Vec<f64> = batch.iter().map(|x| f(x)).collect();
    let evals: Vec<Evaluation> =
        batch.iter().zip(&values).map(|(x, &fx)| Evaluation { x: x.clone(), fx }).collect();
    es.tell(&evals).unwrap();

    let p = &es.params;
    let inv_sqrt =
        &b * DMatrix::from_diagonal(&d.iter().map(|v| 1.0 / v).collect::<Vec<_>>().into()) * b.transpose();
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let geno = |k: usize| DMatrix::from_fn(n, 1, |i, _| mean[i] + sigma * g.y[(i, k)]);
    let old = DMatrix::from_column_slice(n, 1, &mean);
    let mut new_mean = DMatrix::zeros(n, 1);
    for (w, &k) in p.positive_weights().iter().zip(&order) {
        new_mean += geno(k) * *w;
    }
    let shift = (&new_mean - &old) / sigma;
    let ps_new = &ps * (1.0 - p.cs) + &inv_sqrt * &shift * (p.cs * (2.0 - p.cs) * p.mueff).sqrt();
    let corrected = ps_new.norm_squared() / (1.0 - (1.0 - p.cs).powi(2 * es.countiter as i32));
    let hsig = if corrected / n as f64 - 1.0 < 1.0 + 4.0 / (n as f64 + 1.0) { 1.0 } else { 0.0 };
    let pc_new = &pc * (1.0 - p.cc) + &shift * (hsig * (p.cc * (2.0 - p.cc) * p.mueff).sqrt());
    let c1a = p.c1 * (1.0 - (1.0 - hsig) * p.cc * (2.0 - p.cc));
    let mut weights: Vec<f64> = p.weights.iter().map(|w| p.cmu * w).collect();
    for (w, &k) in weights.iter_mut().zip(&order) {
        if k < g.injected && *w < 0.0 {
            *w = 0.0;
        }
    }
    let mut c_new = &c * (1.0 - c1a - weights.iter().sum::<f64>());
    c_new += &pc_new * pc_new.transpose() * p.c1;
    for (w, &k) in weights.iter().zip(&order) {
        let y = (geno(k) - &old) / sigma;
        let mut w = *w;
        if w < 0.0 {
            w *= n as f64 / ((&inv_sqrt * &y).norm() + 1e-9).powi(2);
        }
        c_new += &y * y.transpose() * w;
    }
    let sigma_new = sigma * (p.cs / p.damps * (ps_new.norm() / p.chi_n - 1.0)).clamp(-1.0, 1.0).exp();

    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-12 * (1.0 + y.abs()));
    assert!(close(&es.mean, new_mean.as_slice()), "{:?} vs {new_mean}", es.mean);
    assert!(close(&es.ps, ps_new.as_slice()));
    assert!(close(&es.pc, pc_new.as_slice()));
    assert!(close(es.model.c.as_slice(), c_new.as_slice()), "{} vs {c_new}", es.model.c);
    assert!((es.sigma - sigma_new).abs() <= 1e-14 * sigma_new);
    assert_eq!(g.injected, 1);
}
