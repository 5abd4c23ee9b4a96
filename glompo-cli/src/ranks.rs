//! `glompo run` and `glompo resume` under an MPI launcher (`mpirun -np N glompo run CONFIG`): rank 0
//! is the manager, as without MPI; every other rank only hosts optimizers (`"backend": "mpi"`).

use glompo_cli::RunConfig;

/// The variables MPI launchers set to a process's rank: OpenMPI's, PMIx's (also `srun --mpi=pmix`)
/// and MPICH's or Intel MPI's.
const RANK_VARIABLES: [&str; 3] = ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"];

/// This process's rank, when an MPI launcher started it.
pub(crate) fn launched_rank() -> Option<(&'static str, u64)> {
    RANK_VARIABLES.iter().find_map(|name| Some((*name, std::env::var(name).ok()?.trim().parse().ok()?)))
}

/// The error of a rank other than 0 whose run is not an MPI run: it would run the same optimization
/// in the same directory as rank 0.
pub(crate) fn not_mpi(config: &RunConfig, rank: u64, variable: &str) -> Option<String> {
    (!config.uses_mpi()).then(|| {
        format!(
            "this is rank {rank} of an MPI job ({variable}={rank}), but the run uses no ranks (its backend is \
             `{}`): set \"backend\": \"mpi\" to run the optimizers on the ranks, or \"evaluator\": \"mpi\" to \
             evaluate their points there, or start glompo without mpirun",
            config.backend.name()
        )
    })
}

/// A rank other than 0: hosts the optimizers rank 0 sends, and evaluates its points, until it is
/// done.
#[cfg(feature = "mpi")]
pub(crate) fn serve() -> Result<(), String> {
    let mpi = glompo_backends::mpi::Mpi::init().map_err(|e| e.to_string())?;
    mpi.serve(&glompo_cli::config::RankHost).map_err(|e| e.to_string())
}

/// Rank 0 of an MPI run: MPI initialised, and the config read again knowing the job's size (its
/// `max_jobs` default and check).
#[cfg(feature = "mpi")]
pub(crate) fn manager(
    read: impl Fn(&glompo_cli::Overrides) -> Result<RunConfig, String>,
    overrides: &glompo_cli::Overrides,
) -> Result<(glompo_backends::mpi::Mpi, RunConfig), String> {
    let mpi = glompo_backends::mpi::Mpi::init().map_err(|e| e.to_string())?;
    let overrides = glompo_cli::Overrides { ranks: Some(mpi.size()), ..overrides.clone() };
    let config = read(&overrides)?;
    Ok((mpi, config))
}
