//! The Rust side of the CMA-ES fidelity benchmark (`bench/fidelity/`): runs our CMA-ES with its
//! defaults on the sphere, the ellipsoid (condition 1e6) and Rosenbrock and prints one JSON line per run
//! with the number of evaluations it took to reach f < 1e-8.
//!
//! ```text
//! cargo run --release -p glompo-optimizers --example fidelity -- \
//!     [--problems sphere,elli,rosen] [--dims 2,5,10,20,40] [--seeds 11] [--target 1e-8] \
//!     [--popsize-factor 1]
//! ```
//!
//! The problems are unbounded. CMA-ES needs a box, so it gets [-1e4, 1e4] in every coordinate: pycma's
//! boundary transformation is then the identity on [-9500, 9500], far beyond any point a run from
//! x0 = 3·1 or 0 with σ0 = 1 samples, so that the run is exactly the unbounded one.
#![allow(clippy::print_stdout, reason = "a benchmark tool that prints its results")]

use glompo_core::{Bounds, Evaluation, Optimizer, StartContext, Status};
use glompo_optimizers::{CmaEs, CmaEsConfig};

/// One benchmark problem: its name, objective and start point.
struct Problem {
    name: &'static str,
    f: fn(&[f64]) -> f64,
    x0: f64,
}

fn sphere(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

/// The ellipsoid with condition 1e6, as pycma's `cma.ff.elli`: Σ 1e6^(i/(n−1)) x_i².
fn elli(x: &[f64]) -> f64 {
    let n = x.len();
    if n == 1 {
        return x[0] * x[0];
    }
    x.iter().enumerate().map(|(i, v)| 1e6f64.powf(i as f64 / (n - 1) as f64) * v * v).sum()
}

fn rosen(x: &[f64]) -> f64 {
    x.windows(2).map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2)).sum()
}

const PROBLEMS: [Problem; 3] = [
    Problem { name: "sphere", f: sphere, x0: 3.0 },
    Problem { name: "elli", f: elli, x0: 3.0 },
    Problem { name: "rosen", f: rosen, x0: 0.0 },
];

/// How one run ended.
struct RunResult {
    evals: usize,
    success: bool,
    fbest: f64,
    reason: String,
    seconds: f64,
}

fn run_one(problem: &Problem, n: usize, seed: u64, target: f64, factor: f64) -> RunResult {
    let bounds = Bounds::uniform(n, -1e4, 1e4).expect("valid bounds");
    let x0 = vec![problem.x0; n];
    let config = CmaEsConfig { sigma0: Some(1.0), popsize_factor: Some(factor), ..Default::default() };
    let ctx = StartContext { opt_id: 1, x0: &x0, bounds: &bounds, seed, workers: 1 };
    let mut es = CmaEs::new(&config, &ctx).expect("valid options");
    let start = std::time::Instant::now();
    let mut evals = 0;
    let mut fbest = f64::INFINITY;
    loop {
        let batch = es.ask().expect("ask");
        let mut evaluations = Vec::with_capacity(batch.len());
        for x in batch {
            let fx = (problem.f)(&x);
            evals += 1;
            fbest = fbest.min(fx);
            if fx < target {
                let seconds = start.elapsed().as_secs_f64();
                return RunResult { evals, success: true, fbest, reason: "target".into(), seconds };
            }
            evaluations.push(Evaluation { x, fx });
        }
        if let Status::Converged(reason) = es.tell(&evaluations).expect("tell") {
            let seconds = start.elapsed().as_secs_f64();
            return RunResult { evals, success: false, fbest, reason, seconds };
        }
    }
}

fn list<T: std::str::FromStr>(text: &str) -> Vec<T> {
    text.split(',').map(|s| s.trim().parse().unwrap_or_else(|_| panic!("cannot parse `{s}`"))).collect()
}

fn main() {
    let mut problems = vec!["sphere".to_owned(), "elli".to_owned(), "rosen".to_owned()];
    let mut dims = vec![2usize, 5, 10, 20, 40];
    let mut seeds = 11u64;
    let mut target = 1e-8;
    let mut factor = 1.0;
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or_else(|| panic!("{} needs a value", pair[0]));
        match pair[0].as_str() {
            "--problems" => problems = list(value),
            "--dims" => dims = list(value),
            "--seeds" => seeds = value.parse().expect("--seeds takes a count"),
            "--target" => target = value.parse().expect("--target takes a number"),
            "--popsize-factor" => factor = value.parse().expect("--popsize-factor takes a number"),
            other => panic!("unknown argument {other}"),
        }
    }
    for name in &problems {
        let problem = PROBLEMS.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no problem {name}"));
        for &n in &dims {
            for seed in 1..=seeds {
                let r = run_one(problem, n, seed, target, factor);
                let line = serde_json::json!({
                    "impl": "glompo", "problem": name, "n": n, "seed": seed, "popsize_factor": factor,
                    "evals": r.evals,
                    "success": r.success, "fbest": r.fbest, "reason": r.reason, "seconds": r.seconds,
                });
                println!("{line}");
            }
        }
    }
}
