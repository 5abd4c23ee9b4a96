//! A run directory as `glompo report` and `glompo export` see it: finished, live or killed, with its
//! summary and the names of its parameters. The files are read through
//! [`glompo_core::manager::rundir`].

use std::path::{Path, PathBuf};

use glompo_core::CoreError;
use glompo_core::manager::{live_run, rundir};
use serde_json::Value;

/// Whether the run of a directory is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Liveness {
    /// It ended and wrote its final summary.
    Finished,
    /// It is going on, in the glompo process `pid`.
    Live {
        /// The manager's process.
        pid: u32,
    },
    /// Its summary says it is running, but no process holds its directory: its manager was killed
    /// (or died) before the end.
    Killed,
}

/// A run directory, opened for reading.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunView {
    /// The directory.
    pub dir: PathBuf,
    /// `summary.json`, if the run wrote one (every run does when it starts).
    pub summary: Option<Value>,
    /// Whether the run is over.
    pub liveness: Liveness,
}

impl RunView {
    /// Opens the run directory `dir`: errors name the directory (missing, not a run directory) or
    /// the file (a summary that cannot be read).
    pub fn open(dir: &Path) -> Result<RunView, CoreError> {
        if !dir.is_dir() {
            let message = if dir.exists() { "not a directory" } else { "no such directory" };
            return Err(CoreError::RunDir { path: dir.to_path_buf(), message: message.into() });
        }
        rundir::check(dir)?;
        let summary = rundir::summary(dir)?;
        let running = summary.as_ref().is_none_or(|s| s["end_reason"] == "running");
        let liveness = match live_run(dir)? {
            Some(pid) => Liveness::Live { pid },
            None if running => Liveness::Killed,
            None => Liveness::Finished,
        };
        Ok(RunView { dir: dir.to_path_buf(), summary, liveness })
    }

    /// The summary's field `key`, `null` without a summary.
    pub fn field(&self, key: &str) -> &Value {
        self.summary.as_ref().map_or(&Value::Null, |s| &s[key])
    }

    /// The parameters' names the summary records, if the config named them.
    pub fn parameter_names(&self) -> Option<Vec<String>> {
        let names = self.field("parameter_names").as_array()?;
        names.iter().map(|n| n.as_str().map(str::to_owned)).collect()
    }

    /// The number of parameters, as the summary's config says (`bounds` or `parameters`).
    pub fn dim(&self) -> Option<usize> {
        let config = self.field("config");
        let by_name = self.parameter_names().map(|n| n.len());
        by_name
            .or_else(|| config["bounds"].as_array().map(Vec::len))
            .or_else(|| config["parameters"].as_array().map(Vec::len))
            .or_else(|| config["objective"]["dim"].as_u64().and_then(|d| usize::try_from(d).ok()))
    }

    /// The name of each of `dim` coordinates: the parameters' names, else `x0`, `x1`, ...
    pub fn coordinate_names(&self, dim: usize) -> Vec<String> {
        match self.parameter_names() {
            Some(names) if names.len() == dim => names,
            _ => (0..dim).map(|i| format!("x{i}")).collect(),
        }
    }
}
