//! `cargo xtask bench quality [--quick] [--seeds N] [--jobs J]`: the quality suite of issue 12.
//!
//! Six multimodal functions (ackley, griewank, levy, rastrigin, rosenbrock, schwefel) in 5-D and 10-D,
//! each plain and shifted (`"shift": 0.4, "shift_seed": seed`, the optimum moved off the box centre),
//! seeds 1..=N (3 by default), a budget of 20 000 evaluations. A run is solved when f − f* < 1e-6 on
//! one of the first 20 000 evaluations of its `evaluations.jsonl` (the budget is honest: an overshoot
//! of `max_evals` does not count). Three configs, each a JSON config as a user writes it, built
//! through `RunConfig::from_value`:
//!
//! - `ipop`: the default strategy, a config without `optimizers` (one CMA-ES with its defaults,
//!   restarted by the selector with `increasing_population`), on one slot;
//! - `quickstart`: the README's quickstart strategy (CMA-ES with a population of 60 and Nelder-Mead,
//!   its hunters, two slots), with CMA-ES's default `sigma0` (a quarter of the box width, which is
//!   the quickstart's 2.5 on rastrigin) so that it fits every box;
//! - `de`: differential evolution alone (its defaults), restarted by the selector.
//!
//! Every run uses `"schedule": "deterministic"`, so its result depends on the config and seed only,
//! and the runs go `--jobs` at a time (default 2) without changing any figure. `--quick` runs a
//! reduced suite for CI: rastrigin and rosenbrock, 5-D, seed 1, 5 000 evaluations, plain and shifted.
//!
//! It prints, per function and dimension, each config's successes, the median of the best f − f* and
//! the median evaluations to success (over the solved runs), then the totals.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use glompo_cli::{Overrides, RunConfig};
use serde_json::{Value, json};

/// The threshold on f − f* for a solved run.
const SOLVED: f64 = 1e-6;

/// What the suite runs.
struct Suite {
    functions: Vec<&'static str>,
    dims: Vec<usize>,
    seeds: u64,
    budget: u64,
    jobs: usize,
}

impl Suite {
    fn from_args() -> Result<Suite, String> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut suite = Suite {
            functions: vec!["ackley", "griewank", "levy", "rastrigin", "rosenbrock", "schwefel"],
            dims: vec![5, 10],
            seeds: 3,
            budget: 20_000,
            jobs: 2,
        };
        let mut seeds = None;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut number = |name: &str| -> Result<u64, String> {
                let v = it.next().ok_or(format!("{name} needs a number"))?;
                v.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("{name}: expected a positive integer, got {v}"))
            };
            match arg.as_str() {
                "--quick" => {
                    suite.functions = vec!["rastrigin", "rosenbrock"];
                    suite.dims = vec![5];
                    suite.seeds = 1;
                    suite.budget = 5_000;
                }
                "--seeds" => seeds = Some(number("--seeds")?),
                "--jobs" => suite.jobs = usize::try_from(number("--jobs")?).map_err(|e| e.to_string())?,
                other => {
                    return Err(format!(
                        "unknown argument {other}; usage: quality [--quick] [--seeds N] [--jobs J]"
                    ));
                }
            }
        }
        if let Some(n) = seeds {
            suite.seeds = n;
        }
        Ok(suite)
    }
}

/// One run of the suite.
#[derive(Debug, Clone)]
struct Case {
    function: &'static str,
    dim: usize,
    shifted: bool,
    seed: u64,
    config: &'static str,
}

/// What one run achieved within the budget.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    /// The best f − f* among the first `budget` evaluations.
    gap: f64,
    /// The call id of the first evaluation with f − f* below [`SOLVED`], if any.
    solved_at: Option<u64>,
}

const CONFIGS: [&str; 3] = ["ipop", "quickstart", "de"];

/// The config of `case` as a user would write it.
fn config(case: &Case, budget: u64, fstar: f64, dir: &Path) -> Value {
    let mut objective = json!({"function": case.function, "dim": case.dim});
    if case.shifted {
        objective["shift"] = json!(0.4);
        objective["shift_seed"] = json!(case.seed);
    }
    // Stop once solved (the run is judged on its log, so this only saves time).
    let convergence = format!("max_evals({budget}) | target_cost({fstar:?}, 5e-7)");
    let mut value = match case.config {
        // The default strategy: what a config without `optimizers` runs.
        "ipop" => json!({"max_jobs": 1}),
        "quickstart" => json!({
            "optimizers": [{"type": "cma-es", "popsize": 60}, {"type": "nelder-mead"}],
            "max_jobs": 2,
            "hunters": "min_evals(1000) & (best_unmoving(1000, 0.01) | parameter_distance(0.02))",
            "hunt_frequency": 200,
        }),
        _ => json!({"optimizers": [{"type": "differential-evolution"}], "max_jobs": 1}),
    };
    value["objective"] = objective;
    value["convergence"] = json!(convergence);
    value["schedule"] = json!("deterministic");
    value["seed"] = json!(case.seed);
    value["output"] = json!({"dir": dir});
    value
}

