//! glompo-core: the traits, the manager loop and the built-in components of glompo.
#![deny(missing_docs)]

pub mod error;
pub mod functions;
pub mod objective;
pub mod optimizer;
pub mod point;
pub mod rng;

pub use error::{CoreError, EvalError, OptimizerError, Result};
pub use objective::{EvalOutput, Objective};
pub use optimizer::{Optimizer, OptimizerFactory, OptimizerId, StartContext, Status};
pub use point::{Bounds, Evaluation};
pub use rng::{RngState, SeededRng};
