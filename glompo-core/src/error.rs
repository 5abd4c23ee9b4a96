//! Error types of the core crate.

use std::path::PathBuf;

/// The result type of fallible core operations.
pub type Result<T> = std::result::Result<T, CoreError>;

/// Everything that can go wrong in the core crate, outside of the user's objective.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A setting given by the user is invalid; `field` names it as the user wrote it.
    #[error("{field}: {message}")]
    Config {
        /// The setting, e.g. `bounds[2]` or `max_jobs`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// Reading or writing a file of the run failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A run directory already holds the outputs of another run.
    #[error("{}: the run directory already holds a run; pass --overwrite to replace it", path.display())]
    RunDirExists {
        /// The run directory.
        path: PathBuf,
    },
    /// The run directory cannot be used: it names a file that is not a directory, say.
    #[error("{}: {message}", path.display())]
    RunDir {
        /// The run directory.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Another live run holds the run directory.
    #[error("{}: a live run (glompo process {pid}) is using this run directory", path.display())]
    RunDirBusy {
        /// The run directory.
        path: PathBuf,
        /// The process that holds it, as it wrote in the lock file (0 if unknown).
        pid: u32,
    },
    /// A checkpoint cannot be read or does not fit the run directory it is resumed in.
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A line of a run's log (or its summary) cannot be read.
    #[error("{} line {line}: {message}", path.display())]
    Log {
        /// The file.
        path: PathBuf,
        /// The line's number, from 1.
        line: u64,
        /// What is wrong with it.
        message: String,
    },
    /// A hunter or checker expression could not be parsed.
    #[error("{0}")]
    Expression(#[from] crate::expr::ParseError),
    /// A saved state of a selector, generator, hunter or checker could not be restored.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// An optimizer failed outside of an evaluation.
    #[error(transparent)]
    Optimizer(#[from] OptimizerError),
    /// The level-1 backend could not start a runner.
    #[error("backend: {0}")]
    Backend(String),
}

impl CoreError {
    /// Builds a [`CoreError::Config`] naming `field`.
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        CoreError::Config { field: field.into(), message: message.into() }
    }

    /// Builds a [`CoreError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CoreError::Io { path: path.into(), source }
    }

    /// Whether the error is the user's to fix before a run can start (a bad setting or run directory):
    /// the CLI exits 2 for these.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            CoreError::Config { .. }
                | CoreError::RunDirExists { .. }
                | CoreError::RunDir { .. }
                | CoreError::RunDirBusy { .. }
                | CoreError::Checkpoint { .. }
                | CoreError::Log { .. }
                | CoreError::Expression(_)
        )
    }
}

/// An error raised by an optimizer: a bad option, a state it cannot restore, or an internal failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OptimizerError {
    /// An option has an invalid value.
    #[error("{option}: {message}")]
    InvalidOption {
        /// The option's name, as written in a config.
        option: String,
        /// What is wrong with it.
        message: String,
    },
    /// `restore` was given a state that this optimizer did not save.
    #[error("cannot restore {optimizer} state: {message}")]
    BadState {
        /// The optimizer's name.
        optimizer: String,
        /// What is wrong with the state.
        message: String,
    },
    /// `tell` was called with evaluations that do not answer the last `ask`.
    #[error("tell does not match ask: {0}")]
    Protocol(String),
    /// Any other failure inside the optimizer.
    #[error("{0}")]
    Internal(String),
}

impl OptimizerError {
    /// Builds an [`OptimizerError::InvalidOption`].
    pub fn invalid_option(option: impl Into<String>, message: impl Into<String>) -> Self {
        OptimizerError::InvalidOption { option: option.into(), message: message.into() }
    }
}

/// A failed evaluation of the objective. It is a value: it is logged and reaches the optimizer as a
/// non-finite value, and it never stops the run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    message: String,
}

impl EvalError {
    /// An evaluation error with the given message.
    pub fn new(message: impl Into<String>) -> Self {
        EvalError { message: message.into() }
    }

    /// The message, as logged.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Turns the payload of a caught panic into an evaluation error.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        EvalError::new(format!("panicked: {}", panic_message(payload)))
    }
}

/// The text of a panic payload (`&str` or `String`), or a placeholder for other payloads.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}
