//! glompo-core: the traits, the manager loop and the built-in components of glompo.
//!
//! A [`Manager`](manager::Manager) runs several [`Optimizer`]s at once on one [`Objective`] inside
//! [`Bounds`]. Optimizers are ask/tell state machines built by [`OptimizerFactory`]s; a
//! [`Runner`](runner::Runner) drives each one on a level-1 [`Backend`](backend::Backend) (the
//! [`ThreadBackend`](backend::ThreadBackend) here) and evaluates its batches on a level-2
//! [`Evaluator`](evaluator::Evaluator). The manager decides with pluggable components:
//!
//! - [`Selector`](selector::Selector) — which optimizer starts next ([`CycleSelector`](selector::CycleSelector));
//! - [`Generator`](generator::Generator) — where it starts ([`RandomGenerator`](generator::RandomGenerator));
//! - [`Hunter`](hunter::Hunter) — when to kill one ([`hunter::min_evals`], [`hunter::best_unmoving`],
//!   [`hunter::parameter_distance`]);
//! - [`Checker`](checker::Checker) — when the run ends ([`checker::max_evals`], [`checker::target_cost`],
//!   [`checker::max_seconds`], [`checker::n_converged`]).
//!
//! Hunters and checkers combine with `|` and `&` into [`Expr`](expr::Expr) trees, in Rust or in the
//! config language of [`hunter::parse`] and [`checker::parse`]. The benchmark functions are in
//! [`functions`]; randomness comes from [`SeededRng`], every component's seed from
//! [`RunSeeds`](rng::RunSeeds); each component saves and restores its state (the [`state`] module);
//! mocks for tests are in [`testing`].
//!
//! Optimizer settings and states, extras, configs and component states are [`serde_json`] values, so
//! that crate is part of this one's API; it is re-exported, and a user's own components need no
//! dependency on it of their own (nor a version to keep in step). `examples/own_optimizer.rs` puts a
//! user's optimizer into a manager end to end.
#![deny(missing_docs)]

pub mod backend;
pub mod checker;
pub mod error;
pub mod evaluator;
pub mod exact;
pub mod expr;
pub mod fields;
pub mod functions;
pub mod generator;
pub mod hunter;
pub mod manager;
pub mod objective;
pub mod optimizer;
pub mod point;
pub mod record;
mod resources;
pub mod rng;
pub mod runner;
pub mod selector;
pub mod state;
pub mod testing;

pub use error::{CoreError, EvalError, OptimizerError, Result};
pub use objective::{EvalContext, EvalOutput, Objective};
pub use optimizer::{Optimizer, OptimizerFactory, OptimizerId, StartContext, Status};
pub use point::{Bounds, Evaluation};
pub use rng::{RngState, SeededRng};
/// The JSON crate of glompo's API, at the version and with the features (`float_roundtrip`) that
/// glompo is built with.
pub use serde_json;
