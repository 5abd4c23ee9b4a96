//! `cargo xtask bench quality [--quick] [--rotated] [--no-peers] [--seeds N] [--jobs J] [--functions F,G]
//! [--dims D,E] [--configs C,D]`: the quality suite of issue 12.
//!
//! Six multimodal functions (ackley, griewank, levy, rastrigin, rosenbrock, schwefel) in 5-D and 10-D,
//! each plain and shifted (`"shift": 0.4, "shift_seed": seed`, the optimum moved off the box centre),
//! with `--rotated` also shifted and rotated (`"rotate": true, "rotate_seed": seed`: no longer
//! separable), seeds 1..=N (3 by default), a budget of 20 000 evaluations. A run is solved when
//! f − f* < 1e-6 on one of the first 20 000 evaluations of its `evaluations.jsonl` (the budget is
//! honest: an overshoot of `max_evals` does not count). Six configs, each a JSON config as a user
//! writes it, built through `RunConfig::from_value`:
//!
//! - `default`: the default strategy, a config without `optimizers` (CMA-ES restarted with IPOP, one
//!   sweep of coordinate search after its first run), on one slot;
//! - `basin`: the default with the hunter `explored_basin()` (kill a restart that has settled into a
//!   basin an earlier optimizer or the incumbent explored);
//! - `ipop`, `bipop`: CMA-ES alone with its defaults, restarted by the selector's `restarts`;
//! - `hunters`: the strategy of the README's quickstart before the default strategy replaced it
//!   (CMA-ES with a population of 60 and Nelder-Mead, hunters that kill the ones that stop
//!   improving, two slots), with CMA-ES's default `sigma0` (a quarter of the box width, 2.5 on
//!   rastrigin) so that it fits every box;
//! - `de`: differential evolution alone (its defaults), restarted by the selector.
//!
//! `--configs` runs others instead, named from those and the default strategy's variants measured in
//! `bench/NOTES.md`: `portfolio` (the default's optimizers and differential evolution under the
//! learning `portfolio` selector with IPOP), `portfolio-nm` (the same with Nelder-Mead), `cycle-de`
//! (the three of `portfolio` in a plain IPOP cycle), `spread` and `incumbent` (the default with the
//! `spread` generator, or `{"type": "incumbent", "scale": 0.1}`).
//!
//! When Python has `cma` (and without `--no-peers`), `bench/quality/pycma_peer.py` adds pycma's IPOP
//! and BIPOP (`cma.fmin2` with `restarts=9`), evaluating through this binary's `--serve` mode so that
//! both sides see the same functions. Nevergrad's NGOpt, too slow to run each time, was run once by
//! the same script; its results in `bench/quality/ngopt.jsonl` (the shifted suite, seeds 1–3) are
//! shown as `ngopt (kept)` where they cover every seed of the suite's cases.
//!
//! Every glompo run uses `"schedule": "deterministic"`, so its result depends on the config and seed
//! only, and the runs go `--jobs` at a time (default 2) without changing any figure. `--quick` runs a
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
    functions: Vec<String>,
    dims: Vec<usize>,
    seeds: u64,
    budget: u64,
    jobs: usize,
    /// The variants run: plain, shifted and, with `--rotated`, shifted and rotated.
    variants: Vec<Variant>,
    /// Whether pycma's columns run (when Python has `cma`); `--no-peers` leaves them out.
    peers: bool,
    /// glompo's configs run: [`CONFIGS`], or those `--configs` names (of those and [`EXTRAS`]).
    configs: Vec<&'static str>,
}

/// How a function of the suite is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Variant {
    Plain,
    /// `"shift": 0.4, "shift_seed": seed`.
    Shifted,
    /// Shifted, and `"rotate": true, "rotate_seed": seed`: no longer separable.
    Rotated,
}

impl Variant {
    /// As the peer script names it.
    fn name(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Shifted => "shifted",
            Variant::Rotated => "rotated",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Shifted => "shifted (shift 0.4, shift_seed = seed)",
            Variant::Rotated => "shifted and rotated (also rotate: true, rotate_seed = seed)",
        }
    }
}

