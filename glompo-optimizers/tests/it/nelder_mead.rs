//! Nelder–Mead: convergence, bounds, failures and its stop criteria.

use glompo_core::{Bounds, Optimizer};
use glompo_optimizers::{NelderMead, NelderMeadConfig};

use crate::common::{ctx, failing_every, rosenbrock, run, sphere};

fn nm(config: NelderMeadConfig, x0: &[f64], bounds: &Bounds) -> NelderMead {
    NelderMead::new(&config, &ctx(x0, bounds, 0)).unwrap()
}

#[test]
fn sphere_5d_converges_with_default_tolerances() {
    let bounds = Bounds::uniform(5, -5.0, 5.0).unwrap();
    let mut opt = nm(NelderMeadConfig::default(), &[1.0, 2.0, -1.0, 0.5, 3.0], &bounds);
    let out = run(&mut opt, &bounds, sphere, 20_000, f64::NEG_INFINITY);
    assert!(matches!(out.reason.as_deref(), Some("xatol" | "fatol")), "{out:?}");
    assert!(out.best.fx < 1e-6, "{out:?}");
}

#[test]
fn standard_coefficients_converge_too() {
    let bounds = Bounds::uniform(5, -5.0, 5.0).unwrap();
    let config = NelderMeadConfig {
        adaptive: Some(false),
        xatol: Some(1e-8),
        fatol: Some(1e-12),
        ..Default::default()
    };
    let mut opt = nm(config, &[1.0, 2.0, -1.0, 0.5, 3.0], &bounds);
    let out = run(&mut opt, &bounds, sphere, 50_000, f64::NEG_INFINITY);
    assert!(out.reason.is_some() && out.best.fx < 1e-12, "{out:?}");
}

#[test]
fn rosenbrock_2d_with_tight_tolerances() {
    let bounds = Bounds::uniform(2, -5.0, 5.0).unwrap();
    let config = NelderMeadConfig { xatol: Some(1e-10), fatol: Some(1e-14), ..Default::default() };
    let mut opt = nm(config, &[-1.2, 1.0], &bounds);
    let out = run(&mut opt, &bounds, rosenbrock, 20_000, f64::NEG_INFINITY);
    assert!(out.best.fx < 1e-12, "{out:?}");
}

#[test]
fn optimum_on_the_bound_with_every_point_inside() {
    let bounds = Bounds::uniform(3, -1.0, 1.0).unwrap();
    let f = |x: &[f64]| x.iter().map(|v| (v - 1.0).powi(2)).sum::<f64>();
    let mut opt =
        nm(NelderMeadConfig { initial_step: Some(0.2), ..Default::default() }, &[0.9, 0.0, -0.9], &bounds);
    let out = run(&mut opt, &bounds, f, 20_000, f64::NEG_INFINITY);
    assert!(out.best.fx < 1e-6, "{out:?}");
}

#[test]
fn failed_evaluations_count_as_worst() {
    let bounds = Bounds::uniform(4, -5.0, 5.0).unwrap();
    let config = NelderMeadConfig { xatol: Some(1e-6), fatol: Some(1e-10), ..Default::default() };
    let mut opt = nm(config, &[1.0, 2.0, -1.0, 0.5], &bounds);
    let out = run(&mut opt, &bounds, failing_every(7, sphere), 50_000, f64::NEG_INFINITY);
    assert!(out.reason.is_some(), "{out:?}");
    assert!(out.best.fx < 1e-6, "{out:?}");
}

#[test]
fn max_iters_stops() {
    let bounds = Bounds::uniform(3, -5.0, 5.0).unwrap();
    let mut opt = nm(NelderMeadConfig { max_iters: Some(10), ..Default::default() }, &[1.0; 3], &bounds);
    let out = run(&mut opt, &bounds, sphere, 20_000, f64::NEG_INFINITY);
    assert_eq!(out.reason.as_deref(), Some("max_iters"));
    assert_eq!(opt.iterations(), 10);
}

#[test]
fn injected_optimum_becomes_the_best_vertex() {
    let bounds = Bounds::uniform(3, -5.0, 5.0).unwrap();
    let mut opt = nm(NelderMeadConfig::default(), &[3.0; 3], &bounds);
    run(&mut opt, &bounds, sphere, 4, f64::NEG_INFINITY);
    opt.inject(&[0.0; 3], 0.0);
    let out = run(&mut opt, &bounds, sphere, 1, f64::NEG_INFINITY);
    assert_eq!(out.best.x, vec![0.0; 3]);
    assert_eq!(opt.simplex().1[0], 0.0);
}
