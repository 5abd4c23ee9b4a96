//! The run config: JSON in, a validated and fully resolved [`RunConfig`] out, and from it the
//! manager of the run ([`RunConfig::builder`]). Every error names where the config came from and the
//! JSON path of the field (`optimizers[1].popsize`) and says what is wrong in words; nothing is
//! started or written before the whole config is checked.
//!
//! There is one way from JSON to a [`RunConfig`]: the JSON is read as a [`serde_json::Value`] and
//! each object field by field with [`glompo_core::fields::Fields`], so that the messages speak of the
//! config, not of Rust types. [`RunConfig::from_file`] and [`RunConfig::from_value`] take that way
//! from a config as users write it; [`RunConfig::from_resolved`] and serde's `Deserialize` take it
//! from the resolved form, which is a `RunConfig` serialized (`summary.json`'s `config`, a
//! checkpoint's). A resolved config reads back into the same `RunConfig`.

mod error;
mod file;
mod objective;
mod parameter;
mod resolve;
mod runner;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use glompo_backends::ProcessBackend;
use glompo_core::Bounds;
use glompo_core::evaluator::{EvaluatorFactory, Serial};
use glompo_core::expr::normalise_name;
use glompo_core::manager::{CheckpointPolicy, Manager, ManagerBuilder};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

pub use self::error::{ConfigError, Origin};
pub use self::objective::ObjectiveConfig;
pub use self::parameter::RESERVED_NAMES;
#[cfg(feature = "mpi")]
pub use self::runner::RankHost;
pub use self::runner::runner_parts;
pub use glompo_core::manager::Schedule;

/// The default checker, as in the original: stop at the first optimizer that converges.
pub const DEFAULT_CONVERGENCE: &str = "kills_after_convergence(0, 1)";

/// How long [`RunConfig::builder`] waits for an external program to exit at once.
const STARTUP_CHECK: Duration = Duration::from_millis(500);

/// Command-line values that take the place of the config's (`glompo run`'s `--dir`, `--overwrite`,
/// `--seed`; `glompo resume`'s `--convergence`, `--max-jobs`). Errors in them name the option.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// The run directory, instead of `output.dir`.
    pub dir: Option<PathBuf>,
    /// Replace the outputs of an earlier run in the run directory, whatever `output.overwrite` says.
    pub overwrite: bool,
    /// The run seed, instead of `seed` (which is still checked).
    pub seed: Option<u64>,
    /// Another checker expression, instead of `convergence`.
    pub convergence: Option<String>,
    /// Another number of worker slots, instead of `max_jobs`.
    pub max_jobs: Option<u64>,
    /// The number of ranks of the MPI job this runs in: with the `mpi` backend `max_jobs` defaults to
    /// one rank fewer, and more optimizers (or, with `mpi` evaluators, points) at once than there are
    /// ranks besides rank 0 are an error.
    pub ranks: Option<usize>,
}

