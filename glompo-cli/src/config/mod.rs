//! The run config: JSON in, a validated and fully resolved plan out. Every error names the file and
//! the JSON path of the field (`optimizers[1].popsize`) and says what is wrong in words; nothing is
//! started or written before the whole config is checked.
//!
//! The file is read as a [`serde_json::Value`] and each object field by field with
//! [`glompo_core::fields::Fields`], so that the messages speak of the config, not of Rust types.

mod file;
mod objective;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use glompo_backends::{CommandObjective, Processes};
use glompo_core::checker::{self, CheckerExpr};
use glompo_core::evaluator::{EvaluatorFactory, Serial};
use glompo_core::expr::{expected_one_of, normalise_name};
use glompo_core::fields::{Fields, found};
use glompo_core::generator::{self, Generator};
use glompo_core::hunter::{self, HunterExpr};
use glompo_core::manager::{CheckpointPolicy, DEFAULT_MAX_INITIAL_FAILURES, Schedule};
use glompo_core::rng::RunSeeds;
use glompo_core::selector::{self, OptimizerSpec, Selector};
use glompo_core::{Bounds, CoreError, Objective};
use serde_json::{Map, Value, json};

use self::objective::ObjectivePlan;

/// A usage or config error: the CLI prints it and exits 2.
#[derive(Debug)]
pub(crate) struct ConfigError(pub(crate) String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The fields a config may have; only `objective` and `optimizers` are required.
const FIELDS: &[&str] = &[
    "objective",
    "bounds",
    "optimizers",
    "selector",
    "generator",
    "max_jobs",
    "backend",
    "schedule",
    "convergence",
    "hunters",
    "hunt_frequency",
    "share_best_solutions",
    "detailed_log",
    "force_terminations_after_s",
    "evaluation_timeout_s",
    "split_printstreams",
    "max_initial_failures",
    "seed",
    "output",
    "checkpoint",
];

/// The level-1 backends.
const BACKENDS: &[&str] = &["threads", "processes", "processes-forced"];

/// The level-2 evaluators.
const EVALUATORS: &[&str] = &["serial", "threads", "processes"];

/// The most worker slots a run may have (`max_jobs`): each slot reserves room in the manager's
/// channel, so a typo must not reserve gigabytes.
const MAX_JOBS: u64 = 4096;

/// Command-line values that override the file.
#[derive(Debug, Default)]
pub(crate) struct Overrides {
    pub(crate) dir: Option<PathBuf>,
    pub(crate) overwrite: bool,
    pub(crate) seed: Option<u64>,
    /// `glompo resume`'s: another checker expression, another `max_jobs`.
    pub(crate) convergence: Option<String>,
    pub(crate) max_jobs: Option<u64>,
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
    /// With the `processes` backend: what a runner process needs to rebuild its objective (every
    /// path in it absolute).
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
    /// The run fails (exit 1) when its first this many evaluations all failed; 0 never.
    pub(crate) max_initial_failures: u64,
    pub(crate) seed: u64,
    pub(crate) dir: PathBuf,
    pub(crate) overwrite: bool,
    pub(crate) checkpoints: CheckpointPolicy,
    pub(crate) schedule: Schedule,
    /// The whole config with every default filled in, as stored in `summary.json`.
    pub(crate) resolved: Value,
}

/// The default checker, as in the original: stop at the first optimizer that converges.
pub(crate) const DEFAULT_CONVERGENCE: &str = "kills_after_convergence(0, 1)";

/// How long the check of an external program waits for it to exit at once.
const STARTUP_CHECK: std::time::Duration = std::time::Duration::from_millis(500);

/// Builds the plan of a run again from the resolved config a checkpoint holds (every path in it is
/// absolute), with `glompo resume`'s overrides; nothing is written.
pub(crate) fn load_resolved(
    checkpoint: &Path,
    config: Value,
    overrides: Overrides,
) -> Result<Plan, ConfigError> {
    let in_file = |e: String| ConfigError(format!("checkpoint {}: config: {e}", checkpoint.display()));
    let Value::Object(map) = config else { return Err(in_file("is not an object".into())) };
    resolve(map, Path::new("/"), overrides).map_err(|e| in_file(e.to_string()))
}

/// Reads and validates `path`; nothing is written.
pub(crate) fn load(path: &Path, overrides: Overrides) -> Result<Plan, ConfigError> {
    let file = path.display();
    let in_file = |e: String| ConfigError(format!("{file}: {e}"));
    let map = file::read(path).map_err(in_file)?;
    let base = objective::config_folder(path).map_err(in_file)?;
    resolve(map, &base, overrides).map_err(|e| in_file(e.to_string()))
}

fn resolve(map: Map<String, Value>, base: &Path, o: Overrides) -> Result<Plan, CoreError> {
    let mut f = Fields::new("", map);
    // A misspelt field is reported as such first, not as the field it was meant to be missing.
    f.only(FIELDS)?;
    let objective_map = f.object("objective")?.ok_or_else(|| f.error("objective", "missing"))?;
    let (objective, objective_json) = objective::plan(objective_map, base)?;
    let dim = objective.dim();
    let bounds = match (f.take("bounds"), objective.default_bounds()) {
        (Some(pairs), _) => bounds(&pairs, dim)?,
        (None, Some(b)) => b,
        (None, None) => return Err(f.error("bounds", "required for an external objective")),
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u64).min(MAX_JOBS);
    let max_jobs = f.count("max_jobs", cpus, 1, MAX_JOBS)?;
    let max_jobs = match o.max_jobs {
        Some(n) if (1..=MAX_JOBS).contains(&n) => n,
        Some(n) => {
            return Err(CoreError::config("--max-jobs", format!("must be from 1 to {MAX_JOBS}, found {n}")));
        }
        None => max_jobs,
    } as usize;
    let backend = f.choice("backend", "threads", BACKENDS)?;
    let evaluation_timeout = f.seconds("evaluation_timeout_s")?;
    // One pool of worker processes serves every optimizer whose evaluator is `processes`.
    let processes = Arc::new(Processes::new(objective.worker_spec(&objective_json, evaluation_timeout)?));
    let entries = match f.take("optimizers") {
        Some(Value::Array(entries)) if !entries.is_empty() => entries,
        Some(Value::Array(_)) => return Err(f.error("optimizers", "at least one optimizer is needed")),
        Some(other) => {
            return Err(f.error(
                "optimizers",
                format!(
                    "expected a list of optimizers ([{{\"type\": \"cma-es\"}}, …]), found {}",
                    found(&other)
                ),
            ));
        }
        None => return Err(f.error("optimizers", "missing; give a list such as [{\"type\": \"cma-es\"}]")),
    };
    let mut specs = Vec::new();
    let mut resolved_opts = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let (spec, resolved) = optimizer(i, entry, &bounds, max_jobs, &processes, &backend)?;
        specs.push(spec);
        resolved_opts.push(resolved);
    }
    let schedule = f.choice("schedule", Schedule::Async.name(), &Schedule::ALL.map(Schedule::name))?;
    let schedule = Schedule::from_name(&schedule)
        .ok_or_else(|| f.error("schedule", format!("`{schedule}` is a name without a schedule")))?;
    // The file's seed is checked even when the command line overrides it.
    let file_seed = f.u64("seed", 0)?;
    let seed = o.seed.unwrap_or(file_seed);
    let convergence = f.string("convergence")?.unwrap_or_else(|| DEFAULT_CONVERGENCE.into());
    let checker = match &o.convergence {
        Some(text) => checker::parse(text).map_err(|e| CoreError::config("--convergence", e.to_string()))?,
        None => checker::parse(&convergence).map_err(|e| f.error("convergence", e.to_string()))?,
    };
    let hunter = match f.string("hunters")? {
        Some(text) => Some(hunter::parse(&text, seed).map_err(|e| f.error("hunters", e.to_string()))?),
        None => None,
    };
    if let Some(h) = &hunter {
        check_hunted_types(h, &specs)?;
    }
    let selector_config = f.take("selector").unwrap_or_else(|| json!("cycle"));
    let selector = selector::from_config(&selector_config, specs, RunSeeds::new(seed).selector())?;
    let generator_config = f.take("generator").unwrap_or_else(|| json!("random"));
    let generator = generator::from_config(
        &generator_config,
        &bounds,
        RunSeeds::new(seed).generator(),
        checker.budget(),
    )?;
    let hunt_frequency = f.count("hunt_frequency", 100, 1, u64::MAX)?;
    let share_best = f.bool("share_best_solutions", false)?;
    let detailed_log = f.bool("detailed_log", false)?;
    let split_printstreams = f.bool("split_printstreams", true)?;
    let force_terminations_after = f.seconds("force_terminations_after_s")?;
    let max_initial_failures = f.u64("max_initial_failures", DEFAULT_MAX_INITIAL_FAILURES)?;
    let checkpoints = checkpoint(f.object("checkpoint")?)?;
    let (dir, overwrite) = output(f.object("output")?, o)?;
    f.finish()?;
    let runner_config = backend.starts_with("processes").then(|| {
        json!({"objective": objective_json, "evaluation_timeout_s": evaluation_timeout.map(|t| t.as_secs_f64())})
    });
    // Everything is checked; only now may an external program be started (to check that it runs).
    let objective_name = objective.name();
    let objective: Arc<dyn Objective> = match objective {
        ObjectivePlan::Builtin(b) => Arc::new(b),
        ObjectivePlan::Command { spec, .. } => {
            let bad =
                |e: glompo_backends::BackendError| CoreError::config("objective.command", e.to_string());
            let command =
                CommandObjective::new(objective::command_spec(spec, evaluation_timeout)).map_err(bad)?;
            // A program that exits at once (a typo in a script's name) is reported like one that
            // cannot start, before the run.
            command.check_started(STARTUP_CHECK).map_err(bad)?;
            Arc::new(command)
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
        "schedule": schedule.name(),
        "convergence": checker.to_string(),
        "hunters": hunter.as_ref().map(ToString::to_string),
        "hunt_frequency": hunt_frequency,
        "share_best_solutions": share_best,
        "detailed_log": detailed_log,
        "force_terminations_after_s": force_terminations_after.map(|t| t.as_secs_f64()),
        "evaluation_timeout_s": evaluation_timeout.map(|t| t.as_secs_f64()),
        "split_printstreams": split_printstreams,
        "max_initial_failures": max_initial_failures,
        "seed": seed,
        "output": {"dir": dir.to_string_lossy(), "overwrite": overwrite},
        "checkpoint": {
            "every_seconds": checkpoints.every_seconds,
            "every_evals": checkpoints.every_evals,
            "at_start": checkpoints.at_start,
            "at_end": checkpoints.at_end,
            "keep": checkpoints.keep,
            "name": checkpoints.name,
            "answer_within_s": checkpoints.answer_within.as_secs_f64(),
        },
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
        max_initial_failures,
        seed,
        dir,
        overwrite,
        checkpoints,
        schedule,
        resolved,
    })
}

