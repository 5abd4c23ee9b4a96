//! Integration tests of the `glompo` binary and of its library (`library`).

mod bad_input;
mod cgroup;
mod checkpoint;
mod extprog;
mod faults;
mod library;
mod lifecycle;
mod link;
mod run;
mod schedule;
