//! glompo-cli's library: the run config as a type, shared by the `glompo` binary (`glompo run`,
//! `glompo resume` and the runner processes of the `processes` backend) and by anything else that
//! runs glompo from a config — language bindings, an MPI launcher.
//!
//! - [`RunConfig`]: a validated, fully resolved config as plain data. [`RunConfig::from_file`] reads
//!   a JSON config file, [`RunConfig::from_value`] a JSON value, and [`RunConfig::from_resolved`] (or
//!   serde's `Deserialize`) the resolved form that `Serialize` writes into `summary.json` and
//!   checkpoints. [`RunConfig::builder`] builds what a run needs: the
//!   [`ManagerBuilder`](glompo_core::manager::ManagerBuilder) with the objective, the components and
//!   the backend.
//! - [`ConfigError`]: what is wrong with a config, naming where it came from ([`Origin`]: a file, a
//!   checkpoint) and the JSON path of the field (`optimizers[1].popsize`).
//! - [`Overrides`]: command-line values that take the place of the config's.
//! - [`report::report`] (`glompo report DIR`) and [`export::export_csv`] (`glompo export DIR --csv`):
//!   a finished, live or killed run read back ([`view::RunView`]) as readable tables and as a CSV
//!   table with a column per parameter.
//! - [`plot::trajectories`]: the PNG plot of a run directory's evaluations, live or finished.
//! - [`dashboard`]: `glompo dashboard`'s read-only web page on a run directory; so far its blocking
//!   HTTP/1.1 server, [`dashboard::http::Server`], with server-sent events for the live updates.
//!
//! ```
//! use glompo_cli::{Overrides, RunConfig};
//! use serde_json::json;
//!
//! let config = json!({
//!     "objective": {"function": "sphere", "dim": 2},
//!     "optimizers": [{"type": "nelder-mead"}],
//!     "convergence": "max_evals(50)",
//!     "max_jobs": 1,
//! });
//! let run_dir = tempfile::tempdir()?;
//! let overrides = Overrides { dir: Some(run_dir.path().join("run")), ..Overrides::default() };
//! // Relative paths of the config (a `command` objective's) would be relative to ".".
//! let config = RunConfig::from_value(config, std::path::Path::new("."), &overrides)?;
//! assert_eq!(config.hunt_frequency, 100); // the defaults are filled in
//! let result = config.builder()?.build()?.run()?;
//! assert_eq!(result.counters.evaluations, 50);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod config;
pub mod dashboard;
pub mod export;
pub mod guide;
pub mod plot;
pub mod report;
pub mod trace;
pub mod view;

pub use config::{ConfigError, Origin, Overrides, RunConfig};
