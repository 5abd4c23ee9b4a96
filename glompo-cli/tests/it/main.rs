//! Integration tests of the `glompo` binary.

mod cgroup;
mod faults;
mod lifecycle;
mod run;
