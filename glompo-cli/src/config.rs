//! The run config: JSON in, a validated and fully resolved plan out. Every error names the file and
//! the field.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use glompo_backends::{CommandObjective, CommandSpec, Processes};
use glompo_core::checker::{self, CheckerExpr};
use glompo_core::evaluator::{EvaluatorFactory, Serial};
use glompo_core::functions::{self, Benchmark};
use glompo_core::generator::{self, Generator};
use glompo_core::hunter::{self, HunterExpr};
use glompo_core::rng::{GENERATOR_STREAM, SELECTOR_STREAM, derive_seed};
use glompo_core::selector::{self, OptimizerSpec, Selector};
use glompo_core::{Bounds, CoreError, Objective};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// A usage or config error: the CLI prints it and exits 2.
#[derive(Debug)]
pub(crate) struct ConfigError(pub(crate) String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The config file as written; only `objective` and `optimizers` are required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    objective: Map<String, Value>,
    bounds: Option<Vec<(f64, f64)>>,
    optimizers: Vec<Map<String, Value>>,
    selector: Option<Value>,
    generator: Option<Value>,
    max_jobs: Option<usize>,
    backend: Option<String>,
    schedule: Option<String>,
    convergence: Option<String>,
    hunters: Option<String>,
    hunt_frequency: Option<u64>,
    share_best_solutions: Option<bool>,
    detailed_log: Option<bool>,
    force_terminations_after_s: Option<f64>,
    evaluation_timeout_s: Option<Value>,
    split_printstreams: Option<Value>,
    seed: Option<u64>,
    output: Option<RawOutput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    dir: Option<PathBuf>,
    overwrite: Option<bool>,
}

/// Command-line values that override the file.
#[derive(Debug, Default)]
pub(crate) struct Overrides {
    pub(crate) dir: Option<PathBuf>,
    pub(crate) overwrite: bool,
    pub(crate) seed: Option<u64>,
}

/// A validated run, ready to be wired into a manager.
pub(crate) struct Plan {
    pub(crate) objective: Arc<dyn Objective>,
    /// The objective's name (a built-in's, or the command's program) and dimension, for messages.
    pub(crate) objective_name: String,
    pub(crate) dim: usize,
    pub(crate) bounds: Bounds,
    pub(crate) selector: Box<dyn Selector>,
    pub(crate) generator: Box<dyn Generator>,
    pub(crate) max_jobs: usize,
    /// With the `processes` backend: what a runner process needs to rebuild its objective.
    pub(crate) runner_config: Option<Value>,
    /// With the `processes` backend: whether each runner process prints into `printstreams/` instead of
    /// on glompo's own stdout and stderr.
    pub(crate) split_printstreams: bool,
    pub(crate) checker: CheckerExpr,
    pub(crate) hunter: Option<HunterExpr>,
    pub(crate) hunt_frequency: u64,
    pub(crate) share_best: bool,
    pub(crate) detailed_log: bool,
    pub(crate) force_terminations_after: Option<Duration>,
    pub(crate) seed: u64,
    pub(crate) dir: PathBuf,
    pub(crate) overwrite: bool,
    /// The whole config with every default filled in, as stored in `summary.json`.
    pub(crate) resolved: Value,
}

/// The default checker, as in the original: stop at the first optimizer that converges.
pub(crate) const DEFAULT_CONVERGENCE: &str = "kills_after_convergence(0, 1)";

/// Reads and validates `path`; nothing is written.
pub(crate) fn load(path: &Path, overrides: Overrides) -> Result<Plan, ConfigError> {
    let file = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError(format!("{file}: cannot read: {e}")))?;
    let raw: RawConfig = serde_json::from_str(&text).map_err(|e| ConfigError(format!("{file}: {e}")))?;
    resolve(raw, overrides).map_err(|e| ConfigError(format!("{file}: {e}")))
}

fn field(name: impl std::fmt::Display, message: impl std::fmt::Display) -> String {
    format!("{name}: {message}")
}

fn core_error(e: CoreError) -> String {
    e.to_string()
}

fn one_of(name: &str, value: &str, valid: &[&str]) -> Result<(), String> {
    let norm = glompo_core::expr::normalise_name(value);
    if valid.iter().any(|v| glompo_core::expr::normalise_name(v) == norm) {
        Ok(())
    } else {
        Err(field(name, format!("unknown value `{value}`; expected one of {}", valid.join(", "))))
    }
}

