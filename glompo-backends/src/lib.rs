//! glompo-backends: where optimizers and their evaluations run.
//!
//! - [`ThreadPoolEvaluator`] (level 2): one optimizer's batch evaluated on a rayon pool of `workers`
//!   threads, made by the [`Threads`] factory. A panic of the objective becomes an evaluation error.
//!
//! The level-1 thread backend is [`glompo_core::backend::ThreadBackend`]: it lives in the core crate so
//! that a manager runs with the core crate alone. Process backends (fork pools, non-daemonic process
//! trees and the orphan reaper) belong here too.
#![deny(missing_docs)]

pub mod error;
pub mod thread;

pub use error::BackendError;
pub use thread::{ThreadPoolEvaluator, Threads};