impl Suite {
    fn from_args() -> Result<Suite, String> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut suite = Suite {
            functions: ["ackley", "griewank", "levy", "rastrigin", "rosenbrock", "schwefel"]
                .map(String::from)
                .to_vec(),
            dims: vec![5, 10],
            seeds: 3,
            budget: 20_000,
            jobs: 2,
            variants: vec![Variant::Plain, Variant::Shifted],
            peers: true,
            configs: CONFIGS.to_vec(),
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
                    suite.functions = vec!["rastrigin".into(), "rosenbrock".into()];
                    suite.dims = vec![5];
                    suite.seeds = 1;
                    suite.budget = 5_000;
                }
                "--seeds" => seeds = Some(number("--seeds")?),
                "--rotated" => suite.variants.push(Variant::Rotated),
                "--functions" => {
                    let list = it.next().ok_or("--functions needs a list such as sphere,levy")?;
                    suite.functions = list.split(',').map(str::to_owned).collect();
                }
                "--dims" => {
                    let list = it.next().ok_or("--dims needs a list such as 20,30")?;
                    suite.dims = list
                        .split(',')
                        .map(|d| {
                            d.parse::<usize>()
                                .ok()
                                .filter(|d| *d > 0)
                                .ok_or(format!("--dims: {d} is not a dimension"))
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--no-peers" => suite.peers = false,
                "--configs" => {
                    let list = it.next().ok_or("--configs needs a list such as default,portfolio")?;
                    suite.configs = list
                        .split(',')
                        .map(|c| {
                            CONFIGS.iter().chain(&EXTRAS).find(|k| **k == c).copied().ok_or(format!(
                                "--configs: no config named {c}; there are {}",
                                CONFIGS.iter().chain(&EXTRAS).copied().collect::<Vec<_>>().join(", ")
                            ))
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--jobs" => suite.jobs = usize::try_from(number("--jobs")?).map_err(|e| e.to_string())?,
                other => {
                    return Err(format!(
                        "unknown argument {other}; usage: quality [--quick] [--rotated] [--no-peers] [--seeds N] [--jobs J] \
                         [--functions F,G] [--dims D,E] [--configs C,D]"
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
struct Case<'a> {
    function: &'a str,
    dim: usize,
    variant: Variant,
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

/// The configs run by default.
const CONFIGS: [&str; 6] = ["default", "basin", "ipop", "bipop", "hunters", "de"];

/// The default strategy's variants measured in `bench/NOTES.md`, run with `--configs`.
const EXTRAS: [&str; 5] = ["portfolio", "portfolio-nm", "cycle-de", "spread", "incumbent"];

/// The default strategy's optimizers (what a config without `optimizers` runs).
fn default_optimizers() -> Value {
    json!([{"type": "cma-es"}, {"type": "coordinate-search", "max_sweeps": 1, "max_starts": 1}])
}

/// The config of `case` as a user would write it.
fn config(case: &Case<'_>, budget: u64, fstar: f64, dir: &Path) -> Result<Value, String> {
    let mut objective = json!({"function": case.function, "dim": case.dim});
    if case.variant != Variant::Plain {
        objective["shift"] = json!(0.4);
        objective["shift_seed"] = json!(case.seed);
    }
    if case.variant == Variant::Rotated {
        objective["rotate"] = json!(true);
        objective["rotate_seed"] = json!(case.seed);
    }
    // Stop once solved (the run is judged on its log, so this only saves time).
    let convergence = format!("max_evals({budget}) | target_cost({fstar:?}, 5e-7)");
    let mut value = match case.config {
        // The default strategy: what a config without `optimizers` runs.
        "default" => json!({"max_jobs": 1}),
        "basin" => json!({"max_jobs": 1, "hunters": "explored_basin()"}),
        "ipop" => json!({
            "optimizers": [{"type": "cma-es"}],
            "selector": {"type": "cycle", "restarts": "ipop"},
            "max_jobs": 1,
        }),
        "bipop" => json!({
            "optimizers": [{"type": "cma-es"}],
            "selector": {"type": "cycle", "restarts": "bipop"},
            "max_jobs": 1,
        }),
        "hunters" => json!({
            "optimizers": [{"type": "cma-es", "popsize": 60}, {"type": "nelder-mead"}],
            "max_jobs": 2,
            "hunters": "min_evals(1000) & (best_unmoving(1000, 0.01) | parameter_distance(0.02))",
            "hunt_frequency": 200,
        }),
        "de" => json!({"optimizers": [{"type": "differential-evolution"}], "max_jobs": 1}),
        "portfolio" | "portfolio-nm" | "cycle-de" => {
            let mut optimizers = default_optimizers();
            let other = if case.config == "portfolio-nm" { "nelder-mead" } else { "differential-evolution" };
            optimizers
                .as_array_mut()
                .ok_or("the default's optimizers are a list")?
                .push(json!({"type": other}));
            let selector = if case.config == "cycle-de" { "cycle" } else { "portfolio" };
            json!({
                "optimizers": optimizers,
                "selector": {"type": selector, "restarts": "ipop"},
                "max_jobs": 1,
            })
        }
        "spread" => json!({"max_jobs": 1, "generator": "spread"}),
        "incumbent" => json!({"max_jobs": 1, "generator": {"type": "incumbent", "scale": 0.1}}),
        other => return Err(format!("no config named {other}")),
    };
    value["objective"] = objective;
    value["convergence"] = json!(convergence);
    value["schedule"] = json!("deterministic");
    value["seed"] = json!(case.seed);
    value["output"] = json!({"dir": dir});
    Ok(value)
}

/// The best f − f* and the first success among the first `budget` lines of the run's
/// `evaluations.jsonl` (read through the run directory's reader; failed evaluations do not count).
fn judge(dir: &Path, budget: u64, fstar: f64) -> Result<Outcome, String> {
    use glompo_core::manager::rundir::{Evaluations, LoggedValue};
    let mut outcome = Outcome { gap: f64::INFINITY, solved_at: None };
    let log = Evaluations::<LoggedValue>::open(dir).map_err(|e| e.to_string())?;
    for (n, line) in log.take(usize::try_from(budget).unwrap_or(usize::MAX)).enumerate() {
        let e = line.map_err(|e| e.to_string())?;
        if e.failed {
            continue;
        }
        let gap = e.fx - fstar;
        outcome.gap = outcome.gap.min(gap);
        if gap < SOLVED && outcome.solved_at.is_none() {
            outcome.solved_at = Some(n as u64 + 1);
        }
    }
    Ok(outcome)
}

/// Runs `case` in a temporary directory and judges its log.
fn run(case: &Case<'_>, budget: u64) -> Result<Outcome, String> {
    let f = glompo_core::functions::build(case.function, case.dim, &serde_json::Map::new())
        .map_err(|e| e.to_string())?;
    let fstar = f.min_fx().ok_or(format!("{} has no known minimum", case.function))?;
    let tmp = tempfile::tempdir().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let dir = tmp.path().join("run");
    let value = config(case, budget, fstar, &dir)?;
    let config =
        RunConfig::from_value(value, Path::new("."), &Overrides::default()).map_err(|e| e.to_string())?;
    config
        .builder()
        .map_err(|e| e.to_string())?
        .build()
        .map_err(|e| e.to_string())?
        .run()
        .map_err(|e| e.to_string())?;
    judge(&dir, budget, fstar)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// The peers' configs, run by `bench/quality/pycma_peer.py` when Python has `cma`.
const PEERS: [&str; 2] = ["pycma-ipop", "pycma-bipop"];

/// `--serve`: evaluates the suite's functions for a peer. The first line of stdin is the objective
/// (`{"function", "dim", …its parameters}`); the answer is `{"fstar", "bounds"}`. Every further line
/// is a batch of points (a JSON array of arrays), answered by a line with their values (`null` for a
/// non-finite one).
fn serve() -> Result<(), String> {
    use std::io::{BufRead, Write};
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let first = lines.next().ok_or("no objective on stdin")?.map_err(|e| e.to_string())?;
    let Value::Object(mut spec) = serde_json::from_str::<Value>(&first).map_err(|e| e.to_string())? else {
        return Err("the objective must be a JSON object".into());
    };
    let function =
        spec.remove("function").and_then(|v| v.as_str().map(str::to_owned)).ok_or("no function")?;
    let dim = spec.remove("dim").and_then(|v| v.as_u64()).ok_or("no dim")? as usize;
    let f = glompo_core::functions::build(&function, dim, &spec).map_err(|e| e.to_string())?;
    let fstar = f.min_fx().ok_or(format!("{function} has no known minimum"))?;
    let bounds: Vec<[f64; 2]> = f.bounds().pairs().map(|(lo, hi)| [lo, hi]).collect();
    let mut out = std::io::stdout().lock();
    let mut answer = |value: Value| -> Result<(), String> {
        writeln!(out, "{value}").and_then(|()| out.flush()).map_err(|e| e.to_string())
    };
    answer(json!({"fstar": fstar, "bounds": bounds}))?;
    for line in lines {
        let line = line.map_err(|e| e.to_string())?;
        let xs: Vec<Vec<f64>> = serde_json::from_str(&line).map_err(|e| format!("a batch: {e}"))?;
        let values: Vec<Value> = xs
            .iter()
            .map(|x| f.value(x))
            .map(|v| if v.is_finite() { json!(v) } else { Value::Null })
            .collect();
        answer(Value::Array(values))?;
    }
    Ok(())
}

/// The outcome in a line of the peer script: `gap` a number, or `null` when no value was finite;
/// `solved_at` an evaluation count, or `null`.
fn peer_outcome(v: &Value) -> Result<Outcome, String> {
    let gap = match &v["gap"] {
        Value::Null => f64::INFINITY,
        g => g.as_f64().ok_or(format!("`gap` must be a number or null, found {g}"))?,
    };
    let solved_at = match &v["solved_at"] {
        Value::Null => None,
        n => Some(n.as_u64().ok_or(format!("`solved_at` must be a whole number or null, found {n}"))?),
    };
    Ok(Outcome { gap, solved_at })
}

/// A kept peer result's case: function, dimension, variant and seed.
type KeptCase = (String, usize, String, u64);

/// Nevergrad's NGOpt results for the suite, kept in `bench/quality/ngopt.jsonl` (at about a minute
/// per run it is run once, by `bench/quality/pycma_peer.py`, not by this benchmark): the outcome of
/// every kept case of `budget` evaluations, by function, dimension, variant and seed.
fn kept_ngopt(budget: u64) -> Result<Vec<(KeptCase, Outcome)>, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/quality/ngopt.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut kept = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let v: Value =
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        let bad = |k: &str, what: &str| format!("{}:{}: `{k}` must be {what}", path.display(), n + 1);
        let text =
            |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| bad(k, "a string"));
        let whole = |k: &str| v.get(k).and_then(Value::as_u64).ok_or_else(|| bad(k, "a whole number"));
        if whole("budget")? != budget {
            continue;
        }
        let key = (text("function")?, whole("dim")? as usize, text("variant")?, whole("seed")?);
        let outcome = peer_outcome(&v).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        kept.push((key, outcome));
    }
    Ok(kept)
}

/// Whether Python has pycma (`import cma`).
fn pycma_installed() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import cma"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs the peer cases through `bench/quality/pycma_peer.py`; their outcomes, in order.
fn run_peers(cases: &[&Case<'_>], budget: u64, jobs: usize) -> Result<Vec<Outcome>, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/quality/pycma_peer.py");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let list: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({"function": c.function, "dim": c.dim, "variant": c.variant.name(), "seed": c.seed,
                   "config": c.config, "budget": budget})
        })
        .collect();
    let path = tmp.path().join("cases.json");
    std::fs::write(&path, Value::Array(list).to_string()).map_err(|e| e.to_string())?;
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&exe)
        .arg(&path)
        .args(["--jobs", &jobs.to_string()])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed: {}", script.display(), String::from_utf8_lossy(&out.stderr)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let outcomes: Vec<Outcome> = text
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).map_err(|e| format!("peer output {line}: {e}"))?;
            peer_outcome(&v).map_err(|e| format!("peer output {line}: {e}"))
        })
        .collect::<Result<_, String>>()?;
    if outcomes.len() != cases.len() {
        return Err(format!("the peer answered {} of {} cases", outcomes.len(), cases.len()));
    }
    Ok(outcomes)
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--serve") {
        if let Err(message) = serve() {
            eprintln!("quality --serve: {message}");
            std::process::exit(2);
        }
        return;
    }
    let suite = match Suite::from_args() {
        Ok(s) => s,
        Err(message) => {
            eprintln!("quality: {message}");
            std::process::exit(2);
        }
    };
    let mut configs: Vec<&'static str> = suite.configs.clone();
    if suite.peers && pycma_installed() {
        configs.extend(PEERS);
    } else if suite.peers {
        eprintln!("quality: Python has no `cma` (pip install cma): the pycma columns are left out");
    }
    let mut cases = Vec::new();
    for function in &suite.functions {
        for &dim in &suite.dims {
            for &variant in &suite.variants {
                for seed in 1..=suite.seeds {
                    for &config in &configs {
                        cases.push(Case { function, dim, variant, seed, config });
                    }
                }
            }
        }
    }
    let started = std::time::Instant::now();
    let ours: Vec<usize> = (0..cases.len()).filter(|&i| !PEERS.contains(&cases[i].config)).collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; cases.len()]);
    let failed: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..suite.jobs.min(ours.len()) {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = ours.get(k) else { break };
                    let case = &cases[i];
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
    let ours_seconds = started.elapsed().as_secs_f64();
    let mut failed = failed.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let peers: Vec<usize> = (0..cases.len()).filter(|&i| PEERS.contains(&cases[i].config)).collect();
    if !peers.is_empty() && failed.is_empty() {
        let peer_cases: Vec<&Case<'_>> = peers.iter().map(|&i| &cases[i]).collect();
        match run_peers(&peer_cases, suite.budget, suite.jobs) {
            Ok(outcomes) => peers.iter().zip(outcomes).for_each(|(&i, o)| results[i] = Some(o)),
            Err(e) => failed.push(e),
        }
    }
    if !failed.is_empty() {
        for f in &failed {
            eprintln!("quality: {f}");
        }
        std::process::exit(1);
    }
    let seconds = (ours_seconds, started.elapsed().as_secs_f64() - ours_seconds);
    // NGOpt's kept results, for the cases of this suite that have one.
    let kept = match kept_ngopt(suite.budget) {
        Ok(kept) => kept,
        Err(e) => {
            eprintln!("quality: {e}");
            std::process::exit(1);
        }
    };
    let mut ngopt = Vec::new();
    for case in cases.iter().filter(|c| c.config == suite.configs[0]) {
        let key = (case.function.to_owned(), case.dim, case.variant.name().to_owned(), case.seed);
        if let Some((_, outcome)) = kept.iter().find(|(k, _)| *k == key) {
            ngopt.push((Case { config: "ngopt (kept)", ..case.clone() }, *outcome));
        }
    }
    // Shown only where it covers every seed of a function, dimension and variant it has at all.
    let partial = ngopt.iter().any(|(c, _)| {
        let kept =
            ngopt.iter().filter(|(o, _)| (o.function, o.dim, o.variant) == (c.function, c.dim, c.variant));
        kept.count() as u64 != suite.seeds
    });
    if partial {
        eprintln!(
            "quality: bench/quality/ngopt.jsonl does not hold every seed of this suite: its column is left out"
        );
        ngopt.clear();
    }
    if !ngopt.is_empty() {
        configs.push("ngopt (kept)");
        for (case, outcome) in ngopt {
            cases.push(case);
            results.push(Some(outcome));
        }
    }
    print_table(&suite, &configs, &cases, &results, seconds);
}

