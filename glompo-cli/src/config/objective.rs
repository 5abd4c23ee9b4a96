//! The `objective` of a config: a built-in function or an external program, read and checked
//! without starting anything.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use glompo_backends::command::{Mode, ParentDeath, Scratch};
use glompo_backends::{BackendError, CommandObjective, CommandSpec};
use glompo_core::fields::{Fields, found};
use glompo_core::functions::{self, Benchmark};
use glompo_core::{Bounds, CoreError, Objective};
use serde::Serialize;
use serde_json::{Map, Value};

/// The largest `objective.dim`: every point, bound and optimizer state is that long, and a typo of a
/// few zeros must be an error, not gigabytes of memory.
pub(crate) const MAX_DIM: u64 = 100_000;

/// The options of an external program objective.
const COMMAND_OPTIONS: &[&str] =
    &["command", "dim", "timeout_s", "cwd", "mode", "env", "scratch", "launcher"];

/// The modes of an external program, as configs name them.
const MODES: &[&str] = &["persistent", "per-call"];

/// The options of `objective.scratch`.
const SCRATCH_OPTIONS: &[&str] = &["dir", "cwd"];

/// The resolved `objective` of a config: a built-in function or an external program, with every path
/// absolute.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum ObjectiveConfig {
    /// A built-in benchmark function (`glompo functions` lists them).
    Function {
        /// Its name, as the catalogue spells it.
        function: String,
        /// The number of variables.
        dim: usize,
        /// Its own parameters as given (`delay_s`, a function's constants).
        #[serde(flatten)]
        params: Map<String, Value>,
    },
    /// An external program speaking the JSON-lines protocol.
    Command {
        /// The program (a relative path resolved against the config file's folder) and its arguments.
        command: Vec<String>,
        /// The number of variables.
        dim: usize,
        /// How long one evaluation may take (`timeout_s`), if the program has a limit of its own.
        #[serde(rename = "timeout_s", serialize_with = "super::seconds")]
        timeout: Option<Duration>,
        /// The folder the program runs in.
        #[serde(serialize_with = "super::lossy_path")]
        cwd: PathBuf,
        /// `persistent` (one worker serves many requests) or `per-call` (run once per evaluation).
        mode: String,
        /// Extra environment variables.
        env: BTreeMap<String, String>,
        /// A scratch directory per evaluation, if asked.
        scratch: Option<ScratchConfig>,
        /// The program every worker is started through (`["srun", "-N1", "-n1", "--exact"]`: each
        /// worker a Slurm job step); empty: none.
        launcher: Vec<String>,
    },
}

/// `objective.scratch`: a directory per evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScratchConfig {
    /// Where they are made (absolute); `None`: `scratch/` in the run directory.
    #[serde(serialize_with = "lossy_path_opt")]
    pub dir: Option<PathBuf>,
    /// Whether a per-call program runs in its scratch directory.
    pub cwd: bool,
}

fn lossy_path_opt<S: serde::Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match path {
        Some(path) => super::lossy_path(path, s),
        None => s.serialize_none(),
    }
}

impl ObjectiveConfig {
    /// The objective's name, for messages: a built-in's name, or the command line.
    pub fn name(&self) -> String {
        match self {
            ObjectiveConfig::Function { function, .. } => function.clone(),
            ObjectiveConfig::Command { command, .. } => command.join(" "),
        }
    }

    /// The number of variables.
    pub fn dim(&self) -> usize {
        match self {
            ObjectiveConfig::Function { dim, .. } | ObjectiveConfig::Command { dim, .. } => *dim,
        }
    }