/// A validated run config with every default filled in: the JSON config as data.
///
/// Build one with [`from_file`](Self::from_file), [`from_value`](Self::from_value) or
/// [`from_resolved`](Self::from_resolved) (serde's `Deserialize` is `from_resolved` without
/// overrides); serialized, it is the resolved config (field names as in the JSON config, durations in
/// seconds, every path absolute), which reads back into an equal `RunConfig`. The fields are public,
/// for reading and for changing: [`builder`](Self::builder) checks the config again the same way as
/// `from_resolved` does, so a changed config gets the same checks and messages as a file.
///
/// A config with named parameters is written with `parameters` (`[{"name": "k_bond", "bounds": [0,
/// 5]}, …]`) in the place of `bounds`, as its file gave them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct RunConfig {
    /// What is minimised.
    pub objective: ObjectiveConfig,
    /// The search box, one `[lo, hi]` pair per dimension.
    pub bounds: Bounds,
    /// The parameters' names, one per dimension, when the config names them (`parameters`): unique,
    /// non-empty, plain CSV headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Vec<String>>,
    /// The optimizer configurations the selector starts.
    pub optimizers: Vec<OptimizerConfig>,
    /// The selector: a name or `{"type": name, options}`, as given (default `"cycle"`).
    pub selector: Value,
    /// The start-point generator, as the selector (default `"random"`).
    pub generator: Value,
    /// The worker slots of the run.
    pub max_jobs: usize,
    /// Where each optimizer runs (level 1).
    pub backend: BackendKind,
    /// How optimizers are scheduled.
    pub schedule: Schedule,
    /// The checker expression that ends the run, as the checker prints itself.
    pub convergence: String,
    /// The hunter expression, as the hunter prints itself, if optimizers are hunted.
    pub hunters: Option<String>,
    /// Hunt every this many evaluations.
    pub hunt_frequency: u64,
    /// Offer every new global best to the other live optimizers.
    pub share_best_solutions: bool,
    /// Log the extras of every evaluation.
    pub detailed_log: bool,
    /// Give up on an optimizer that sends nothing for this long (`force_terminations_after_s`).
    #[serde(rename = "force_terminations_after_s", serialize_with = "seconds")]
    pub force_terminations_after: Option<Duration>,
    /// Kill a worker process whose evaluation takes longer (`evaluation_timeout_s`).
    #[serde(rename = "evaluation_timeout_s", serialize_with = "seconds")]
    pub evaluation_timeout: Option<Duration>,
    /// With the `processes` backend: whether each runner process prints into `printstreams/` instead
    /// of on glompo's own stdout and stderr.
    pub split_printstreams: bool,
    /// The run fails when its first this many evaluations all failed; 0 never.
    pub max_initial_failures: u64,
    /// The run seed, from which every component's seed is derived.
    pub seed: u64,
    /// The run directory.
    pub output: OutputConfig,
    /// When to write checkpoints.
    #[serde(serialize_with = "checkpoint")]
    pub checkpoint: CheckpointPolicy,
}

/// One entry of `optimizers`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct OptimizerConfig {
    /// The optimizer type (`cma-es`, `nelder-mead`, …), as its factory names it.
    #[serde(rename = "type")]
    pub kind: String,
    /// Every setting of the type's factory, defaults included.
    #[serde(flatten)]
    pub options: Map<String, Value>,
    /// The worker slots it holds.
    pub workers: usize,
    /// Where its evaluations run (level 2).
    pub evaluator: EvaluatorKind,
    /// The most optimizers of this entry the selector starts; absent: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_starts: Option<u64>,
}

/// `output`: the run directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OutputConfig {
    /// The run directory (default `glompo_run`; a relative one is relative to the current directory).
    #[serde(serialize_with = "lossy_path")]
    pub dir: PathBuf,
    /// Replace the outputs of an earlier run there.
    pub overwrite: bool,
}

/// `backend`: where each optimizer runs (level 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BackendKind {
    /// On a thread of the manager's process.
    Threads,
    /// In a runner process of its own.
    Processes,
    /// In a runner process of its own, every evaluation in a worker process too (the default
    /// evaluator is `processes`).
    ProcessesForced,
    /// On a rank of its own of the MPI job the run is started in (`mpirun -np N glompo run`; needs
    /// the `mpi` feature).
    Mpi,
}

impl BackendKind {
    /// Every backend, in the order messages list them.
    pub const ALL: [BackendKind; 4] =
        [BackendKind::Threads, BackendKind::Processes, BackendKind::ProcessesForced, BackendKind::Mpi];

    /// The name, as configs write it.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Threads => "threads",
            BackendKind::Processes => "processes",
            BackendKind::ProcessesForced => "processes-forced",
            BackendKind::Mpi => "mpi",
        }
    }

    /// Whether optimizers run in runner processes that the manager starts.
    pub fn is_process(self) -> bool {
        matches!(self, BackendKind::Processes | BackendKind::ProcessesForced)
    }
}

/// An optimizer's `evaluator`: where its evaluations run (level 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EvaluatorKind {
    /// One after the other, in the optimizer's thread.
    Serial,
    /// On a pool of `workers` threads.
    Threads,
    /// In worker processes (the run shares one pool).
    Processes,
    /// On the ranks of the MPI job the run is started in, besides rank 0 (the `mpi` feature; the
    /// optimizers run on rank 0's threads).
    Mpi,
}

impl EvaluatorKind {
    /// Every evaluator, in the order messages list them.
    pub const ALL: [EvaluatorKind; 4] =
        [EvaluatorKind::Serial, EvaluatorKind::Threads, EvaluatorKind::Processes, EvaluatorKind::Mpi];

