//! Integration tests of the `glompo` binary.

mod cgroup;
mod run;