/// The best f − f* and the first success among the first `budget` lines of `evaluations.jsonl`.
fn judge(log: &Path, budget: u64, fstar: f64) -> Result<Outcome, String> {
    let text = std::fs::read_to_string(log).map_err(|e| format!("cannot read {}: {e}", log.display()))?;
    let mut outcome = Outcome { gap: f64::INFINITY, solved_at: None };
    for (n, line) in text.lines().take(usize::try_from(budget).unwrap_or(usize::MAX)).enumerate() {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", log.display(), n + 1))?;
        let Some(fx) = v["fx"].as_f64() else { continue };
        let gap = fx - fstar;
        outcome.gap = outcome.gap.min(gap);
        if gap < SOLVED && outcome.solved_at.is_none() {
            outcome.solved_at = Some(n as u64 + 1);
        }
    }
    Ok(outcome)
}

/// Runs `case` in a temporary directory and judges its log.
fn run(case: &Case, budget: u64) -> Result<Outcome, String> {
    let f = glompo_core::functions::build(case.function, case.dim, &serde_json::Map::new())
        .map_err(|e| e.to_string())?;
    let fstar = f.min_fx().ok_or(format!("{} has no known minimum", case.function))?;
    let tmp = tempfile::tempdir().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let dir = tmp.path().join("run");
    let value = config(case, budget, fstar, &dir);
    let config =
        RunConfig::from_value(value, Path::new("."), &Overrides::default()).map_err(|e| e.to_string())?;
    config
        .builder()
        .map_err(|e| e.to_string())?
        .build()
        .map_err(|e| e.to_string())?
        .run()
        .map_err(|e| e.to_string())?;
    judge(&dir.join("evaluations.jsonl"), budget, fstar)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

fn main() {
    let suite = match Suite::from_args() {
        Ok(s) => s,
        Err(message) => {
            eprintln!("quality: {message}");
            std::process::exit(2);
        }
    };
    let mut cases = Vec::new();
    for &function in &suite.functions {
        for &dim in &suite.dims {
            for shifted in [false, true] {
                for seed in 1..=suite.seeds {
                    for config in CONFIGS {
                        cases.push(Case { function, dim, shifted, seed, config });
                    }
                }
            }
        }
    }
    let started = std::time::Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; cases.len()]);
    let failed: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..suite.jobs.min(cases.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    match run(case, suite.budget) {
                        Ok(outcome) => results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(outcome),
                        Err(e) => {
                            failed.lock().unwrap_or_else(|e| e.into_inner()).push(format!("{case:?}: {e}"))
                        }
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap_or_else(|e| e.into_inner());
    if !failed.is_empty() {
        for f in &failed {
            eprintln!("quality: {f}");
        }
        std::process::exit(1);
    }
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    print_table(&suite, &cases, &results, started.elapsed().as_secs_f64());
}

fn print_table(suite: &Suite, cases: &[Case], results: &[Option<Outcome>], seconds: f64) {
    // (function, dim, shifted, config) -> outcomes.
    let mut groups: BTreeMap<(usize, usize, bool, usize), Vec<Outcome>> = BTreeMap::new();
    for (case, outcome) in cases.iter().zip(results) {
        let Some(outcome) = outcome else { continue };
        let fi = suite.functions.iter().position(|f| *f == case.function).unwrap_or(0);
        let ci = CONFIGS.iter().position(|c| *c == case.config).unwrap_or(0);
        groups.entry((fi, case.dim, case.shifted, ci)).or_default().push(*outcome);
    }
    println!(
        "quality suite: budget {} evaluations, seeds 1..={}, solved when f - f* < {SOLVED:e} on the first {} logged; \
         {} runs in {seconds:.0} s",
        suite.budget,
        suite.seeds,
        suite.budget,
        cases.len()
    );
    println!("cells: solved/runs, median best f - f*, median evaluations to success (solved runs)");
    for shifted in [false, true] {
        println!();
        println!("{}", if shifted { "shifted (shift 0.4, shift_seed = seed)" } else { "plain" });
        let mut header = format!("| {:<14}", "function");
        for c in CONFIGS {
            header += &format!(" | {c:<26}");
        }
        println!("{header} |");
        println!("|{}|", ["---"; 4].join("|"));
        let mut totals = [(0usize, 0usize); 3];
        for (fi, function) in suite.functions.iter().enumerate() {
            for &dim in &suite.dims {
                let mut row = format!("| {:<14}", format!("{function}-{dim}"));
                for (ci, total) in totals.iter_mut().enumerate() {
                    let outcomes = groups.get(&(fi, dim, shifted, ci)).cloned().unwrap_or_default();
                    let solved: Vec<f64> =
                        outcomes.iter().filter_map(|o| o.solved_at).map(|n| n as f64).collect();
                    total.0 += solved.len();
                    total.1 += outcomes.len();
                    let gap = median(outcomes.iter().map(|o| o.gap.max(0.0)).collect());
                    let evals = median(solved.clone());
                    row += &format!(
                        " | {:>2}/{:<2} {:>10} {:>8}",
                        solved.len(),
                        outcomes.len(),
                        gap.map_or("-".to_owned(), |g| format!("{g:.2e}")),
                        evals.map_or("-".to_owned(), |e| format!("{e:.0}"))
                    );
                }
                println!("{row} |");
            }
        }
        let mut row = format!("| {:<14}", "total");
        for (solved, runs) in totals {
            row += &format!(" | {:<26}", format!("{solved}/{runs}"));
        }
        println!("{row} |");
    }
}
