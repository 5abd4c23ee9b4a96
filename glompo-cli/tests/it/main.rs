//! Integration tests of the `glompo` binary.

mod bad_input;
mod cgroup;
mod checkpoint;
mod faults;
mod lifecycle;
mod link;
mod run;
mod schedule;
