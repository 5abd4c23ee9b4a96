//! The cost of one CMA-ES generation (ask, evaluate the sphere, tell) for our CMA-ES and for the `cmaes`
//! crate, measured in the same run.
//!
//! ```text
//! CARGO_TARGET_DIR=/tmp/tgt cargo bench -p glompo-optimizers --bench cma_es
//! ```
//!
//! One benchmark iteration runs a fresh optimizer with the default population size from x0 = 1·1 with
//! σ0 = 0.5 for a number of generations that spans at least three eigendecompositions of either
//! implementation, so that their cost is averaged as in a real run; the `thrpt` column is generations
//! per second and its inverse the time per generation. Building the optimizer is part of the iteration
//! and negligible next to the generations. Both evaluate the sphere, so that its (tiny) cost is the same
//! on both sides.

use divan::counter::ItemsCount;
use glompo_core::{Bounds, Evaluation, Optimizer, StartContext};
use glompo_optimizers::{CmaEs, CmaEsConfig};

fn main() {
    divan::main();
}

/// The generations per iteration for dimension `n`: both implementations renew the decomposition every
/// 0.5 / (n (c1 + cμ)) generations, about 1.3, 6, 10 and 40 generations for n = 10, 100, 200, 1000.
fn generations(n: usize) -> usize {
    if n >= 1000 { 120 } else { 40 }
}

fn sphere(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

fn run_glompo(n: usize) -> CmaEs {
    let bounds = Bounds::uniform(n, -5.0, 5.0).expect("valid bounds");
    let x0 = vec![1.0; n];
    let config = CmaEsConfig { sigma0: Some(0.5), ..Default::default() };
    let ctx = StartContext { opt_id: 1, x0: &x0, bounds: &bounds, seed: 1, workers: 1 };
    let mut es = CmaEs::new(&config, &ctx).expect("valid options");
    for _ in 0..generations(n) {
        let batch = es.ask().expect("ask");
        let evals: Vec<Evaluation> = batch.into_iter().map(|x| Evaluation { fx: sphere(&x), x }).collect();
        divan::black_box(es.tell(&evals).expect("tell"));
    }
    es
}

/// The `cmaes` crate with its defaults (serial update): `next` samples, evaluates and updates one
/// generation.
fn run_cmaes(n: usize) -> cmaes::CMAES<impl FnMut(&cmaes::DVector<f64>) -> f64> {
    let objective = |x: &cmaes::DVector<f64>| x.iter().map(|v| v * v).sum::<f64>();
    let mut es = cmaes::CMAESOptions::new(vec![1.0; n], 0.5).seed(1).build(objective).expect("valid options");
    for _ in 0..generations(n) {
        divan::black_box(es.next());
    }
    es
}

/// Our CMA-ES, n = 10, 100, 200.
#[divan::bench(args = [10, 100, 200], sample_count = 10, sample_size = 1)]
fn glompo(bencher: divan::Bencher<'_, '_>, n: usize) {
    bencher.counter(ItemsCount::new(generations(n))).bench_local(|| run_glompo(n));
}

/// The `cmaes` crate, n = 10, 100, 200.
#[divan::bench(args = [10, 100, 200], sample_count = 10, sample_size = 1)]
fn cmaes_crate(bencher: divan::Bencher<'_, '_>, n: usize) {
    bencher.counter(ItemsCount::new(generations(n))).bench_local(|| run_cmaes(n));
}

/// Our CMA-ES, n = 1000 (a few samples: one takes seconds).
#[divan::bench(args = [1000], sample_count = 2, sample_size = 1)]
fn glompo_large(bencher: divan::Bencher<'_, '_>, n: usize) {
    bencher.counter(ItemsCount::new(generations(n))).bench_local(|| run_glompo(n));
}

/// The `cmaes` crate, n = 1000.
#[divan::bench(args = [1000], sample_count = 2, sample_size = 1)]
fn cmaes_crate_large(bencher: divan::Bencher<'_, '_>, n: usize) {
    bencher.counter(ItemsCount::new(generations(n))).bench_local(|| run_cmaes(n));
}
