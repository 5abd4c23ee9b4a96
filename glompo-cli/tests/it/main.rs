//! Integration tests of the `glompo` binary.

mod faults;
mod lifecycle;
mod run;
