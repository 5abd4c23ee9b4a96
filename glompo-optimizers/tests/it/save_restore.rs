//! Exact save/restore: a restored optimizer asks exactly the points the original would have.

use glompo_core::{Bounds, Evaluation, Optimizer, OptimizerError, OptimizerFactory, Status};
use glompo_optimizers::factory;
use serde_json::{Map, json};

use crate::common::{ctx, rosenbrock};

/// Rosenbrock that fails (NaN) on about a fifth of the points, as a function of the point alone, so that
/// the original and the restored optimizer see the same failures.
fn flaky_rosenbrock(x: &[f64]) -> f64 {
    if x[0].to_bits().is_multiple_of(5) { f64::NAN } else { rosenbrock(x) }
}

/// Steps an optimizer once: ask, evaluate, tell; returns the asked points and the status.
fn step(opt: &mut dyn Optimizer, f: &mut impl FnMut(&[f64]) -> f64) -> (Vec<Vec<f64>>, Status) {
    let batch = opt.ask().unwrap();
    let evals: Vec<Evaluation> = batch.iter().map(|x| Evaluation { x: x.clone(), fx: f(x) }).collect();
    (batch, opt.tell(&evals).unwrap())
}

fn factories() -> Vec<std::sync::Arc<dyn OptimizerFactory>> {
    let opts = |v: serde_json::Value| v.as_object().cloned().unwrap();
    vec![
        factory("cma-es", &opts(json!({"sigma0": 0.7}))).unwrap(),
        factory("nelder-mead", &Map::new()).unwrap(),
        factory("differential-evolution", &opts(json!({"popsize": 3}))).unwrap(),
        factory("random-search", &opts(json!({"iters": 100000, "batch": 3}))).unwrap(),
    ]
}

/// Runs `k` steps, injects a point, then (optionally after an extra ask) saves, sends the state through
/// JSON text, restores into a fresh optimizer from the same factory and checks that both continue
/// identically.
fn check_continuation(f: &dyn OptimizerFactory, k: usize, save_mid_ask: bool) {
    let bounds = Bounds::uniform(4, -3.0, 3.0).unwrap();
    let x0 = [1.0, -1.5, 0.5, 2.0];
    let c = ctx(&x0, &bounds, 17);
    let mut a = f.build(&c).unwrap();
    for _ in 0..k {
        step(a.as_mut(), &mut flaky_rosenbrock);
    }
    a.inject(&[0.1, 0.2, 0.3, 0.4], 1.0);
    if save_mid_ask {
        a.ask().unwrap();
    }
    let text = serde_json::to_string(&a.save().unwrap()).unwrap();
    let mut b = f.build(&c).unwrap();
    b.restore(&serde_json::from_str(&text).unwrap()).unwrap();
    for round in 0..25 {
        let (pa, sa) = step(a.as_mut(), &mut flaky_rosenbrock);
        let (pb, sb) = step(b.as_mut(), &mut flaky_rosenbrock);
        assert_eq!(pa, pb, "{}: round {round} after restore differs", f.name());
        assert_eq!(sa, sb);
        assert_eq!(a.best(), b.best());
    }
}

#[test]
fn restored_optimizers_continue_bit_for_bit() {
    for f in factories() {
        for k in [0, 1, 7] {
            check_continuation(f.as_ref(), k, false);
            check_continuation(f.as_ref(), k, true);
        }
    }
}

#[test]
fn garbage_states_are_bad_states() {
    let bounds = Bounds::uniform(2, -1.0, 1.0).unwrap();
    let garbage = [
        json!(null),
        json!("state"),
        json!({"optimizer": "cma-es", "version": 1, "state": {"mean": [1, 2]}}),
        json!({"optimizer": "nelder-mead", "version": 1, "state": []}),
        json!({"optimizer": "random-search", "version": 1, "state": {"rng": 5}}),
        json!({"optimizer": "differential-evolution", "version": 1, "state": {"population": []}}),
        json!({"optimizer": "other", "version": 1, "state": {}}),
    ];
    for f in factories() {
        let mut opt = f.build(&ctx(&[0.0, 0.0], &bounds, 1)).unwrap();
        for g in &garbage {
            assert!(matches!(opt.restore(g), Err(OptimizerError::BadState { .. })), "{}: {g}", f.name());
        }
        // A state of another dimension is refused too.
        let other = Bounds::uniform(3, -1.0, 1.0).unwrap();
        let mut wider = f.build(&ctx(&[0.0; 3], &other, 1)).unwrap();
        wider.ask().unwrap();
        let saved = wider.save().unwrap();
        assert!(matches!(opt.restore(&saved), Err(OptimizerError::BadState { .. })), "{}", f.name());
    }
}
