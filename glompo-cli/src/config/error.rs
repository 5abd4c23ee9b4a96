//! [`ConfigError`]: what is wrong with a config, and where.

use std::fmt;
use std::path::PathBuf;

use glompo_core::CoreError;

/// Where a config came from, as its errors name it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A config file ([`RunConfig::from_file`](super::RunConfig::from_file)): errors start with
    /// its path, `config.json: optimizers[1].popsize: …`.
    File(PathBuf),
    /// The resolved config a checkpoint holds (`glompo resume`): errors start with
    /// `checkpoint PATH: config: `.
    Checkpoint(PathBuf),
    /// A JSON value or a [`RunConfig`](super::RunConfig) built in memory: errors start with the
    /// field.
    Value,
}

/// A config that cannot be run: where it came from, which field (its JSON path, such as
/// `optimizers[1].popsize`, or the command-line option that overrides it, such as `--max-jobs`), and
/// what is wrong in words. The `glompo` command prints it and exits 2.
///
/// ```
/// use glompo_cli::{ConfigError, Origin, Overrides, RunConfig};
/// use serde_json::json;
///
/// let config = json!({"objective": {"function": "sphere", "dim": 2}, "optimizers": [{"type": "cma-es", "popsize": 0}]});
/// let err = RunConfig::from_value(config, std::path::Path::new("."), &Overrides::default()).unwrap_err();
/// assert_eq!(err.field(), Some("optimizers[0].popsize"));
/// let err = err.with_origin(Origin::File("config.json".into()));
/// assert!(err.to_string().starts_with("config.json: optimizers[0].popsize: "), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    origin: Origin,
    field: Option<String>,
    message: String,
}

impl ConfigError {
    /// An error of the config from `origin` as a whole (a file that cannot be read, a value that is
    /// not an object), or of its `field`.
    pub(crate) fn new(origin: Origin, field: Option<String>, message: impl Into<String>) -> Self {
        ConfigError { origin, field, message: message.into() }
    }

    /// A core error of the config from `origin`: a [`CoreError::Config`] names its field, any other
    /// error is said as it is.
    pub(crate) fn core(origin: Origin, error: CoreError) -> Self {
        match error {
            CoreError::Config { field, message } => ConfigError::new(origin, Some(field), message),
            other => ConfigError::new(origin, None, other.to_string()),
        }
    }

    /// Where the config came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The field that is wrong, as the config writes it (`optimizers[1].popsize`), or the
    /// command-line option (`--max-jobs`); `None` when the config as a whole is.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// What is wrong, without the origin and the field.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error, said of a config that came from `origin`: a [`RunConfig`](super::RunConfig)
    /// read from a file does not remember it, so that what its
    /// [`builder`](super::RunConfig::builder) finds wrong (an external program that does not start)
    /// is reported against the file this way.
    #[must_use]
    pub fn with_origin(self, origin: Origin) -> Self {
        ConfigError { origin, ..self }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::File(path) => write!(f, "{}: ", path.display())?,
            Origin::Checkpoint(path) => write!(f, "checkpoint {}: config: ", path.display())?,
            Origin::Value => {}
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}
