//! Integration tests of the `glompo` binary and of its library (`library`).

mod bad_input;
mod browser;
mod cgroup;
mod checkpoint;
mod dashboard;
mod extprog;
mod faults;
mod guide;
mod library;
mod lifecycle;
mod link;
#[cfg(feature = "mpi")]
mod mpi;
mod plot;
mod progress;
mod report;
mod run;
mod schedule;
mod slurm;
