//! The one way from a config's JSON to a [`RunConfig`]: every field read and checked in turn, with
//! the run's components built on the way (what only a build can check is checked by building).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use glompo_backends::Processes;
use glompo_core::checker::{self, CheckerExpr};
use glompo_core::expr::{expected_one_of, normalise_name};
use glompo_core::fields::{Fields, found};
use glompo_core::generator::{self, Generator};
use glompo_core::hunter::{self, HunterExpr};
use glompo_core::manager::{CheckpointPolicy, DEFAULT_MAX_INITIAL_FAILURES};
use glompo_core::rng::RunSeeds;
use glompo_core::selector::{self, OptimizerSpec, Selector};
use glompo_core::{Bounds, CoreError};
use serde_json::{Map, Value, json};

use super::objective::{self, ObjectivePlan};
use super::{
    BackendKind, DEFAULT_CONVERGENCE, EvaluatorKind, OptimizerConfig, OutputConfig, Overrides, RunConfig,
    Schedule, named,
};

/// The fields a config may have; only `objective` and `optimizers` are required.
const FIELDS: &[&str] = &[
    "objective",
    "bounds",
    "parameters",
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

/// The most worker slots a run may have (`max_jobs`): each slot reserves room in the manager's
/// channel, so a typo must not reserve gigabytes.
const MAX_JOBS: u64 = 4096;

/// The components a config was checked with, ready to be wired into a manager.
pub(super) struct Parts {
    pub(super) objective: ObjectivePlan,
    pub(super) selector: Box<dyn Selector>,
    pub(super) generator: Box<dyn Generator>,
    pub(super) checker: CheckerExpr,
    pub(super) hunter: Option<HunterExpr>,
}

/// Reads and checks the fields of a config (relative paths are relative to `base`), with the
/// command line's `o`; nothing is started or written.
pub(super) fn resolve(
    map: Map<String, Value>,
    base: &Path,
    o: &Overrides,
) -> Result<(RunConfig, Parts), CoreError> {
    let mut f = Fields::new("", map);
    // A misspelt field is reported as such first, not as the field it was meant to be missing.
    f.only(FIELDS)?;
    let objective_map = f.object("objective")?.ok_or_else(|| f.error("objective", "missing"))?;
    let output = output(f.object("output")?, o)?;
    let run_dir = std::path::absolute(&output.dir)
        .map_err(|e| CoreError::config("output.dir", format!("cannot find {}: {e}", output.dir.display())))?;
    let (objective, objective_config) = objective::plan(objective_map, base, Some(&run_dir))?;
    let dim = objective.dim();
    let (bounds, parameters) = match (f.take("bounds"), f.take("parameters"), objective.default_bounds()) {
        (Some(_), Some(_), _) => {
            return Err(CoreError::config(
                "parameters",
                "`parameters` and `bounds` are both given; give the bounds in `parameters` only",
            ));
        }
        (None, Some(entries), _) => {
            let (bounds, names) = super::parameter::parameters(&entries, dim)?;
            (bounds, Some(names))
        }
        (Some(pairs), None, _) => (bounds(&pairs, dim)?, None),
        (None, None, Some(b)) => (b, None),
        (None, None, None) => {
            return Err(f.error("bounds", "required for an external objective (or `parameters`)"));
        }
    };
    let backend = choose(&mut f, "backend", BackendKind::Threads, &BackendKind::ALL, BackendKind::name)?;
    if backend == BackendKind::Mpi && !cfg!(feature = "mpi") {
        return Err(CoreError::config("backend", super::MPI_MISSING));
    }
    // Under MPI every optimizer has a rank of its own: one fewer than the job has, by default.
    let cpus = match (backend, o.ranks) {
        (BackendKind::Mpi, Some(ranks)) => ranks.saturating_sub(1).max(1) as u64,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
    }
    .min(MAX_JOBS);
    let max_jobs = f.count("max_jobs", cpus, 1, MAX_JOBS)?;
    let max_jobs = match o.max_jobs {
        Some(n) if (1..=MAX_JOBS).contains(&n) => n,
        Some(n) => {
            return Err(CoreError::config("--max-jobs", format!("must be from 1 to {MAX_JOBS}, found {n}")));
        }
        None => max_jobs,
    } as usize;
    let evaluation_timeout = f.seconds("evaluation_timeout_s")?;
    // One pool of worker processes serves every optimizer whose evaluator is `processes`.
    let processes = Arc::new(Processes::new(objective.worker_spec(&objective_config, evaluation_timeout)?));
    // The ranks of an `mpi` evaluator build the objective from the runner config, as runners do.
    let mpi_context = super::runner::of(objective_config.to_json(), evaluation_timeout, &run_dir).to_string();
    let level2 = (processes, mpi_context);
    // Without `optimizers` the run takes the default strategy (README, "The default strategy"):
    // CMA-ES restarted IPOP-style until the budget is spent, with one sweep of coordinate search
    // after its first run.
    let default_strategy = !f.has("optimizers");
    let entries = match f.take("optimizers") {
        None => vec![
            json!({"type": "cma-es"}),
            json!({"type": "coordinate-search", "max_sweeps": 1, "max_starts": 1}),
        ],
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
    };
    let mut specs = Vec::new();
    let mut optimizers = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let (spec, resolved) = optimizer(i, entry, &bounds, max_jobs, &level2, backend)?;
        specs.push(spec);
        optimizers.push(resolved);
    }
    // On the ranks of an MPI job every optimizer (level 1) or every point in flight (level 2) takes a
    // rank of its own: no more of them at once than the job has ranks besides rank 0.
    let fewest = optimizers.iter().map(|o| o.workers).min().unwrap_or(1).max(1);
    let on_ranks = match backend {
        BackendKind::Mpi => Some((max_jobs / fewest, "run", "optimizers")),
        _ if optimizers.iter().any(|o| o.evaluator == EvaluatorKind::Mpi) => {
            Some((max_jobs, "evaluate", "points"))
        }
        _ => None,
    };
    if let (Some((at_once, verb, what)), Some(ranks)) = (on_ranks, o.ranks)
        && at_once + 1 > ranks
    {
        return Err(CoreError::config(
            "max_jobs",
            format!(
                "{max_jobs} worker slots {verb} up to {at_once} {what} at once, each on an MPI rank of its own, \
                 but the job has {} besides rank 0 (the manager's): start it with mpirun -np {} or lower max_jobs",
                ranks.saturating_sub(1),
                at_once + 1
            ),
        ));
    }
    let schedule = choose(&mut f, "schedule", Schedule::Async, &Schedule::ALL, Schedule::name)?;
    // The file's seed is checked even when the command line overrides it.
    let file_seed = f.u64("seed", 0)?;
    let max = glompo_core::rng::MAX_EXACT_SEED;
    if file_seed > max {
        return Err(
            f.error("seed", format!("{file_seed} is above 2^53 - 1 = {max}, where JSON readers round it"))
        );
    }
    let seed = o.seed.unwrap_or(file_seed);
    if seed > max {
        return Err(CoreError::config(
            "--seed",
            format!("{seed} is above 2^53 - 1 = {max}, where JSON readers round it"),
        ));
    }
    let convergence = match f.string("convergence")? {
        Some(text) => text,
        // The default strategy restarts until its budget is spent: it needs one.
        None if default_strategy && o.convergence.is_none() => {
            return Err(f.error(
                "convergence",
                "missing: without `optimizers` the default strategy restarts CMA-ES until the budget is \
                 spent, so give one, such as \"max_evals(20000)\" or \"max_evals(20000) | target_cost(0, 1e-6)\"",
            ));
        }
        None => DEFAULT_CONVERGENCE.into(),
    };
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
    let selector_config = match f.take("selector") {
        Some(config) => config,
        None if default_strategy => json!({"type": "cycle", "restarts": "ipop"}),
        None => json!("cycle"),
    };
    let selector = selector::from_config(&selector_config, specs, RunSeeds::new(seed).selector())?;
    let generator_config = f.take("generator").unwrap_or_else(|| json!("random"));
    let generator = generator::from_config(
        &generator_config,
        &bounds,
        RunSeeds::new(seed).generator(),
        checker.budget(),
    )?;
    let hunt_frequency = f.count("hunt_frequency", 100, 1, u64::MAX)?;
    let share_best_solutions = f.bool("share_best_solutions", false)?;
    let detailed_log = f.bool("detailed_log", false)?;
    let split_printstreams = f.bool("split_printstreams", true)?;
    let force_terminations_after = f.seconds("force_terminations_after_s")?;
    let max_initial_failures = f.u64("max_initial_failures", DEFAULT_MAX_INITIAL_FAILURES)?;
    let checkpoint = checkpoint(f.object("checkpoint")?)?;
    f.finish()?;
    let config = RunConfig {
        objective: objective_config,
        bounds,
        parameters,
        optimizers,
        selector: selector_config,
        generator: generator_config,
        max_jobs,
        backend,
        schedule,
        convergence: checker.to_string(),
        hunters: hunter.as_ref().map(ToString::to_string),
        hunt_frequency,
        share_best_solutions,
        detailed_log,
        force_terminations_after,
        evaluation_timeout,
        split_printstreams,
        max_initial_failures,
        seed,
        output,
        checkpoint,
    };
    Ok((config, Parts { objective, selector, generator, checker, hunter }))
}