fn resolve(raw: RawConfig, o: Overrides) -> Result<Plan, String> {
    let (objective, objective_json) = objective(raw.objective)?;
    let dim = objective.dim();
    let bounds = match (raw.bounds, objective.default_bounds()) {
        (Some(pairs), _) => bounds(pairs, dim)?,
        (None, Some(b)) => b,
        (None, None) => return Err(field("bounds", "required for an external objective")),
    };
    let max_jobs =
        raw.max_jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if max_jobs == 0 {
        return Err(field("max_jobs", "must be at least 1"));
    }
    if raw.optimizers.is_empty() {
        return Err(field("optimizers", "at least one optimizer is needed"));
    }
    let backend = glompo_core::expr::normalise_name(&raw.backend.unwrap_or_else(|| "threads".into()));
    one_of("backend", &backend, &["threads", "processes", "processes_forced"])?;
    // `processes_forced` is processes at both levels: the optimizers' evaluator defaults to `processes`.
    let default_evaluator = if backend == "processes_forced" { "processes" } else { "serial" };
    let mut specs = Vec::new();
    let mut resolved_opts = Vec::new();
    let evaluation_timeout = seconds("evaluation_timeout_s", raw.evaluation_timeout_s)?;
    // One pool of worker processes serves every optimizer whose evaluator is `processes`.
    let processes = Arc::new(Processes::new(objective.worker_spec(&objective_json, evaluation_timeout)?));
    for (i, entry) in raw.optimizers.into_iter().enumerate() {
        let (spec, resolved) = optimizer(i, entry, max_jobs, &processes, default_evaluator)?;
        specs.push(spec);
        resolved_opts.push(resolved);
    }
    let schedule = raw.schedule.unwrap_or_else(|| "async".into());
    one_of("schedule", &schedule, &["async"])?;
    let seed = o.seed.or(raw.seed).unwrap_or(0);
    let selector_config = raw.selector.unwrap_or_else(|| json!("cycle"));
    let selector = selector::from_config(&selector_config, specs, derive_seed(seed, SELECTOR_STREAM))
        .map_err(core_error)?;
    let generator_config = raw.generator.unwrap_or_else(|| json!("random"));
    let generator = generator::from_config(&generator_config, &bounds, derive_seed(seed, GENERATOR_STREAM))
        .map_err(core_error)?;
    let convergence = raw.convergence.unwrap_or_else(|| DEFAULT_CONVERGENCE.into());
    let checker = checker::parse(&convergence).map_err(|e| field("convergence", e))?;
    let hunter = match raw.hunters {
        Some(text) => Some(hunter::parse(&text, seed).map_err(|e| field("hunters", e))?),
        None => None,
    };
    let hunt_frequency = raw.hunt_frequency.unwrap_or(100);
    if hunt_frequency == 0 {
        return Err(field("hunt_frequency", "must be at least 1"));
    }
    let output = raw.output.unwrap_or(RawOutput { dir: None, overwrite: None });
    let dir = o.dir.or(output.dir).unwrap_or_else(|| PathBuf::from("glompo_run"));
    let overwrite = o.overwrite || output.overwrite.unwrap_or(false);
    let share_best = raw.share_best_solutions.unwrap_or(false);
    let detailed_log = raw.detailed_log.unwrap_or(false);
    let split_printstreams = match raw.split_printstreams {
        None => true,
        Some(Value::Bool(split)) => split,
        Some(other) => {
            return Err(field("split_printstreams", format!("expected true or false, found {other}")));
        }
    };
    let force_terminations_after =
        seconds("force_terminations_after_s", raw.force_terminations_after_s.map(Value::from))?;
    let runner_config = backend.starts_with("processes").then(|| {
        json!({"objective": objective_json, "evaluation_timeout_s": evaluation_timeout.map(|t| t.as_secs_f64())})
    });
    // Everything is checked; only now may an external program be started (to check that it runs).
    let objective_name = objective.name();
    let objective: Arc<dyn Objective> = match objective {
        ObjectivePlan::Builtin(b) => Arc::new(b),
        ObjectivePlan::Command { spec, .. } => {
            Arc::new(CommandObjective::new(spec).map_err(|e| field("objective.command", e))?)
        }
    };
    let resolved = json!({
        "objective": objective_json,
        "bounds": bounds,
        "optimizers": resolved_opts,
        "selector": selector_config,
        "generator": generator_config,
        "max_jobs": max_jobs,
        "backend": backend,
        "schedule": "async",
        "convergence": checker.to_string(),
        "hunters": hunter.as_ref().map(ToString::to_string),
        "hunt_frequency": hunt_frequency,
        "share_best_solutions": share_best,
        "detailed_log": detailed_log,
        "force_terminations_after_s": force_terminations_after.map(|t| t.as_secs_f64()),
        "evaluation_timeout_s": evaluation_timeout.map(|t| t.as_secs_f64()),
        "split_printstreams": split_printstreams,
        "seed": seed,
        "output": {"dir": dir, "overwrite": overwrite},
    });
    Ok(Plan {
        objective,
        objective_name,
        dim,
        bounds,
        selector,
        generator,
        max_jobs,
        runner_config,
        split_printstreams,
        checker,
        hunter,
        hunt_frequency,
        share_best,
        detailed_log,
        force_terminations_after,
        seed,
        dir,
        overwrite,
        resolved,
    })
}

