//! Random search: budget, bounds and improvement.

use glompo_core::{Bounds, OptimizerFactory};
use glompo_optimizers::{RandomSearchConfig, RandomSearchFactory};

use crate::common::{ctx, failing_every, run, sphere};

#[test]
fn improves_over_x0_within_its_budget() {
    let bounds = Bounds::uniform(5, -5.0, 5.0).unwrap();
    let x0 = [4.0, -4.0, 3.0, 2.0, -3.0];
    let factory = RandomSearchFactory::new(RandomSearchConfig::default()).unwrap();
    let mut opt = factory.build(&glompo_core::StartContext { workers: 4, ..ctx(&x0, &bounds, 5) }).unwrap();
    let out = run(opt.as_mut(), &bounds, failing_every(3, sphere), 10_000, f64::NEG_INFINITY);
    assert_eq!(out.reason.as_deref(), Some("max_iters"));
    assert_eq!(out.evaluations, RandomSearchConfig::DEFAULT_ITERS);
    assert!(out.best.fx < sphere(&x0), "{out:?}");
}

#[test]
fn first_point_is_x0() {
    let bounds = Bounds::uniform(2, 0.0, 1.0).unwrap();
    let factory = RandomSearchFactory::new(RandomSearchConfig { iters: Some(3), batch: Some(3) }).unwrap();
    let mut opt = factory.build(&ctx(&[0.25, 0.75], &bounds, 5)).unwrap();
    assert_eq!(opt.ask().unwrap()[0], vec![0.25, 0.75]);
}
