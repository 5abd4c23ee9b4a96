//! Differential evolution: convergence, bounds, failures, strategies and its stop criteria.

use glompo_core::{Bounds, Optimizer};
use glompo_optimizers::differential_evolution::{Mutation, Strategy};
use glompo_optimizers::{DifferentialEvolution, DifferentialEvolutionConfig};

use crate::common::{ctx, failing_every, rosenbrock, run, sphere};

fn de(config: DifferentialEvolutionConfig, x0: &[f64], bounds: &Bounds, seed: u64) -> DifferentialEvolution {
    DifferentialEvolution::new(&config, &ctx(x0, bounds, seed)).unwrap()
}

#[test]
fn sphere_converges_on_scipys_test() {
    let bounds = Bounds::uniform(4, -5.0, 5.0).unwrap();
    for seed in 1..=3 {
        let mut opt = de(DifferentialEvolutionConfig::default(), &[3.0, -2.0, 1.0, 4.0], &bounds, seed);
        let out = run(&mut opt, &bounds, sphere, 100_000, f64::NEG_INFINITY);
        assert_eq!(out.reason.as_deref(), Some("tol"), "{out:?}");
        // With tol = 0.01 the values agree to 1 %: the population has contracted around the optimum.
        assert!(out.best.fx < 1e-3, "{out:?}");
        assert_eq!(out.evaluations % 60, 0, "whole populations of 15 n members");
    }
}

#[test]
fn rosenbrock_2d_with_tight_tolerance() {
    let bounds = Bounds::uniform(2, -5.0, 5.0).unwrap();
    let config = DifferentialEvolutionConfig { tol: Some(1e-8), ..Default::default() };
    let mut opt = de(config, &[-1.2, 1.0], &bounds, 2);
    let out = run(&mut opt, &bounds, rosenbrock, 100_000, f64::NEG_INFINITY);
    assert_eq!(out.reason.as_deref(), Some("tol"), "{out:?}");
    assert!(out.best.fx < 1e-8, "{out:?}");
}

#[test]
fn rand1bin_with_a_fixed_factor_converges_too() {
    let bounds = Bounds::uniform(3, -5.0, 5.0).unwrap();
    let config = DifferentialEvolutionConfig {
        strategy: Some(Strategy::Rand1Bin),
        mutation: Some(Mutation::Constant(0.6)),
        recombination: Some(0.9),
        tol: Some(1e-6),
        ..Default::default()
    };
    let mut opt = de(config, &[1.0, 2.0, 3.0], &bounds, 4);
    let out = run(&mut opt, &bounds, sphere, 200_000, f64::NEG_INFINITY);
    assert_eq!(out.reason.as_deref(), Some("tol"), "{out:?}");
    assert!(out.best.fx < 1e-6, "{out:?}");
}

#[test]
fn optimum_in_a_corner_with_every_point_inside() {
    let bounds = Bounds::uniform(3, -1.0, 1.0).unwrap();
    let f = |x: &[f64]| x.iter().map(|v| (v - 1.0).powi(2)).sum::<f64>();
    let config = DifferentialEvolutionConfig { atol: Some(1e-10), tol: Some(0.0), ..Default::default() };
    let mut opt = de(config, &[0.0; 3], &bounds, 5);
    let out = run(&mut opt, &bounds, f, 100_000, f64::NEG_INFINITY);
    assert!(out.best.fx < 1e-6, "{out:?}");
}

#[test]
fn failed_evaluations_count_as_worst() {
    let bounds = Bounds::uniform(3, -5.0, 5.0).unwrap();
    let mut opt = de(DifferentialEvolutionConfig::default(), &[1.0; 3], &bounds, 6);
    let out = run(&mut opt, &bounds, failing_every(5, sphere), 100_000, f64::NEG_INFINITY);
    assert!(out.reason.is_some(), "{out:?}");
    assert!(out.best.fx < 1e-2, "{out:?}");
}

#[test]
fn maxiter_stops() {
    let bounds = Bounds::uniform(2, -5.0, 5.0).unwrap();
    let config = DifferentialEvolutionConfig { maxiter: Some(4), tol: Some(0.0), ..Default::default() };
    let mut opt = de(config, &[1.0; 2], &bounds, 7);
    let out = run(&mut opt, &bounds, sphere, 100_000, f64::NEG_INFINITY);
    assert_eq!(out.reason.as_deref(), Some("maxiter"));
    assert_eq!(opt.generations(), 4);
    assert_eq!(out.evaluations, 5 * 30);
}

#[test]
fn asking_twice_returns_the_same_batch() {
    let bounds = Bounds::uniform(2, -5.0, 5.0).unwrap();
    let mut opt = de(DifferentialEvolutionConfig::default(), &[1.0; 2], &bounds, 8);
    run(&mut opt, &bounds, sphere, 60, f64::NEG_INFINITY);
    let a = opt.ask().unwrap();
    assert_eq!(opt.ask().unwrap(), a);
    assert_eq!(a.len(), opt.population_size());
}