/// The object with every key normalised (lowercase, `_` for `-`), so that `max-iters` and `max_iters`
/// name the same option.
fn normalise_keys(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter().map(|(k, v)| (glompo_core::expr::normalise_name(&k), v)).collect()
}

/// The objective as configured, before anything is started.
enum ObjectivePlan {
    /// A built-in benchmark function.
    Builtin(Benchmark),
    /// An external program speaking the JSON-lines protocol.
    Command { spec: CommandSpec, dim: usize },
}

impl ObjectivePlan {
    fn name(&self) -> String {
        match self {
            ObjectivePlan::Builtin(b) => b.name().to_owned(),
            ObjectivePlan::Command { spec, .. } => spec.argv.join(" "),
        }
    }

    fn dim(&self) -> usize {
        match self {
            ObjectivePlan::Builtin(b) => b.dim(),
            ObjectivePlan::Command { dim, .. } => *dim,
        }
    }

    fn default_bounds(&self) -> Option<Bounds> {
        match self {
            ObjectivePlan::Builtin(b) => Some(b.bounds()),
            ObjectivePlan::Command { .. } => None,
        }
    }

    /// How to start a worker process for the `processes` evaluator: the command itself, or this very
    /// program re-executed to evaluate the built-in function. `timeout` applies unless the command has
    /// its own.
    fn worker_spec(&self, resolved: &Value, timeout: Option<Duration>) -> Result<CommandSpec, String> {
        match self {
            ObjectivePlan::Command { spec, .. } => {
                Ok(CommandSpec { timeout: spec.timeout.or(timeout), ..spec.clone() })
            }
            ObjectivePlan::Builtin(_) => {
                let exe = std::env::current_exe()
                    .map_err(|e| field("objective", format!("cannot find glompo itself: {e}")))?;
                Ok(CommandSpec {
                    argv: vec![exe.to_string_lossy().into_owned(), "__worker".into(), resolved.to_string()],
                    timeout,
                    env: Vec::new(),
                    cwd: None,
                })
            }
        }
    }
}

fn objective(map: Map<String, Value>) -> Result<(ObjectivePlan, Value), String> {
    let mut map = normalise_keys(map);
    let dim = match map.remove("dim") {
        Some(v) => match v.as_u64() {
            Some(d) if d >= 1 => d as usize,
            _ => return Err(field("objective.dim", format!("expected a whole number ≥ 1, found {v}"))),
        },
        None => return Err(field("objective.dim", "missing")),
    };
    if let Some(command) = map.remove("command") {
        let argv: Vec<String> = match &command {
            Value::Array(items) => items.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<_>>(),
            _ => None,
        }
        .filter(|argv: &Vec<String>| !argv.is_empty())
        .ok_or_else(|| {
            field(
                "objective.command",
                format!("expected a list of strings, the program first, found {command}"),
            )
        })?;
        let timeout = seconds("objective.timeout_s", map.remove("timeout_s"))?;
        if let Some(key) = map.keys().next() {
            return Err(field(
                format!("objective.{key}"),
                "unknown option; expected one of command, dim, timeout_s",
            ));
        }
        let resolved = json!({"command": argv, "dim": dim, "timeout_s": timeout.map(|t| t.as_secs_f64())});
        return Ok((
            ObjectivePlan::Command { spec: CommandSpec { argv, timeout, env: Vec::new(), cwd: None }, dim },
            resolved,
        ));
    }
    let name = match map.remove("function") {
        Some(Value::String(s)) => s,
        Some(other) => return Err(field("objective.function", format!("expected a name, found {other}"))),
        None => {
            return Err(field(
                "objective",
                "give a built-in `function` (`glompo functions` lists them) or a `command`",
            ));
        }
    };
    let f = functions::build(&name, dim, &map).map_err(core_error)?;
    let mut resolved = map;
    resolved.insert("function".into(), Value::String(f.name().to_owned()));
    resolved.insert("dim".into(), json!(dim));
    Ok((ObjectivePlan::Builtin(f), Value::Object(resolved)))
}

/// An optional duration in seconds (> 0), named `name` in errors.
fn seconds(name: &str, value: Option<Value>) -> Result<Option<Duration>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(t) if t > 0.0 && t.is_finite() => Ok(Some(Duration::from_secs_f64(t))),
            _ => Err(field(name, format!("expected seconds > 0, found {v}"))),
        },
    }
}