    /// The name, as configs write it.
    pub fn name(self) -> &'static str {
        match self {
            EvaluatorKind::Serial => "serial",
            EvaluatorKind::Threads => "threads",
            EvaluatorKind::Processes => "processes",
            EvaluatorKind::Mpi => "mpi",
        }
    }

    /// The evaluator called `name` (compared normalised: `Threads` is `threads`).
    pub fn from_name(name: &str) -> Option<Self> {
        named(&Self::ALL, Self::name, name)
    }

    /// Its factory; `processes` is the run's shared pool of worker processes.
    /// The factory of this kind: `processes` is the run's pool of worker processes, `mpi_context`
    /// what the ranks build the objective of `mpi` evaluations from (the runner config); `None`
    /// where there are no ranks to evaluate on (a runner process).
    fn factory(
        self,
        processes: &Arc<glompo_backends::Processes>,
        mpi_context: Option<&str>,
    ) -> Result<Arc<dyn EvaluatorFactory>, String> {
        Ok(match self {
            EvaluatorKind::Serial => Arc::new(Serial),
            EvaluatorKind::Threads => Arc::new(glompo_backends::Threads),
            EvaluatorKind::Processes => Arc::clone(processes) as Arc<dyn EvaluatorFactory>,
            #[cfg(feature = "mpi")]
            EvaluatorKind::Mpi => match mpi_context {
                Some(context) => Arc::new(glompo_backends::mpi::MpiEvaluators::new(context)),
                None => return Err("the mpi evaluator runs on rank 0, with the threads backend".into()),
            },
            #[cfg(not(feature = "mpi"))]
            EvaluatorKind::Mpi => {
                let _ = mpi_context;
                return Err(MPI_MISSING.into());
            }
        })
    }
}

/// The one of `all` whose name is `name`, compared normalised.
fn named<T: Copy>(all: &[T], name_of: fn(T) -> &'static str, name: &str) -> Option<T> {
    let name = normalise_name(name);
    all.iter().copied().find(|v| normalise_name(name_of(*v)) == name)
}

impl RunConfig {
    /// Reads and checks the config file at `path`; relative paths in it are relative to its folder.
    /// Nothing is started or written. Errors name the file.
    pub fn from_file(path: &Path, overrides: &Overrides) -> Result<RunConfig, ConfigError> {
        let origin = || Origin::File(path.to_path_buf());
        let in_file = |message: String| ConfigError::new(origin(), None, message);
        let map = file::read(path).map_err(in_file)?;
        let base = objective::config_folder(path).map_err(in_file)?;
        resolve::resolve(map, &base, overrides)
            .map(|(config, _)| config)
            .map_err(|e| ConfigError::core(origin(), e))
    }

    /// Checks the config `value` (an object of the run's fields, as a config file holds); relative
    /// paths in it are relative to `base_dir`. Nothing is started or written.
    pub fn from_value(
        value: Value,
        base_dir: &Path,
        overrides: &Overrides,
    ) -> Result<RunConfig, ConfigError> {
        resolve::resolve(object(value)?, base_dir, overrides)
            .map(|(config, _)| config)
            .map_err(|e| ConfigError::core(Origin::Value, e))
    }

    /// Checks a resolved config (`summary.json`'s `config`, a checkpoint's: every path in it is
    /// absolute), with `overrides`, as [`from_value`](Self::from_value) does.
    pub fn from_resolved(value: Value, overrides: &Overrides) -> Result<RunConfig, ConfigError> {
        RunConfig::from_value(value, Path::new("/"), overrides)
    }

    /// Builds the run: the objective, the selector, generator, checker and hunter, the backend and
    /// every setting of this config in a [`ManagerBuilder`], with this config as the resolved config
    /// of `summary.json` and checkpoints. The caller may add what is not config (an interrupt, a status
    /// sink, observers, a checkpoint to resume) and [`build`](ManagerBuilder::build) it.
    ///
    /// The config is checked again first (as by [`from_resolved`](Self::from_resolved)), and an
    /// external program is started once to check that it runs. With the `processes` backend, runner
    /// processes are this program started again as `PROGRAM __runner CONFIG` (the `glompo` binary
    /// hands that to [`runner_parts`]); so are the worker processes of a `processes` evaluator of a
    /// built-in function, as `PROGRAM __worker OBJECTIVE`.
    ///
    /// Errors are said of a [`Origin::Value`]; [`ConfigError::with_origin`] names the file.
    pub fn builder(&self) -> Result<ManagerBuilder, ConfigError> {
        self.builder_on(None)
    }