/// `checkpoint`: when to write checkpoints (none but those asked for when it is absent).
fn checkpoint(map: Option<Map<String, Value>>) -> Result<CheckpointPolicy, CoreError> {
    let mut f = Fields::new("checkpoint", map.unwrap_or_default());
    let defaults = CheckpointPolicy::default();
    let policy = CheckpointPolicy {
        every_seconds: f.seconds("every_seconds")?.map(|t| t.as_secs_f64()),
        every_evals: match f.whole("every_evals")? {
            Some(0) => return Err(f.error("every_evals", "must be at least 1")),
            n => n,
        },
        at_start: f.bool("at_start", false)?,
        at_end: f.bool("at_end", false)?,
        keep: match f.whole("keep")? {
            Some(0) => {
                return Err(f.error("keep", "must be at least 1 (leave it out to keep every checkpoint)"));
            }
            n => n.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        },
        name: f.string("name")?.unwrap_or(defaults.name),
        answer_within: f.seconds("answer_within_s")?.unwrap_or(defaults.answer_within),
    };
    f.finish()?;
    policy.check()?;
    Ok(policy)
}

/// The run directory and whether to overwrite it: the command line's, else `output`'s.
fn output(output: Option<Map<String, Value>>, o: Overrides) -> Result<(PathBuf, bool), CoreError> {
    let mut f = Fields::new("output", output.unwrap_or_default());
    let dir = f.string("dir")?;
    let overwrite = f.bool("overwrite", false)?;
    f.finish()?;
    if dir.as_deref() == Some("") {
        return Err(CoreError::config("output.dir", "empty; give a folder"));
    }
    let dir = o.dir.or(dir.map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("glompo_run"));
    Ok((dir, o.overwrite || overwrite))
}