fn bounds(pairs: Vec<(f64, f64)>, dim: usize) -> Result<Bounds, String> {
    let pairs = match pairs.len() {
        1 => vec![pairs[0]; dim],
        n if n == dim => pairs,
        n => {
            return Err(field(
                "bounds",
                format!(
                    "{n} pairs for a {dim}-dimensional objective; give one pair for all or one per dimension"
                ),
            ));
        }
    };
    Bounds::new(pairs).map_err(core_error)
}

fn optimizer(
    i: usize,
    entry: Map<String, Value>,
    max_jobs: usize,
    processes: &Arc<Processes>,
    default_evaluator: &str,
) -> Result<(OptimizerSpec, Value), String> {
    let mut entry = normalise_keys(entry);
    let at = |name: &str| format!("optimizers[{i}].{name}");
    let type_name = match entry.remove("type") {
        Some(Value::String(s)) => s,
        Some(other) => return Err(field(at("type"), format!("expected a name, found {other}"))),
        None => {
            return Err(field(
                at("type"),
                format!("missing; expected one of {}", glompo_optimizers::NAMES.join(", ")),
            ));
        }
    };
    let workers = match entry.remove("workers") {
        None => 1,
        Some(v) => match v.as_u64() {
            Some(w) if w >= 1 => w as usize,
            _ => return Err(field(at("workers"), format!("expected a whole number ≥ 1, found {v}"))),
        },
    };
    if workers > max_jobs {
        return Err(field(at("workers"), format!("{workers} workers do not fit in max_jobs = {max_jobs}")));
    }
    let evaluator: Arc<dyn EvaluatorFactory> =
        match entry.remove("evaluator").unwrap_or_else(|| default_evaluator.into()) {
            Value::String(s) => match glompo_core::expr::normalise_name(&s).as_str() {
                "serial" => Arc::new(Serial),
                "threads" => Arc::new(glompo_backends::Threads),
                "processes" => Arc::clone(processes) as Arc<dyn EvaluatorFactory>,
                _ => {
                    return Err(field(
                        at("evaluator"),
                        format!("unknown value `{s}`; expected one of serial, threads, processes"),
                    ));
                }
            },
            other => return Err(field(at("evaluator"), format!("expected a name, found {other}"))),
        };
    let factory = glompo_optimizers::factory(&type_name, &entry).map_err(|e| match e {
        glompo_core::OptimizerError::InvalidOption { option, message } => field(at(&option), message),
        other => field(at("type"), other),
    })?;
    let resolved = json!({
        "type": factory.name(),
        "options": factory.settings(),
        "workers": workers,
        "evaluator": evaluator.name(),
    });
    Ok((OptimizerSpec { factory, workers, evaluator }, resolved))
}

/// The child side of the `processes` backend: rebuilds a runner's objective, optimizer and evaluator from
/// the run's runner config and the runner's recipe.
pub(crate) fn runner_parts(
    runner_config: &str,
    recipe: &glompo_core::runner::RunnerRecipe,
) -> Result<glompo_backends::process::RunnerParts, String> {
    let config: Value = serde_json::from_str(runner_config).map_err(|e| format!("bad runner config: {e}"))?;
    let objective_json = config["objective"].clone();
    let map = objective_json.as_object().cloned().ok_or("the runner config has no objective")?;
    let timeout = seconds("evaluation_timeout_s", config.get("evaluation_timeout_s").cloned())?;
    let (plan, resolved) = objective(map)?;
    let worker_spec = plan.worker_spec(&resolved, timeout)?;
    let objective: Arc<dyn Objective> = match plan {
        ObjectivePlan::Builtin(b) => Arc::new(b),
        ObjectivePlan::Command { mut spec, .. } => {
            spec.timeout = spec.timeout.or(timeout);
            Arc::new(CommandObjective::new(spec).map_err(|e| e.to_string())?)
        }
    };
    let options = recipe.options.as_object().cloned().unwrap_or_default();
    let factory = glompo_optimizers::factory(&recipe.optimizer, &options).map_err(|e| e.to_string())?;
    let ctx = glompo_core::StartContext {
        opt_id: recipe.opt_id,
        x0: &recipe.x0,
        bounds: &recipe.bounds,
        seed: recipe.seed,
        workers: recipe.workers,
    };
    let optimizer = factory.build(&ctx).map_err(|e| e.to_string())?;
    let evaluator: Arc<dyn EvaluatorFactory> = match recipe.evaluator.as_str() {
        "threads" => Arc::new(glompo_backends::Threads),
        "processes" => Arc::new(Processes::new(worker_spec)),
        _ => Arc::new(Serial),
    };
    let evaluator = evaluator.build(recipe.workers).map_err(|e| e.to_string())?;
    Ok((optimizer, evaluator, objective))
}
