//! Integration tests of the `glompo` binary.

mod run;
