//! glompo-backends: where optimizers and their evaluations run.
//!
//! - [`ThreadPoolEvaluator`] (level 2): one optimizer's batch evaluated on a rayon pool of `workers`
//!   threads, made by the [`Threads`] factory. A panic of the objective becomes an evaluation error.
//!
//! - [`CommandObjective`]: an objective evaluated by a pool of worker processes speaking JSON lines — the
//!   user's own program in any language, or glompo re-executed for a built-in function in isolation.
//!   A crash, a hang past the timeout or an exit of a worker becomes an evaluation error (a crash's
//!   ending with the tail of the worker's stderr); workers end gracefully (stdin closed, SIGTERM, SIGKILL).
//!   [`worker::serve`] is the worker's side for an objective written in Rust.
//!
//! - [`reaper`]: the orphan reaper. A [`RunMarker`] names a run (its manager's pid and start time); the
//!   pure [`reaper::scan`] selects the processes of runs whose manager is gone, and on Linux
//!   [`reaper::reap`] kills them (`glompo reap`) and [`reaper::kill_descendants`] is a live manager's
//!   shutdown sweep; [`reaper::RunCgroup`] contains a run in a cgroup where the machine allows it. The
//!   design note is `src/reaper/README.md`.
//!
//! - [`ProcessBackend`] (level 1): each optimizer's runner in a child process of its own, messages as
//!   JSON lines on a pipe of their own (descriptor 3 in the child, never its stdout), the child's
//!   stdout and stderr optionally in printstream files; [`process::serve_runner`] is the child's side.
//!
//! - `mpi` (the `mpi` feature): the ranks of an MPI job, rank 0 running the manager; at level 1 each
//!   optimizer's runner on a rank of its own (speaking the runner processes' messages and
//!   directives), at level 2 an optimizer's points evaluated on the ranks.
//!
//! The level-1 thread backend is [`glompo_core::backend::ThreadBackend`]: it lives in the core crate so
//! that a manager runs with the core crate alone. Process backends (fork pools, non-daemonic process
//! trees and the orphan reaper) belong here too.
#![deny(missing_docs)]

pub mod command;
pub mod error;
#[cfg(feature = "mpi")]
pub mod mpi;
mod pidfd;
pub mod process;
pub mod reaper;
pub mod thread;
pub mod worker;

pub use command::{CommandObjective, CommandSpec, Processes};
pub use error::BackendError;
pub use process::ProcessBackend;
pub use reaper::{ReaperError, RunMarker};
pub use thread::{ThreadPoolEvaluator, Threads};