fn print_table(
    suite: &Suite,
    configs: &[&'static str],
    cases: &[Case<'_>],
    results: &[Option<Outcome>],
    seconds: (f64, f64),
) {
    // (function, dim, variant, config) -> outcomes.
    let mut groups: BTreeMap<(usize, usize, Variant, usize), Vec<Outcome>> = BTreeMap::new();
    for (case, outcome) in cases.iter().zip(results) {
        let Some(outcome) = outcome else { continue };
        let fi = suite.functions.iter().position(|f| *f == case.function).unwrap_or(0);
        let ci = configs.iter().position(|c| *c == case.config).unwrap_or(0);
        groups.entry((fi, case.dim, case.variant, ci)).or_default().push(*outcome);
    }
    println!(
        "quality suite: budget {} evaluations, seeds 1..={}, solved when f - f* < {SOLVED:e} on the first {} logged; \
         {} runs in {:.0} s (glompo) + {:.0} s (peers)",
        suite.budget,
        suite.seeds,
        suite.budget,
        cases.len(),
        seconds.0,
        seconds.1
    );
    println!("cells: solved/runs, median best f - f*, median evaluations to success (solved runs)");
    for &variant in &suite.variants {
        println!();
        println!("{}", variant.title());
        // The configs with runs of this variant (the kept NGOpt results are of one variant only).
        let shown: Vec<usize> =
            (0..configs.len()).filter(|&ci| groups.keys().any(|k| (k.2, k.3) == (variant, ci))).collect();
        let mut header = format!("| {:<14}", "function");
        for &ci in &shown {
            header += &format!(" | {:<26}", configs[ci]);
        }
        println!("{header} |");
        println!("|{}|", vec!["---"; shown.len() + 1].join("|"));
        let mut totals = vec![(0usize, 0usize); shown.len()];
        for (fi, function) in suite.functions.iter().enumerate() {
            for &dim in &suite.dims {
                let mut row = format!("| {:<14}", format!("{function}-{dim}"));
                for (&ci, total) in shown.iter().zip(totals.iter_mut()) {
                    let outcomes = groups.get(&(fi, dim, variant, ci)).cloned().unwrap_or_default();
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
