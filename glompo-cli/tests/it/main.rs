//! Integration tests of the `glompo` binary and of its library (`library`).

mod bad_input;
mod cgroup;
mod checkpoint;
mod faults;
mod library;
mod lifecycle;
mod link;
mod plot;
mod run;
mod schedule;
