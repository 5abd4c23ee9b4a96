//! The time one call of an objective takes on this machine, for the efficiency benchmarks' ideal.

use std::time::Instant;

/// The mean duration of one call of `f` at a 10-D point, measured with `slots` threads calling it
/// 30 times each.
pub(crate) fn call_time(f: &dyn glompo_core::Objective, slots: usize) -> f64 {
    let calls = 30;
    let x = [0.5; 10];
    let total: f64 = std::thread::scope(|s| {
        let threads: Vec<_> = (0..slots)
            .map(|_| {
                s.spawn(|| {
                    let start = Instant::now();
                    for _ in 0..calls {
                        f.evaluate(&x).expect("the objective evaluates");
                    }
                    start.elapsed().as_secs_f64()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().expect("a timing thread")).sum()
    });
    total / (slots * calls) as f64
}
