//! The backend error type.

/// What can go wrong in a backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// A worker pool could not be started.
    #[error("cannot start {workers} worker threads: {message}")]
    Spawn {
        /// The requested number of workers.
        workers: usize,
        /// What the pool said.
        message: String,
    },
    /// A worker program could not be started or talked to.
    #[error("{program}: {message}")]
    Command {
        /// The program.
        program: String,
        /// What went wrong.
        message: String,
    },
    /// MPI could not be used (the `mpi` feature).
    #[error("MPI: {0}")]
    Mpi(String),
}

/// The result type of backend operations.
pub type Result<T> = std::result::Result<T, BackendError>;

impl From<BackendError> for glompo_core::CoreError {
    fn from(e: BackendError) -> Self {
        glompo_core::CoreError::Backend(e.to_string())
    }
}