/// The value of `field`, one of `all` by name (`name_of`); `default` when absent.
fn choose<T: Copy>(
    f: &mut Fields,
    field: &'static str,
    default: T,
    all: &[T],
    name_of: fn(T) -> &'static str,
) -> Result<T, CoreError> {
    let names: Vec<&str> = all.iter().map(|v| name_of(*v)).collect();
    let chosen = f.choice(field, name_of(default), &names)?;
    named(all, name_of, &chosen).ok_or_else(|| f.error(field, format!("`{chosen}` names no value of it")))
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
        before_job_end: f.seconds("before_job_end_s")?.unwrap_or(defaults.before_job_end),
    };
    f.finish()?;
    policy.check()?;
    Ok(policy)
}

/// The run directory and whether to overwrite it: the command line's, else `output`'s.
fn output(output: Option<Map<String, Value>>, o: &Overrides) -> Result<OutputConfig, CoreError> {
    let mut f = Fields::new("output", output.unwrap_or_default());
    let dir = f.string("dir")?;
    let overwrite = f.bool("overwrite", false)?;
    f.finish()?;
    if dir.as_deref() == Some("") {
        return Err(CoreError::config("output.dir", "empty; give a folder"));
    }
    let dir = o.dir.clone().or(dir.map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("glompo_run"));
    Ok(OutputConfig { dir, overwrite: o.overwrite || overwrite })
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
    let pairs = items
        .iter()
        .enumerate()
        .map(|(i, item)| pair(item, &format!("bounds[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
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

/// A `[lo, hi]` pair of numbers, the field at `path`.
pub(super) fn pair(item: &Value, path: &str) -> Result<(f64, f64), CoreError> {
    let pair = item.as_array().and_then(|pair| match pair.as_slice() {
        [lo, hi] => Some((lo.as_f64()?, hi.as_f64()?)),
        _ => None,
    });
    pair.ok_or_else(|| {
        CoreError::config(path, format!("expected a [lo, hi] pair of numbers, found {}", found(item)))
    })
}

/// The default evaluator of an optimizer: `processes` with the `processes-forced` backend, `threads`
/// for an optimizer with several workers (so that they evaluate its batch at once), else `serial`.
fn default_evaluator(backend: BackendKind, workers: usize) -> EvaluatorKind {
    if backend == BackendKind::ProcessesForced {
        EvaluatorKind::Processes
    } else if workers > 1 {
        EvaluatorKind::Threads
    } else {
        EvaluatorKind::Serial
    }
}

/// `optimizers[i]`: its spec, and its entry as the resolved config writes it.
fn optimizer(
    i: usize,
    entry: Value,
    bounds: &Bounds,
    max_jobs: usize,
    (processes, mpi_context): &(Arc<Processes>, String),
    backend: BackendKind,
) -> Result<(OptimizerSpec, OptimizerConfig), CoreError> {
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
    let max_starts = f.count("max_starts", u64::MAX, 1, u64::MAX)?;
    let max_starts = (max_starts != u64::MAX).then_some(max_starts);
    let kind = choose(
        &mut f,
        "evaluator",
        default_evaluator(backend, workers),
        &EvaluatorKind::ALL,
        EvaluatorKind::name,
    )?;
    // Level 2 on ranks needs the optimizers on rank 0: a runner process or a rank has no ranks.
    if kind == EvaluatorKind::Mpi && backend != BackendKind::Threads {
        return Err(f.error(
            "evaluator",
            format!("`mpi` evaluates on the ranks of an MPI job for optimizers on rank 0's threads: give \
                     \"backend\": \"threads\" (here `{}`), or \"backend\": \"mpi\" for whole optimizers on the ranks",
                backend.name()),
        ));
    }
    let evaluator = kind.factory(processes, Some(mpi_context)).map_err(|e| f.error("evaluator", e))?;
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
    let options = match factory.settings() {
        Value::Object(settings) => settings,
        _ => Map::new(),
    };
    let resolved =
        OptimizerConfig { kind: factory.name().to_owned(), options, workers, evaluator: kind, max_starts };
    Ok((OptimizerSpec { factory, workers, evaluator, max_starts }, resolved))
}