    /// As JSON (an object), as the config writes it.
    pub(crate) fn to_json(&self) -> Value {
        // Nothing in it can fail to serialize: its keys are strings, its paths are written lossily and
        // its numbers are finite.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The objective as configured, before anything is started.
pub(crate) enum ObjectivePlan {
    /// A built-in benchmark function.
    Builtin(Benchmark),
    /// An external program speaking the JSON-lines protocol; its `cwd` and a relative program path are
    /// resolved to absolute paths.
    Command { spec: CommandSpec, dim: usize },
}

impl ObjectivePlan {
    pub(crate) fn dim(&self) -> usize {
        match self {
            ObjectivePlan::Builtin(b) => b.dim(),
            ObjectivePlan::Command { dim, .. } => *dim,
        }
    }

    pub(crate) fn default_bounds(&self) -> Option<Bounds> {
        match self {
            ObjectivePlan::Builtin(b) => Some(b.bounds()),
            ObjectivePlan::Command { .. } => None,
        }
    }

    /// How to start a worker process: the command itself, or this very program re-executed to
    /// evaluate the built-in function (`resolved` is the objective's resolved config). `timeout`, the
    /// run's `evaluation_timeout_s`, applies unless the command has its own `timeout_s`.
    pub(crate) fn worker_spec(
        &self,
        resolved: &ObjectiveConfig,
        timeout: Option<Duration>,
    ) -> Result<CommandSpec, CoreError> {
        match self {
            ObjectivePlan::Command { spec, .. } => Ok(command_spec(spec.clone(), timeout)),
            ObjectivePlan::Builtin(_) => {
                let exe = std::env::current_exe()
                    .map_err(|e| CoreError::config("objective", format!("cannot find glompo itself: {e}")))?;
                Ok(CommandSpec {
                    timeout,
                    ..CommandSpec::new([
                        exe.to_string_lossy().into_owned(),
                        "__worker".into(),
                        resolved.to_json().to_string(),
                    ])
                })
            }
        }
    }

    /// The objective itself, `timeout` as in [`worker_spec`](Self::worker_spec). An external
    /// program's first worker is started at once; with `check_within`, a program that exits within
    /// that time (a typo in a script's name) is an error, as one that cannot start is.
    pub(crate) fn objective(
        self,
        timeout: Option<Duration>,
        check_within: Option<Duration>,
    ) -> Result<Arc<dyn Objective>, BackendError> {
        match self {
            ObjectivePlan::Builtin(b) => Ok(Arc::new(b)),
            ObjectivePlan::Command { spec, .. } => {
                let command = CommandObjective::new(command_spec(spec, timeout))?;
                if let Some(within) = check_within {
                    command.check_started(within)?;
                }
                Ok(Arc::new(command))
            }
        }
    }
}

/// A command's spec with the run's `evaluation_timeout_s` (`timeout`) where the command has no
/// `timeout_s` of its own: the one rule for every evaluator and backend.
pub(crate) fn command_spec(spec: CommandSpec, timeout: Option<Duration>) -> CommandSpec {
    CommandSpec { timeout: spec.timeout.or(timeout), ..spec }
}

/// Reads the `objective` object; relative paths are resolved against `base`, the config file's
/// folder, and scratch directories go into `run_dir` unless the config says where (without one, such
/// a config is an error). Returns the plan
/// and the resolved config (every path absolute, so that a runner process started elsewhere rebuilds
/// the same objective).
pub(crate) fn plan(
    map: Map<String, Value>,
    base: &Path,
    run_dir: Option<&Path>,
) -> Result<(ObjectivePlan, ObjectiveConfig), CoreError> {
    let mut f = Fields::new("objective", map);
    if !f.has("dim") {
        return Err(f.missing("dim", "missing; give the number of variables"));
    }
    let dim = f.count("dim", 1, 1, MAX_DIM)? as usize;
    if f.has("command") {
        return command(f, dim, base, run_dir);
    }
    let Some(name) = f.string("function")? else {
        return Err(f.misspelt(&["function", "command"]).unwrap_or_else(|| {
            CoreError::config(
                "objective",
                "give a built-in `function` (`glompo functions` lists them) or a `command`",
            )
        }));
    };
    let params = f.rest()?;
    let function = functions::build(&name, dim, &params)?;
    let resolved = ObjectiveConfig::Function { function: function.name().to_owned(), dim, params };
    Ok((ObjectivePlan::Builtin(function), resolved))
}

fn command(
    mut f: Fields,
    dim: usize,
    base: &Path,
    run_dir: Option<&Path>,
) -> Result<(ObjectivePlan, ObjectiveConfig), CoreError> {
    let command = f.take("command").unwrap_or(Value::Null);
    let mut argv: Vec<String> = match &command {
        Value::Array(items) => items.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<_>>(),
        _ => None,
    }
    .filter(|argv: &Vec<String>| argv.first().is_some_and(|program| !program.is_empty()))
    .ok_or_else(|| {
        f.error(
            "command",
            format!("expected a list of strings, the program first, found {}", found(&command)),
        )
    })?;
    let timeout = f.seconds("timeout_s")?;
    let cwd_given = f.string("cwd")?;
    let chosen = f.choice("mode", "persistent", MODES)?;
    let mode = if chosen == glompo_core::expr::normalise_name("per-call") {
        Mode::PerCall
    } else {
        Mode::Persistent
    };
    let mode_name = if mode == Mode::PerCall { "per-call" } else { "persistent" }.to_owned();
    let env = env(&mut f)?;
    let scratch = scratch(&mut f, base, mode)?;
    let launcher = match f.take("launcher") {
        None => Vec::new(),
        Some(Value::Array(items)) if items.is_empty() => Vec::new(),
        Some(value) => {
            let launcher = match &value {
                Value::Array(items) => items.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>(),
                _ => None,
            }
            .filter(|argv| argv.first().is_some_and(|program| !program.is_empty()))
            .ok_or_else(|| {
                f.error(
                    "launcher",
                    format!(
                        "expected a list of strings, the program first (\"srun\", \"-N1\", \"-n1\", \"--exact\"), found {}",
                        found(&value)
                    ),
                )
            })?;
            // The point goes to the program, never to its launcher.
            if let Some(i) = launcher.iter().position(|a| a.contains('{') || a.contains('}')) {
                return Err(f.error(
                    &format!("launcher[{i}]"),
                    "holds a brace: only the command takes the point's tokens",
                ));
            }
            launcher
        }
    };
    f.only(COMMAND_OPTIONS)?;
    let cwd = match cwd_given {
        Some(cwd) => under(base, &cwd),
        None => base.to_path_buf(),
    };
    if !cwd.is_dir() {
        return Err(f.error("cwd", format!("{} is not a folder", cwd.display())));
    }
    // Only a per-call program's arguments hold tokens: a persistent one's are passed as they are
    // (braces and all), except that one that would take the point is surely a missing `mode`.
    match (mode, glompo_backends::command::check_arguments(&argv, dim, scratch.is_some())) {
        (Mode::PerCall, Err((i, message))) => return Err(f.error(&format!("command[{i}]"), message)),
        (Mode::Persistent, Ok(true)) => {
            return Err(f.error(
                "command",
                "takes the point in its arguments, which only a program run once per evaluation can: give \
                 `\"mode\": \"per-call\"`",
            ));
        }
        _ => {}
    }
    // A program given by a relative path (`./model`, `bin/model`) is where the config says, wherever
    // glompo runs from; a bare name (`python3`) is looked up on PATH.
    let mut launcher = launcher;
    for program in [argv.first_mut(), launcher.first_mut()].into_iter().flatten() {
        if program.contains('/') && Path::new(program.as_str()).is_relative() {
            *program = under(base, program).to_string_lossy().into_owned();
        }
    }
    let resolved = ObjectiveConfig::Command {
        command: argv.clone(),
        dim,
        timeout,
        cwd: cwd.clone(),
        mode: mode_name,
        env: env.clone(),
        scratch: scratch.clone(),
        launcher: launcher.clone(),
    };
    // A launched worker ends gracefully even when the manager dies (srun releases its step on
    // SIGTERM; after SIGKILL it lingers for seconds).
    let parent_death = if launcher.is_empty() { ParentDeath::Kill } else { ParentDeath::Terminate };
    let argv: Vec<String> = launcher.into_iter().chain(argv).collect();
    let scratch = match scratch {
        None => None,
        Some(ScratchConfig { dir: Some(dir), cwd }) => Some(Scratch { dir, cwd }),
        Some(ScratchConfig { dir: None, cwd }) => match run_dir {
            Some(run_dir) => Some(Scratch { dir: run_dir.join("scratch"), cwd }),
            None => return Err(f.error("scratch.dir", "missing, and there is no run directory to put it in")),
        },
    };
    let spec = CommandSpec {
        argv,
        timeout,
        env: env.into_iter().collect(),
        cwd: Some(cwd),
        mode,
        scratch,
        parent_death,
    };
    Ok((ObjectivePlan::Command { spec, dim }, resolved))
}

/// `objective.env`: an object of variable names and string values; glompo's own `GLOMPO_*` names are
/// reserved.
fn env(f: &mut Fields) -> Result<BTreeMap<String, String>, CoreError> {
    let Some(map) = f.object("env")? else { return Ok(BTreeMap::new()) };
    let mut env = BTreeMap::new();
    for (name, value) in map {
        let at = format!("env.{name}");
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(f.error(&at, "is not a variable name (empty, or with `=` or NUL)"));
        }
        if name.starts_with("GLOMPO_") {
            return Err(f.error(&at, "`GLOMPO_` names are glompo's own (GLOMPO_OPT_ID, GLOMPO_EVAL_ID, …)"));
        }
        match value {
            Value::String(text) if !text.contains('\0') => {
                env.insert(name, text);
            }
            other => return Err(f.error(&at, format!("expected a string, found {}", found(&other)))),
        }
    }
    Ok(env)
}

/// `objective.scratch`: `true`, `false`, or `{"dir": …, "cwd": …}`; `cwd` only with `per-call`.
fn scratch(f: &mut Fields, base: &Path, mode: Mode) -> Result<Option<ScratchConfig>, CoreError> {
    let map = match f.take("scratch") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => return Ok(None),
        Some(Value::Bool(true)) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(f.error(
                "scratch",
                format!("expected true, false or {{\"dir\": …, \"cwd\": …}}, found {}", found(&other)),
            ));
        }
    };
    let mut s = Fields::new(&f.path("scratch"), map);
    let dir = s.string("dir")?;
    let cwd = s.bool("cwd", false)?;
    s.only(SCRATCH_OPTIONS)?;
    if dir.as_deref() == Some("") {
        return Err(s.error("dir", "empty; give a folder"));
    }
    if cwd && mode == Mode::Persistent {
        return Err(s.error(
            "cwd",
            "a persistent worker serves many evaluations from one folder; give `\"mode\": \"per-call\"` or \
             read the directory from the request's `scratch`",
        ));
    }
    Ok(Some(ScratchConfig { dir: dir.map(|d| under(base, &d)), cwd }))
}

/// `path` resolved against `base` when it is relative, without the `.` components (`./model` under
/// `/runs` is `/runs/model`).
fn under(base: &Path, path: &str) -> PathBuf {
    let mut out = base.to_path_buf();
    for part in Path::new(path).components() {
        if part != std::path::Component::CurDir {
            out.push(part);
        }
    }
    out
}

/// The folder of the config file at `path`, absolute: relative paths of the config are relative to it.
pub(crate) fn config_folder(path: &Path) -> Result<PathBuf, String> {
    let absolute = std::path::absolute(path).map_err(|e| format!("cannot find the config's folder: {e}"))?;
    Ok(absolute.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf))
}