/// Refuses a `type_hunter` whose type no optimizer of the run has: it could never kill anything.
fn check_hunted_types(hunter: &HunterExpr, specs: &[OptimizerSpec]) -> Result<(), CoreError> {
    let mut types: Vec<&str> = Vec::new();
    for spec in specs {
        if !types.contains(&spec.factory.name()) {
            types.push(spec.factory.name());
        }
    }
    for hunted in hunter.optimizer_types() {
        if !types.iter().any(|t| normalise_name(t) == normalise_name(hunted)) {
            return Err(CoreError::config(
                "hunters",
                format!(
                    "type_hunter names `{}`, which is not an optimizer type of this run; {}",
                    hunted.replace('_', "-"),
                    expected_one_of(hunted, &types)
                ),
            ));
        }
    }
    Ok(())
}

/// `bounds`: one `[lo, hi]` pair for every dimension, or one pair per dimension.
fn bounds(value: &Value, dim: usize) -> Result<Bounds, CoreError> {
    let Value::Array(items) = value else {
        return Err(CoreError::config(
            "bounds",
            format!("expected a list of [lo, hi] pairs, found {}", found(value)),
        ));
    };
    let mut pairs = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let pair = item.as_array().and_then(|pair| match pair.as_slice() {
            [lo, hi] => Some((lo.as_f64()?, hi.as_f64()?)),
            _ => None,
        });
        let Some(pair) = pair else {
            return Err(CoreError::config(
                format!("bounds[{i}]"),
                format!("expected a [lo, hi] pair of numbers, found {}", found(item)),
            ));
        };
        pairs.push(pair);
    }
    let pairs = match pairs.len() {
        1 => vec![pairs[0]; dim],
        n if n == dim => pairs,
        0 => {
            return Err(CoreError::config(
                "bounds",
                "empty; give one [lo, hi] pair for all dimensions or one per dimension",
            ));
        }
        n => {
            return Err(CoreError::config(
                "bounds",
                format!(
                    "{n} pairs for a {dim}-dimensional objective; give one pair for all or one per dimension"
                ),
            ));
        }
    };
    Bounds::new(pairs)
}

