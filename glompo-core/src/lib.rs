//! glompo-core: the traits, the manager loop and the built-in components of glompo.
#![deny(missing_docs)]

pub mod backend;
pub mod checker;
pub mod error;
pub mod evaluator;
pub mod expr;
pub mod functions;
pub mod generator;
pub mod hunter;
pub mod manager;
pub mod objective;
pub mod optimizer;
pub mod point;
pub mod record;
pub mod rng;
pub mod runner;
pub mod selector;
pub mod testing;

pub use error::{CoreError, EvalError, OptimizerError, Result};
pub use objective::{EvalOutput, Objective};
pub use optimizer::{Optimizer, OptimizerFactory, OptimizerId, StartContext, Status};
pub use point::{Bounds, Evaluation};
pub use rng::{RngState, SeededRng};
