//! Level 1: where runners run. The thread backend lives here so that a manager works with the core
//! crate alone; process backends are in `glompo-backends`.

use std::fmt;
use std::thread::JoinHandle;

use crate::error::{CoreError, Result};
use crate::runner::Runner;

/// Hosts runners: threads, processes, ...
///
/// A backend moves each [`Runner`] to where it runs, calls [`Runner::run`] there and hands the
/// manager a [`RunnerHandle`] to join it by. This one runs every runner on a thread of its own, as
/// [`ThreadBackend`] does, and counts them; `glompo-backends` has the process kinds.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::thread::JoinHandle;
/// use glompo_core::backend::{Backend, RunnerHandle};
/// use glompo_core::runner::Runner;
/// use glompo_core::selector::{CycleSelector, OptimizerSpec};
/// use glompo_core::testing::ScriptedFactory;
/// use glompo_core::{Bounds, CoreError, checker, manager::Manager, objective::from_fn};
///
/// #[derive(Debug)]
/// struct Counting { started: Arc<AtomicU64> }
///
/// impl Backend for Counting {
///     fn name(&self) -> &str { "counting" }
///     fn spawn(&mut self, runner: Runner) -> glompo_core::Result<Box<dyn RunnerHandle>> {
///         let thread = std::thread::Builder::new()
///             .spawn(move || runner.run())
///             .map_err(|e| CoreError::Backend(format!("cannot start a thread: {e}")))?;
///         self.started.fetch_add(1, Ordering::SeqCst);
///         Ok(Box::new(Thread(thread)))
///     }
/// }
///
/// #[derive(Debug)]
/// struct Thread(JoinHandle<()>);
///
/// impl RunnerHandle for Thread {
///     fn is_finished(&self) -> bool { self.0.is_finished() }
///     // `Runner::run` never panics, so neither can the thread.
///     fn join(self: Box<Self>) { let _ = self.0.join(); }
/// }
///
/// let started = Arc::new(AtomicU64::new(0));
/// let optimizer = Arc::new(ScriptedFactory::descending().converge_after(5));
/// let sphere = Arc::new(from_fn(|x: &[f64]| x.iter().map(|v| v * v).sum()));
/// let result = Manager::builder(sphere, Bounds::uniform(2, -1.0, 1.0).unwrap())
///     .selector(Box::new(CycleSelector::new(vec![OptimizerSpec::new(optimizer)]).unwrap()))
///     .backend(Box::new(Counting { started: Arc::clone(&started) }))
///     .checker(checker::max_evals(12))
///     .max_jobs(2)
///     .build()
///     .unwrap()
///     .run()
///     .unwrap();
/// assert_eq!(result.counters.evaluations, 12);
/// assert!(result.counters.optimizers_started >= 3);
/// assert_eq!(started.load(Ordering::SeqCst), result.counters.optimizers_started);
/// ```
pub trait Backend: Send + fmt::Debug {
    /// The backend's name, as in configs.
    fn name(&self) -> &str;

    /// Starts `runner`. On failure the runner is dropped and the optimizer counts as crashed.
    fn spawn(&mut self, runner: Runner) -> Result<Box<dyn RunnerHandle>>;

    /// Releases everything the backend holds; idempotent. The manager calls it at the end of a run.
    fn shutdown(&mut self) {}

    /// What the backend lost that it needs, if anything: a place to run on that does not come back
    /// (an MPI rank whose optimizer was abandoned because it did not end). The manager asks after
    /// it abandons a runner; on `Some`, it takes a checkpoint and ends the run
    /// ([`EndReason::BackendLost`](crate::manager::EndReason::BackendLost)). Threads and processes
    /// lose nothing: the default is `None`.
    fn lost(&self) -> Option<String> {
        None
    }
}

/// A started runner, as its [`Backend`] hands it to the manager; the [`Backend`] documentation
/// implements one for a thread.
pub trait RunnerHandle: Send + fmt::Debug {
    /// Whether it has finished.
    fn is_finished(&self) -> bool;

    /// Waits for it to finish (the manager calls this after the runner sent its end message).
    fn join(self: Box<Self>);
}

/// Runs each optimizer on its own OS thread.
#[derive(Debug, Clone, Default)]
pub struct ThreadBackend {
    stack_size: Option<usize>,
}

/// Builds a [`ThreadBackend`].
#[derive(Debug, Clone, Default)]
pub struct ThreadBackendBuilder {
    stack_size: Option<usize>,
}

impl ThreadBackendBuilder {
    /// Sets the stack size of runner threads, in bytes (the default is Rust's, 2 MiB).
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Builds the backend.
    pub fn build(self) -> Result<ThreadBackend> {
        if self.stack_size.is_some_and(|s| s < 64 * 1024) {
            return Err(CoreError::config("stack_size", "must be at least 64 KiB"));
        }
        Ok(ThreadBackend { stack_size: self.stack_size })
    }
}

impl ThreadBackend {
    /// A builder with the defaults.
    pub fn builder() -> ThreadBackendBuilder {
        ThreadBackendBuilder::default()
    }
}

impl Backend for ThreadBackend {
    fn name(&self) -> &str {
        "threads"
    }

    fn spawn(&mut self, runner: Runner) -> Result<Box<dyn RunnerHandle>> {
        let mut builder = std::thread::Builder::new().name(format!("glompo-opt-{}", runner.opt_id()));
        if let Some(size) = self.stack_size {
            builder = builder.stack_size(size);
        }
        let handle = builder
            .spawn(move || runner.run())
            .map_err(|e| CoreError::Backend(format!("cannot start a thread: {e}")))?;
        Ok(Box::new(ThreadHandle(handle)))
    }
}

#[derive(Debug)]
struct ThreadHandle(JoinHandle<()>);

impl RunnerHandle for ThreadHandle {
    fn is_finished(&self) -> bool {
        self.0.is_finished()
    }

    fn join(self: Box<Self>) {
        // The runner catches every panic itself, so the thread cannot have panicked.
        let _ = self.0.join();
    }
}