    /// Whether the run uses the ranks of an MPI job: its backend, or an optimizer's evaluator, is
    /// `mpi`.
    pub fn uses_mpi(&self) -> bool {
        self.backend == BackendKind::Mpi || self.optimizers.iter().any(|o| o.evaluator == EvaluatorKind::Mpi)
    }

    /// [`builder`](Self::builder) for a config whose backend is `mpi`, on rank 0 of the MPI job
    /// `mpi` (the `mpi` feature): each optimizer runs on a rank of its own, which rebuilds it with
    /// [`runner_parts`] (the ranks call [`glompo_backends::mpi::Mpi::serve`] with it).
    #[cfg(feature = "mpi")]
    pub fn mpi_builder(&self, mpi: &glompo_backends::mpi::Mpi) -> Result<ManagerBuilder, ConfigError> {
        self.builder_on(Some(mpi))
    }

    #[cfg(not(feature = "mpi"))]
    fn builder_on(&self, _: Option<std::convert::Infallible>) -> Result<ManagerBuilder, ConfigError> {
        self.build_parts(None)
    }

    #[cfg(feature = "mpi")]
    fn builder_on(&self, mpi: Option<&glompo_backends::mpi::Mpi>) -> Result<ManagerBuilder, ConfigError> {
        let backend = |config: &RunConfig| -> Result<Box<dyn glompo_core::backend::Backend>, ConfigError> {
            let Some(mpi) = mpi else {
                return Err(ConfigError::new(
                    Origin::Value,
                    Some("backend".into()),
                    "the run uses the ranks of an MPI job: build it with RunConfig::mpi_builder",
                ));
            };
            // Level 1 on the ranks, or threads whose points the ranks evaluate.
            let made: Result<Box<dyn glompo_core::backend::Backend>, _> =
                if config.backend == BackendKind::Mpi {
                    mpi.backend(runner::config(config).to_string()).map(|b| Box::new(b) as _)
                } else {
                    mpi.threads_backend().map(|b| Box::new(b) as _)
                };
            made.map_err(|e| ConfigError::new(Origin::Value, Some("backend".into()), e.to_string()))
        };
        self.build_parts(Some(&backend))
    }

    /// The builder, with `mpi_backend` making the backend of a config that uses MPI ranks.
    fn build_parts(&self, mpi_backend: Option<MpiBackendOf<'_>>) -> Result<ManagerBuilder, ConfigError> {
        let value = serde_json::to_value(self)
            .map_err(|e| ConfigError::new(Origin::Value, None, format!("cannot be written as JSON: {e}")))?;
        let (config, parts) = resolve::resolve(object(value)?, Path::new("/"), &Overrides::default())
            .map_err(|e| ConfigError::core(Origin::Value, e))?;
        let objective = parts
            .objective
            .objective(config.evaluation_timeout, Some(STARTUP_CHECK))
            .map_err(|e| ConfigError::new(Origin::Value, Some("objective.command".into()), e.to_string()))?;
        let mut builder = Manager::builder(objective, config.bounds.clone())
            .selector(parts.selector)
            .generator(parts.generator)
            .checker(parts.checker)
            .max_jobs(config.max_jobs)
            .hunt_frequency(config.hunt_frequency)
            .share_best_solutions(config.share_best_solutions)
            .detailed_log(config.detailed_log)
            .max_initial_failures(config.max_initial_failures)
            .seed(config.seed)
            .dir(&config.output.dir)
            .overwrite(config.output.overwrite)
            .checkpoints(config.checkpoint.clone())
            .schedule(config.schedule);
        if let Some(names) = &config.parameters {
            builder = builder.parameter_names(names.clone());
        }
        if let Some(hunter) = parts.hunter {
            builder = builder.hunter(hunter);
        }
        if let Some(limit) = config.force_terminations_after {
            builder = builder.force_terminations_after(limit);
        }
        if config.uses_mpi() {
            let Some(make) = mpi_backend else {
                return Err(ConfigError::new(Origin::Value, Some("backend".into()), MPI_MISSING));
            };
            builder = builder.backend(make(&config)?);
        }
        if config.backend.is_process() {
            let exe = std::env::current_exe().map_err(|e| {
                ConfigError::new(
                    Origin::Value,
                    Some("backend".into()),
                    format!("cannot find glompo itself: {e}"),
                )
            })?;
            let argv = vec![
                exe.to_string_lossy().into_owned(),
                "__runner".into(),
                runner::config(&config).to_string(),
            ];
            let backend = ProcessBackend::new(argv).map_err(|e| ConfigError::core(Origin::Value, e))?;
            builder = builder.backend(if config.split_printstreams {
                // `printstreams/` is one of the run directory's own folders: the manager refuses a
                // directory that holds one and replaces it on --overwrite, before any runner starts.
                Box::new(backend.printstreams(config.output.dir.join("printstreams")))
            } else {
                Box::new(backend)
            });
        }
        // What runs is what is recorded: the config as checked again.
        let resolved = serde_json::to_value(&config)
            .map_err(|e| ConfigError::new(Origin::Value, None, format!("cannot be written as JSON: {e}")))?;
        Ok(builder.config(resolved))
    }
}

