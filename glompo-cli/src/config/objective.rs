//! The `objective` of a config: a built-in function or an external program, read and checked
//! without starting anything.

use std::path::{Path, PathBuf};
use std::time::Duration;

use glompo_backends::CommandSpec;
use glompo_core::fields::{Fields, found};
use glompo_core::functions::{self, Benchmark};
use glompo_core::{Bounds, CoreError};
use serde_json::{Map, Value, json};

/// The largest `objective.dim`: every point, bound and optimizer state is that long, and a typo of a
/// few zeros must be an error, not gigabytes of memory.
pub(crate) const MAX_DIM: u64 = 100_000;

/// The options of an external program objective.
const COMMAND_OPTIONS: &[&str] = &["command", "dim", "timeout_s", "cwd"];

/// The objective as configured, before anything is started.
pub(crate) enum ObjectivePlan {
    /// A built-in benchmark function.
    Builtin(Benchmark),
    /// An external program speaking the JSON-lines protocol; its `cwd` and a relative program path are
    /// resolved to absolute paths.
    Command { spec: CommandSpec, dim: usize },
}

impl ObjectivePlan {
    pub(crate) fn name(&self) -> String {
        match self {
            ObjectivePlan::Builtin(b) => b.name().to_owned(),
            ObjectivePlan::Command { spec, .. } => spec.argv.join(" "),
        }
    }

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
        resolved: &Value,
        timeout: Option<Duration>,
    ) -> Result<CommandSpec, CoreError> {
        match self {
            ObjectivePlan::Command { spec, .. } => Ok(command_spec(spec.clone(), timeout)),
            ObjectivePlan::Builtin(_) => {
                let exe = std::env::current_exe()
                    .map_err(|e| CoreError::config("objective", format!("cannot find glompo itself: {e}")))?;
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

/// A command's spec with the run's `evaluation_timeout_s` (`timeout`) where the command has no
/// `timeout_s` of its own: the one rule for every evaluator and backend.
pub(crate) fn command_spec(spec: CommandSpec, timeout: Option<Duration>) -> CommandSpec {
    CommandSpec { timeout: spec.timeout.or(timeout), ..spec }
}

/// Reads the `objective` object; relative paths are resolved against `base`, the config file's
/// folder. Returns the plan and the resolved config (every path absolute, so that a runner process
/// started elsewhere rebuilds the same objective).
pub(crate) fn plan(map: Map<String, Value>, base: &Path) -> Result<(ObjectivePlan, Value), CoreError> {
    let mut f = Fields::new("objective", map);
    if !f.has("dim") {
        return Err(f.missing("dim", "missing; give the number of variables"));
    }
    let dim = f.count("dim", 1, 1, MAX_DIM)? as usize;
    if f.has("command") {
        return command(f, dim, base);
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
    let mut resolved = params;
    resolved.insert("function".into(), Value::String(function.name().to_owned()));
    resolved.insert("dim".into(), json!(dim));
    Ok((ObjectivePlan::Builtin(function), Value::Object(resolved)))
}

fn command(mut f: Fields, dim: usize, base: &Path) -> Result<(ObjectivePlan, Value), CoreError> {
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
    let cwd = match f.string("cwd")? {
        Some(cwd) => under(base, &cwd),
        None => base.to_path_buf(),
    };
    f.only(COMMAND_OPTIONS)?;
    if !cwd.is_dir() {
        return Err(f.error("cwd", format!("{} is not a folder", cwd.display())));
    }
    // A program given by a relative path (`./model`, `bin/model`) is where the config says, wherever
    // glompo runs from; a bare name (`python3`) is looked up on PATH.
    if argv[0].contains('/') && Path::new(&argv[0]).is_relative() {
        argv[0] = under(base, &argv[0]).to_string_lossy().into_owned();
    }
    let resolved = json!({
        "command": argv,
        "dim": dim,
        "timeout_s": timeout.map(|t| t.as_secs_f64()),
        "cwd": cwd.to_string_lossy(),
    });
    let spec = CommandSpec { argv, timeout, env: Vec::new(), cwd: Some(cwd) };
    Ok((ObjectivePlan::Command { spec, dim }, resolved))
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