/// The default evaluator of an optimizer: `processes` with the `processes-forced` backend, `threads`
/// for an optimizer with several workers (so that they evaluate its batch at once), else `serial`.
fn default_evaluator(backend: &str, workers: u64) -> &'static str {
    if backend == "processes_forced" {
        "processes"
    } else if workers > 1 {
        "threads"
    } else {
        "serial"
    }
}

/// The level-2 evaluator named `name` (one of [`EVALUATORS`], normalised); `processes` is the run's
/// shared pool of worker processes.
fn evaluator(name: &str, processes: &Arc<Processes>) -> Result<Arc<dyn EvaluatorFactory>, String> {
    match name {
        "serial" => Ok(Arc::new(Serial)),
        "threads" => Ok(Arc::new(glompo_backends::Threads)),
        "processes" => Ok(Arc::clone(processes) as Arc<dyn EvaluatorFactory>),
        other => Err(format!("unknown evaluator `{other}`; {}", expected_one_of(other, EVALUATORS))),
    }
}

fn optimizer(
    i: usize,
    entry: Value,
    bounds: &Bounds,
    max_jobs: usize,
    processes: &Arc<Processes>,
    backend: &str,
) -> Result<(OptimizerSpec, Value), CoreError> {
    let at = format!("optimizers[{i}]");
    let Value::Object(entry) = entry else {
        return Err(CoreError::config(
            at,
            format!("expected an object such as {{\"type\": \"cma-es\"}}, found {}", found(&entry)),
        ));
    };
    let mut f = Fields::new(&at, entry);
    let Some(type_name) = f.string("type")? else {
        return Err(
            f.error("type", format!("missing; expected one of {}", glompo_optimizers::NAMES.join(", ")))
        );
    };
    let workers = f.count("workers", 1, 1, u64::MAX)?;
    if workers > max_jobs as u64 {
        return Err(f.error("workers", format!("{workers} workers do not fit in max_jobs = {max_jobs}")));
    }
    let workers = workers as usize;
    let evaluator_name = f.choice("evaluator", default_evaluator(backend, workers as u64), EVALUATORS)?;
    let evaluator = evaluator(&evaluator_name, processes).map_err(|e| f.error("evaluator", e))?;
    let options = f.rest()?;
    let option_error = |e: glompo_core::OptimizerError| match e {
        glompo_core::OptimizerError::InvalidOption { option, message } => {
            CoreError::config(format!("{at}.{option}"), message)
        }
        other => CoreError::config(format!("{at}.type"), other.to_string()),
    };
    let factory = glompo_optimizers::factory(&type_name, &options).map_err(option_error)?;
    // A trial build at the centre of the box: what only a start can check (a population too large for
    // the dimension, a step size for these bounds) is a config error too, not a crash of every start.
    let centre = bounds.centre();
    let trial = glompo_core::StartContext { opt_id: 0, x0: &centre, bounds, seed: 0, workers };
    drop(factory.build(&trial).map_err(option_error)?);
    // As a config writes it (the options beside `type`), so that a resume reads it back.
    let mut resolved = json!({"type": factory.name()});
    if let (Some(entry), Value::Object(options)) = (resolved.as_object_mut(), factory.settings()) {
        entry.extend(options);
    }
    resolved["workers"] = json!(workers);
    resolved["evaluator"] = json!(evaluator.name());
    Ok((OptimizerSpec { factory, workers, evaluator }, resolved))
}

