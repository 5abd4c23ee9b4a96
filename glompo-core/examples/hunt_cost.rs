//! `cargo xtask bench hunt`: the cost of one hunt as optimizers' histories grow.
//!
//! Ten optimizers of a 10-D run, each with 10^3 and then 10^6 evaluations, are hunted with an
//! expression that uses every history-reading hunter. Records keep only the window the hunters read,
//! so the two costs should be the same: a hunt is O(optimizers × window), not O(history).

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::time::Instant;

use glompo_core::hunter::{self, HuntContext};
use glompo_core::record::OptimizerRecord;
use glompo_core::{Bounds, SeededRng};

const EXPRESSION: &str = "min_evals(100) & (best_unmoving(1000, 0) | evaluations_unmoving(500, 1e-6) \
                          | step_size(500, 1e-4) | parameter_distance(0.01, test_all=true) | last_points_invalid(5))";

fn main() {
    let bounds = Bounds::uniform(10, -5.0, 5.0).expect("valid bounds");
    let mut expr = hunter::parse(EXPRESSION, 1).expect("a valid expression");
    let window = expr.window() as usize;
    let mut rng = SeededRng::new(7);
    let mut results = Vec::new();
    for evaluations in [1_000u64, 1_000_000] {
        let records: Vec<OptimizerRecord> = (1..=10)
            .map(|id| {
                let mut r = OptimizerRecord::new(id, "cma-es", 1, window);
                let mut x = vec![0.0; 10];
                for k in 0..evaluations {
                    for v in &mut x {
                        *v = rng.uniform_in(-5.0, 5.0);
                    }
                    // Always improving and never flat, so no leaf short-circuits the others.
                    r.record(&x, -(k as f64));
                }
                r
            })
            .collect();
        let hunts = 20_000;
        let start = Instant::now();
        let mut kills = 0usize;
        for _ in 0..hunts {
            let hunter = &records[0];
            for victim in &records[1..] {
                let ctx = HuntContext { hunter, victim, optimizers: &records, bounds: &bounds };
                kills += usize::from(expr.hunt(&ctx));
            }
        }
        let per_hunt = start.elapsed().as_secs_f64() / hunts as f64;
        println!(
            "{evaluations:>9} evaluations per optimizer: {:.2} µs per hunt of 9 victims ({kills} kill verdicts)",
            per_hunt * 1e6
        );
        results.push(per_hunt);
    }
    println!("ratio (10^6 / 10^3): {:.2}", results[1] / results[0]);
}
