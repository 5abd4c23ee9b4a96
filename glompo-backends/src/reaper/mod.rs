//! The orphan reaper: finds and kills the processes of runs whose manager is gone.
//!
//! A run's processes are recognised by a [`RunMarker`] (the manager's pid, start time, process group and
//! pid namespace), which exec'd children carry in their environment as `GLOMPO_RUN` ([`RUN_ENV`]), and by
//! the process groups and parentage of marked processes. The module is split as STYLE rule 6 asks:
//!
//! - [`scan`] is pure: [`scan::orphans`], [`scan::orphans_of_run`], [`scan::sweep`] and
//!   [`scan::descendants`] turn a process table ([`ProcEntry`]) into the pids to kill. It is unit- and
//!   property-tested on literal tables.
//! - `linux` (Linux only) has the effects: [`read_table`] reads `/proc` with the procfs crate,
//!   [`reap`] and [`reap_run`] kill the orphans of dead runs, [`kill_descendants`] is a live manager's
//!   shutdown sweep, and [`mark_self`], [`set_child_subreaper`] and [`mark_command`] prepare a manager
//!   and its children.
//! - `cgroup` (Linux only) contains a run in a cgroup where the machine allows it ([`RunCgroup`],
//!   [`Keeper::contain`]), so that what leaves the run's process groups and environment is still
//!   found by membership; [`reap`], [`reap_run`] and the keeper end the members and remove the cgroup.
//!   Every kill is `SIGTERM` first and `SIGKILL` after [`TERM_GRACE`].
//!
//! `README.md` beside this file is the design note: the marker, liveness, the selection rules, the
//! subreaper and the traps of `PR_SET_PDEATHSIG`, and what is and is not covered.

use std::path::PathBuf;

mod marker;
pub mod scan;

#[cfg(target_os = "linux")]
mod cgroup;
#[cfg(target_os = "linux")]
mod keeper;
#[cfg(target_os = "linux")]
mod linux;

#[cfg(test)]
mod test;

pub use marker::{RUN_ENV, RunMarker};
pub use scan::{Caller, Pid, ProcEntry};

#[cfg(target_os = "linux")]
pub use cgroup::{CgroupKind, RunCgroup};
#[cfg(target_os = "linux")]
pub use keeper::{KEEPER_ENV, Keeper, keeper_run, serve_keeper};
#[cfg(target_os = "linux")]
pub(crate) use linux::group_has_others;
#[cfg(target_os = "linux")]
pub use linux::{
    KillFailure, ReapReport, TERM_GRACE, kill_descendants, kill_descendants_except, mark_command,
    mark_command_with, mark_self, read_table, reap, reap_run, set_child_subreaper,
};

/// What can go wrong while reaping.
///
/// A process that vanishes while it is being read or signalled is not an error: processes come and go.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReaperError {
    /// The process table (or one of the calling process's own files) could not be read.
    #[cfg(target_os = "linux")]
    #[error("cannot read {}", path.display())]
    Proc {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// What procfs said.
        source: procfs::ProcError,
    },
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The program could not be executed again (see [`mark_self`]).
    #[error("cannot execute {}", path.display())]
    Exec {
        /// The program.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// No cgroup could be made for the run (see [`RunCgroup::create`]).
    #[cfg(target_os = "linux")]
    #[error("cannot contain the run in a cgroup: {reasons}")]
    NoCgroup {
        /// Why each hierarchy that was tried did not work.
        reasons: String,
    },
    /// A system call failed.
    #[cfg(unix)]
    #[error("cannot {action}")]
    Os {
        /// What was attempted, as a phrase after "cannot".
        action: &'static str,
        /// The error number the call returned.
        source: nix::errno::Errno,
    },
}

/// The result type of the reaper.
pub type Result<T> = std::result::Result<T, ReaperError>;