/// Makes the `mpi` backend of a resolved config.
type MpiBackendOf<'a> = &'a dyn Fn(&RunConfig) -> Result<Box<dyn glompo_core::backend::Backend>, ConfigError>;

/// Why a config whose backend is `mpi` cannot run in a glompo built without the `mpi` feature.
pub(crate) const MPI_MISSING: &str = "`mpi` needs a glompo built with the mpi feature \
     (cargo install --path glompo-cli --features mpi, with OpenMPI's libopenmpi-dev installed)";

impl Serialize for RunConfig {
    /// The resolved config; named parameters are written as `parameters` entries with their bounds,
    /// in the place of `bounds`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(names) = &self.parameters else { return RunConfig::serialize(self, s) };
        let mut value =
            RunConfig::serialize(self, serde_json::value::Serializer).map_err(serde::ser::Error::custom)?;
        if let Value::Object(map) = &mut value {
            map.remove("bounds");
            let entries = names.iter().zip(self.bounds.lower().iter().zip(self.bounds.upper()));
            let entries: Vec<Value> = entries
                .map(|(name, (lo, hi))| serde_json::json!({"name": name, "bounds": [lo, hi]}))
                .collect();
            map.insert("parameters".into(), Value::Array(entries));
        }
        value.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for RunConfig {
    /// [`RunConfig::from_resolved`] without overrides.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RunConfig::try_from(<Value as serde::Deserialize>::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<Value> for RunConfig {
    type Error = ConfigError;

    /// [`RunConfig::from_resolved`] without overrides.
    fn try_from(value: Value) -> Result<Self, ConfigError> {
        RunConfig::from_resolved(value, &Overrides::default())
    }
}

/// The object of the run's fields that `value` must be.
fn object(value: Value) -> Result<Map<String, Value>, ConfigError> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ConfigError::new(Origin::Value, None, file::not_an_object(&other))),
    }
}

/// A duration as the config writes it: seconds, or `null`.
fn seconds<S: Serializer>(t: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    t.map(|t| t.as_secs_f64()).serialize(s)
}

/// A path as the config writes it: a string (a name that is not UTF-8 gets replacement characters).
fn lossy_path<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    path.to_string_lossy().serialize(s)
}

/// `checkpoint` as the config writes it.
fn checkpoint<S: Serializer>(policy: &CheckpointPolicy, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Written<'a> {
        every_seconds: Option<f64>,
        every_evals: Option<u64>,
        at_start: bool,
        at_end: bool,
        keep: Option<usize>,
        name: &'a str,
        answer_within_s: f64,
        before_job_end_s: f64,
    }
    Written {
        every_seconds: policy.every_seconds,
        every_evals: policy.every_evals,
        at_start: policy.at_start,
        at_end: policy.at_end,
        keep: policy.keep,
        name: &policy.name,
        answer_within_s: policy.answer_within.as_secs_f64(),
        before_job_end_s: policy.before_job_end.as_secs_f64(),
    }
    .serialize(s)
}

#[cfg(test)]
mod tests;
