//! The rayon evaluator: real parallelism, order, cancellation and panic containment.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use glompo_backends::{ThreadPoolEvaluator, Threads};
use glompo_core::evaluator::{Batch, Evaluator, EvaluatorFactory};
use glompo_core::{EvalError, Objective};

/// Each evaluation waits (up to 10 s) until `target` evaluations are in flight at once, and records the
/// most it saw: with `target` workers the wait ends as soon as they all run.
struct Rendezvous {
    in_flight: AtomicUsize,
    most: AtomicUsize,
    target: usize,
}

impl Objective for Rendezvous {
    fn evaluate(&self, x: &[f64]) -> Result<f64, EvalError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let start = Instant::now();
        while self.most.load(Ordering::SeqCst) < self.target && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(x[0])
    }
}

#[test]
fn evaluations_run_in_parallel_up_to_the_worker_count() {
    for workers in [2, 3] {
        let f = Rendezvous { in_flight: AtomicUsize::new(0), most: AtomicUsize::new(0), target: workers };
        let points: Vec<Vec<f64>> = (0..7).map(|i| vec![i as f64]).collect();
        let mut pool = Threads.build(workers).unwrap();
        let out = pool.evaluate(&f, &points, &Batch::default(), &AtomicBool::new(false), &|_, _| {}).unwrap();
        assert_eq!(f.most.load(Ordering::SeqCst), workers);
        let values: Vec<f64> = out.into_iter().map(|o| o.unwrap().fx).collect();
        assert_eq!(values, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }
}

struct Panicky;

impl Objective for Panicky {
    fn evaluate(&self, x: &[f64]) -> Result<f64, EvalError> {
        if x[0] == 2.0 {
            panic!("bad point {}", x[0]);
        }
        Ok(x[0])
    }
}

#[test]
fn a_panic_becomes_an_error_and_every_result_is_reported_once() {
    let mut pool = ThreadPoolEvaluator::new(2).unwrap();
    let points: Vec<Vec<f64>> = (0..5).map(|i| vec![i as f64]).collect();
    let seen = Mutex::new(Vec::new());
    let out = pool
        .evaluate(&Panicky, &points, &Batch::default(), &AtomicBool::new(false), &|i, o| {
            seen.lock().unwrap().push((i, o.is_ok()))
        })
        .unwrap();
    let mut seen = seen.into_inner().unwrap();
    seen.sort();
    assert_eq!(seen, [(0, true), (1, true), (2, false), (3, true), (4, true)]);
    assert_eq!(out[2].as_ref().unwrap_err().message(), "panicked: bad point 2");
    // The pool survives the panic.
    let again = pool
        .evaluate(&Panicky, &points[..2], &Batch::default(), &AtomicBool::new(false), &|_, _| {})
        .unwrap();
    assert_eq!(again.len(), 2);
}

#[test]
fn a_cancelled_batch_returns_none_and_skips_the_rest() {
    let mut pool = ThreadPoolEvaluator::new(1).unwrap();
    let cancel = AtomicBool::new(false);
    let points: Vec<Vec<f64>> = (0..50).map(|i| vec![i as f64]).collect();
    let count = AtomicUsize::new(0);
    let out = pool.evaluate(&Panicky, &points[3..], &Batch::default(), &cancel, &|_, _| {
        if count.fetch_add(1, Ordering::SeqCst) == 4 {
            cancel.store(true, Ordering::SeqCst);
        }
    });
    assert!(out.is_none());
    assert_eq!(count.load(Ordering::SeqCst), 5);
}