/// The child side of the `processes` backend: rebuilds a runner's objective, optimizer and evaluator from
/// the run's runner config and the runner's recipe.
pub(crate) fn runner_parts(
    runner_config: &str,
    recipe: &glompo_core::runner::RunnerRecipe,
) -> Result<glompo_backends::process::RunnerParts, String> {
    let config: Value = serde_json::from_str(runner_config).map_err(|e| format!("bad runner config: {e}"))?;
    let mut f = Fields::new(
        "runner config",
        config.as_object().cloned().ok_or("the runner config is not an object")?,
    );
    let map =
        f.object("objective").map_err(|e| e.to_string())?.ok_or("the runner config has no objective")?;
    let timeout = f.seconds("evaluation_timeout_s").map_err(|e| e.to_string())?;
    // Every path of a runner config is absolute, so the folder they would be relative to is moot.
    let (plan, resolved) = objective::plan(map, Path::new("/")).map_err(|e| e.to_string())?;
    let worker_spec = plan.worker_spec(&resolved, timeout).map_err(|e| e.to_string())?;
    let objective: Arc<dyn Objective> = match plan {
        ObjectivePlan::Builtin(b) => Arc::new(b),
        ObjectivePlan::Command { spec, .. } => Arc::new(
            CommandObjective::new(objective::command_spec(spec, timeout)).map_err(|e| e.to_string())?,
        ),
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
    let evaluator = evaluator(&recipe.evaluator, &Arc::new(Processes::new(worker_spec)))?;
    let evaluator = evaluator.build(recipe.workers).map_err(|e| e.to_string())?;
    Ok((optimizer, evaluator, objective))
}

#[cfg(test)]
mod tests;
